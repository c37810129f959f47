// leaks.h: Valgrind memcheck's leak kinds, computed from the heap graph the
// interposer writes at exit, and the grouping of leaks by allocation stack.
//
// Kinds (memcheck's meanings, mc_leakcheck.c):
//   reachable  a chain of start-pointers leads to it from a root;
//   possible   reached from the roots, but only via a chain with an interior
//              pointer (or through a block that is itself only possible);
//   definite   not reached from the roots, and not reached from another
//              unreached block: the leader of a "clique";
//   indirect   not reached from the roots, but reached from a definite or
//              indirect block (the members of a clique).
// Without a heap graph (killed process, _exit, exec) every live block is
// `unfreed`.
//
// The algorithm follows memcheck: a mark pass from the roots (a block
// pointed to by a start pointer from a definite source becomes Reachable;
// otherwise an Unreached block becomes Possible; each state upgrade
// rescans the block), then a clique pass over the still unreached blocks in
// address order, each starting a clique that absorbs every unreached block
// it reaches (a former clique leader it absorbs stops being a leader).
#ifndef HEAPLENS_ANALYZER_LEAKS_H_
#define HEAPLENS_ANALYZER_LEAKS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "analyzer/allocation_tracker.h"
#include "analyzer/trace_index.h"

namespace heaplens {

enum class LeakKind : int {
  kDefinite = 0,
  kIndirect = 1,
  kPossible = 2,
  kReachable = 3,
  kUnfreed = 4,  // no graph: not classified
};
inline constexpr int kLeakKinds = 5;

// "definite", "indirect", "possible", "reachable", "unfreed".
const char* LeakKindName(LeakKind kind);

// A set of LeakKinds: bit (1 << kind).
using KindMask = uint32_t;
inline constexpr KindMask KindBit(LeakKind k) {
  return 1u << static_cast<int>(k);
}
inline constexpr KindMask kAllKinds = (1u << kLeakKinds) - 1;

// memcheck's leak-check heuristics (--leak-check-heuristics, default all
// since Valgrind 3.11): an interior pointer at one of these layouts counts
// as a start pointer when marking from the roots.
enum class LeakHeuristic : uint8_t {
  kNone = 0,
  kStdString = 1,            // pre-C++11 std::string: 24 B in, past the rep
  kLength64 = 2,             // 8 B in, past a 64-bit length of the rest
  kNewArray = 3,             // 8 B in, past new[]'s element count
  kMultipleInheritance = 4,  // at a second base class's vtable pointer
};
inline constexpr int kLeakHeuristics = 5;

// "stdstring", "length64", "newarray", "multipleinheritance" (memcheck's
// names); "none".
const char* LeakHeuristicName(LeakHeuristic h);

inline constexpr uint64_t kUnknownSize = ~0ull;

// The kind of every graph block (by index). References to an index outside
// the graph are ignored and counted in `*bad_refs` (if not null). `sizes`
// (if not null: one per block, kUnknownSize where unknown) are the requested
// sizes: interior references at or past them are ignored, and the
// heuristics need them. `heuristics` (if not null) receives, per block, the
// heuristic that made it reachable (kNone for the others).
std::vector<LeakKind> ClassifyHeapGraph(
    const HeapGraphData& graph, uint64_t* bad_refs = nullptr,
    const std::vector<uint64_t>* sizes = nullptr,
    std::vector<LeakHeuristic>* heuristics = nullptr);

// Live blocks of one kind with one allocation stack.
struct LeakGroup {
  LeakKind kind = LeakKind::kUnfreed;
  uint64_t stack = 0;
  uint64_t bytes = 0;
  uint64_t blocks = 0;
};

struct KindTotals {
  uint64_t bytes = 0;
  uint64_t blocks = 0;
};

struct LeakResult {
  bool has_graph = false;
  std::vector<LeakGroup> groups;  // bytes, blocks descending; then kind, stack
  KindTotals totals[kLeakKinds];  // per LeakKind
  KindTotals unfreed;             // every live block, whatever its kind
  // Of the reachable blocks, those found through a heuristic, per
  // LeakHeuristic (memcheck's "of which reachable via heuristic").
  KindTotals via_heuristic[kLeakHeuristics];
  std::vector<std::string> notes;
};

// Classifies the blocks of `live` (the live set at the end of the replay)
// with `graph` when there is one, and groups them by (kind, stack).
LeakResult AnalyzeLeaks(const LiveSet& live, const HeapGraphData* graph);

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_LEAKS_H_
