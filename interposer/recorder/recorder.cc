// recorder.cc: the trace recorder (recorder.h, track.h).
//
// Data path:
//
//   traced thread ──Track*()──▶ its ThreadBuffer ring (single producer, no
//                                lock: store the record, release `head`)
//   flush (ring full / oldest event older than flush_ms, by the owner; or
//   every flush_ms/2 by the flusher thread for idle threads)
//       ──▶ consumer lock of the ring ──▶ g_lock ──▶ pending StackNodes +
//           one EventBatch, one write(2) to the O_APPEND trace file
//
// Locks, always taken in this order: ThreadBuffer::consumer → g_lock. Never
// call into the loader (dl_iterate_phdr, libunwind, pthread_create) or the
// allocator while holding either: a thread inside dlopen or malloc may be
// waiting for them (see the module check in InternSlow).
//
// Recursion guard: t_busy is set for the whole of every hook; a nested call
// (libunwind or pthread_create calling malloc, a signal handler) returns at
// once without recording. The flusher thread runs with t_busy set forever.
#include "interposer/recorder/recorder.h"

#include <cpuid.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <atomic>
#include <new>

#include "interposer/internal_memory.h"
#include "interposer/log.h"
#include "interposer/options.h"
#include "interposer/recorder/event_batch.h"
#include "interposer/recorder/heap_graph.h"
#include "interposer/recorder/module_map.h"
#include "interposer/recorder/stack_cache.h"
#include "interposer/recorder/stack_interner.h"
#include "interposer/recorder/trace_file.h"
#include "interposer/recorder/unwinder.h"
#include "interposer/recorder/wire.h"
#include "interposer/spinlock.h"
#include "interposer/track.h"

extern char** environ;

// glibc's (exported since 2.1): frees the C library's own allocations.
extern "C" void __libc_freeres(void) __attribute__((weak));

namespace heaplens {

bool g_tracing_active = false;

namespace {

constexpr size_t kRingSize = 2048;  // records per thread (96 KiB)
constexpr size_t kOutSize = 2 << 20;
constexpr size_t kMaxPendingNodes = 16384;

enum State : int {
  kUninit = 0,
  kIniting = 1,
  kActive = 2,
  kFinishing = 3,  // exit: only the exiting thread writes
  kStopped = 4,
  kDisabled = 5,
  // A forked child whose fork() ran in a signal handler that had interrupted
  // the recorder on the forking thread: the interrupted frame still runs in
  // the child and may hold recorder locks and half-updated state, so the
  // child's trace is opened only once that frame has returned (the next
  // hook outside the recursion guard; see ResumeForkedChild). Until then
  // nothing is written. Above kStopped so that writes and notices from the
  // interrupted frame are dropped.
  kForkPending = 6,
};

struct ThreadBuffer {
  std::atomic<uint64_t> head;  // written by the owner only
  std::atomic<uint64_t> tail;  // written under `consumer`
  SpinLock consumer;
  uint32_t tid;
  std::atomic<bool> in_use;
  uint64_t sequence;  // next batch number, under `consumer`
  uint64_t events;    // owner only
  uint64_t start_ns;
  ThreadBuffer* next;  // registry, append-only, under g_lock
  StackCache cache;    // owner only; cleared when the buffer changes owner
  EventRecord ring[kRingSize];
};

std::atomic<int> g_state{kUninit};
OwnedSpinLock g_lock;  // file, interner, registry, scratch buffers
TraceFile g_file;
alignas(StackInterner) char g_interner_storage[sizeof(StackInterner)];
StackInterner& Interner() {
  return *reinterpret_cast<StackInterner*>(g_interner_storage);
}
std::atomic<ThreadBuffer*> g_threads{nullptr};
uint8_t* g_out = nullptr;      // kOutSize, under g_lock
uint8_t* g_scratch = nullptr;  // BatchScratchSize(kRingSize), under g_lock
uint64_t g_start_ns = 0;
uint64_t g_flush_ns = 10 * 1000 * 1000;
int g_stack_depth = 64;
char g_exe[4096];
char g_pattern[4096];
pthread_key_t g_key;
bool g_key_ok = false;
std::atomic<uint64_t> g_slow_events{0};
std::atomic<uint64_t> g_dropped{0};
// Bumped whenever the interner forgets stacks: cached stack ids of an older
// generation are not used.
std::atomic<uint32_t> g_stack_generation{1};
// False once the frame-pointer walk and the DWARF unwinder disagreed about
// frame 0: every stack is then unwound in full, uncached.
std::atomic<bool> g_use_stack_top{true};
// Modules.
OwnedSpinLock g_module_lock;
ModuleGeneration g_modgen;       // under g_module_lock
uint32_t g_epoch = 0;            // under g_lock
uint8_t* g_epoch_buf = nullptr;  // under g_module_lock
size_t g_epoch_cap = 0;
// Flusher thread.
std::atomic<bool> g_flusher_started{false};
// The flusher thread's tid once it runs (0 before, and in a forked child);
// g_flusher_created: pthread_create succeeded (so the tid will appear).
std::atomic<uint32_t> g_flusher_tid{0};
std::atomic<bool> g_flusher_created{false};
bool g_ctor_done = false;
// The pid whose trace g_file is (a vfork child must not write to it).
int g_trace_pid = 0;
// File size before ExitSummary(EXEC), while an exec is in progress; 0
// otherwise.
uint64_t g_exec_rollback = 0;

// Thread-local state: initial-exec, no constructors.
enum ThreadState : int { kNoBuffer = 0, kAttached = 1, kDead = 2 };
__thread bool t_busy;
__thread ThreadBuffer* t_buf;
__thread int t_state;
__thread uint32_t t_tid;
__thread uint64_t t_dead_sequence;
__thread int t_dtor_rounds;
// Fork handlers (prepare, then parent or child, run on the forking thread):
// whether the recorder was already busy on it (fork() from a signal handler)
// and which of the two global locks the prepare handler took.
__thread bool t_fork_prev_busy;
__thread bool t_fork_took_module;
__thread bool t_fork_took_lock;
// Set in a forked child in state kForkPending.
bool g_fork_pending = false;
void ResumeForkedChild();

class Guard {
 public:
  Guard() : prev_(t_busy) { t_busy = true; }
  ~Guard() { t_busy = prev_; }

