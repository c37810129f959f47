// size_classes.h: the small-object size classes.
//
// Requests up to kMaxSmallSize bytes are rounded up to one of kNumClasses
// classes (index 1..kNumClasses-1; index 0 means "not small"). Classes are
// multiples of 16 (malloc's alignment) and grow in eight steps per power of
// two above 128 bytes, so the internal waste of a request s is below
// max(15 bytes, s / 8). docs/allocator.md prints the table.
//
// Each class has a span size (pages carved into objects) chosen so the tail
// left over in a span is at most 1/8 of it, and a transfer batch: how many
// objects move at once between a thread cache and the central list.
//
// The table is computed by InitSizeClasses() into zero-initialized storage;
// before that, ClassOf() returns 0 for every size, which sends the first
// malloc to the slow path that initializes the allocator.
#ifndef HEAPLENS_INTERPOSER_ALLOCATOR_SIZE_CLASSES_H_
#define HEAPLENS_INTERPOSER_ALLOCATOR_SIZE_CLASSES_H_

#include <stddef.h>
#include <stdint.h>

namespace heaplens {

constexpr size_t kPageShift = 12;
constexpr size_t kPageSize = size_t{1} << kPageShift;
constexpr size_t kMaxSmallSize = 32 << 10;
constexpr int kNumClasses = 73;  // 72 classes + the "not small" index 0
// Division by a class size is a multiply and shift: exact for offsets below
// kMaxSpanBytes (checked by size_classes_test).
constexpr int kReciprocalShift = 42;
constexpr size_t kMaxSpanBytes = size_t{1} << 20;

struct SizeClassInfo {
  uint32_t size;        // object size in bytes
  uint32_t pages;       // span size in pages
  uint32_t objects;     // objects per span
  uint32_t batch;       // objects per transfer
  uint64_t reciprocal;  // ceil(2^kReciprocalShift / size)
};

extern SizeClassInfo g_size_classes[kNumClasses];
// Maps a lookup index (see ClassIndex) to a class.
extern uint8_t g_class_lookup[];

// Index into g_class_lookup for sizes 0..kMaxSmallSize.
inline size_t ClassIndex(size_t s) {
  return s <= 1024 ? (s + 15) >> 4 : ((s + 127) >> 7) + 56;
}

// The class for a request of s <= kMaxSmallSize bytes (0 before init).
inline uint32_t ClassOf(size_t s) { return g_class_lookup[ClassIndex(s)]; }

inline size_t ClassSize(uint32_t cl) { return g_size_classes[cl].size; }

// Slot index of byte offset `off` within a span of class cl; exact for
// off < kMaxSpanBytes.
inline uint64_t SlotOf(uint32_t cl, uint64_t off) {
  return (off * g_size_classes[cl].reciprocal) >> kReciprocalShift;
}

// Idempotent. Not thread-safe: the allocator calls it under its init lock.
void InitSizeClasses();

// The smallest class whose size is >= size and a multiple of align (a power
// of two <= kPageSize), or 0.
uint32_t ClassForAligned(size_t size, size_t align);

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_ALLOCATOR_SIZE_CLASSES_H_
