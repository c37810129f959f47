// stack_cache_test.cc: cached stacks must equal full unwinds, on random call
// trees (recursion, repeated and shared call paths, stacks deeper than the
// depth limit), across longjmp, in signal handlers, in threads and in a
// forked child.
#include "interposer/recorder/stack_cache.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "interposer/recorder/unwinder.h"

namespace heaplens {
namespace {

volatile int g_sink;

// One cache and stack table per thread (the recorder keeps one per thread).
struct Tracker {
  int max_depth = 64;
  StackCache cache;
  void* mem = nullptr;
  std::map<std::vector<uint64_t>, uint32_t> ids;
  std::vector<std::vector<uint64_t>> stacks{{}};
  int checked = 0;
  int failures = 0;

  explicit Tracker(int depth) : max_depth(depth) {
    size_t bytes = StackCache::BytesFor(depth);
    mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cache.Init(mem, depth);
  }
  ~Tracker() { munmap(mem, StackCache::BytesFor(max_depth)); }

  uint32_t Intern(const uint64_t* pcs, int n) {
    std::vector<uint64_t> v(pcs, pcs + n);
    auto it = ids.find(v);
    if (it != ids.end()) return it->second;
    uint32_t id = static_cast<uint32_t>(stacks.size());
    stacks.push_back(v);
    ids.emplace(v, id);
    return id;
  }