 private:
  bool prev_;
};

inline uint64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<uint64_t>(ts.tv_nsec);
}
inline uint64_t NowNs() {
  uint64_t t = MonotonicNs();
  return t > g_start_ns ? t - g_start_ns : 0;
}

// Event times. CLOCK_MONOTONIC costs ~50 ns per read under kvm-clock, more
// than everything else an event does. With an invariant TSC, ring records
// hold raw TSC ticks (rdtscp: it waits for earlier loads, so an allocation's
// stamp is taken after the chunk was obtained) and are converted to ns since
// trace start when they are written, by one linear function calibrated at
// start for the whole process, so every thread's events convert alike.
bool g_use_tsc = false;
uint64_t g_tsc0 = 0;      // TSC at g_start_ns
uint64_t g_tsc_mult = 0;  // ns per tick, << 32
// The second piece of the conversion, from g_tsc1 on (under g_lock): the
// rate measured over the first ~20 ms of the trace, continuous with the
// first piece at g_tsc1 (RefineClockLocked).
uint64_t g_tsc1 = ~0ull;
uint64_t g_ns1 = 0;
uint64_t g_tsc_mult1 = 0;
uint64_t g_flush_stamp = 10 * 1000 * 1000;  // flush_ms in stamp units

inline uint64_t RawStamp() {
  if (__builtin_expect(g_use_tsc, 1)) {
    unsigned aux;
    return __rdtscp(&aux);
  }
  return NowNs();
}

// Stamp reuse. Reading the clock is the largest single cost of an event
// (rdtscp ~20-40 ns in a VM, clock_gettime ~55 ns). While exactly one thread
// records and the flusher thread runs, that thread reuses its last reading
// for up to `stamp_events` events, and takes a fresh one whenever
// g_stamp_gen changed: the flusher bumps it every wakeup (flush_ms/2), so a
// reused stamp lags real time by at most about that, and any change of who
// records (a thread attaching or detaching, an event from a thread without a
// buffer, a forked child) bumps it too. Stamps stay monotonic per thread.
// With two or more recording threads every event reads the clock: a block
// freed by one thread and allocated by another must be stamped in that
// order, which a stale stamp could invert. A single thread cannot invert
// anything: its events are in program order in its ring, and the first
// event after another thread appeared is stamped fresh (the other thread
// bumped g_stamp_gen before its first event could publish a block).
std::atomic<uint64_t> g_stamp_gen{1};
std::atomic<bool> g_stamp_reuse{false};
uint32_t g_stamp_events = 32;    // option stamp_events
uint64_t g_stamp_step = 2;       // >= 2 ns in stamp units (CalibrateClock)
int g_attached = 0;              // buffers in use, under g_lock
bool g_flusher_ticking = false;  // under g_lock
__thread uint64_t t_stamp;
__thread uint64_t t_stamp_gen;
__thread uint32_t t_stamp_left;

// Recomputes g_stamp_reuse and forces fresh stamps (g_lock held, or no
// other thread).
void UpdateStampReuseLocked() {
  g_stamp_reuse.store(
      g_attached == 1 && g_flusher_ticking && g_stamp_events > 1,
      std::memory_order_relaxed);
  g_stamp_gen.fetch_add(1, std::memory_order_seq_cst);
}

__attribute__((noinline)) uint64_t FreshStamp() {
  uint64_t gen = g_stamp_gen.load(std::memory_order_acquire);
  uint64_t s = RawStamp();
  t_stamp = s;
  t_stamp_gen = gen;
  t_stamp_left = g_stamp_events - 1;
  return s;
}

inline uint64_t Stamp() {
  if (__builtin_expect(t_stamp_left > 0, 1) &&
      g_stamp_reuse.load(std::memory_order_relaxed) &&
      g_stamp_gen.load(std::memory_order_acquire) == t_stamp_gen) {
    --t_stamp_left;
    // A reused stamp still advances (by ~2 ns): per-thread event times stay
    // strictly increasing, so allocation order is also time order (the
    // analyzer picks a leaked cycle's definite block by allocation time).
    // Events take far longer than 2 ns, so it never runs ahead of real time.
    t_stamp += g_stamp_step;
    return t_stamp;
  }
  return FreshStamp();
}
// The conversion of ring stamps to ns since trace start, as it stands
// (under g_lock, where RefineClockLocked changes it).
StampConversion CurrentConversionLocked() {
  StampConversion c;
  c.scaled = g_use_tsc;
  c.tsc0 = g_tsc0;
  c.mult0 = g_tsc_mult;
  c.tsc1 = g_tsc1;
  c.ns1 = g_ns1;
  c.mult1 = g_tsc_mult1;
  return c;
}
inline uint64_t StampToNs(uint64_t stamp) {
  return CurrentConversionLocked().ToNs(stamp);
}

// Decides the clock once (invariant TSC: cpuid 0x80000007 EDX bit 8) and
// calibrates it roughly against CLOCK_MONOTONIC over 250 us (it used to spin
// 2 ms, a fixed cost for every traced process); the flusher refines the rate
// over the first 20 ms (RefineClockLocked).
void CalibrateClock() {
  g_use_tsc = false;
  unsigned a, b, c, d;
  if (getenv("HEAPLENS_TEST_NO_TSC") == nullptr &&
      __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8)) != 0) {
    unsigned aux;
    uint64_t m0 = MonotonicNs(), t0 = __rdtscp(&aux), m1, t1;
    do {
      m1 = MonotonicNs();
      t1 = __rdtscp(&aux);
    } while (m1 - m0 < 250000);
    if (t1 > t0) {
      g_tsc_mult = ((m1 - m0) << 32) / (t1 - t0);
      g_use_tsc = g_tsc_mult != 0;
    }
  }
  g_flush_stamp = g_use_tsc ? (g_flush_ns << 32) / g_tsc_mult : g_flush_ns;
  g_stamp_step = g_use_tsc ? 2 * ((1ull << 32) / g_tsc_mult) + 2 : 2;
}

// Sets the zero of event times (trace start, and again in a forked child).
void StartClock() {
  unsigned aux;
  g_start_ns = MonotonicNs();
  g_tsc0 = g_use_tsc ? __rdtscp(&aux) : 0;
  g_tsc1 = ~0ull;
}

// Once at least 20 ms have passed since StartClock: from now on, convert
// with the rate measured over that whole interval (its error is ~100 ns /
// 20 ms, 5e-6), continuing the first piece's values, so converted times stay
// monotonic. Called by the flusher with g_lock held (conversions happen
// under g_lock).
void RefineClockLocked() {
  if (!g_use_tsc || g_tsc1 != ~0ull) return;
  unsigned aux;
  uint64_t m = MonotonicNs();
  uint64_t t = __rdtscp(&aux);
  if (m < g_start_ns + 20000000 || t <= g_tsc0) return;
  uint64_t mult = ((m - g_start_ns) << 32) / (t - g_tsc0);
  if (mult == 0) return;
  g_ns1 = StampToNs(t);
  g_tsc_mult1 = mult;
  g_tsc1 = t;
}

uint32_t GetTid() {
  if (t_tid == 0) t_tid = static_cast<uint32_t>(syscall(SYS_gettid));
  return t_tid;
}

// ---- Options (options.inc: stack_depth, flush_ms) ----

char g_options[1024];
bool g_libc_freeres = true;  // option libc_freeres

void ReadOptions() {
  InitOptions();
  const Options& o = GetOptions();
  g_stack_depth = o.stack_depth > static_cast<uint64_t>(kMaxStackDepth)
                      ? kMaxStackDepth
                      : static_cast<int>(o.stack_depth);
  g_flush_ns = (o.flush_ms > 0 ? o.flush_ms : 1) * 1000000ull;
  g_libc_freeres = o.libc_freeres != 0;
  g_stamp_events = o.stamp_events < 1 ? 1
                   : o.stamp_events > 65536
                       ? 65536
                       : static_cast<uint32_t>(o.stamp_events);
  OptionsCanonicalString(g_options, sizeof(g_options));
}

// ---- Writing (g_lock held) ----

void StopTracingLocked(int err, const char* what);

