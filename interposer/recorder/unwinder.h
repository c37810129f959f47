// unwinder.h: call-stack capture inside the traced process.
//
// Uses libunwind's unw_backtrace with the per-thread caching policy: it walks
// .eh_frame (DWARF CFI), so stacks are correct through libc and libstdc++
// frames built without frame pointers, and unwind info found once is cached
// per thread. Frames inside heaplens itself (and libunwind) at the top of
// the stack are skipped, so frame 0 is the caller of malloc/new.
//
// Not async-signal-safe in general (libunwind may take the loader lock); the
// recorder's recursion guard keeps nested calls out.
#ifndef HEAPLENS_INTERPOSER_RECORDER_UNWINDER_H_
#define HEAPLENS_INTERPOSER_RECORDER_UNWINDER_H_

#include <stdint.h>

namespace heaplens {

constexpr int kMaxStackDepth = 256;

// One-time setup: caching policy, and the address ranges to skip. If
// `skip_self` is false (unit tests), no frame is skipped.
void UnwinderInit(bool skip_self);

// Writes up to `max_depth` return addresses, innermost first, into out;
// returns the count.
int CaptureStack(uint64_t* out, int max_depth);

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_RECORDER_UNWINDER_H_
