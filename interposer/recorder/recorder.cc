// Placeholder recorder: records nothing. Replaced by the real recorder.
#include "interposer/recorder/recorder.h"

#include "interposer/track.h"

namespace heaplens {

bool g_tracing_active = false;

void RecorderInit() {}
void RecorderPrepareFork() {}
void RecorderParentAfterFork() {}
void RecorderChildAfterFork() {}
void RecorderOnUnderscoreExit(int) {}
void RecorderMark(uint64_t) {}

void TrackAlloc(EventKind, void*, size_t, size_t) {}
void TrackRealloc(void*, void*, size_t, size_t) {}
void TrackFree(EventKind, void*) {}
void TrackInvalidFree(void*) {}
void TrackAllocFailed(size_t) {}
void TrackSegment(EventKind, uintptr_t, size_t) {}

}  // namespace heaplens