// Appends w's bytes to the file; on failure stops tracing.
bool AppendLocked(const WireWriter& w) {
  if (w.overflow()) {
    g_dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  int e = g_file.Append(w.data(), w.size());
  if (e != 0) {
    StopTracingLocked(e, "cannot write");
    return false;
  }
  return true;
}

void EncodePendingNodesLocked(WireWriter* w) {
  if (Interner().pending() > 0) Interner().EncodePending(w, g_scratch);
}

void WriteBatchLocked(uint32_t tid, uint64_t sequence,
                      const EventRecord* records, size_t n) {
  WireWriter w(g_out, kOutSize);
  EncodePendingNodesLocked(&w);
  EncodeEventBatch(&w, tid, sequence, records, n, g_scratch);
  AppendLocked(w);
}

uint64_t TotalEvents() {
  uint64_t n = g_slow_events.load(std::memory_order_relaxed);
  for (ThreadBuffer* b = g_threads.load(std::memory_order_acquire); b;
       b = b->next) {
    n += b->events;
  }
  return n;
}

void StopTracingLocked(int err, const char* what) {
  if (g_state.load(std::memory_order_relaxed) >= kStopped) return;
  g_state.store(kStopped, std::memory_order_release);
  g_tracing_active = false;
  char msg[512];
  RawBuffer b(msg, sizeof(msg));
  b.Str("MALLOC_TRACE=")
      .Str(g_file.path())
      .Str(": ")
      .Str(what)
      .Str(": ")
      .Str(ErrnoText(err))
      .Str("; tracing stopped, the program continues untraced");
  RawLog(b);
  // Try to say so in the file; this may fail too (disk still full).
  uint8_t buf[1024];
  WireWriter w(buf, sizeof(buf));
  char text[256];
  RawBuffer t(text, sizeof(text));
  t.Str("trace cut short: ").Str(what).Str(": ").Str(ErrnoText(err));
  EncodeNotice(&w, kError, NowNs(), t.CStr(), GetTid());
  SummaryInfo s;
  s.reason = kExitTraceStopped;
  s.time_ns = NowNs();
  s.events = TotalEvents();
  s.dropped_events = g_dropped.load(std::memory_order_relaxed);
  EncodeSummary(&w, s);
  if (!w.overflow()) g_file.Append(w.data(), w.size(), /*use_reserve=*/true);
  g_file.ReleaseReserve();
  g_file.Close();
}

// ---- Modules ----

// Writes a new ModuleEpoch if the set of loaded objects changed. Must be
// called with no recorder lock held (it enters the loader).
void CheckModules(bool force) {
  if (!g_module_lock.TryLock()) return;  // someone else is checking
  ModuleGeneration gen = CurrentModuleGeneration();
  if (!force && gen == g_modgen) {
    g_module_lock.Unlock();
    return;
  }
  bool unloaded = gen.subs != g_modgen.subs;
  g_modgen = gen;
  for (;;) {
    if (g_epoch_buf == nullptr) {
      g_epoch_cap = 256 << 10;
      g_epoch_buf = static_cast<uint8_t*>(InternalMap(g_epoch_cap));
      if (g_epoch_buf == nullptr) break;
    }
    WireWriter w(g_epoch_buf, g_epoch_cap);
    // The epoch number is assigned under g_lock below; encode a placeholder
    // 0-free value by snapshotting first and patching is not possible, so
    // encode with the next number and accept rare gaps.
    EncodeModuleEpoch(&w, g_epoch + 1, NowNs(), g_exe);
    if (w.overflow()) {
      InternalUnmap(g_epoch_buf, g_epoch_cap);
      g_epoch_buf = static_cast<uint8_t*>(InternalMap(g_epoch_cap * 4));
      g_epoch_cap *= 4;
      if (g_epoch_buf == nullptr) break;
      continue;
    }
    SpinLockHolder l(&g_lock);
    if (g_state.load(std::memory_order_relaxed) == kActive) {
      // Nodes interned so far belong to the previous epoch.
      WireWriter nodes(g_out, kOutSize);
      EncodePendingNodesLocked(&nodes);
      if (nodes.size() > 0) AppendLocked(nodes);
      ++g_epoch;
      AppendLocked(w);
      // After a dlclose, addresses may be reused by another object: stacks
      // interned before must get fresh node definitions.
      if (unloaded) {
        Interner().Reset(false);
        g_stack_generation.fetch_add(1, std::memory_order_relaxed);
      }
    }
    break;
  }
  g_module_lock.Unlock();
}

// ---- Stacks ----

__attribute__((noinline)) uint32_t InternSlow(const uint64_t* pcs, int n) {
  CheckModules(false);
  SpinLockHolder l(&g_lock);
  if (g_state.load(std::memory_order_relaxed) != kActive) return 0;
  uint32_t id = Interner().Intern(pcs, n);
  if (Interner().pending() >= kMaxPendingNodes) {
    WireWriter w(g_out, kOutSize);
    EncodePendingNodesLocked(&w);
    AppendLocked(w);
  }
  return id;
}

inline uint32_t InternStack(const uint64_t* pcs, int n) {
  if (n == 0) return 0;
  uint32_t id = Interner().Find(pcs, n, StackInterner::Hash(pcs, n));
  if (__builtin_expect(id != 0, 1)) return id;
  return InternSlow(pcs, n);
}

// Without a usable stack top: a full unwind that skips heaplens' frames.
__attribute__((noinline)) uint32_t FullStack() {
  uint64_t pcs[kMaxStackDepth];
  int n = CaptureStack(pcs, g_stack_depth);
  return InternStack(pcs, n);
}

// A cache miss: unwind from the known top until a cached frame verifies
// (out of line: it needs 4 KiB of stack and the DWARF unwinder).
__attribute__((noinline)) uint32_t StackCacheMiss(const StackTop& top,
                                                  StackCache* cache) {
  uint64_t pcs[kMaxStackDepth];
  uint64_t slots[kMaxStackDepth];
  UnwoundStack s;
  s.pcs = pcs;
  s.slots = slots;
  UnwindFrom(top, g_stack_depth, cache, &s);
  if (__builtin_expect(!s.top_found, 0)) {
    g_use_stack_top.store(false, std::memory_order_relaxed);
    return FullStack();
  }
  uint32_t id = InternStack(pcs, s.depth);
  cache->Insert(id, s);
  return id;
}

ThreadBuffer* AttachThread();

// The stack of the hook's caller. Hot path: the frame-pointer walk over
// heaplens' own frames finds frame 0, and a cached stack whose slots still
// hold its pcs is reused (a few loads per frame, no unwinding). Inlined into
// the hook: one frame fewer for FindStackTop to walk.
__attribute__((always_inline)) inline uint32_t CurrentStack() {
  ThreadBuffer* b = t_buf;
  if (__builtin_expect(b == nullptr, 0)) b = AttachThread();
  StackTop top;
  if (__builtin_expect(b != nullptr && b->cache.initialized(), 1) &&
      g_use_stack_top.load(std::memory_order_relaxed) &&
      FindStackTop(__builtin_frame_address(0), &top)) {
    StackCache* cache = &b->cache;
    cache->SetGeneration(g_stack_generation.load(std::memory_order_relaxed));
    uint32_t id = cache->Find(top);
    if (__builtin_expect(id != 0, 1)) return id;
    return StackCacheMiss(top, cache);
  }
  return FullStack();
}

// ---- Thread buffers ----

void FlushBuffer(ThreadBuffer* b) {
  SpinLockHolder c(&b->consumer);
  uint64_t t = b->tail.load(std::memory_order_relaxed);
  uint64_t h = b->head.load(std::memory_order_acquire);
  if (h == t) return;
  SpinLockHolder l(&g_lock);
  if (g_state.load(std::memory_order_relaxed) == kActive) {
    // Encoded straight from the ring (its two pieces), stamps converted by
    // the encoder: no copy.
    size_t n = static_cast<size_t>(h - t);
    size_t first = static_cast<size_t>(t % kRingSize);
    size_t na = n < kRingSize - first ? n : kRingSize - first;
    WireWriter w(g_out, kOutSize);
    EncodePendingNodesLocked(&w);
    EncodeEventBatch(&w, b->tid, b->sequence++, b->ring + first, na, b->ring,
                     n - na, CurrentConversionLocked(), g_scratch);
    AppendLocked(w);
  }
  b->tail.store(h, std::memory_order_release);
}

void FlushAll() {
  for (ThreadBuffer* b = g_threads.load(std::memory_order_acquire); b;
       b = b->next) {
    if (b->in_use.load(std::memory_order_acquire)) FlushBuffer(b);
  }
}

// The flusher's pass: only rings whose oldest record is at least flush_ms/4
// old (idle threads; every record is still written within about flush_ms).
// A busy thread flushes its own ring when it fills, every few hundred
// microseconds; the flusher taking that ring's consumer lock for an encode
// and a write(2) made the owner, its ring full, spin and sched_yield (13,000
// sched_yield calls in a 2 M iteration churn run).
void FlushIdle() {
  const uint64_t now = RawStamp();
  for (ThreadBuffer* b = g_threads.load(std::memory_order_acquire); b;
       b = b->next) {
    if (!b->in_use.load(std::memory_order_acquire)) continue;
    if (!b->consumer.TryLock()) continue;  // being flushed right now
    uint64_t t = b->tail.load(std::memory_order_relaxed);
    uint64_t h = b->head.load(std::memory_order_acquire);
    uint64_t oldest = h != t ? b->ring[t % kRingSize].time_ns : now;
    b->consumer.Unlock();
    if (h != t && (oldest > now ? 0 : now - oldest) >= g_flush_stamp / 4) {
      FlushBuffer(b);
    }
  }
}

void WriteThreadInfo(uint32_t tid, uint64_t start_ns, uint64_t exit_ns,
                     const char* name) {
  uint8_t buf[256];
  WireWriter w(buf, sizeof(buf));
  EncodeThreadInfo(&w, tid, name, start_ns, exit_ns);
  SpinLockHolder l(&g_lock);
  if (g_state.load(std::memory_order_relaxed) == kActive) AppendLocked(w);
}

// Overwrites the stack just below the caller. The flush path keeps
// recorded addresses in registers that get spilled to the stack; left there,
// a copy of a lost block's address on a thread's (or the flusher's) stack
// would make the exit-time heap scan call the block reachable. The flush
// path's buffers are global, so a few KiB covers its frames; rarer, deeper
// paths (opening a forked child's trace) ask for more.
template <size_t kBytes = 4096>
__attribute__((noinline)) void ScrubStackBelow() {
  volatile char pad[kBytes];
  memset(const_cast<char*>(pad), 0, sizeof(pad));
  __asm__ volatile("" : : "r"(pad) : "memory");
}

// pthread key destructor: runs at thread exit. It re-arms itself for two
// more rounds so that other keys' destructors (which often free memory) run
// first; events after the final round take the slow path.
void ThreadExit(void* arg) {
  auto* b = static_cast<ThreadBuffer*>(arg);
  Guard g;
  if (++t_dtor_rounds < 3) {
    pthread_setspecific(g_key, b);
    return;
  }
  FlushBuffer(b);
  char name[17] = {};
  prctl(PR_GET_NAME, name, 0, 0, 0);
  WriteThreadInfo(b->tid, b->start_ns, NowNs(), name);
  {
    SpinLockHolder c(&b->consumer);
    t_dead_sequence = b->sequence;
    g_slow_events.fetch_add(b->events, std::memory_order_relaxed);
    b->events = 0;
    b->in_use.store(false, std::memory_order_release);
  }
  {
    SpinLockHolder l(&g_lock);
    --g_attached;
    UpdateStampReuseLocked();
  }
  t_buf = nullptr;
  t_state = kDead;
  ScrubStackBelow();
}

void StartFlusher();

ThreadBuffer* AttachThread() {
  if (t_state == kDead || !g_key_ok) return nullptr;
  ThreadBuffer* b = nullptr;
  {
    SpinLockHolder l(&g_lock);
    for (ThreadBuffer* p = g_threads.load(std::memory_order_relaxed); p;
         p = p->next) {
      if (!p->in_use.load(std::memory_order_relaxed)) {
        b = p;
        break;
      }
    }
    if (b == nullptr) {
      b = static_cast<ThreadBuffer*>(InternalMap(sizeof(ThreadBuffer)));
      if (b == nullptr) return nullptr;
      void* cache_mem = InternalMap(StackCache::BytesFor(g_stack_depth));
      if (cache_mem != nullptr) b->cache.Init(cache_mem, g_stack_depth);
      b->next = g_threads.load(std::memory_order_relaxed);
      g_threads.store(b, std::memory_order_release);
    }
    SpinLockHolder c(&b->consumer);
    b->head.store(0, std::memory_order_relaxed);
    b->tail.store(0, std::memory_order_relaxed);
    b->tid = GetTid();
    b->sequence = 0;
    b->events = 0;
    b->start_ns = NowNs();
    b->cache.Clear();  // another thread's stack
    b->in_use.store(true, std::memory_order_release);
    ++g_attached;
    UpdateStampReuseLocked();
  }
  t_buf = b;
  t_state = kAttached;
  pthread_setspecific(g_key, b);
  return b;
}

// Records one event from a thread that has no buffer (after its TLS
// destructors ran, or out of memory): written at once as its own batch.
__attribute__((noinline)) void RecordSlow(const EventRecord& r) {
  SpinLockHolder l(&g_lock);
  if (g_state.load(std::memory_order_relaxed) != kActive) return;
  g_slow_events.fetch_add(1, std::memory_order_relaxed);
  // Before the block is published: the recording thread's next event (it
  // may be this block's reuse) gets a fresh stamp.
  g_stamp_gen.fetch_add(1, std::memory_order_seq_cst);
  EventRecord c = r;
  c.time_ns = StampToNs(r.time_ns);
  WriteBatchLocked(GetTid(), t_dead_sequence++, &c, 1);
}

// Inlined into every hook: the call alone (six arguments, callee-saved
// registers) cost a fifth of Push's instructions.
__attribute__((always_inline)) inline void Push(uint32_t kind, uint64_t address,
                                                uint64_t size, uint64_t usable,
                                                uint32_t stack,
                                                uint64_t old_address) {
  ThreadBuffer* b = t_buf;
  if (__builtin_expect(b == nullptr, 0)) b = AttachThread();
  // A mark is always stamped fresh: it is what time-based reports align to.
  // A thread without a buffer is not the one recording thread.
  uint64_t now = kind == static_cast<uint32_t>(EventKind::kMark) ||
                         __builtin_expect(b == nullptr, 0)
                     ? FreshStamp()
                     : Stamp();
  uint64_t slack = usable > size ? usable - size : 0;
  uint32_t slack32 =
      slack > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(slack);
  auto fill = [&](EventRecord* r) {
    r->time_ns = now;
    r->address = address;
    r->size = size;
    r->old_address = old_address;
    r->stack = stack;
    r->slack = slack32;
    r->kind = kind;
    r->pad = 0;
  };
  if (__builtin_expect(b == nullptr, 0)) {
    EventRecord r;
    fill(&r);
    RecordSlow(r);
    return;
  }
  uint64_t h = b->head.load(std::memory_order_relaxed);
  uint64_t t = b->tail.load(std::memory_order_acquire);
  if (__builtin_expect(h - t >= kRingSize, 0)) {
    FlushBuffer(b);
  } else if (h != t &&
             __builtin_expect(
                 now - b->ring[t % kRingSize].time_ns > g_flush_stamp, 0)) {
    FlushBuffer(b);
  }
  // Slot h is outside [tail, head): no consumer reads it until head moves.
  fill(&b->ring[h % kRingSize]);
  b->head.store(h + 1, std::memory_order_release);
  ++b->events;
}

// ---- Flusher thread ----

void* FlusherMain(void*) {
  g_flusher_tid.store(GetTid(), std::memory_order_release);
  t_busy = true;  // never record our own allocations
  prctl(PR_SET_NAME, "heaplens-flush", 0, 0, 0);
  {
    SpinLockHolder l(&g_lock);
    g_flusher_ticking = true;
    UpdateStampReuseLocked();
  }
  for (;;) {
    uint64_t ns = g_flush_ns / 2;
    if (ns < 1000000) ns = 1000000;
    struct timespec ts = {static_cast<time_t>(ns / 1000000000ull),
                          static_cast<long>(ns % 1000000000ull)};
    nanosleep(&ts, nullptr);
    // Time passed: a recording thread reusing a stamp takes a fresh one.
    g_stamp_gen.fetch_add(1, std::memory_order_relaxed);
    if (g_state.load(std::memory_order_acquire) != kActive) break;
    CheckModules(false);
    {
      SpinLockHolder l(&g_lock);
      RefineClockLocked();
    }
    FlushIdle();
    ScrubStackBelow();
  }
  {
    SpinLockHolder l(&g_lock);
    g_flusher_ticking = false;
    UpdateStampReuseLocked();
  }
  return nullptr;
}

void StartFlusher() {
  if (g_flusher_started.exchange(true)) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // The stack is an internal mapping, so the exit-time heap scan skips it:
  // block addresses the flusher once held there are not references of the
  // program. A forked child (where the parent's flusher does not exist)
  // reuses it.
  constexpr size_t kFlusherStack = 256 << 10;
  static void* stack = nullptr;
  if (stack == nullptr) stack = InternalMap(kFlusherStack);
  if (stack != nullptr) {
    pthread_attr_setstack(&attr, stack, kFlusherStack);
  } else {
    pthread_attr_setstacksize(&attr, kFlusherStack);
  }
  pthread_t th;
  if (pthread_create(&th, &attr, FlusherMain, nullptr) == 0) {
    g_flusher_created.store(true, std::memory_order_relaxed);
  } else {
    // Without it, owners still flush by age and size; idle threads' last
    // events may be lost on SIGKILL.
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// The flusher is started outside any allocator lock: from the constructor,
// or (in a forked child) from the next malloc/free hook.
inline void MaybeStartFlusher() {
  if (__builtin_expect(!g_flusher_started.load(std::memory_order_relaxed), 0) &&
      g_ctor_done && g_state.load(std::memory_order_relaxed) == kActive) {
    StartFlusher();
  }
}

// ---- Start ----

size_t ReadFile(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t n = 0;
  while (n < cap) {
    ssize_t r = read(fd, buf + n, cap - n);
    if (r <= 0) break;
    n += static_cast<size_t>(r);
  }
  close(fd);
  return n;
}

bool WriteHeaderAndModules(uint32_t parent_trace_pid) {
  char* cmdline = reinterpret_cast<char*>(g_scratch);
  size_t len = ReadFile("/proc/self/cmdline", cmdline, 64 << 10);
  const char* argv[256];
  int argc = 0;
  for (size_t i = 0; i < len && argc < 256;) {
    argv[argc++] = cmdline + i;
    while (i < len && cmdline[i] != '\0') ++i;
    ++i;
  }
  if (len > 0) cmdline[len < (64u << 10) ? len : len - 1] = '\0';
  HeaderInfo h;
  h.pid = static_cast<uint32_t>(getpid());
  h.ppid = static_cast<uint32_t>(getppid());
  h.exe = g_exe;
  h.argv = argv;
  h.argc = argc;
  h.page_size = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
  h.start_monotonic_ns = g_start_ns;
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  h.start_realtime_ns = static_cast<uint64_t>(rt.tv_sec) * 1000000000ull +
                        static_cast<uint64_t>(rt.tv_nsec);
  h.options = g_options;
  h.mmap_threshold = GetOptions().mmap_threshold;
  h.trim_threshold = GetOptions().trim_threshold;
  h.allocator = "heaplens 0.1";
  h.initial_brk = reinterpret_cast<uint64_t>(sbrk(0));
  h.max_stack_depth = static_cast<uint32_t>(g_stack_depth);
  h.parent_trace_pid = parent_trace_pid;
  WireWriter w(g_out, kOutSize);
  EncodeHeader(&w, h);
  {
    SpinLockHolder l(&g_lock);
    if (!AppendLocked(w)) return false;
  }
  g_modgen = ModuleGeneration();
  g_epoch = 0;
  CheckModules(true);
  return g_state.load(std::memory_order_relaxed) <= kActive;
}

const char* BaseName(const char* p) {
  const char* s = strrchr(p, '/');
  return s != nullptr ? s + 1 : p;
}

// Opens the file for this pid and writes the header and modules. Logs and
// returns false on failure.
bool OpenTrace(uint32_t parent_trace_pid) {
  char path[4096];
  int pid = getpid();
  if (!ExpandTracePath(g_pattern, pid, BaseName(g_exe), path, sizeof(path))) {
    RawLog("MALLOC_TRACE: path too long; running untraced");
    return false;
  }
  int err;
  const char* what;
  g_trace_pid = pid;
  if (!g_file.Open(path, pid, &err, &what)) {
    char msg[512];
    RawBuffer b(msg, sizeof(msg));
    b.Str("MALLOC_TRACE=")
        .Str(g_file.path()[0] != '\0' ? g_file.path() : path)
        .Str(": ")
        .Str(what)
        .Str(": ")
        .Str(ErrnoText(err))
        .Str("; running untraced");
    RawLog(b);
    return false;
  }
  return true;
}

bool DoInit() {
  const char* pattern = getenv("MALLOC_TRACE");
  if (pattern == nullptr || pattern[0] == '\0') return false;
  // Ignored for setuid/setgid programs, as glibc does. The environment
  // variable simulates AT_SECURE for tests (it can only turn tracing off).
  if (getauxval(AT_SECURE) != 0 ||
      getenv("HEAPLENS_TEST_ASSUME_SECURE") != nullptr) {
    return false;
  }
  size_t plen = strlen(pattern);
  if (plen >= sizeof(g_pattern)) {
    RawLog("MALLOC_TRACE: path too long; running untraced");
    return false;
  }
  memcpy(g_pattern, pattern, plen + 1);
  ReadOptions();
  ssize_t n = readlink("/proc/self/exe", g_exe, sizeof(g_exe) - 1);
  g_exe[n > 0 ? n : 0] = '\0';
  g_out = static_cast<uint8_t*>(InternalMap(kOutSize));
  g_scratch = static_cast<uint8_t*>(
      InternalMap(BatchScratchSize(kRingSize) + (64 << 10)));
  if (g_out == nullptr || g_scratch == nullptr) {
    RawLog("MALLOC_TRACE: out of memory for trace buffers; running untraced");
    return false;
  }
  if (!OpenTrace(0)) return false;
  new (g_interner_storage) StackInterner();
  CalibrateClock();
  StartClock();
  UnwinderInit(true);
  g_key_ok = pthread_key_create(&g_key, ThreadExit) == 0;
  g_state.store(kActive, std::memory_order_release);
  if (!WriteHeaderAndModules(0)) return false;
  g_tracing_active = true;
  return true;
}

// ---- Exit ----

struct GraphSink {
  static bool Emit(void*, const uint8_t* data, size_t n) {
    int e = g_file.Append(data, n);
    if (e != 0) {
      SpinLockHolder l(&g_lock);
      g_state.store(kFinishing, std::memory_order_relaxed);
      StopTracingLocked(e, "cannot write");
      return false;
    }
    return true;
  }
};

// heaplens' own writable segments (.data and .bss: the allocator's 2 MiB
// page map, the recorder's globals) are its bookkeeping, like its internal
// mappings: not roots of the program (under Valgrind they do not exist).
// Scanning them cost ~2.3 MB of process_vm_readv per traced process, mostly
// of never-touched zero pages. Found once at exit with dl_iterate_phdr.
struct SelfSegments {
  int n = 0;
  uintptr_t start[8];
  size_t size[8];
};

int FindSelfSegments(struct dl_phdr_info* info, size_t, void* arg) {
  auto* segs = static_cast<SelfSegments*>(arg);
  const uintptr_t self = reinterpret_cast<uintptr_t>(&FindSelfSegments);
  bool contains = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t s = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && self >= s && self < s + ph.p_memsz) {
      contains = true;
    }
  }
  if (!contains) return 0;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  for (int i = 0; i < info->dlpi_phnum && segs->n < 8; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) == 0) continue;
    uintptr_t s = (info->dlpi_addr + ph.p_vaddr) & ~(page - 1);
    uintptr_t e =
        (info->dlpi_addr + ph.p_vaddr + ph.p_memsz + page - 1) & ~(page - 1);
    segs->start[segs->n] = s;
    segs->size[segs->n] = e - s;
    ++segs->n;
  }
  return 1;
}

