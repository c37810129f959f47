// page_map.h: address -> Span, a two-level radix tree over 4 KiB pages.
//
// Covers the 48-bit user address space: a 2 MiB root (zero pages until
// touched) and 2 MiB leaves mapped on demand with InternalMap. Reads are
// lock-free (a relaxed load per level); writes happen under the page heap's
// lock. Leaves are never freed, so a reader never sees a dangling leaf.
//
// Which pages are set: every page of a small-object span; the first and last
// page of free spans and of in-heap large blocks (for coalescing); the first
// page of an mmap'd large block. Other entries may be stale or null, so a
// lookup result must be validated against the span's extent.
#ifndef HEAPLENS_INTERPOSER_ALLOCATOR_PAGE_MAP_H_
#define HEAPLENS_INTERPOSER_ALLOCATOR_PAGE_MAP_H_

#include <stddef.h>
#include <stdint.h>

#include "interposer/allocator/size_classes.h"
#include "interposer/internal_memory.h"

namespace heaplens {

struct Span;

class PageMap {
 public:
  static constexpr int kLeafBits = 18;
  static constexpr int kRootBits = 48 - kPageShift - kLeafBits;
  static constexpr size_t kLeafLen = size_t{1} << kLeafBits;

  constexpr PageMap() = default;

  Span* Get(const void* p) const {
    return GetPage(reinterpret_cast<uintptr_t>(p) >> kPageShift);
  }

  Span* GetPage(uintptr_t page) const {
    if (page >> (kRootBits + kLeafBits)) return nullptr;
    Span** leaf = __atomic_load_n(&root_[page >> kLeafBits], __ATOMIC_ACQUIRE);
    if (leaf == nullptr) return nullptr;
    return __atomic_load_n(&leaf[page & (kLeafLen - 1)], __ATOMIC_RELAXED);
  }

  // Makes sure leaves exist for [page, page + n). False when out of memory.
  bool Ensure(uintptr_t page, size_t n) {
    for (uintptr_t i = page >> kLeafBits; i <= (page + n - 1) >> kLeafBits;
         ++i) {
      if (i >= (uintptr_t{1} << kRootBits)) return false;
      if (root_[i] != nullptr) continue;
      void* leaf = InternalMap(kLeafLen * sizeof(Span*));
      if (leaf == nullptr) return false;
      __atomic_store_n(&root_[i], static_cast<Span**>(leaf), __ATOMIC_RELEASE);
    }
    return true;
  }

  // Requires Ensure(page, 1).
  void Set(uintptr_t page, Span* s) {
    __atomic_store_n(&root_[page >> kLeafBits][page & (kLeafLen - 1)], s,
                     __ATOMIC_RELAXED);
  }

  // Sets [page, page + n) to s, skipping pages without a leaf when s is null.
  void SetRange(uintptr_t page, size_t n, Span* s) {
    for (size_t i = 0; i < n; ++i) {
      uintptr_t pg = page + i;
      if (root_[pg >> kLeafBits] == nullptr) continue;
      Set(pg, s);
    }
  }

 private:
  Span** root_[size_t{1} << kRootBits] = {};
};

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_ALLOCATOR_PAGE_MAP_H_
