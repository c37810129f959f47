// stack_interner.h: gives every distinct call stack a dense id, storing each
// stack once as a path in a prefix tree (trace.proto StackNodes).
//
// A node is (parent node, pc); node ids start at 1 and are dense; a stack's
// id is its innermost node (0 = the empty stack). Two hash tables:
//   - nodes by (parent, pc), used only while inserting (under the caller's
//     lock);
//   - whole stacks by a 32-bit hash, read lock-free by Find() on the hot
//     path; a hit is verified by walking the node chain, so a hash collision
//     can never return a wrong stack.
// Nodes created since the last TakePending() are "pending": the recorder
// writes them (EncodePending) before any batch that may use their ids.
//
// Thread safety: Find() may run concurrently with everything. Intern(),
// EncodePending(), Reset() need external mutual exclusion. Memory comes
// from InternalMap; tables that are replaced are never unmapped (a reader may
// still be probing them), which bounds waste to the sum of old table sizes.
//
// Example:
//   uint64_t pcs[3] = {inner, middle, outer};
//   uint32_t id = interner.Find(pcs, 3, StackInterner::Hash(pcs, 3));
//   if (id == 0) id = interner.Intern(pcs, 3);   // under the lock
#ifndef HEAPLENS_INTERPOSER_RECORDER_STACK_INTERNER_H_
#define HEAPLENS_INTERPOSER_RECORDER_STACK_INTERNER_H_

#include <stddef.h>
#include <stdint.h>

#include <atomic>

#include "interposer/recorder/wire.h"

namespace heaplens {

class StackInterner {
 public:
  constexpr StackInterner() = default;

  static uint32_t Hash(const uint64_t* pcs, int n);

  // The id of pcs[0..n) (innermost first) if already interned, else 0.
  // Lock-free. n == 0 returns 0 (the empty stack).
  uint32_t Find(const uint64_t* pcs, int n, uint32_t hash) const;

  // Interns pcs[0..n); returns its id, or 0 if memory ran out. Caller holds
  // the lock.
  uint32_t Intern(const uint64_t* pcs, int n);

  // Nodes not yet written.
  size_t pending() const { return next_id_ - pending_first_; }
  // Appends StackNodes packets for all pending nodes (at most
  // kMaxNodesPerPacket each) and marks them written. The writer must have
  // room for PendingEncodedBound() bytes. `scratch` holds 20 *
  // kMaxNodesPerPacket bytes.
  static constexpr size_t kMaxNodesPerPacket = 4096;
  size_t PendingEncodedBound() const {
    return 64 + pending() * 24 + 64 * (pending() / kMaxNodesPerPacket + 1);
  }
  void EncodePending(WireWriter* w, uint8_t* scratch);

  // Forgets every stack (after a module was unloaded, or in a forked child
  // with a new file). If `restart_ids`, ids restart at 1 (new file).
  // Pending nodes are dropped: write them first if they are still wanted.
  void Reset(bool restart_ids);

  uint64_t node_count() const { return next_id_ - 1; }
  // The parent and pc of node `id` (for tests and verification).
  bool Node(uint32_t id, uint32_t* parent, uint64_t* pc) const;

 private:
  struct NodeRec {
    uint64_t pc;
    uint32_t parent;
    uint32_t pad;
  };
  static constexpr int kChunkShift = 16;  // 64K nodes (1 MiB) per chunk
  static constexpr int kMaxChunks = 4096;
  struct ChildEntry {
    uint64_t pc;
    uint32_t parent;
    uint32_t id;
  };

  const NodeRec* NodeAt(uint32_t id) const;
  bool NewNode(uint32_t parent, uint64_t pc, uint32_t* id);
  uint32_t FindChild(uint32_t parent, uint64_t pc) const;
  bool InsertChild(uint32_t parent, uint64_t pc, uint32_t id);
  bool InsertStack(uint32_t hash, uint32_t id);
  bool Matches(uint32_t id, const uint64_t* pcs, int n) const;

  // Node storage, indexed by id (chunked so it never moves).
  std::atomic<NodeRec*> chunks_[kMaxChunks] = {};
  uint32_t next_id_ = 1;
  uint32_t pending_first_ = 1;
  // The first id valid in the current generation (after Reset without
  // restart, older ids are not reused by lookups).
  uint32_t generation_first_ = 1;

  // (parent, pc) -> id; lock held.
  ChildEntry* children_ = nullptr;
  size_t children_mask_ = 0;
  size_t children_count_ = 0;

  // hash32 | id << 32; 0 = empty. Published with release.
  struct StackTable {
    size_t mask;
    std::atomic<uint64_t> slots[1];
  };
  std::atomic<StackTable*> stacks_{nullptr};
  size_t stacks_count_ = 0;
};

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_RECORDER_STACK_INTERNER_H_