SelfSegments g_self_segments;

void ForEachInternalRegionOrSelf(void (*fn)(void*, uintptr_t, size_t),
                                 void* arg) {
  ForEachInternalRegion(fn, arg);
  for (int i = 0; i < g_self_segments.n; ++i) {
    fn(arg, g_self_segments.start[i], g_self_segments.size[i]);
  }
}

// WriteHeapGraph (heap_graph_default.cc) with heaplens' own segments
// excluded from the roots as well.
__attribute__((noinline)) bool WriteHeapGraphExcludingSelf(
    PacketEmit emit, void* arg, HeapGraphStats* stats) {
  g_self_segments.n = 0;
  dl_iterate_phdr(FindSelfSegments, &g_self_segments);
  HeapGraphSources src = DefaultHeapGraphSources();
  src.for_each_internal_region = ForEachInternalRegionOrSelf;
  return WriteHeapGraph(src, emit, arg, stats);
}

void Finish(ExitReason reason, int status) {
  if (!t_busy && g_fork_pending) ResumeForkedChild();
  Guard g;
  if (g_state.load(std::memory_order_acquire) != kActive) return;
  FlushAll();
  uint32_t main_tid = GetTid();
  if (t_buf != nullptr) {
    char name[17] = {};
    prctl(PR_GET_NAME, name, 0, 0, 0);
    WriteThreadInfo(main_tid, t_buf->start_ns, 0, name);
  }
  {
    SpinLockHolder l(&g_lock);
    if (g_state.load(std::memory_order_relaxed) != kActive) return;
    WireWriter w(g_out, kOutSize);
    EncodePendingNodesLocked(&w);
    if (w.size() > 0 && !AppendLocked(w)) return;
    // From here on only this thread writes.
    g_state.store(kFinishing, std::memory_order_release);
  }
  SummaryInfo s;
  s.reason = reason;
  s.exit_status = status;
  if (reason == kExitNormal) {
    HeapGraphStats st;
    if (!WriteHeapGraphExcludingSelf(&GraphSink::Emit, nullptr, &st)) return;
    s.heap_graph = true;
    s.live_blocks = st.live_blocks;
    s.live_bytes = st.live_bytes;
  }
  s.time_ns = NowNs();
  s.events = TotalEvents();
  s.dropped_events = g_dropped.load(std::memory_order_relaxed);
  uint8_t buf[256];
  WireWriter w(buf, sizeof(buf));
  EncodeSummary(&w, s);
  g_file.Append(w.data(), w.size());
  g_file.ReleaseReserve();
  g_tracing_active = false;
  g_state.store(kStopped, std::memory_order_release);
}

