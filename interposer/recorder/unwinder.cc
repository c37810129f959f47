#include "interposer/recorder/unwinder.h"

#include <link.h>
#include <unwind.h>

#include "interposer/recorder/stack_cache.h"

namespace heaplens {
namespace unwinder_internal {
uintptr_t g_self_lo = 0, g_self_hi = 0;
}  // namespace unwinder_internal
namespace {

using unwinder_internal::g_self_hi;
using unwinder_internal::g_self_lo;

struct FindArg {
  uintptr_t addr;
  uintptr_t lo, hi;
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
  a->lo = lo;
  a->hi = hi;
  a->found = true;
  return 1;
}

inline bool InSelf(uintptr_t pc) { return pc >= g_self_lo && pc < g_self_hi; }

struct Walk {
  StackTop top;  // top.slot == 0: skip frames inside heaplens instead
  int max_depth;
  StackCache* splice;
  UnwoundStack* out;
  int skipped;
  bool started;
  bool stopped;  // by us: max_depth, a splice, or a mismatch
};

_Unwind_Reason_Code OnFrame(struct _Unwind_Context* ctx, void* arg) {
  auto* w = static_cast<Walk*>(arg);
  int before = 0;
  uintptr_t pc = _Unwind_GetIPInfo(ctx, &before);
  // The context's CFA is the inner frame's CFA (this frame's stack pointer
  // after the call returns), so this frame's pc was read from CFA - 8;
  // except for a frame interrupted by a signal (its pc comes from the
  // signal context).
  uintptr_t cfa = _Unwind_GetCFA(ctx);
  uintptr_t slot = (cfa != 0 && before == 0) ? cfa - 8 : 0;
  UnwoundStack* out = w->out;
  if (!w->started) {
    if (w->top.slot == 0) {
      if (InSelf(pc)) return _URC_NO_REASON;
    } else {
      if (slot == 0 || slot < w->top.slot) {
        if (++w->skipped > 64) {
          w->stopped = true;
          return _URC_NORMAL_STOP;
        }
        return _URC_NO_REASON;
      }
      if (slot != w->top.slot || pc != w->top.ip) {
        w->stopped = true;  // the frame-pointer walk and DWARF disagree
        return _URC_NORMAL_STOP;
      }
      out->top_found = true;
    }
    w->started = true;
  }
  if (pc == 0) return _URC_END_OF_STACK;
  if (out->depth >= w->max_depth) {
    w->stopped = true;
    return _URC_NORMAL_STOP;
  }
  if (w->splice != nullptr && out->depth > 0 && slot != 0 &&
      w->splice->Splice(slot, pc, w->max_depth, out)) {
    w->stopped = true;
    return _URC_NORMAL_STOP;
  }
  out->pcs[out->depth] = pc;
  out->slots[out->depth] = slot;
  ++out->depth;
  return _URC_NO_REASON;
}

void Run(Walk* w) {
  _Unwind_Reason_Code r = _Unwind_Backtrace(OnFrame, w);
  if (!w->stopped && w->started && r == _URC_END_OF_STACK) {
    w->out->complete = true;
  }
}

}  // namespace

void UnwinderInit(bool skip_self) {
  g_self_lo = g_self_hi = 0;
  if (skip_self) {
    FindArg a = {reinterpret_cast<uintptr_t>(&UnwinderInit), 0, 0, false};
    dl_iterate_phdr(FindModule, &a);
    if (a.found) {
      g_self_lo = a.lo;
      g_self_hi = a.hi;
    }
  }
}

void UnwindFrom(const StackTop& top, int max_depth, StackCache* splice,
                UnwoundStack* out) {
  if (max_depth > kMaxStackDepth) max_depth = kMaxStackDepth;
  out->depth = 0;
  out->complete = false;
  out->top_found = false;
  Walk w = {top, max_depth, splice, out, 0, false, false};
  Run(&w);
}

int CaptureStack(uint64_t* out, int max_depth) {
  if (max_depth > kMaxStackDepth) max_depth = kMaxStackDepth;
  uint64_t slots[kMaxStackDepth];
  UnwoundStack s;
  s.pcs = out;
  s.slots = slots;
  Walk w = {{0, 0}, max_depth, nullptr, &s, 0, false, false};
  Run(&w);
  return s.depth;
}

}  // namespace heaplens
