#include "interposer/recorder/stack_interner.h"

#include "interposer/internal_memory.h"

namespace heaplens {
namespace {

inline uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

inline size_t ChildSlot(uint32_t parent, uint64_t pc) {
  return static_cast<size_t>(Mix(pc * 0x9e3779b97f4a7c15ULL + parent));
}

}  // namespace

uint32_t StackInterner::Hash(const uint64_t* pcs, int n) {
  uint64_t h = 0x243f6a8885a308d3ULL ^ static_cast<uint64_t>(n);
  for (int i = 0; i < n; ++i) h = (h ^ pcs[i]) * 0x100000001b3ULL + (h >> 29);
  uint32_t r = static_cast<uint32_t>(Mix(h));
  return r == 0 ? 1 : r;
}

const StackInterner::NodeRec* StackInterner::NodeAt(uint32_t id) const {
  NodeRec* chunk = chunks_[id >> kChunkShift].load(std::memory_order_acquire);
  if (chunk == nullptr) return nullptr;
  return &chunk[id & ((1u << kChunkShift) - 1)];
}

bool StackInterner::Node(uint32_t id, uint32_t* parent, uint64_t* pc) const {
  if (id == 0 || id >= next_id_) return false;
  const NodeRec* r = NodeAt(id);
  if (r == nullptr) return false;
  *parent = r->parent;
  *pc = r->pc;
  return true;
}

bool StackInterner::Matches(uint32_t id, const uint64_t* pcs, int n) const {
  for (int i = 0; i < n; ++i) {
    if (id == 0) return false;
    const NodeRec* r = NodeAt(id);
    if (r == nullptr || r->pc != pcs[i]) return false;
    id = r->parent;
  }
  return id == 0;
}

uint32_t StackInterner::Find(const uint64_t* pcs, int n, uint32_t hash) const {
  if (n == 0) return 0;
  const StackTable* t = stacks_.load(std::memory_order_acquire);
  if (t == nullptr) return 0;
  for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
    uint64_t s = t->slots[i].load(std::memory_order_acquire);
    if (s == 0) return 0;
    if (static_cast<uint32_t>(s) == hash) {
      uint32_t id = static_cast<uint32_t>(s >> 32);
      if (id >= generation_first_ && Matches(id, pcs, n)) return id;
    }
  }
}

bool StackInterner::NewNode(uint32_t parent, uint64_t pc, uint32_t* id) {
  uint32_t n = next_id_;
  size_t c = n >> kChunkShift;
  if (c >= kMaxChunks) return false;
  NodeRec* chunk = chunks_[c].load(std::memory_order_relaxed);
  if (chunk == nullptr) {
    chunk = static_cast<NodeRec*>(InternalMap(sizeof(NodeRec) << kChunkShift));
    if (chunk == nullptr) return false;
    chunks_[c].store(chunk, std::memory_order_release);
  }
  NodeRec& r = chunk[n & ((1u << kChunkShift) - 1)];
  r.pc = pc;
  r.parent = parent;
  // Published to Find() through the release store of the stack slot.
  next_id_ = n + 1;
  *id = n;
  return true;
}

uint32_t StackInterner::FindChild(uint32_t parent, uint64_t pc) const {
  if (children_ == nullptr) return 0;
  for (size_t i = ChildSlot(parent, pc) & children_mask_;;
       i = (i + 1) & children_mask_) {
    const ChildEntry& e = children_[i];
    if (e.id == 0) return 0;
    if (e.pc == pc && e.parent == parent) return e.id;
  }
}

bool StackInterner::InsertChild(uint32_t parent, uint64_t pc, uint32_t id) {
  if (children_ == nullptr || (children_count_ + 1) * 2 > children_mask_ + 1) {
    size_t cap = children_ == nullptr ? 4096 : (children_mask_ + 1) * 2;
    auto* t = static_cast<ChildEntry*>(InternalMap(cap * sizeof(ChildEntry)));
    if (t == nullptr) return false;
    if (children_ != nullptr) {
      for (size_t i = 0; i <= children_mask_; ++i) {
        const ChildEntry& e = children_[i];
        if (e.id == 0) continue;
        size_t j = ChildSlot(e.parent, e.pc) & (cap - 1);
        while (t[j].id != 0) j = (j + 1) & (cap - 1);
        t[j] = e;
      }
      // Only touched under the lock: safe to unmap.
      InternalUnmap(children_, (children_mask_ + 1) * sizeof(ChildEntry));
    }
    children_ = t;
    children_mask_ = cap - 1;
  }
  size_t j = ChildSlot(parent, pc) & children_mask_;
  while (children_[j].id != 0) j = (j + 1) & children_mask_;
  children_[j] = {pc, parent, id};
  ++children_count_;
  return true;
}

