#include "interposer/allocator/central_list.h"

namespace heaplens {

void CentralFreeList::Link(Span* s) {
  s->prev = nullptr;
  s->next = nonempty_;
  if (nonempty_ != nullptr) nonempty_->prev = s;
  nonempty_ = s;
}

void CentralFreeList::Unlink(Span* s) {
  if (s->prev != nullptr) {
    s->prev->next = s->next;
  } else {
    nonempty_ = s->next;
  }
  if (s->next != nullptr) s->next->prev = s->prev;
  s->next = s->prev = nullptr;
}

int CentralFreeList::RemoveRange(FreeObject** head, int n) {
  const SizeClassInfo& info = g_size_classes[cl_];
  FreeObject* chain = nullptr;
  int got = 0;
  lock_.Lock();
  while (got < n) {
    Span* s = nonempty_;
    if (s == nullptr) {
      // A new span: the page heap lock is never taken under ours.
      lock_.Unlock();
      Span* fresh;
      {
        PageHeap::Locked h(heap_);
        fresh = heap_->New(info.pages);
        if (fresh != nullptr) heap_->RegisterSmall(fresh, cl_);
      }
      lock_.Lock();
      if (fresh == nullptr) break;
      Link(fresh);
      continue;
    }
    FreeObject* o;
    if (s->freelist != nullptr) {
      o = static_cast<FreeObject*>(s->freelist);
      s->freelist = o->next();
    } else {
      o = reinterpret_cast<FreeObject*>(s->start + size_t{s->bump} * info.size);
      ++s->bump;
    }
    ++s->allocated;
    if (s->freelist == nullptr && s->bump == s->capacity) Unlink(s);
    o->set_next(chain);
    chain = o;
    ++got;
  }
  lock_.Unlock();
  *head = chain;
  return got;
}

void CentralFreeList::InsertRange(FreeObject* head) {
  PageMap* map = heap_->pagemap();
  Span* empty = nullptr;
  lock_.Lock();
  while (head != nullptr) {
    FreeObject* next = head->next();
    Span* s = map->Get(head);
    bool was_full = s->freelist == nullptr && s->bump == s->capacity;
    head->set_next(static_cast<FreeObject*>(s->freelist));
    s->freelist = head;
    if (was_full) Link(s);
    if (--s->allocated == 0) {
      Unlink(s);
      s->next = empty;
      empty = s;
    }
    head = next;
  }
  lock_.Unlock();
  if (empty != nullptr) {
    PageHeap::Locked h(heap_);
    while (empty != nullptr) {
      Span* next = empty->next;
      empty->next = nullptr;
      heap_->Delete(empty);
      empty = next;
    }
  }
}

}  // namespace heaplens
