#include "interposer/recorder/stack_cache.h"

#include <string.h>

namespace heaplens {

size_t StackCache::BytesFor(int max_depth) {
  return sizeof(Meta) * kEntries +
         2 * sizeof(uint64_t) * kEntries * static_cast<size_t>(max_depth) +
         2 * sizeof(uint32_t) * kIndexBuckets;
}

void StackCache::Init(void* mem, int max_depth) {
  char* p = static_cast<char*>(mem);
  max_depth_ = max_depth;
  pcs_ = reinterpret_cast<uint64_t*>(p);
  p += sizeof(uint64_t) * kEntries * max_depth;
  slots_ = reinterpret_cast<uint64_t*>(p);
  p += sizeof(uint64_t) * kEntries * max_depth;
  meta_ = reinterpret_cast<Meta*>(p);
  p += sizeof(Meta) * kEntries;
  index_ = reinterpret_cast<uint32_t*>(p);
  Clear();
}

void StackCache::Clear() {
  if (meta_ == nullptr) return;
  memset(meta_, 0, sizeof(Meta) * kEntries);
  memset(index_, 0, 2 * sizeof(uint32_t) * kIndexBuckets);
  next_victim_ = 0;
  last_id_ = 0;
  last_depth_ = 0;
}

void StackCache::Remember(int e) {
  last_id_ = meta_[e].id;
  last_depth_ = meta_[e].depth;
  last_pcs_ = pcs_ + static_cast<size_t>(e) * max_depth_;
  last_slots_ = slots_ + static_cast<size_t>(e) * max_depth_;
}

bool StackCache::Verify(int e, int j, uintptr_t slot, uintptr_t pc) const {
  const Meta& m = meta_[e];
  if (m.id == 0 || j >= m.depth) return false;
  const uint64_t* pcs = pcs_ + static_cast<size_t>(e) * max_depth_;
  const uint64_t* slots = slots_ + static_cast<size_t>(e) * max_depth_;
  if (slots[j] != slot || pcs[j] != pc) return false;
  // Every slot beyond j lies above the live frame j, on this thread's
  // stack (Insert only keeps increasing slots), so it is readable.
  for (int k = j + 1; k < m.depth; ++k) {
    if (*reinterpret_cast<const volatile uint64_t*>(slots[k]) != pcs[k]) {
      return false;
    }
  }
  return true;
}

uint32_t StackCache::FindIndexed(const StackTop& top) {
  const uint32_t* b = index_ + 2 * Bucket(top.slot, top.ip);
  for (int way = 0; way < 2; ++way) {
    uint32_t v = b[way];
    if (v == 0) continue;
    --v;
    int e = static_cast<int>(v >> 9), j = static_cast<int>(v & 511);
    if (j == 0 && Verify(e, 0, top.slot, top.ip)) {
      ++hits_;
      Remember(e);
      return meta_[e].id;
    }
  }
  ++misses_;
  return 0;
}

bool StackCache::Splice(uintptr_t slot, uintptr_t pc, int max_depth,
                        UnwoundStack* s) {
  const uint32_t* b = index_ + 2 * Bucket(slot, pc);
  for (int way = 0; way < 2; ++way) {
    uint32_t v = b[way];
    if (v == 0) continue;
    --v;
    int e = static_cast<int>(v >> 9), j = static_cast<int>(v & 511);
    if (!Verify(e, j, slot, pc)) continue;
    const Meta& m = meta_[e];
    int have = s->depth;
    int remaining = m.depth - j;
    if (!m.complete && have + remaining < max_depth) continue;
    int take = remaining < max_depth - have ? remaining : max_depth - have;
    const uint64_t* pcs = pcs_ + static_cast<size_t>(e) * max_depth_ + j;
    const uint64_t* slots = slots_ + static_cast<size_t>(e) * max_depth_ + j;
    memcpy(s->pcs + have, pcs, sizeof(uint64_t) * take);
    memcpy(s->slots + have, slots, sizeof(uint64_t) * take);
    s->depth = have + take;
    s->complete = m.complete && have + remaining <= max_depth;
    ++splices_;
    return true;
  }
  return false;
}

void StackCache::Insert(uint32_t id, const UnwoundStack& s) {
  if (id == 0 || s.depth <= 0 || s.depth > max_depth_) return;
  for (int k = 0; k < s.depth; ++k) {
    if (s.slots[k] == 0 || (s.slots[k] & 7) != 0) return;
    if (k > 0 && s.slots[k] <= s.slots[k - 1]) return;
  }
  if (s.slots[s.depth - 1] - s.slots[0] > (64u << 20)) return;
  int e = next_victim_;
  next_victim_ = (next_victim_ + 1) % kEntries;
  Meta& m = meta_[e];
  m.id = id;
  m.depth = static_cast<uint16_t>(s.depth);
  m.complete = s.complete ? 1 : 0;
  uint64_t* pcs = pcs_ + static_cast<size_t>(e) * max_depth_;
  uint64_t* slots = slots_ + static_cast<size_t>(e) * max_depth_;
  memcpy(pcs, s.pcs, sizeof(uint64_t) * s.depth);
  memcpy(slots, s.slots, sizeof(uint64_t) * s.depth);
  // Stale index values that still name entry e are rejected by Verify.
  for (int j = 0; j < s.depth; ++j) {
    uint32_t* b = index_ + 2 * Bucket(slots[j], pcs[j]);
    uint32_t v = Encode(e, j);
    if (b[0] == v) continue;
    b[1] = b[0];
    b[0] = v;
  }
  // Entry e changed: the memo now names the stack just inserted (the next
  // event from the same site is usually the same stack).
  Remember(e);
}

}  // namespace heaplens