// Like Valgrind, let libstdc++ release the memory it keeps for the whole
// process lifetime (the emergency exception-handling pool) before the heap
// graph is taken, so it is not reported as "still reachable" in every C++
// program. Called outside the recursion guard: these frees must be recorded.
// glibc's own memory (stdio buffers, the thread stack cache and its DTVs,
// dlopen leftovers, NSS modules) goes too, through __libc_freeres, as
// Valgrind's default --run-libc-freeres=yes does (option libc_freeres). It
// flushes and unbuffers every stream first (_IO_cleanup), so exit's own
// cleanup after this handler has nothing left to write, and exit handlers
// that still run after ours (registered before heaplens' constructor) find
// unbuffered streams.
int FindLibstdcxx(struct dl_phdr_info* info, size_t, void* found) {
  if (info->dlpi_name != nullptr && strstr(info->dlpi_name, "libstdc++")) {
    *static_cast<bool*>(found) = true;
    return 1;
  }
  return 0;
}

// True if a thread other than the caller and heaplens' flusher is alive,
// or if /proc/self/task cannot be read (then nobody can tell). Reads the
// directory with getdents64 into a stack buffer: no malloc.
bool OtherThreadsAlive() {
  const int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return true;
  const uint32_t self = GetTid();
  // A flusher created moments ago may not have published its tid yet (a
  // program that exits at once): wait for it, up to 50 ms.
  uint32_t flusher = g_flusher_tid.load(std::memory_order_acquire);
  for (int i = 0; flusher == 0 && i < 500 &&
                  g_flusher_created.load(std::memory_order_relaxed);
       ++i) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, nullptr);
    flusher = g_flusher_tid.load(std::memory_order_acquire);
  }
  alignas(8) char buf[2048];
  bool other = false;
  bool read_all = false;
  while (!other) {
    const ssize_t n = getdents64(fd, buf, sizeof(buf));
    if (n <= 0) {
      read_all = n == 0;
      break;
    }
    for (ssize_t off = 0; off < n && !other;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buf + off);
      off += d->d_reclen;
      uint32_t tid = 0;
      const char* c = d->d_name;
      if (*c < '0' || *c > '9') continue;  // "." and ".."
      for (; *c >= '0' && *c <= '9'; ++c) tid = tid * 10 + (*c - '0');
      if (tid != self && tid != flusher) other = true;
    }
  }
  close(fd);
  return other || !read_all;
}

