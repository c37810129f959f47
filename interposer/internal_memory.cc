#include "interposer/internal_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include "interposer/spinlock.h"

namespace heaplens {
namespace {

struct Region {
  uintptr_t start;
  size_t size;
};

// Registry of internal mappings. A fixed table: internal mappings are few
// and large (arena blocks grow geometrically, buffers are reused).
// heap_graph.cc (ReserveForInternalRegions) makes room for this many.
constexpr int kMaxRegions = 8192;
SpinLock g_lock;
Region g_regions[kMaxRegions];
int g_count = 0;

size_t PageRound(size_t n) {
  const size_t page = 4096;
  return (n + page - 1) & ~(page - 1);
}

}  // namespace

void* InternalMap(size_t bytes) {
  bytes = PageRound(bytes);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  SpinLockHolder h(&g_lock);
  if (g_count < kMaxRegions) {
    g_regions[g_count++] = {reinterpret_cast<uintptr_t>(p), bytes};
  }
  return p;
}

void InternalUnmap(void* addr, size_t bytes) {
  bytes = PageRound(bytes);
  {
    SpinLockHolder h(&g_lock);
    for (int i = 0; i < g_count; ++i) {
      if (g_regions[i].start == reinterpret_cast<uintptr_t>(addr)) {
        g_regions[i] = g_regions[--g_count];
        break;
      }
    }
  }
  munmap(addr, bytes);
}

void ForEachInternalRegion(void (*fn)(void*, uintptr_t, size_t), void* arg) {
  SpinLockHolder h(&g_lock);
  for (int i = 0; i < g_count; ++i) {
    fn(arg, g_regions[i].start, g_regions[i].size);
  }
}

void* InternalArena::Alloc(size_t bytes) {
  bytes = (bytes + 15) & ~static_cast<size_t>(15);
  if (static_cast<size_t>(end_ - cur_) < bytes) {
    size_t block = bytes > (1u << 20) ? PageRound(bytes) : (1u << 20);
    char* p = static_cast<char*>(InternalMap(block));
    if (p == nullptr) return nullptr;
    cur_ = p;
    end_ = p + block;
  }
  void* r = cur_;
  cur_ += bytes;
  return r;
}

}  // namespace heaplens
