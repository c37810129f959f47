// stack_cache.h: a per-thread cache of recently unwound stacks, so a
// repeated call stack costs a few memory reads instead of a DWARF walk.
//
// Every cached frame keeps its pc and the stack slot the pc was read from
// (where that frame's return address lives). A stack whose frame 0 has the
// same (slot, pc) as a cached stack, and whose every cached slot still holds
// the cached pc, is that cached stack: each frame's caller is found from the
// frame's pc and the position of its return-address slot, so the same
// (slot, pc) pairs all the way out mean the same frames. docs/recorder.md
// has the argument and its limits (frames with a dynamic stack layout whose
// stale slots still hold old return addresses).
//
// Example (the recorder's hot path):
//
//   StackTop top;
//   if (FindStackTop(__builtin_frame_address(0), &top)) {
//     uint32_t id = cache->Find(top);       // hit: no unwinding at all
//     if (id == 0) {
//       UnwindFrom(top, depth, cache, &s);  // miss: walk until a cached
//       id = Intern(s.pcs, s.depth);        // frame verifies, splice
//       cache->Insert(id, s);
//     }
//   }
//
// Not thread-safe: one cache per thread. Memory comes from the caller
// (InternalMap), nothing is allocated.
#ifndef HEAPLENS_INTERPOSER_RECORDER_STACK_CACHE_H_
#define HEAPLENS_INTERPOSER_RECORDER_STACK_CACHE_H_

#include <stddef.h>
#include <stdint.h>

#include "interposer/recorder/unwinder.h"

namespace heaplens {

class StackCache {
 public:
  static constexpr int kEntries = 32;
  static constexpr int kIndexBuckets = 1024;  // two ways each

  // Bytes of memory Init needs for stacks of up to max_depth frames.
  static size_t BytesFor(int max_depth);
  // `mem`: BytesFor(max_depth) zero-filled bytes that outlive the cache.
  void Init(void* mem, int max_depth);
  bool initialized() const { return meta_ != nullptr; }

  // Forgets everything (the thread's stack changed owner, or stack ids were
  // reset).
  void Clear();
  // Stack ids are only valid within one interner generation: a different
  // `generation` clears the cache.
  void SetGeneration(uint32_t generation) {
    if (generation != generation_) {
      Clear();
      generation_ = generation;
    }
  }

  // The id of the cached stack whose frame 0 is `top` and whose slots all
  // still hold its pcs; 0 if there is none. The entry that matched last
  // (or was inserted last) is tried first, without the index lookup: an
  // allocation site in a loop is the same stack event after event.
  uint32_t Find(const StackTop& top) {
    uint32_t id = FindLast(top);
    return id != 0 ? id : FindIndexed(top);
  }
  // Only the memo: the last matched (or inserted) entry's id if `top` is
  // its frame 0 and its slots all still hold its pcs; 0 otherwise.
  uint32_t FindLast(const StackTop& top) {
    if (last_id_ != 0 && last_slots_[0] == top.slot && last_pcs_[0] == top.ip) {
      int k = 1;
      while (k < last_depth_ && *reinterpret_cast<const volatile uint64_t*>(
                                    last_slots_[k]) == last_pcs_[k]) {
        ++k;
      }
      if (k == last_depth_) {
        ++hits_;
        ++memo_hits_;
        return last_id_;
      }
    }
    return 0;
  }
  uint32_t generation() const { return generation_; }

  // Called by UnwindFrom for the frame at index s->depth, (slot, pc), not
  // yet appended. If a cached stack contains that frame, its outer slots
  // verify, and it supplies enough frames (it was complete, or it reaches
  // max_depth), appends its frames from there on to *s, sets s->complete
  // and returns true.
  bool Splice(uintptr_t slot, uintptr_t pc, int max_depth, UnwoundStack* s);

  // Caches stack `id` (s as returned by UnwindFrom). Stacks with a frame
  // that was not read from a return-address slot (signal frames), or whose
  // slots are not strictly increasing within 64 MiB (a switch to another
  // stack: sigaltstack, coroutines) are not cached.
  void Insert(uint32_t id, const UnwoundStack& s);

  // Find through the index only; remembers the entry that matched.
  uint32_t FindIndexed(const StackTop& top);

  // Counters (for tests and benchmarks).
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  uint64_t splices() const { return splices_; }
  // Hits found by the last-entry memo (a subset of hits()).
  uint64_t memo_hits() const { return memo_hits_; }

 private:
  struct Meta {
    uint32_t id;  // 0: unused
    uint16_t depth;
    uint8_t complete;
    uint8_t pad;
  };
  static uint32_t Bucket(uintptr_t slot, uintptr_t pc) {
    uint64_t x = (slot * 0x9E3779B97F4A7C15ull) ^ (pc * 0xC2B2AE3D27D4EB4Full);
    return static_cast<uint32_t>(x >> 40) & (kIndexBuckets - 1);
  }
  // Index values: (entry << 9 | frame) + 1; 0 is empty.
  static uint32_t Encode(int e, int j) {
    return (static_cast<uint32_t>(e) << 9 | static_cast<uint32_t>(j)) + 1;
  }
  // Whether entry e holds (slot, pc) at frame j and its frames beyond j
  // still hold their pcs on the live stack.
  bool Verify(int e, int j, uintptr_t slot, uintptr_t pc) const;
  // Makes entry e the one Find tries first.
  void Remember(int e);

  int max_depth_ = 0;
  uint32_t generation_ = 0;
  int next_victim_ = 0;
  Meta* meta_ = nullptr;       // kEntries
  uint64_t* pcs_ = nullptr;    // kEntries * max_depth_
  uint64_t* slots_ = nullptr;  // kEntries * max_depth_
  uint32_t* index_ = nullptr;  // 2 * kIndexBuckets
  // The memo: a copy of entry e's id and depth and its frames (the memo is
  // cleared, or moved to the new entry, whenever entry e changes).
  uint32_t last_id_ = 0;
  int last_depth_ = 0;
  const uint64_t* last_pcs_ = nullptr;
  const uint64_t* last_slots_ = nullptr;
  uint64_t hits_ = 0, misses_ = 0, splices_ = 0, memo_hits_ = 0;
};

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_RECORDER_STACK_CACHE_H_
