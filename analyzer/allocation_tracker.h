// allocation_tracker.h: the replay consumer that keeps the live set.
//
// It follows every allocation, reallocation and free, keeps the blocks that
// are live (address -> size, usable size, allocation stack, time, API), the
// totals Valgrind prints ("N allocs, M frees, B bytes allocated"), the peak
// of live bytes, and the free problems found on the way:
//   - invalid frees the allocator reported (INVALID_FREE), told apart into
//     double frees (the address was a block freed earlier), frees of an
//     interior pointer, and frees of an address never allocated;
//   - (noted, not listed) frees of blocks allocated before tracing started,
//     e.g. inherited from the parent by a forked child;
//   - mismatched APIs, like Valgrind's "Mismatched free() / delete /
//     delete []": malloc'd memory given to delete, new'd memory to free or
//     realloc, new[]'d memory to delete and so on.
#ifndef HEAPLENS_ANALYZER_ALLOCATION_TRACKER_H_
#define HEAPLENS_ANALYZER_ALLOCATION_TRACKER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "analyzer/event.h"
#include "analyzer/replay.h"

namespace heaplens {

struct LiveBlock {
  LiveBlock() = default;
  LiveBlock(uint64_t size, uint64_t slack, uint64_t stack, uint64_t time_ns = 0,
            uint32_t kind = 0, uint32_t tid = 0)
      : size(size),
        slack(slack),
        stack(stack),
        time_ns(time_ns),
        kind(kind),
        tid(tid) {}
  uint64_t size = 0;
  uint64_t slack = 0;  // usable - size
  uint64_t stack = 0;
  uint64_t time_ns = 0;
  uint32_t kind = 0;  // the allocating event kind
  uint32_t tid = 0;
};

using LiveSet = absl::flat_hash_map<uint64_t, LiveBlock>;

enum class FreeProblemType {
  kDoubleFree,      // the address was freed before
  kInteriorFree,    // the address is inside a live block
  kInvalidFree,     // never allocated (as far as the trace knows)
  kUnknownFree,     // a FREE/REALLOC of an address not live in the trace
  kMismatchedFree,  // allocation and deallocation APIs do not match
};

const char* FreeProblemName(FreeProblemType type);

struct FreeProblem {
  FreeProblemType type;
  uint32_t free_kind = 0;  // the freeing event kind (FREE, DELETE, ...)
  uint64_t address = 0;
  uint64_t time_ns = 0;
  uint32_t tid = 0;
  uint64_t free_stack = 0;   // 0 when the event kind has no stack column
  uint64_t alloc_stack = 0;  // the block's allocation stack, when known
  uint32_t alloc_kind = 0;
  uint64_t block_address = 0;
  uint64_t block_size = 0;
  uint64_t freed_time_ns = 0;  // double free: when it was freed first
};

// "malloc", "new[]", "free", "delete", ...
const char* ApiName(uint32_t kind);

class AllocationTracker : public ReplayConsumer {
 public:
  // The problems kept in full; more are only counted.
  static constexpr size_t kMaxProblems = 10000;
  // How many recently freed blocks are remembered to recognise double frees.
  static constexpr size_t kFreedHistory = 1 << 16;

  AllocationTracker();

  void OnEvent(const Event& e) override;
  // The replay's hot path: OnEvent for each, without a virtual call each.
  void OnEvents(absl::Span<const Event> events) override;
  void OnEventRefs(absl::Span<const Event* const> events) override;
  void OnEnd(const ReplayStats& stats) override;