bool StackInterner::InsertStack(uint32_t hash, uint32_t id) {
  StackTable* t = stacks_.load(std::memory_order_relaxed);
  if (t == nullptr || (stacks_count_ + 1) * 2 > t->mask + 1) {
    size_t cap = t == nullptr ? 4096 : (t->mask + 1) * 2;
    auto* nt = static_cast<StackTable*>(
        InternalMap(sizeof(StackTable) + cap * sizeof(uint64_t)));
    if (nt == nullptr) return false;
    nt->mask = cap - 1;
    if (t != nullptr) {
      for (size_t i = 0; i <= t->mask; ++i) {
        uint64_t s = t->slots[i].load(std::memory_order_relaxed);
        if (s == 0) continue;
        size_t j = static_cast<uint32_t>(s) & nt->mask;
        while (nt->slots[j].load(std::memory_order_relaxed) != 0) {
          j = (j + 1) & nt->mask;
        }
        nt->slots[j].store(s, std::memory_order_relaxed);
      }
    }
    // The old table is left mapped: a concurrent Find() may be reading it.
    stacks_.store(nt, std::memory_order_release);
    t = nt;
  }
  size_t j = hash & t->mask;
  while (t->slots[j].load(std::memory_order_relaxed) != 0)
    j = (j + 1) & t->mask;
  t->slots[j].store(static_cast<uint64_t>(id) << 32 | hash,
                    std::memory_order_release);
  ++stacks_count_;
  return true;
}

uint32_t StackInterner::Intern(const uint64_t* pcs, int n) {
  if (n == 0) return 0;
  uint32_t hash = Hash(pcs, n);
  uint32_t found = Find(pcs, n, hash);
  if (found != 0) return found;
  uint32_t parent = 0;
  for (int i = n - 1; i >= 0; --i) {
    uint32_t id = FindChild(parent, pcs[i]);
    if (id == 0) {
      if (!NewNode(parent, pcs[i], &id)) return 0;
      if (!InsertChild(parent, pcs[i], id)) return 0;
    }
    parent = id;
  }
  InsertStack(hash, parent);  // on failure the stack is just not cached
  return parent;
}

void StackInterner::EncodePending(WireWriter* w, uint8_t* scratch) {
  uint64_t parents[256];
  uint64_t pcs[256];
  while (pending_first_ < next_id_) {
    size_t n = next_id_ - pending_first_;
    if (n > kMaxNodesPerPacket) n = kMaxNodesPerPacket;
    // Encode in slices of 256 through small arrays to keep the stack small;
    // EncodeStackNodes needs contiguous arrays, so build one packet per
    // slice of up to 256 nodes.
    if (n > 256) n = 256;
    for (size_t i = 0; i < n; ++i) {
      const NodeRec* r = NodeAt(static_cast<uint32_t>(pending_first_ + i));
      parents[i] = r->parent;
      pcs[i] = r->pc;
    }
    EncodeStackNodes(w, pending_first_, parents, pcs, n, scratch);
    pending_first_ += static_cast<uint32_t>(n);
  }
}

void StackInterner::Reset(bool restart_ids) {
  if (restart_ids) next_id_ = 1;
  pending_first_ = next_id_;
  generation_first_ = next_id_;
  if (children_ != nullptr) {
    InternalUnmap(children_, (children_mask_ + 1) * sizeof(ChildEntry));
    children_ = nullptr;
    children_mask_ = 0;
    children_count_ = 0;
  }
  // Readers may still probe the old stack table; retire it (stays mapped).
  stacks_.store(nullptr, std::memory_order_release);
  stacks_count_ = 0;
}

}  // namespace heaplens