  // What the recorder does for an event whose frame 0 is `top`, checked
  // against a full unwind.
  void Check(const StackTop& top) {
    uint64_t ref_pcs[kMaxStackDepth], ref_slots[kMaxStackDepth];
    UnwoundStack ref;
    ref.pcs = ref_pcs;
    ref.slots = ref_slots;
    UnwindFrom(top, max_depth, nullptr, &ref);
    ++checked;
    if (!ref.top_found || ref.depth < 2) {
      ++failures;
      return;
    }
    uint32_t id = cache.Find(top);
    if (id == 0) {
      uint64_t pcs[kMaxStackDepth], slots[kMaxStackDepth];
      UnwoundStack s;
      s.pcs = pcs;
      s.slots = slots;
      UnwindFrom(top, max_depth, &cache, &s);
      if (s.complete != ref.complete) ++failures;
      id = Intern(pcs, s.depth);
      cache.Insert(id, s);
    }
    std::vector<uint64_t> want(ref_pcs, ref_pcs + ref.depth);
    if (stacks[id] != want) ++failures;
  }
};

thread_local Tracker* t_tracker;

// The "allocator entry": frame 0 is its caller, found as the recorder's
// frame-pointer walk finds it.
__attribute__((noinline)) void Alloc() {
  auto* fp = static_cast<uintptr_t*>(__builtin_frame_address(0));
  StackTop top = {reinterpret_cast<uintptr_t>(&fp[1]), fp[1]};
  t_tracker->Check(top);
  g_sink = g_sink + 1;  // not a tail call
}

jmp_buf* g_jmp;
int g_signal_at = -1;
const std::vector<uint8_t>* g_signal_path;

void Walk(const uint8_t* path, int n);

// Four functions with identical frames, two call sites each, so different
// paths put the same (slot, pc) pairs at the same depths.
#define HL_CALLER(name, salt)                                       \
  __attribute__((noinline)) void name(const uint8_t* path, int n) { \
    volatile char pad[16 + salt];                                   \
    pad[0] = 0;                                                     \
    if (n == 0) {                                                   \
      if (path[0] & 1) {                                            \
        Alloc();                                                    \
      } else {                                                      \
        Alloc();                                                    \
        g_sink = g_sink + 2;                                        \
      }                                                             \
    } else if (path[0] & 4) {                                       \
      Walk(path + 1, n - 1);                                        \
    } else {                                                        \
      Walk(path + 1, n - 1);                                        \
      g_sink = g_sink + 3;                                          \
    }                                                               \
    g_sink = g_sink + pad[0];                                       \
  }
HL_CALLER(F0, 0)
HL_CALLER(F1, 0)
HL_CALLER(F2, 0)
HL_CALLER(F3, 16)

__attribute__((noinline)) void Walk(const uint8_t* path, int n) {
  if (n == g_signal_at) {
    g_signal_at = -1;
    raise(SIGUSR1);
  }
  switch ((path[0] >> 1) & 3) {
    case 0:
      F0(path, n);
      break;
    case 1:
      F1(path, n);
      break;
    case 2:
      F2(path, n);
      break;
    default:
      F3(path, n);
      break;
  }
  if (g_jmp != nullptr && (path[0] & 0x40) && n == 0) longjmp(*g_jmp, 1);
  g_sink = g_sink + 1;
}

void OnSignal(int) {
  // A different path from inside the handler: frames above a signal frame.
  if (g_signal_path != nullptr) {
    Walk(g_signal_path->data(), static_cast<int>(g_signal_path->size()) - 1);
  }
}

std::vector<std::vector<uint8_t>> RandomPaths(std::mt19937* rng, int count,
                                              int max_len) {
  std::vector<std::vector<uint8_t>> paths;
  for (int i = 0; i < count; ++i) {
    int len = 1 + static_cast<int>((*rng)() % max_len);
    std::vector<uint8_t> p(len);
    // Share prefixes (outer frames) with earlier paths.
    if (!paths.empty() && (*rng)() % 2) {
      const auto& q = paths[(*rng)() % paths.size()];
      for (int k = 0; k < len && k < static_cast<int>(q.size()); ++k)
        p[k] = q[k];
      for (int k = static_cast<int>(q.size()) / 2; k < len; ++k) {
        p[k] = static_cast<uint8_t>((*rng)());
      }
    } else {
      for (auto& b : p) b = static_cast<uint8_t>((*rng)());
    }
    for (auto& b : p) b &= 0x3f;  // no longjmp unless asked
    paths.push_back(p);
  }
  return paths;
}

void RunRandom(int depth, uint32_t seed, int rounds, Tracker* tracker) {
  t_tracker = tracker;
  std::mt19937 rng(seed);
  auto paths = RandomPaths(&rng, 40, 90);  // up to 90 frames: beyond 64
  for (int r = 0; r < rounds; ++r) {
    const auto& p = paths[rng() % paths.size()];
    Walk(p.data(), static_cast<int>(p.size()) - 1);
  }
  (void)depth;
}

TEST(StackCacheTest, MatchesFullUnwindOnRandomTrees) {
  for (int depth : {64, 8, 3}) {
    Tracker t(depth);
    RunRandom(depth, 1234 + depth, 3000, &t);
    EXPECT_EQ(t.failures, 0) << "depth " << depth;
    EXPECT_EQ(t.checked, 3000);
    EXPECT_GT(t.cache.hits(), 1000u) << "depth " << depth;
    EXPECT_GT(t.cache.memo_hits(), 0u) << "depth " << depth;
    if (depth == 64) EXPECT_GT(t.cache.splices(), 10u);
  }
}

TEST(StackCacheTest, Recursion) {
  Tracker t(64);
  t_tracker = &t;
  for (int r = 0; r < 200; ++r) {
    std::vector<uint8_t> p(1 + r % 70, 0);  // F0 calling itself
    Walk(p.data(), static_cast<int>(p.size()) - 1);
  }
  EXPECT_EQ(t.failures, 0);
  EXPECT_GT(t.cache.hits() + t.cache.splices(), 100u);
}

TEST(StackCacheTest, Longjmp) {
  Tracker t(64);
  t_tracker = &t;
  std::mt19937 rng(7);
  auto paths = RandomPaths(&rng, 20, 40);
  for (int r = 0; r < 500; ++r) {
    std::vector<uint8_t> p = paths[rng() % paths.size()];
    p.back() |= 0x40;  // longjmp out of the innermost Walk
    jmp_buf env;
    if (setjmp(env) == 0) {
      g_jmp = &env;
      Walk(p.data(), static_cast<int>(p.size()) - 1);
    }
    g_jmp = nullptr;
    // After the jump, the abandoned frames' slots are stale.
    const auto& q = paths[rng() % paths.size()];
    Walk(q.data(), static_cast<int>(q.size()) - 1);
  }
  EXPECT_EQ(t.failures, 0);
  EXPECT_GT(t.cache.hits(), 100u);
}

TEST(StackCacheTest, SignalHandlerFrames) {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, nullptr), 0);
  Tracker t(64);
  t_tracker = &t;
  std::mt19937 rng(11);
  auto paths = RandomPaths(&rng, 10, 30);
  for (int r = 0; r < 300; ++r) {
    const auto& p = paths[rng() % paths.size()];
    g_signal_path = &paths[rng() % paths.size()];
    g_signal_at = static_cast<int>(rng() % p.size());
    Walk(p.data(), static_cast<int>(p.size()) - 1);
  }
  g_signal_path = nullptr;
  signal(SIGUSR1, SIG_DFL);
  EXPECT_EQ(t.failures, 0);
}

