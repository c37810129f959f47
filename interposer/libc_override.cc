// libc_override.cc: every symbol libheaplens.so exports.
//
// The libc allocation API, every operator new/delete, _exit/_Exit, the exec
// family (so a trace records that the process image was replaced) and
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
#include <stdarg.h>
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

// ---- exec ----
//
// A program that replaces itself with exec ends its trace here: the
// recorder flushes and writes ExitSummary(EXEC) (the new image, if traced,
// writes its own file). If exec fails, the summary is rolled back and
// tracing goes on. glibc's exec* functions call its internal execve
// directly, so each public variant is wrapped; the real one is found with
// dlsym(RTLD_NEXT) on first use. posix_spawn and system() are not wrapped:
// their children never run the parent's code.
namespace {

void* RealFunction(void** cache, const char* name) {
  void* f = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
  if (f == nullptr) {
    f = dlsym(RTLD_NEXT, name);
    __atomic_store_n(cache, f, __ATOMIC_RELEASE);
  }
  return f;
}

void* g_execve;
void* g_execv;
void* g_execvp;
void* g_execvpe;
void* g_fexecve;

using ExecveFn = int (*)(const char*, char* const[], char* const[]);
using ExecvFn = int (*)(const char*, char* const[]);
using FexecveFn = int (*)(int, char* const[], char* const[]);

// Calls the real exec with the recorder told before and after.
template <typename Fn, typename... Args>
int TracedExec(void** cache, const char* name, Args... args) {
  auto real = reinterpret_cast<Fn>(RealFunction(cache, name));
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  heaplens::RecorderBeforeExec();
  int r = real(args...);
  int saved = errno;
  heaplens::RecorderAfterFailedExec();
  errno = saved;
  return r;
}

// The number of execl-style arguments from `first` up to and including the
// terminating NULL.
int CountArgs(const char* first, va_list ap) {
  int n = 1;
  for (const char* a = first; a != nullptr; a = va_arg(ap, const char*)) ++n;
  return n;
}

// Copies them into argv (sized by CountArgs) and returns what follows the
// NULL if `envp_out` is set (execle's environment).
void CopyArgs(const char* first, va_list ap, char** argv, char*** envp_out) {
  int n = 0;
  for (const char* a = first; a != nullptr; a = va_arg(ap, const char*)) {
    argv[n++] = const_cast<char*>(a);
  }
  argv[n] = nullptr;
  if (envp_out != nullptr) *envp_out = va_arg(ap, char**);
}

}  // namespace

HL_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
  return TracedExec<ExecveFn>(&g_execve, "execve", path, argv, envp);
}
HL_EXPORT int execv(const char* path, char* const argv[]) {
  return TracedExec<ExecvFn>(&g_execv, "execv", path, argv);
}
HL_EXPORT int execvp(const char* file, char* const argv[]) {
  return TracedExec<ExecvFn>(&g_execvp, "execvp", file, argv);
}
HL_EXPORT int execvpe(const char* file, char* const argv[],
                      char* const envp[]) {
  return TracedExec<ExecveFn>(&g_execvpe, "execvpe", file, argv, envp);
}
HL_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  return TracedExec<FexecveFn>(&g_fexecve, "fexecve", fd, argv, envp);
}

// execl, execlp, execle: the arguments are gathered into an exactly sized
// array on the stack, then passed to the wrapped execv* above.
#define HL_GATHER_ARGS(arg, envp_out)  \
  va_list ap;                          \
  va_start(ap, arg);                   \
  va_list count_ap;                    \
  va_copy(count_ap, ap);               \
  int argc = CountArgs(arg, count_ap); \
  va_end(count_ap);                    \
  char* argv[argc];                    \
  CopyArgs(arg, ap, argv, envp_out);   \
  va_end(ap)

HL_EXPORT int execl(const char* path, const char* arg, ...) {
  HL_GATHER_ARGS(arg, nullptr);
  return execv(path, argv);
}
HL_EXPORT int execlp(const char* file, const char* arg, ...) {
  HL_GATHER_ARGS(arg, nullptr);
  return execvp(file, argv);
}
HL_EXPORT int execle(const char* path, const char* arg, ...) {
  char** envp = nullptr;
  HL_GATHER_ARGS(arg, &envp);
  return execve(path, argv, envp);
}
