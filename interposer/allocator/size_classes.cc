#include "interposer/allocator/size_classes.h"

namespace heaplens {

SizeClassInfo g_size_classes[kNumClasses];
uint8_t g_class_lookup[((kMaxSmallSize + 127) >> 7) + 56 + 1];

namespace {

bool g_inited = false;

uint32_t SpanPages(uint32_t size) {
  // At least 8 objects or 64 KiB, and a tail of at most 1/8 of the span.
  size_t min_bytes = size_t{8} * size;
  if (min_bytes > (64 << 10)) min_bytes = 64 << 10;
  if (min_bytes < size) min_bytes = size;
  size_t pages = (min_bytes + kPageSize - 1) / kPageSize;
  while ((pages * kPageSize) % size > pages * kPageSize / 8) ++pages;
  return static_cast<uint32_t>(pages);
}

}  // namespace

void InitSizeClasses() {
  if (g_inited) return;
  int n = 1;
  auto add = [&](uint32_t size) {
    SizeClassInfo& c = g_size_classes[n++];
    c.size = size;
    c.pages = SpanPages(size);
    c.objects = static_cast<uint32_t>(c.pages * kPageSize / size);
    uint32_t batch = static_cast<uint32_t>((32 << 10) / size);
    if (batch > 64) batch = 64;
    if (batch < 2) batch = 2;
    c.batch = batch;
    c.reciprocal = ((uint64_t{1} << kReciprocalShift) + size - 1) / size;
  };
  for (uint32_t s = 16; s <= 128; s += 16) add(s);
  for (uint32_t base = 128; base < kMaxSmallSize; base *= 2) {
    for (uint32_t j = 1; j <= 8; ++j) add(base + j * (base / 8));
  }
  // n == kNumClasses here (checked by the test).
  int cl = 1;
  for (size_t i = 0; i < sizeof(g_class_lookup); ++i) {
    // The largest size mapping to lookup index i.
    size_t max_size = i <= 64 ? i * 16 : (i - 56) * 128;
    if (max_size > kMaxSmallSize) max_size = kMaxSmallSize;
    while (cl < n - 1 && g_size_classes[cl].size < max_size) ++cl;
    g_class_lookup[i] = static_cast<uint8_t>(cl);
  }
  g_inited = true;
}

uint32_t ClassForAligned(size_t size, size_t align) {
  if (size > kMaxSmallSize) return 0;
  for (uint32_t cl = ClassOf(size); cl != 0 && cl < kNumClasses; ++cl) {
    if (g_size_classes[cl].size % align == 0) return cl;
  }
  return 0;
}

}  // namespace heaplens