void ReleaseRuntimeCaches() {
  // Only when libstdc++ is loaded: a failing dlsym allocates a dlerror
  // buffer, which would show up in a C program's report as heaplens' own
  // "still reachable" memory.
  bool loaded = false;
  dl_iterate_phdr(FindLibstdcxx, &loaded);
  if (loaded) {
    using Freeres = void (*)();
    auto freeres = reinterpret_cast<Freeres>(
        dlsym(RTLD_DEFAULT, "_ZN9__gnu_cxx9__freeresEv"));
    if (freeres != nullptr) freeres();
  }
  // __libc_freeres is for the last thread of a process that is going away
  // (Valgrind calls it after its other threads are gone): with other
  // threads still running, freeing the stdio buffers and the thread stack
  // cache under them could crash the program. Then glibc's memory stays
  // and is reported as still reachable (docs/accuracy.md).
  if (g_libc_freeres && __libc_freeres != nullptr && !OtherThreadsAlive()) {
    __libc_freeres();
  }
}

void OnExit(int status, void*) {
  if (g_state.load(std::memory_order_acquire) == kActive) {
    ReleaseRuntimeCaches();
  }
  // Finish's frames and the heap scan's start lie below this one: clear
  // what earlier, deeper calls left there.
  ScrubStackBelow<16384>();
  Finish(kExitNormal, status);
}

__attribute__((constructor)) void RecorderConstructor() {
  RecorderInit();
  on_exit(OnExit, nullptr);
  g_ctor_done = true;
  if (g_state.load(std::memory_order_acquire) == kActive) {
    Guard g;
    StartFlusher();
  }
}