  // The live set. The tracker keeps it in its own compact table while it
  // replays; this map is built from it on the first call after a change.
  const LiveSet& live() const;
  uint64_t live_bytes() const { return live_bytes_; }
  uint64_t allocations() const { return allocations_; }
  uint64_t frees() const { return frees_; }
  uint64_t bytes_allocated() const { return bytes_allocated_; }
  uint64_t failed_allocations() const { return failed_; }
  uint64_t peak_live_bytes() const { return peak_bytes_; }
  uint64_t peak_live_blocks() const { return peak_blocks_; }
  uint64_t peak_time_ns() const { return peak_time_; }
  const std::vector<FreeProblem>& problems() const { return problems_; }
  uint64_t problem_count() const { return problem_count_; }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  // One live block in 32 bytes: what the replay touches per event in one
  // half cache line. `meta` is 0 for an empty slot; otherwise its top byte
  // is the allocating kind (1..6), or kWide when a field does not fit the
  // packed form (then the whole block is in `wide_`).
  struct Slot {
    uint64_t address;
    uint64_t time_ns;
    uint64_t size_slack;  // size (low 48 bits) | slack << 48
    uint64_t meta;        // stack (low 32) | tid (24) << 32 | kind << 56
  };
  static constexpr uint64_t kWide = 0xff;
  // The slot table's memory: anonymous pages straight from mmap, so a new
  // (larger) table costs no clearing pass (the kernel's pages are zero, and
  // a zero slot is empty), in transparent huge pages once it is 2 MiB or
  // more: a program with millions of live blocks has a table of hundreds
  // of MiB, where with 4 KiB pages every probe would also miss the TLB.
  class SlotArray {
   public:
    SlotArray() = default;
    explicit SlotArray(size_t n);  // n zero slots; std::bad_alloc if no memory
    SlotArray(SlotArray&& o) noexcept { swap(o); }
    SlotArray& operator=(SlotArray&& o) noexcept {
      swap(o);
      return *this;
    }
    ~SlotArray();
    void swap(SlotArray& o) noexcept {
      std::swap(map_, o.map_);
      std::swap(map_bytes_, o.map_bytes_);
      std::swap(slots_, o.slots_);
      std::swap(n_, o.n_);
    }
    Slot* data() const { return slots_; }
    size_t size() const { return n_; }
    Slot& operator[](size_t i) const { return slots_[i]; }
    Slot* begin() const { return slots_; }
    Slot* end() const { return slots_ + n_; }

   private:
    void* map_ = nullptr;
    size_t map_bytes_ = 0;
    Slot* slots_ = nullptr;
    size_t n_ = 0;
  };
  // A recently freed block, for double frees, in 32 bytes. `kind_stack` is
  // the allocating kind << 56 | stack when the stack id fits in 56 bits,
  // else kWide << 56 and the stack is in `freed_wide_stack_`.
  struct Freed {
    uint64_t address;
    uint64_t size;
    uint64_t freed_ns;
    uint64_t kind_stack;
  };

  // The open-addressing table of live blocks (linear probing, deletion by
  // backward shift, at most half full).
  // The table index of `address` is Hash(address) >> shift_.
  static uint64_t Hash(uint64_t address);
  Slot* Find(uint64_t address, uint64_t hash);
  void Grow();
  void EraseSlot(Slot* s);
  LiveBlock Unpack(const Slot& s) const;

  // `hash` is Hash(address).
  void Allocate(const Event& e, uint64_t address, uint64_t hash);
  // Removes the block at `address` for event `e`; false if it is not live.
  bool Release(const Event& e, uint64_t address, uint64_t hash);
  void OnInvalidFree(const Event& e);
  // The address an event looks up first (a realloc's old block).
  static uint64_t LookupAddress(const Event& e) {
    return e.kind == kRealloc ? e.old_address : e.address;
  }
  // Applies one event; `hash` is Hash(LookupAddress(e)).
  void Apply(const Event& e, uint64_t hash);
  // Applies events at(0) .. at(n - 1), prefetching ahead.
  template <typename At>
  void ApplyAll(size_t n, At at);
  void AddProblem(const FreeProblem& p);
  void AddMismatch(const Event& e, uint64_t address, uint64_t size,
                   uint64_t stack, uint32_t kind);
  const Freed* FindFreed(uint64_t address) const;

  SlotArray slots_;
  size_t mask_ = 0;  // slots_.size() - 1
  size_t shift_ = 64;
  size_t live_count_ = 0;
  absl::flat_hash_map<uint64_t, LiveBlock> wide_;  // blocks that do not pack
  mutable LiveSet live_;                           // built by live()
  mutable bool live_stale_ = false;
  uint64_t live_bytes_ = 0;
  uint64_t allocations_ = 0;
  uint64_t frees_ = 0;
  uint64_t bytes_allocated_ = 0;
  uint64_t failed_ = 0;
  uint64_t peak_bytes_ = 0;
  uint64_t peak_blocks_ = 0;
  uint64_t peak_time_ = 0;
  uint64_t stale_allocations_ = 0;
  uint64_t untracked_frees_ = 0;  // frees of blocks from before tracing
  std::vector<FreeProblem> problems_;
  uint64_t problem_count_ = 0;
  std::vector<Freed> freed_;  // ring of recently freed blocks
  size_t freed_next_ = 0;
  // Stack and kind of freed blocks that do not pack, by address.
  absl::flat_hash_map<uint64_t, uint64_t> freed_wide_stack_;
  absl::flat_hash_map<uint64_t, uint32_t> freed_wide_kind_;
  std::vector<std::string> notes_;
};

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_ALLOCATION_TRACKER_H_
