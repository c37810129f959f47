#include "analyzer/export/stack_totals.h"

namespace heaplens {

StackTotals LeakedByStack(const LeakResult& leaks) {
  StackTotals out;
  for (const LeakGroup& g : leaks.groups) {
    if (g.kind == LeakKind::kReachable) continue;
    StackTotal& t = out[g.stack];
    t.objects += g.blocks;
    t.bytes += g.bytes;
  }
  return out;
}

StackTotals LiveByStack(const LiveSet& live) {
  StackTotals out;
  for (const auto& [address, block] : live) {
    StackTotal& t = out[block.stack];
    ++t.objects;
    t.bytes += block.size;
  }
  return out;
}

StackTotal Sum(const StackTotals& totals) {
  StackTotal sum;
  for (const auto& [stack, t] : totals) {
    sum.objects += t.objects;
    sum.bytes += t.bytes;
  }
  return sum;
}

}  // namespace heaplens