// Starts the forked child's own trace (t_busy set, no recorder lock held,
// no other thread): forgets the parent's threads, pending events, stacks and
// file, and writes a header naming the parent.
void RestartInChild() {
  uint32_t parent = static_cast<uint32_t>(getppid());
  // Other threads do not exist here; their buffers and our own pending
  // events belong to the parent's trace.
  for (ThreadBuffer* b = g_threads.load(std::memory_order_relaxed); b;
       b = b->next) {
    b->consumer.ResetAfterFork();
    b->head.store(0, std::memory_order_relaxed);
    b->tail.store(0, std::memory_order_relaxed);
    b->sequence = 0;
    b->events = 0;
    b->in_use.store(b == t_buf, std::memory_order_relaxed);
  }
  if (t_buf != nullptr) {
    t_buf->tid = GetTid();
    t_buf->start_ns = 0;
  }
  // No flusher here yet; the parent's stamps mean nothing after StartClock.
  g_attached = t_buf != nullptr ? 1 : 0;
  g_flusher_ticking = false;
  UpdateStampReuseLocked();
  g_slow_events.store(0);
  g_dropped.store(0);
  g_flusher_started.store(false);
  g_flusher_tid.store(0, std::memory_order_relaxed);
  g_flusher_created.store(false, std::memory_order_relaxed);
  // The inherited descriptor shares the parent's file and lock: drop it.
  g_file.Abandon();
  Interner().Reset(true);
  g_stack_generation.fetch_add(1, std::memory_order_relaxed);
  StartClock();
  g_tracing_active = false;
  if (!OpenTrace(parent)) {
    g_state.store(kDisabled, std::memory_order_release);
    return;
  }
  g_state.store(kActive, std::memory_order_release);
  if (!WriteHeaderAndModules(parent)) return;
  g_tracing_active = true;
}

// Called outside the recursion guard in a child in state kForkPending: the
// frame the fork interrupted has returned, so the child's trace can start.
__attribute__((noinline)) void ResumeForkedChild() {
  g_fork_pending = false;
  if (g_state.load(std::memory_order_acquire) != kForkPending) return;
  Guard g;
  g_lock.ResetAfterFork();
  g_module_lock.ResetAfterFork();
  RestartInChild();
}

// Whether a hook may record: not inside another hook on this thread. Starts
// a forked child's deferred trace first.
inline bool MayRecord() {
  if (t_busy) return false;
  if (__builtin_expect(g_fork_pending, 0)) {
    ResumeForkedChild();
    // The hook's block address, spilled by the deep calls that opened the
    // trace, must not stay on the stack for the exit-time heap scan.
    ScrubStackBelow<32768>();
  }
  return true;
}

// ---- Hook fast paths ----
//
// TrackAlloc and TrackFree first try a path without any call: the memo's
// stack (StackCache::FindLast), a reused stamp or an inline rdtscp, and a
// ring with room that needs no flush. Without calls the hook needs no
// callee-saved registers or spills. Anything else (no buffer yet, no
// flusher, a forked child to resume, a stack other than the memo's, a
// fresh CLOCK_MONOTONIC stamp, a flush) takes the slow path, which does the
// whole event as before (a stamp consumed by a failed fast attempt is
// simply not used; stamps stay increasing).

// Sets the recursion guard if the fast path may run; the thread's buffer,
// or nullptr (guard untouched) if not.
__attribute__((always_inline)) inline ThreadBuffer* FastEnter() {
  if (__builtin_expect(t_busy || g_fork_pending, 0)) return nullptr;
  if (__builtin_expect(!g_flusher_started.load(std::memory_order_relaxed), 0)) {
    return nullptr;
  }
  ThreadBuffer* b = t_buf;
  if (__builtin_expect(b == nullptr, 0)) return nullptr;
  t_busy = true;
  // A signal handler's hook from here on sees the guard: the stores below
  // must not move above it (nor the clearing in FastLeave above them).
  std::atomic_signal_fence(std::memory_order_seq_cst);
  return b;
}

__attribute__((always_inline)) inline void FastLeave() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_busy = false;
}

// Stamp() without a call: false when a fresh stamp must come from
// CLOCK_MONOTONIC (no invariant TSC).
__attribute__((always_inline)) inline bool FastStamp(uint64_t* now) {
  if (__builtin_expect(t_stamp_left > 0, 1) &&
      g_stamp_reuse.load(std::memory_order_relaxed) &&
      g_stamp_gen.load(std::memory_order_acquire) == t_stamp_gen) {
    --t_stamp_left;
    t_stamp += g_stamp_step;
    *now = t_stamp;
    return true;
  }
  if (__builtin_expect(!g_use_tsc, 0)) return false;
  // As FreshStamp: the generation is read before the clock.
  uint64_t gen = g_stamp_gen.load(std::memory_order_acquire);
  unsigned aux;
  uint64_t st = __rdtscp(&aux);
  t_stamp = st;
  t_stamp_gen = gen;
  t_stamp_left = g_stamp_events - 1;
  *now = st;
  return true;
}

// Push's common case: appends the record if the ring has room and its
// oldest record is not older than flush_ms; false (nothing written) if a
// flush is due.
__attribute__((always_inline)) inline bool FastPushRecord(
    ThreadBuffer* b, uint64_t now, uint32_t kind, uint64_t address,
    uint64_t size, uint32_t slack32, uint32_t stack) {
  uint64_t h = b->head.load(std::memory_order_relaxed);
  uint64_t t = b->tail.load(std::memory_order_acquire);
  if (__builtin_expect(h - t >= kRingSize, 0)) return false;
  if (h != t && __builtin_expect(
                    now - b->ring[t % kRingSize].time_ns > g_flush_stamp, 0)) {
    return false;
  }
  EventRecord* r = &b->ring[h % kRingSize];
  r->time_ns = now;
  r->address = address;
  r->size = size;
  r->old_address = 0;
  r->stack = stack;
  r->slack = slack32;
  r->kind = kind;
  r->pad = 0;
  b->head.store(h + 1, std::memory_order_release);
  ++b->events;
  return true;
}

__attribute__((noinline)) void TrackAllocSlow(EventKind kind, void* ptr,
                                              size_t size, size_t usable) {
  if (!MayRecord()) return;
  Guard g;
  MaybeStartFlusher();
  uint32_t stack = CurrentStack();
  Push(static_cast<uint32_t>(kind), reinterpret_cast<uintptr_t>(ptr), size,
       usable, stack, 0);
}

// The fast path found the stack top but not the memo's stack; the guard is
// set (FastEnter) and is cleared here.
__attribute__((noinline)) void TrackAllocAt(EventKind kind, void* ptr,
                                            size_t size, size_t usable,
                                            uintptr_t slot, uintptr_t ip) {
  StackTop top = {slot, ip};
  StackCache* cache = &t_buf->cache;
  uint32_t stack = cache->FindIndexed(top);
  if (stack == 0) stack = StackCacheMiss(top, cache);
  Push(static_cast<uint32_t>(kind), reinterpret_cast<uintptr_t>(ptr), size,
       usable, stack, 0);
  FastLeave();
}

__attribute__((noinline)) void TrackFreeSlow(EventKind kind, void* ptr) {
  if (!MayRecord()) return;
  Guard g;
  MaybeStartFlusher();
  Push(static_cast<uint32_t>(kind), reinterpret_cast<uintptr_t>(ptr), 0, 0, 0,
       0);
}

}  // namespace

// ---- recorder.h ----

void RecorderInit() {
  if (__builtin_expect(g_state.load(std::memory_order_acquire) != kUninit, 1)) {
    return;
  }
  if (environ == nullptr) return;  // too early: libc has no environment yet
  int expected = kUninit;
  if (!g_state.compare_exchange_strong(expected, kIniting)) return;
  Guard g;
  if (!DoInit()) {
    g_tracing_active = false;
    int s = g_state.load(std::memory_order_relaxed);
    if (s == kIniting || s == kActive) {
      g_state.store(kDisabled, std::memory_order_release);
    }
  }
}

