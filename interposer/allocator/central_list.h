// central_list.h: the per-size-class pool shared by all threads.
//
// A CentralFreeList hands batches of objects to thread caches and takes
// batches back. Objects live in their span: a returned object goes onto its
// span's free list; a span whose objects are all back goes to the page heap.
// Spans with free objects form the `nonempty` list. Each class has its own
// spin lock, so frees from another thread never take a global lock; the
// page heap's lock is taken only to get or return a whole span, never while
// holding a class lock.
//
// A free object's first word links it into a list; its second word holds the
// process's free key (see FreeObject), so a double free is recognizable.
#ifndef HEAPLENS_INTERPOSER_ALLOCATOR_CENTRAL_LIST_H_
#define HEAPLENS_INTERPOSER_ALLOCATOR_CENTRAL_LIST_H_

#include <stddef.h>
#include <stdint.h>

#include "interposer/allocator/page_heap.h"
#include "interposer/spinlock.h"

namespace heaplens {

// The layout of a free small object (every class is >= 16 bytes).
//
// The link is stored mangled (high bits flipped: never a user-space
// address). malloc does not clear a block it hands out, so a block the
// program never wrote still holds the link of its free-list days; stored
// plainly, that stale link would look like a pointer to another block to the
// exit-time heap scan and turn a leak into "still reachable". (Valgrind does
// not see such words: they are undefined there.)
struct FreeObject {
  static constexpr uintptr_t kLinkMangle = 0xa5c3000000000000ull;
  FreeObject* next() const {
    return reinterpret_cast<FreeObject*>(link ^ kLinkMangle);
  }
  void set_next(FreeObject* n) {
    link = reinterpret_cast<uintptr_t>(n) ^ kLinkMangle;
  }
  uintptr_t link;
  uintptr_t key;  // == the free key while free; cleared when handed out
};

class CentralFreeList {
 public:
  // The object must be zero-initialized.
  void Init(uint32_t cl, PageHeap* heap) {
    cl_ = cl;
    heap_ = heap;
  }
  SpinLock* lock() { return &lock_; }

  // Takes up to n objects, linked through `next` (the last one's next is
  // null). Returns how many (0: out of memory).
  int RemoveRange(FreeObject** head, int n);
  // Returns a chain of objects linked through `next` (null-terminated).
  void InsertRange(FreeObject* head);

  // Locked by caller: spans with free objects.
  Span* nonempty() const { return nonempty_; }

 private:
  void Link(Span* s);
  void Unlink(Span* s);

  SpinLock lock_;
  uint32_t cl_;
  PageHeap* heap_;
  Span* nonempty_;
};

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_ALLOCATOR_CENTRAL_LIST_H_
