#include "analyzer/stack_table.h"

#include "absl/strings/str_cat.h"

namespace heaplens {

bool StackTable::Add(const trace::StackNodes& packet, uint32_t epoch_index,
                     std::string* error) {
  const uint64_t next = nodes_.size();
  if (packet.first_id() != next) {
    *error = absl::StrCat("stack nodes start at id ", packet.first_id(),
                          ", expected ", next, " (ids must be dense)");
    return false;
  }
  const int n = packet.parent_distance_size();
  if (packet.pc_delta_size() != n) {
    *error = absl::StrCat("stack nodes: ", n, " parents but ",
                          packet.pc_delta_size(), " pcs");
    return false;
  }
  if (next + static_cast<uint64_t>(n) >= 0xffffffffull) {
    *error = "more than 2^32 stack nodes";
    return false;
  }
  uint64_t pc = 0;
  for (int i = 0; i < n; ++i) {
    const uint64_t id = next + static_cast<uint64_t>(i);
    const uint64_t dist = packet.parent_distance(i);
    if (dist == 0 || dist > id) {
      nodes_.resize(next);
      *error = absl::StrCat("stack node ", id, ": parent distance ", dist,
                            " is not in [1, ", id, "]");
      return false;
    }
    pc += static_cast<uint64_t>(packet.pc_delta(i));
    nodes_.push_back(Node{pc, static_cast<uint32_t>(id - dist), epoch_index});
  }
  return true;
}

std::vector<uint32_t> StackTable::Frames(uint64_t id) const {
  std::vector<uint32_t> out;
  if (!Contains(id)) return out;
  while (id != 0 && out.size() < kMaxDepth) {
    out.push_back(static_cast<uint32_t>(id));
    id = nodes_[id].parent;
  }
  return out;
}

}  // namespace heaplens