void RecorderPrepareFork() {
  // If fork() was called from a signal handler that interrupted the recorder
  // on this thread, a lock this thread holds is released only when the
  // handler returns: it is not waited for. Another lock is waited for a
  // bounded time only, since its holder may be waiting for one of ours.
  t_fork_prev_busy = t_busy;
  t_busy = true;  // restored in Parent/Child
  const bool interrupted = t_fork_prev_busy;
  auto take = [interrupted](OwnedSpinLock* l) {
    if (l->HeldByCurrentThread()) return false;
    if (!interrupted) {
      l->Lock();
      return true;
    }
    for (int tries = 0; tries < 2000; ++tries) {
      if (l->TryLock()) return true;
      sched_yield();
    }
    return false;
  };
  t_fork_took_module = take(&g_module_lock);
  t_fork_took_lock = take(&g_lock);
}

void RecorderParentAfterFork() {
  if (t_fork_took_lock) g_lock.Unlock();
  if (t_fork_took_module) g_module_lock.Unlock();
  t_busy = t_fork_prev_busy;
}

void RecorderChildAfterFork() {
  // A lock held by the interrupted frame stays held: that frame still runs
  // here and releases it. Any other lock was ours or a lost thread's.
  if (t_fork_took_lock || !g_lock.HeldByCurrentThread()) {
    g_lock.ResetAfterFork();
  }
  if (t_fork_took_module || !g_module_lock.HeldByCurrentThread()) {
    g_module_lock.ResetAfterFork();
  }
  t_tid = 0;
  if (g_state.load(std::memory_order_relaxed) != kActive) {
    t_busy = t_fork_prev_busy;
    return;
  }
  if (t_fork_prev_busy) {
    // The interrupted frame must not write the parent's events to the
    // parent's file from here: the descriptor goes now, the rest waits.
    g_file.Abandon();
    g_fork_pending = true;
    g_state.store(kForkPending, std::memory_order_release);
    t_busy = true;
    return;
  }
  RestartInChild();
  t_busy = false;
}

void RecorderOnUnderscoreExit(int status) { Finish(kExitUnderscore, status); }

void RecorderBeforeExec() {
  if (!t_busy && g_fork_pending) ResumeForkedChild();
  Guard g;
  if (g_state.load(std::memory_order_acquire) != kActive) return;
  if (getpid() != g_trace_pid) return;  // a vfork child
  FlushAll();
  uint32_t tid = GetTid();
  if (t_buf != nullptr) {
    char name[17] = {};
    prctl(PR_GET_NAME, name, 0, 0, 0);
    WriteThreadInfo(tid, t_buf->start_ns, 0, name);
  }
  SpinLockHolder l(&g_lock);
  if (g_state.load(std::memory_order_relaxed) != kActive) return;
  WireWriter w(g_out, kOutSize);
  EncodePendingNodesLocked(&w);
  if (w.size() > 0 && !AppendLocked(w)) return;
  uint64_t before = g_file.size();
  SummaryInfo s;
  s.reason = kExitExec;
  s.time_ns = NowNs();
  s.events = TotalEvents();
  s.dropped_events = g_dropped.load(std::memory_order_relaxed);
  uint8_t buf[256];
  WireWriter sw(buf, sizeof(buf));
  EncodeSummary(&sw, s);
  if (!AppendLocked(sw)) return;
  g_file.ReleaseReserve();  // a failed exec reserves again as it appends
  g_exec_rollback = before;
  // Rings keep filling but nothing is written until the exec failed.
  g_state.store(kFinishing, std::memory_order_release);
}

void RecorderAfterFailedExec() {
  Guard g;
  SpinLockHolder l(&g_lock);
  if (g_exec_rollback == 0 ||
      g_state.load(std::memory_order_relaxed) != kFinishing) {
    return;
  }
  int e = g_file.TruncateTo(g_exec_rollback);
  g_exec_rollback = 0;
  g_state.store(kActive, std::memory_order_release);
  if (e != 0) StopTracingLocked(e, "cannot truncate");
}

void RecorderMark(uint64_t id) {
  if (!TracingActive() || !MayRecord()) return;
  Guard g;
  Push(static_cast<uint32_t>(EventKind::kMark), 0, id, 0, 0, 0);
}

// ---- track.h ----

void TrackAlloc(EventKind kind, void* ptr, size_t size, size_t usable) {
  ThreadBuffer* b = FastEnter();
  if (__builtin_expect(b != nullptr, 1)) {
    StackTop top;
    if (__builtin_expect(b->cache.initialized(), 1) &&
        g_use_stack_top.load(std::memory_order_relaxed) &&
        FindStackTop(__builtin_frame_address(0), &top) &&
        b->cache.generation() ==
            g_stack_generation.load(std::memory_order_relaxed)) {
      uint32_t stack = b->cache.FindLast(top);
      if (__builtin_expect(stack == 0, 0)) {
        // Not the memo's stack: the index or an unwind, from this top.
        return TrackAllocAt(kind, ptr, size, usable, top.slot, top.ip);
      }
      uint64_t now;
      if (__builtin_expect(FastStamp(&now), 1)) {
        uint64_t slack = usable > size ? usable - size : 0;
        if (__builtin_expect(
                FastPushRecord(b, now, static_cast<uint32_t>(kind),
                               reinterpret_cast<uintptr_t>(ptr), size,
                               slack > 0xffffffffu
                                   ? 0xffffffffu
                                   : static_cast<uint32_t>(slack),
                               stack),
                1)) {
          FastLeave();
          return;
        }
      }
    }
    FastLeave();
  }
  TrackAllocSlow(kind, ptr, size, usable);
}

void TrackRealloc(void* old_ptr, void* new_ptr, size_t size, size_t usable) {
  if (!MayRecord()) return;
  Guard g;
  MaybeStartFlusher();
  uint32_t stack = CurrentStack();
  Push(static_cast<uint32_t>(EventKind::kRealloc),
       reinterpret_cast<uintptr_t>(new_ptr), size, usable, stack,
       reinterpret_cast<uintptr_t>(old_ptr));
}

void TrackFree(EventKind kind, void* ptr) {
  ThreadBuffer* b = FastEnter();
  if (__builtin_expect(b != nullptr, 1)) {
    uint64_t now;
    if (__builtin_expect(FastStamp(&now), 1) &&
        __builtin_expect(
            FastPushRecord(b, now, static_cast<uint32_t>(kind),
                           reinterpret_cast<uintptr_t>(ptr), 0, 0, 0),
            1)) {
      FastLeave();
      return;
    }
    FastLeave();
  }
  TrackFreeSlow(kind, ptr);
}

void TrackInvalidFree(void* ptr) {
  if (!MayRecord()) return;
  Guard g;
  uint32_t stack = CurrentStack();
  Push(static_cast<uint32_t>(EventKind::kInvalidFree),
       reinterpret_cast<uintptr_t>(ptr), 0, 0, stack, 0);
}

void TrackAllocFailed(size_t size) {
  if (!MayRecord()) return;
  Guard g;
  uint32_t stack = CurrentStack();
  Push(static_cast<uint32_t>(EventKind::kAllocFailed), 0, size, size, stack, 0);
}

void TrackSegment(EventKind kind, uintptr_t addr, size_t size) {
  if (!MayRecord()) return;
  Guard g;
  Push(static_cast<uint32_t>(kind), addr, size, size, 0, 0);
}

void TrackNotice(const char* text) {
  if (!MayRecord() || g_state.load(std::memory_order_acquire) >= kStopped) {
    return;
  }
  Guard g;
  uint8_t buf[512];
  WireWriter w(buf, sizeof(buf));
  EncodeNotice(&w, kWarning, NowNs(), text, GetTid());
  SpinLockHolder l(&g_lock);
  AppendLocked(w);
}

}  // namespace heaplens
