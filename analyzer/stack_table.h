// stack_table.h: the stack prefix tree of a trace (StackNodes packets).
//
// Node ids start at 1 and are dense; each node is one frame (a pc) and its
// parent, the caller's node (0 = outermost). A stack id is the id of its
// innermost node; 0 is the empty stack. Parents always have smaller ids than
// their children (parent_distance >= 1), so the tree has no cycles and every
// walk ends; Frames() also bounds the depth.
//
// Each node remembers the module epoch that was current when its packet was
// read, so the symbolizer maps its pc with the right module map even after a
// dlclose.
#ifndef HEAPLENS_ANALYZER_STACK_TABLE_H_
#define HEAPLENS_ANALYZER_STACK_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/trace.pb.h"

namespace heaplens {

inline constexpr uint32_t kNoEpoch = 0xffffffffu;

class StackTable {
 public:
  // The deepest stack Frames() returns; deeper ones are cut.
  static constexpr size_t kMaxDepth = 1024;

  StackTable() { nodes_.push_back(Node{0, 0, kNoEpoch}); }

  // Adds the nodes of one StackNodes packet, read while module epoch
  // `epoch_index` (an index into TraceIndex::epochs, or kNoEpoch) was
  // current. Returns false and sets `*error` if the packet is malformed.
  bool Add(const trace::StackNodes& packet, uint32_t epoch_index,
           std::string* error);

  // Adds one node (frame `pc` called from stack `parent`) and returns its id:
  // how stacks from another trace (a forked child's parent) are imported.
  uint64_t AddNode(uint64_t pc, uint64_t parent, uint32_t epoch_index) {
    nodes_.push_back(Node{pc, static_cast<uint32_t>(parent), epoch_index});
    return nodes_.size() - 1;
  }

  // Number of defined ids, including the empty stack 0.
  uint64_t size() const { return nodes_.size(); }
  bool Contains(uint64_t id) const { return id < nodes_.size(); }

  uint64_t pc(uint64_t id) const { return nodes_[id].pc; }
  uint32_t parent(uint64_t id) const { return nodes_[id].parent; }
  uint32_t epoch(uint64_t id) const { return nodes_[id].epoch; }

  // The node ids of stack `id`, innermost first (at most kMaxDepth).
  std::vector<uint32_t> Frames(uint64_t id) const;

 private:
  struct Node {
    uint64_t pc;
    uint32_t parent;
    uint32_t epoch;
  };
  std::vector<Node> nodes_;
};

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_STACK_TABLE_H_
