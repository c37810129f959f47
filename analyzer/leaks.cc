#include "analyzer/leaks.h"

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace heaplens {
namespace {

enum State : uint8_t {
  kUnreached,
  kIndirectLeak,
  kPossibleState,
  kReachableState
};

// How a reference counts, once the target's requested size is known.
enum RefClass : uint8_t {
  kStartRef,     // to the block's first byte
  kInteriorRef,  // inside it
  kNoRef,        // only at or past the requested size: no reference
  // kHeuristicRef + h: inside it, at a layout heuristic h knows
  // (LeakHeuristic h != kNone).
  kHeuristicRef,
};

bool IsHeuristicRef(uint8_t cls) { return cls > kHeuristicRef; }
LeakHeuristic HeuristicOfRef(uint8_t cls) {
  return IsHeuristicRef(cls) ? static_cast<LeakHeuristic>(cls - kHeuristicRef)
                             : LeakHeuristic::kNone;
}

// memcheck's heuristic_reachedness, on the recorder's evidence.
LeakHeuristic HeuristicOf(const InteriorRef& in, uint64_t size) {
  if ((in.flags & InteriorRef::kString) && size > 24 && in.word1 == size - 25) {
    return LeakHeuristic::kStdString;
  }
  if ((in.flags & InteriorRef::kAt8) && size > 8 && in.word0 > 0) {
    if (in.word0 == size - 8) return LeakHeuristic::kLength64;
    if ((size - 8) % in.word0 == 0) return LeakHeuristic::kNewArray;
  }
  if ((in.flags & InteriorRef::kMulti) && in.mi_offset < size) {
    return LeakHeuristic::kMultipleInheritance;
  }
  return LeakHeuristic::kNone;
}

class Classifier {
 public:
  // `order` (may be null: address order) is the order in which the clique
  // pass considers blocks as clique leaders. `sizes` (may be null: all
  // unknown) are the blocks' requested sizes, kUnknownSize where unknown.
  Classifier(const HeapGraphData& g, const std::vector<uint64_t>* order,
             const std::vector<uint64_t>* sizes)
      : g_(g),
        n_(g.block_address.size()),
        state_(n_, kUnreached),
        heuristic_(n_, LeakHeuristic::kNone),
        order_(order != nullptr && order->size() == n_ ? order : nullptr),
        sizes_(sizes != nullptr && sizes->size() == n_ ? sizes : nullptr) {
    edge_class_ = Classes(g_.edges, g_.interior);
    root_class_.reserve(g_.roots.size());
    for (const HeapGraphData::Root& root : g_.roots) {
      root_class_.push_back(Classes(root.refs, root.interior));
    }
  }

  const std::vector<LeakHeuristic>& heuristics() const { return heuristic_; }

  std::vector<LeakKind> Run(uint64_t* bad_refs) {
    // Mark from the roots: every root word is a definite source.
    for (size_t r = 0; r < g_.roots.size(); ++r) {
      const HeapGraphData::Root& root = g_.roots[r];
      for (size_t k = 0; k < root.refs.size(); ++k) {
        PushFromDefinite(root.refs[k], root_class_[r][k], true);
      }
    }
    ProcessRootMarkStack();
    // Clique pass: each still unreached block, in address order (or the
    // given order), leads a clique; blocks it reaches become indirect
    // members.
    for (uint64_t k = 0; k < n_; ++k) {
      const uint64_t i = order_ != nullptr ? (*order_)[k] : k;
      if (state_[i] != kUnreached) continue;
      stack_.push_back(i);
      while (!stack_.empty()) {
        const uint64_t top = stack_.back();
        stack_.pop_back();
        for (uint64_t e = g_.edge_begin[top]; e < g_.edge_begin[top + 1]; ++e) {
          const uint64_t to = g_.edges[e] >> 1;
          if (to >= n_) {
            ++bad_refs_;
            continue;
          }
          if (edge_class_[e] == kNoRef) continue;
          // memcheck does not tell start and interior pointers apart here.
          if (state_[to] == kUnreached && to != i) {
            state_[to] = kIndirectLeak;
            stack_.push_back(to);
          }
        }
      }
    }
    std::vector<LeakKind> kinds(n_);
    for (uint64_t i = 0; i < n_; ++i) {
      switch (state_[i]) {
        case kUnreached:
          kinds[i] = LeakKind::kDefinite;
          break;
        case kIndirectLeak:
          kinds[i] = LeakKind::kIndirect;
          break;
        case kPossibleState:
          kinds[i] = LeakKind::kPossible;
          break;
        case kReachableState:
          kinds[i] = LeakKind::kReachable;
          break;
      }
    }
    if (bad_refs) *bad_refs = bad_refs_;
    return kinds;
  }

 private:
  // The class of each of `refs`, with `interior` describing the interior
  // ones in order.
  std::vector<uint8_t> Classes(const std::vector<uint64_t>& refs,
                               const InteriorRefs& interior) {
    std::vector<uint8_t> out(refs.size(), kStartRef);
    size_t k = 0;
    for (size_t i = 0; i < refs.size(); ++i) {
      if ((refs[i] & 1) == 0) continue;
      const bool described = k < interior.size();
      const InteriorRef in = described ? interior[k] : InteriorRef();
      ++k;
      const uint64_t to = refs[i] >> 1;
      const uint64_t size =
          sizes_ != nullptr && to < n_ ? (*sizes_)[to] : kUnknownSize;
      if (!described || size == kUnknownSize) {
        out[i] = kInteriorRef;
      } else if (in.min_offset >= size) {
        out[i] = kNoRef;  // e.g. one past the end: memcheck ignores it
      } else {
        out[i] = kHeuristicRef + static_cast<uint8_t>(HeuristicOf(in, size));
        if (out[i] == kHeuristicRef) out[i] = kInteriorRef;
      }
    }
    return out;
  }

  // memcheck's lc_push_without_clique_if_a_chunk_ptr.
  void PushFromDefinite(uint64_t ref, uint8_t cls, bool is_prior_definite) {
    const uint64_t to = ref >> 1;
    if (to >= n_) {
      ++bad_refs_;
      return;
    }
    if (cls == kNoRef) return;
    uint8_t& st = state_[to];
    if (st == kReachableState) {
      // A start pointer makes a block found by a heuristic a plain one.
      if (cls == kStartRef) heuristic_[to] = LeakHeuristic::kNone;
      return;
    }
    const bool start_pointer = cls == kStartRef || IsHeuristicRef(cls);
    if (start_pointer && is_prior_definite) {
      st = kReachableState;
      heuristic_[to] = HeuristicOfRef(cls);
      stack_.push_back(to);
    } else if (st == kUnreached) {
      st = kPossibleState;
      stack_.push_back(to);
    }
  }

  // memcheck's lc_process_markstack(clique = -1).
  void ProcessRootMarkStack() {
    while (!stack_.empty()) {
      const uint64_t top = stack_.back();
      stack_.pop_back();
      const bool definite = state_[top] != kPossibleState;
      for (uint64_t e = g_.edge_begin[top]; e < g_.edge_begin[top + 1]; ++e) {
        PushFromDefinite(g_.edges[e], edge_class_[e], definite);
      }
    }
  }

  const HeapGraphData& g_;
  const uint64_t n_;
  std::vector<uint8_t> state_;
  std::vector<LeakHeuristic> heuristic_;  // how a reachable block was found
  std::vector<uint64_t> stack_;
  const std::vector<uint64_t>* order_;
  const std::vector<uint64_t>* sizes_;
  std::vector<uint8_t> edge_class_;               // RefClass per edge
  std::vector<std::vector<uint8_t>> root_class_;  // per root, per ref
  uint64_t bad_refs_ = 0;
};

}  // namespace

const char* LeakKindName(LeakKind kind) {
  switch (kind) {
    case LeakKind::kDefinite:
      return "definite";
    case LeakKind::kIndirect:
      return "indirect";
    case LeakKind::kPossible:
      return "possible";
    case LeakKind::kReachable:
      return "reachable";
    case LeakKind::kUnfreed:
      return "unfreed";
  }
  return "?";
}

const char* LeakHeuristicName(LeakHeuristic h) {
  switch (h) {
    case LeakHeuristic::kNone:
      return "none";
    case LeakHeuristic::kStdString:
      return "stdstring";
    case LeakHeuristic::kLength64:
      return "length64";
    case LeakHeuristic::kNewArray:
      return "newarray";
    case LeakHeuristic::kMultipleInheritance:
      return "multipleinheritance";
  }
  return "?";
}

std::vector<LeakKind> ClassifyHeapGraph(
    const HeapGraphData& graph, uint64_t* bad_refs,
    const std::vector<uint64_t>* sizes,
    std::vector<LeakHeuristic>* heuristics) {
  Classifier c(graph, nullptr, sizes);
  std::vector<LeakKind> kinds = c.Run(bad_refs);
  if (heuristics != nullptr) *heuristics = c.heuristics();
  return kinds;
}

LeakResult AnalyzeLeaks(const LiveSet& live, const HeapGraphData* graph) {
  LeakResult r;
  absl::flat_hash_map<uint64_t, LeakKind> kind_of;
  if (graph != nullptr) {
    r.has_graph = true;
    uint64_t bad_refs = 0;
    // Clique leaders in allocation order (then address order): memcheck
    // takes them in address order, but its allocator hands out increasing
    // addresses, so there that is allocation order. Ours does not (size
    // classes), and address order would make e.g. a lost std::map's first
    // node the definite block and the map object indirect.
    std::vector<uint64_t> order(graph->block_address.size());
    std::vector<uint64_t> sizes(order.size(), kUnknownSize);
    {
      std::vector<uint64_t> time(order.size(), UINT64_MAX);
      for (size_t i = 0; i < order.size(); ++i) {
        order[i] = i;
        auto it = live.find(graph->block_address[i]);
        if (it != live.end()) {
          time[i] = it->second.time_ns;
          sizes[i] = it->second.size;
        }
      }
      std::stable_sort(
          order.begin(), order.end(),
          [&time](uint64_t a, uint64_t b) { return time[a] < time[b]; });
    }
    Classifier classifier(*graph, &order, &sizes);
    std::vector<LeakKind> kinds = classifier.Run(&bad_refs);
    for (size_t i = 0; i < kinds.size(); ++i) {
      const LeakHeuristic h = classifier.heuristics()[i];
      if (h == LeakHeuristic::kNone || sizes[i] == kUnknownSize) continue;
      r.via_heuristic[static_cast<int>(h)].bytes += sizes[i];
      ++r.via_heuristic[static_cast<int>(h)].blocks;
    }
    if (bad_refs > 0) {
      r.notes.push_back(absl::StrCat("heap graph: ", bad_refs,
                                     " references to blocks outside the graph "
                                     "ignored"));
    }
    kind_of.reserve(kinds.size());
    uint64_t not_live = 0;
    for (size_t i = 0; i < kinds.size(); ++i) {
      if (!live.contains(graph->block_address[i])) ++not_live;
      kind_of[graph->block_address[i]] = kinds[i];
    }
    if (not_live > 0) {
      r.notes.push_back(
          absl::StrCat("heap graph: ", not_live,
                       " blocks are not live in the replayed trace (ignored)"));
    }
  }
  absl::flat_hash_map<std::pair<int, uint64_t>, LeakGroup> groups;
  uint64_t not_in_graph = 0;
  for (const auto& [addr, b] : live) {
    LeakKind kind = LeakKind::kUnfreed;
    if (graph != nullptr) {
      auto it = kind_of.find(addr);
      if (it != kind_of.end()) {
        kind = it->second;
      } else {
        ++not_in_graph;
      }
    }
    LeakGroup& g = groups[{static_cast<int>(kind), b.stack}];
    g.kind = kind;
    g.stack = b.stack;
    g.bytes += b.size;
    ++g.blocks;
    r.totals[static_cast<int>(kind)].bytes += b.size;
    ++r.totals[static_cast<int>(kind)].blocks;
    r.unfreed.bytes += b.size;
    ++r.unfreed.blocks;
  }
  if (not_in_graph > 0) {
    r.notes.push_back(absl::StrCat(
        not_in_graph,
        " live blocks are missing from the heap graph (reported as unfreed)"));
  }
  r.groups.reserve(groups.size());
  for (auto& [k, g] : groups) r.groups.push_back(g);
  std::sort(r.groups.begin(), r.groups.end(),
            [](const LeakGroup& a, const LeakGroup& b) {
              return std::make_tuple(b.bytes, b.blocks,
                                     static_cast<int>(a.kind), a.stack) <
                     std::make_tuple(a.bytes, a.blocks,
                                     static_cast<int>(b.kind), b.stack);
            });
  return r;
}

}  // namespace heaplens
