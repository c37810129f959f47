// module_map.h: the set of loaded objects, for offline symbolization.
//
// EncodeModuleEpoch walks dl_iterate_phdr and writes one ModuleEpoch packet:
// for every object its path (the main program's is readlink(/proc/self/exe)),
// GNU build-id (from its PT_NOTE segments, read in memory), load bias and
// PT_LOAD segments. ModuleGeneration is a cheap change detector: glibc's
// dlpi_adds/dlpi_subs counters, read from the first dl_iterate_phdr entry.
//
// Both take the loader's lock (dl_iterate_phdr): never call them while
// holding a lock that a thread inside dlopen could need (see recorder.cc).
#ifndef HEAPLENS_INTERPOSER_RECORDER_MODULE_MAP_H_
#define HEAPLENS_INTERPOSER_RECORDER_MODULE_MAP_H_

#include <stdint.h>

#include "interposer/recorder/wire.h"

namespace heaplens {

struct ModuleGeneration {
  uint64_t adds = 0;
  uint64_t subs = 0;
  bool operator==(const ModuleGeneration& o) const {
    return adds == o.adds && subs == o.subs;
  }
  bool operator!=(const ModuleGeneration& o) const { return !(*this == o); }
};

ModuleGeneration CurrentModuleGeneration();

// Appends a ModuleEpoch packet. `exe_path` names the main program. Check
// w->overflow() and retry with a larger buffer if set.
void EncodeModuleEpoch(WireWriter* w, uint32_t epoch, uint64_t time_ns,
                       const char* exe_path);

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_RECORDER_MODULE_MAP_H_
