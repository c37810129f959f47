// unwinder.h: call-stack capture inside the traced process.
//
// Two layers (docs/recorder.md has the design and the correctness argument):
//
//  1. The stack top. Every heaplens function is compiled with frame pointers
//     (.bazelrc: -fno-omit-frame-pointer), so FindStackTop walks the rbp
//     chain from a hook's own frame to the first return address outside
//     heaplens: that is frame 0 (the caller of malloc/new), and the stack
//     slot holding it is known exactly. No DWARF is read for our own frames.
//  2. The walk. UnwindFrom unwinds with libgcc's _Unwind_Backtrace (DWARF
//     CFI from .eh_frame, FDEs found with glibc's lock-free
//     _dl_find_object: no syscall, no lock, no malloc), so stacks are
//     correct through libc and libstdc++ frames built without frame
//     pointers. For every frame it reports the return address (pc) and the
//     stack slot it was read from (the inner frame's CFA - 8), which is what
//     StackCache (stack_cache.h) needs to reuse stacks without unwinding.
//
// libunwind 1.6 was used before: its fast trace gives up on some frames
// (CPython's) and its unw_step path takes a signal-masked lock per frame
// (~60 rt_sigprocmask syscalls per event in python3).
//
// Not async-signal-safe in general; the recorder's recursion guard keeps
// nested calls out.
#ifndef HEAPLENS_INTERPOSER_RECORDER_UNWINDER_H_
#define HEAPLENS_INTERPOSER_RECORDER_UNWINDER_H_

#include <stdint.h>

namespace heaplens {

constexpr int kMaxStackDepth = 256;

class StackCache;

// One-time setup: the code range to skip. If `skip_self` is false (unit
// tests), FindStackTop always fails and CaptureStack skips no frame.
void UnwinderInit(bool skip_self);

// Frame 0 of a stack: its return address and the stack slot holding it.
struct StackTop {
  uintptr_t slot;
  uintptr_t ip;
};

namespace unwinder_internal {
// Executable range of heaplens' own module (UnwinderInit); empty (0, 0)
// when frames are not skipped.
extern uintptr_t g_self_lo, g_self_hi;
}  // namespace unwinder_internal

// Walks the frame-pointer chain from `fp` (__builtin_frame_address(0) of a
// heaplens function that is running) to the first return address outside
// heaplens' code. False if the chain looks broken (not increasing, not
// aligned, too long). Inline: it runs for every allocation (two iterations
// from a hook: the hook's return into the allocator entry, then the entry's
// return into the program).
inline bool FindStackTop(const void* fp, StackTop* top) {
  using unwinder_internal::g_self_hi;
  using unwinder_internal::g_self_lo;
  const uintptr_t lo = g_self_lo, size = g_self_hi - g_self_lo;
  if (__builtin_expect(size == 0, 0)) return false;  // UnwinderInit(false)
  auto* f = static_cast<const uintptr_t*>(fp);
  for (int i = 0; i < 16; ++i) {
    uintptr_t ret = f[1];
    if (ret - lo >= size) {  // outside [lo, hi)
      top->slot = reinterpret_cast<uintptr_t>(&f[1]);
      top->ip = ret;
      return ret != 0;
    }
    // The next frame lies above f, 8-aligned (f is), less than 1 MiB away.
    uintptr_t d = f[0] - reinterpret_cast<uintptr_t>(f);
    if (d - 8 >= (1u << 20) || (d & 7) != 0) return false;
    f = reinterpret_cast<const uintptr_t*>(f[0]);
  }
  return false;
}

// A captured stack: pcs innermost first and, per frame, the stack slot its
// pc was read from (0 when it was not read from a return-address slot: a
// frame interrupted by a signal).
struct UnwoundStack {
  int depth = 0;
  // The walk reached the outermost frame: there are no frames beyond
  // `depth` (false when it stopped at max_depth).
  bool complete = false;
  // Frame 0 was found where `top` said (the frame-pointer walk agrees with
  // the DWARF unwinder).
  bool top_found = false;
  uint64_t* pcs;
  uint64_t* slots;
};

// Unwinds the calling thread's stack from `top` outwards, up to max_depth
// frames, into out->pcs/slots (room for max_depth each). If `splice` is not
// null, the walk stops at the first frame that begins a verified cached
// stack and copies the rest from it (StackCache::Splice).
void UnwindFrom(const StackTop& top, int max_depth, StackCache* splice,
                UnwoundStack* out);

// Full unwind without a known top (the fallback, and for tests): skips
// frames inside heaplens, then writes up to `max_depth` return addresses,
// innermost first, into out; returns the count.
int CaptureStack(uint64_t* out, int max_depth);

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_RECORDER_UNWINDER_H_
