// libc_override.cc: every symbol libheaplens.so exports.
//
// The libc allocation API, every operator new/delete, _exit/_Exit and
// heaplens_mark. libheaplens.lds exports exactly these names; everything else
// in the library is hidden. This file holds no logic: it maps each entry
// point onto the allocator (allocator.h, front_end.h) with the event kind the
// recorder should see.
//
// operator new must throw std::bad_alloc, but the library does not link
// libstdc++ (its NEEDED list is libc only). A C++ program that calls operator
// new has libstdc++ loaded, so the failure path looks up
// std::get_new_handler and std::__throw_bad_alloc at run time with dlsym.
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <new>

#include "interposer/allocator/allocator.h"
#include "interposer/allocator/front_end.h"
#include "interposer/log.h"
#include "interposer/recorder/recorder.h"
#include "interposer/track.h"

#define HL_EXPORT extern "C" __attribute__((visibility("default")))
#define HL_EXPORT_CXX __attribute__((visibility("default")))

using heaplens::EventKind;

namespace {

using NewHandler = void (*)();

void* CxxSymbol(void** cache, const char* name) {
  void* f = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
  if (f == nullptr) {
    f = dlsym(RTLD_DEFAULT, name);
    __atomic_store_n(cache, f, __ATOMIC_RELEASE);
  }
  return f;
}

void* g_get_new_handler;
void* g_throw_bad_alloc;

// The failure path of a throwing operator new: the new-handler loop of
// [new.delete.single], then std::bad_alloc.
__attribute__((noinline)) void* NewFailed(size_t n, size_t align,
                                          EventKind kind, bool nothrow) {
  while (true) {
    auto get = reinterpret_cast<NewHandler (*)()>(
        CxxSymbol(&g_get_new_handler, "_ZSt15get_new_handlerv"));
    NewHandler h = get != nullptr ? get() : nullptr;
    if (h == nullptr) break;
    h();  // may throw; this frame has unwind tables
    void* p = align <= 16 ? heaplens::Malloc(n, kind)
                          : heaplens::AlignedAllocate(align, n, kind);
    if (p != nullptr) return p;
  }
  if (nothrow) return nullptr;
  auto thrower = reinterpret_cast<void (*)()>(
      CxxSymbol(&g_throw_bad_alloc, "_ZSt17__throw_bad_allocv"));
  if (thrower != nullptr) thrower();
  heaplens::RawLog("operator new: out of memory and no libstdc++ to throw");
  abort();
}

inline void* New(size_t n, EventKind kind) {
  void* p = heaplens::Malloc(n, kind);
  if (__builtin_expect(p != nullptr, 1)) return p;
  return NewFailed(n, 0, kind, false);
}

inline void* NewNothrow(size_t n, EventKind kind) {
  void* p = heaplens::Malloc(n, kind);
  if (__builtin_expect(p != nullptr, 1)) return p;
  return NewFailed(n, 0, kind, true);
}

inline void* NewAligned(size_t n, std::align_val_t a, EventKind kind,
                        bool nothrow) {
  size_t align = static_cast<size_t>(a);
  void* p = heaplens::AlignedAllocate(align, n, kind);
  if (__builtin_expect(p != nullptr, 1)) return p;
  return NewFailed(n, align < 32 ? 32 : align, kind, nothrow);
}

}  // namespace

// ---- C ----

HL_EXPORT void* malloc(size_t n) {
  return heaplens::Malloc(n, EventKind::kMalloc);
}
HL_EXPORT void free(void* p) { heaplens::Free(p, EventKind::kFree); }
HL_EXPORT void* calloc(size_t n, size_t size) {
  return heaplens::Calloc(n, size);
}
HL_EXPORT void* realloc(void* p, size_t n) { return heaplens::Realloc(p, n); }
HL_EXPORT void* reallocarray(void* p, size_t n, size_t size) {
  return heaplens::ReallocArray(p, n, size);
}
HL_EXPORT void* memalign(size_t align, size_t n) {
  return heaplens::Memalign(align, n);
}
HL_EXPORT int posix_memalign(void** out, size_t align, size_t n) {
  return heaplens::PosixMemalign(out, align, n);
}
HL_EXPORT void* aligned_alloc(size_t align, size_t n) {
  return heaplens::AlignedAlloc(align, n);
}
HL_EXPORT void* valloc(size_t n) { return heaplens::Valloc(n); }
HL_EXPORT void* pvalloc(size_t n) { return heaplens::Pvalloc(n); }
HL_EXPORT size_t malloc_usable_size(void* p) { return heaplens::UsableSize(p); }