TEST(StackCacheTest, Threads) {
  std::vector<std::thread> threads;
  int failures[3] = {};
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([i, &failures] {
      Tracker t(64);
      RunRandom(64, 99 + i, 2000, &t);
      failures[i] = t.failures + (t.checked == 2000 ? 0 : 1);
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

TEST(StackCacheTest, ForkedChild) {
  Tracker t(64);
  RunRandom(64, 5, 500, &t);
  pid_t pid = fork();
  if (pid == 0) {
    // The recorder clears the cache in the child (new stack ids); the
    // stacks themselves are the same memory and stay valid either way.
    t.cache.SetGeneration(12345);
    RunRandom(64, 5, 500, &t);
    _exit(t.failures == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(t.failures, 0);
}

// Find tries the last matched entry first. Two stacks with the same frame 0
// (slot and pc: F0 and F1 have identical frames) that differ further out
// must not be confused by that shortcut; a repeated stack hits it.
__attribute__((noinline)) void WalkPath(const std::vector<uint8_t>& p) {
  Walk(p.data(), static_cast<int>(p.size()) - 1);  // one call site
  g_sink = g_sink + 1;
}

TEST(StackCacheTest, LastEntryMemo) {
  Tracker t(64);
  t_tracker = &t;
  const std::vector<uint8_t> a = {0, 0, 0}, b = {2, 0, 0};  // F0 / F1 outside
  for (int i = 0; i < 50; ++i) {
    WalkPath((i % 2 == 0) ? a : b);
  }
  EXPECT_EQ(t.failures, 0);
  EXPECT_EQ(t.stacks.size(), 3u);  // {} + a's stack + b's stack
  EXPECT_EQ(t.cache.hits(), 48u);
  EXPECT_EQ(t.cache.memo_hits(), 0u);  // the memo always named the other
  // From another call site in this test: another stack (a miss), then the
  // memo's.
  for (int i = 0; i < 20; ++i) WalkPath(a);
  EXPECT_EQ(t.failures, 0);
  EXPECT_EQ(t.stacks.size(), 4u);
  EXPECT_EQ(t.cache.hits(), 67u);
  EXPECT_EQ(t.cache.memo_hits(), 19u);
  // A changed outer slot (the same path from a deeper stack) is not a hit
  // of the memo's stack either.
  const std::vector<uint8_t> deeper = {0, 0, 0, 0};
  WalkPath(deeper);
  EXPECT_EQ(t.failures, 0);
  EXPECT_EQ(t.cache.memo_hits(), 19u);
  EXPECT_EQ(t.stacks.size(), 5u);
}

TEST(StackCacheTest, GenerationClears) {
  Tracker t(64);
  RunRandom(64, 3, 200, &t);
  uint64_t hits = t.cache.hits();
  t.cache.SetGeneration(77);
  t_tracker = &t;
  std::vector<uint8_t> p(5, 0);
  for (int i = 0; i < 2; ++i) {
    Walk(p.data(), 4);
    // The first lookup after a clear misses, the second hits.
    EXPECT_EQ(t.cache.hits(), hits + i);
  }
  EXPECT_EQ(t.failures, 0);
}

}  // namespace
}  // namespace heaplens
