// recorder.h: the trace recorder's lifecycle, called by the allocator's
// entry points (libc_override.cc). The per-event hooks are in track.h.
//
// Activation: RecorderInit() runs once, from the allocator's first call. It
// reads MALLOC_TRACE (ignored under AT_SECURE), opens the trace file, writes
// the header and module map, and sets g_tracing_active. It never fails the
// program: on any error it prints one message to stderr and stays inactive.
#ifndef HEAPLENS_INTERPOSER_RECORDER_RECORDER_H_
#define HEAPLENS_INTERPOSER_RECORDER_RECORDER_H_

#include <stddef.h>
#include <stdint.h>

namespace heaplens {

// Idempotent and thread-safe; cheap after the first call.
void RecorderInit();

// Fork handling, called by the allocator's pthread_atfork-equivalent
// handlers, in this order around the allocator's own locks: Prepare before
// the allocator locks, Parent/Child after it unlocks.
void RecorderPrepareFork();
void RecorderParentAfterFork();
void RecorderChildAfterFork();

// The process is about to end through _exit/_Exit with `status` (no heap
// graph: flush what is buffered and write the summary).
void RecorderOnUnderscoreExit(int status);

// The process is about to replace its image (execve/execv*/fexecve; called
// by the exec wrappers just before the real call): flushes every buffer and
// writes ExitSummary(EXEC), then holds further events (they would belong to
// an image that is going away). Does nothing in a vfork child (it shares the
// parent's memory and trace: its pid is not the trace's).
void RecorderBeforeExec();
// The exec failed: the summary is cut off again and tracing continues
// (events of other threads between the two calls are lost).
void RecorderAfterFailedExec();

// A user mark (heaplens_mark()); recorded as EventKind::kMark.
void RecorderMark(uint64_t id);

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_RECORDER_RECORDER_H_