// ---- C++ ----

HL_EXPORT_CXX void* operator new(size_t n) { return New(n, EventKind::kNew); }
HL_EXPORT_CXX void* operator new[](size_t n) {
  return New(n, EventKind::kNewArray);
}
HL_EXPORT_CXX void* operator new(size_t n, const std::nothrow_t&) noexcept {
  return NewNothrow(n, EventKind::kNew);
}
HL_EXPORT_CXX void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  return NewNothrow(n, EventKind::kNewArray);
}
HL_EXPORT_CXX void* operator new(size_t n, std::align_val_t a) {
  return NewAligned(n, a, EventKind::kNew, false);
}
HL_EXPORT_CXX void* operator new[](size_t n, std::align_val_t a) {
  return NewAligned(n, a, EventKind::kNewArray, false);
}
HL_EXPORT_CXX void* operator new(size_t n, std::align_val_t a,
                                 const std::nothrow_t&) noexcept {
  return NewAligned(n, a, EventKind::kNew, true);
}
HL_EXPORT_CXX void* operator new[](size_t n, std::align_val_t a,
                                   const std::nothrow_t&) noexcept {
  return NewAligned(n, a, EventKind::kNewArray, true);
}

HL_EXPORT_CXX void operator delete(void* p) noexcept {
  heaplens::Free(p, EventKind::kDelete);
}
HL_EXPORT_CXX void operator delete[](void* p) noexcept {
  heaplens::Free(p, EventKind::kDeleteArray);
}
HL_EXPORT_CXX void operator delete(void* p, size_t) noexcept {
  heaplens::Free(p, EventKind::kDelete);
}
HL_EXPORT_CXX void operator delete[](void* p, size_t) noexcept {
  heaplens::Free(p, EventKind::kDeleteArray);
}
HL_EXPORT_CXX void operator delete(void* p, const std::nothrow_t&) noexcept {
  heaplens::Free(p, EventKind::kDelete);
}
HL_EXPORT_CXX void operator delete[](void* p, const std::nothrow_t&) noexcept {
  heaplens::Free(p, EventKind::kDeleteArray);
}
HL_EXPORT_CXX void operator delete(void* p, std::align_val_t) noexcept {
  heaplens::Free(p, EventKind::kDelete);
}
HL_EXPORT_CXX void operator delete[](void* p, std::align_val_t) noexcept {
  heaplens::Free(p, EventKind::kDeleteArray);
}
HL_EXPORT_CXX void operator delete(void* p, size_t, std::align_val_t) noexcept {
  heaplens::Free(p, EventKind::kDelete);
}
HL_EXPORT_CXX void operator delete[](void* p, size_t,
                                     std::align_val_t) noexcept {
  heaplens::Free(p, EventKind::kDeleteArray);
}
HL_EXPORT_CXX void operator delete(void* p, std::align_val_t,
                                   const std::nothrow_t&) noexcept {
  heaplens::Free(p, EventKind::kDelete);
}
HL_EXPORT_CXX void operator delete[](void* p, std::align_val_t,
                                     const std::nothrow_t&) noexcept {
  heaplens::Free(p, EventKind::kDeleteArray);
}

// ---- Process end and marks ----

HL_EXPORT void _exit(int status) {
  heaplens::RecorderOnUnderscoreExit(status);
  for (;;) syscall(SYS_exit_group, status);
}

HL_EXPORT void _Exit(int status) {
  heaplens::RecorderOnUnderscoreExit(status);
  for (;;) syscall(SYS_exit_group, status);
}

// A program may declare this weak and call it to mark a point in the trace:
//   extern "C" void heaplens_mark(unsigned long) __attribute__((weak));
//   if (heaplens_mark) heaplens_mark(1);
HL_EXPORT void heaplens_mark(unsigned long id) { heaplens::RecorderMark(id); }
