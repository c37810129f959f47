#include "interposer/recorder/unwinder.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <link.h>

namespace heaplens {
namespace {

// Executable ranges of heaplens' own module and of libunwind.
struct Range {
  uintptr_t lo, hi;
};
Range g_skip[2];
int g_skip_count = 0;

struct FindArg {
  uintptr_t addr;
  Range range;
  bool found;
};

int FindModule(struct dl_phdr_info* info, size_t, void* data) {
  auto* a = static_cast<FindArg*>(data);
  uintptr_t lo = ~static_cast<uintptr_t>(0), hi = 0;
  bool contains = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t s = info->dlpi_addr + ph.p_vaddr;
    uintptr_t e = s + ph.p_memsz;
    if (a->addr >= s && a->addr < e) contains = true;
    if (ph.p_flags & PF_X) {
      if (s < lo) lo = s;
      if (e > hi) hi = e;
    }
  }
  if (!contains) return 0;
  a->range = {lo, hi};
  a->found = true;
  return 1;
}

void AddSkip(uintptr_t addr) {
  FindArg a = {addr, {0, 0}, false};
  dl_iterate_phdr(FindModule, &a);
  if (a.found && g_skip_count < 2) g_skip[g_skip_count++] = a.range;
}

inline bool Skipped(uintptr_t pc) {
  for (int i = 0; i < g_skip_count; ++i) {
    if (pc >= g_skip[i].lo && pc < g_skip[i].hi) return true;
  }
  return false;
}

}  // namespace

void UnwinderInit(bool skip_self) {
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
  g_skip_count = 0;
  if (skip_self) {
    AddSkip(reinterpret_cast<uintptr_t>(&UnwinderInit));
    AddSkip(reinterpret_cast<uintptr_t>(&unw_backtrace));
  }
}

int CaptureStack(uint64_t* out, int max_depth) {
  // Room for the frames we skip (allocator entry, hooks, recorder).
  constexpr int kExtra = 12;
  void* frames[kMaxStackDepth + kExtra];
  if (max_depth > kMaxStackDepth) max_depth = kMaxStackDepth;
  int n = unw_backtrace(frames, max_depth + kExtra);
  int i = 0;
  while (i < n && Skipped(reinterpret_cast<uintptr_t>(frames[i]))) ++i;
  int k = 0;
  for (; i < n && k < max_depth; ++i) {
    uintptr_t pc = reinterpret_cast<uintptr_t>(frames[i]);
    if (pc == 0) break;
    out[k++] = pc;
  }
  return k;
}

}  // namespace heaplens
