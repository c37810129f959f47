// End-to-end tests: run e2e_prog under a preload with MALLOC_TRACE set and
// parse the trace with libprotobuf. The preload is the test-only
// testing/libfakepreload.so (glibc malloc + the real recorder) and
// //interposer:libheaplens.so (the heaplens allocator + the recorder).
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/trace.pb.h"

namespace {

namespace pb = ::heaplens::trace;

std::string Runfile(const std::string& rel) {
  return std::string(getenv("TEST_SRCDIR")) + "/heaplens/" + rel;
}
std::string Tmp() { return getenv("TEST_TMPDIR"); }

struct ProgRun {
  int status = -1;
  std::string out, err;
  pid_t pid = 0;
};

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs e2e_prog with args under `preload`. If kill_after_line is set, waits
// until stdout has that many "alive" lines and SIGKILLs the program.
ProgRun RunProg(const std::string& preload, std::vector<std::string> args,
                std::vector<std::string> env, long fsize_limit = 0,
                int kill_after_alive = 0) {
  std::string out_path = Tmp() + "/stdout", err_path = Tmp() + "/stderr";
  ProgRun r;
  pid_t pid = fork();
  if (pid == 0) {
    int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    dup2(e, 2);
    if (fsize_limit > 0) {
      struct rlimit rl = {static_cast<rlim_t>(fsize_limit),
                          static_cast<rlim_t>(fsize_limit)};
      setrlimit(RLIMIT_FSIZE, &rl);
      signal(SIGXFSZ, SIG_IGN);
    }
    std::vector<std::string> envs = env;
    envs.push_back("LD_PRELOAD=" + preload);
    std::vector<char*> ev, av;
    for (auto& s : envs) ev.push_back(const_cast<char*>(s.c_str()));
    ev.push_back(nullptr);
    std::string prog = Runfile("interposer/recorder/testing/e2e_prog");
    av.push_back(const_cast<char*>(prog.c_str()));
    for (auto& s : args) av.push_back(const_cast<char*>(s.c_str()));
    av.push_back(nullptr);
    execve(prog.c_str(), av.data(), ev.data());
    _exit(127);
  }
  r.pid = pid;
  if (kill_after_alive > 0) {
    for (int i = 0; i < 10000; ++i) {
      std::string o = ReadAll(out_path);
      size_t n = 0;
      for (size_t p = o.find("alive"); p != std::string::npos;
           p = o.find("alive", p + 1)) {
        ++n;
      }
      if (static_cast<int>(n) >= kill_after_alive) break;
      usleep(2000);
    }
    kill(pid, SIGKILL);
  }
  waitpid(pid, &r.status, 0);
  r.out = ReadAll(out_path);
  r.err = ReadAll(err_path);
  return r;
}

uint64_t AddrOf(const std::string& out, const std::string& name) {
  std::string key = "addr " + name + " ";
  size_t p = out.find(key);
  if (p == std::string::npos) return 0;
  return strtoull(out.c_str() + p + key.size(), nullptr, 16);
}

// A decoded trace: events with their stacks resolved.
struct Event {
  uint32_t tid, kind;
  uint64_t time, address = 0, size = 0, stack = 0;
};
struct Decoded {
  pb::Trace trace;
  std::vector<Event> events;
  std::vector<uint64_t> node_pc{0}, node_parent{0};
  std::vector<uint32_t> node_epoch{0};  // epoch current when written
  std::vector<pb::ModuleEpoch> epochs;
  std::map<uint32_t, std::vector<uint64_t>> sequences;
  bool stacks_defined_before_use = true;
  const pb::ExitSummary* summary = nullptr;
  int graph_packets = 0;

  std::vector<uint64_t> Stack(uint64_t id) const {
    std::vector<uint64_t> s;
    while (id != 0 && id < node_pc.size()) {
      s.push_back(node_pc[id]);
      id = node_parent[id];
    }
    return s;
  }
  // Path of the module containing pc in the epoch of node `id`.
  std::string ModuleOf(uint64_t id, uint64_t pc) const {
    const pb::ModuleEpoch& e = epochs[node_epoch[id] - 1];
    for (const auto& m : e.modules()) {
      for (const auto& s : m.segments()) {
        uint64_t lo = m.base() + s.vaddr();
        if (pc >= lo && pc < lo + s.memsz() && (s.flags() & 1)) return m.path();
      }
    }
    return "";
  }
};

bool Decode(const std::string& path, Decoded* d) {
  std::string data = ReadAll(path);
  if (!d->trace.ParseFromString(data)) return false;
  for (const auto& p : d->trace.packet()) {
    if (p.has_modules()) d->epochs.push_back(p.modules());
    if (p.has_stacks()) {
      const auto& s = p.stacks();
      EXPECT_EQ(s.first_id(), d->node_pc.size());
      int64_t pc = 0;
      for (int i = 0; i < s.parent_distance_size(); ++i) {
        pc += s.pc_delta(i);
        d->node_pc.push_back(static_cast<uint64_t>(pc));
        d->node_parent.push_back(s.first_id() + i - s.parent_distance(i));
        d->node_epoch.push_back(static_cast<uint32_t>(d->epochs.size()));
      }
    }
    if (p.has_events()) {
      const auto& b = p.events();
      d->sequences[b.tid()].push_back(b.sequence());
      int ai = 0, si = 0, sti = 0, sli = 0, oi = 0;
      uint64_t t = 0, addr = 0;
      EXPECT_EQ(static_cast<int>(b.event_count()), b.kind_size());
      for (int i = 0; i < b.kind_size(); ++i) {
        Event e;
        e.tid = b.tid();
        e.kind = b.kind(i);
        t += b.time_delta(i);
        e.time = t;
        bool alloc = e.kind >= 1 && e.kind <= 6;
        bool fr = e.kind >= 8 && e.kind <= 10;
        bool seg = e.kind >= 16 && e.kind <= 20;
        if (alloc || fr || seg || e.kind == 11) {
          addr += b.address_delta(ai++);
          e.address = addr;
        }
        if (alloc || seg || e.kind == 12 || e.kind == 24) e.size = b.size(si++);
        if (alloc) ++sli;
        if (alloc || e.kind == 11 || e.kind == 12) {
          e.stack = b.stack(sti++);
          if (e.stack >= d->node_pc.size())
            d->stacks_defined_before_use = false;
        }
        if (e.kind == 6) ++oi;
        d->events.push_back(e);
      }
      EXPECT_EQ(ai, b.address_delta_size());
      EXPECT_EQ(si, b.size_size());
      EXPECT_EQ(sli, b.slack_size());
      EXPECT_EQ(sti, b.stack_size());
      EXPECT_EQ(oi, b.old_address_delta_size());
      EXPECT_EQ(t, b.end_time_ns());
    }
    if (p.has_summary()) d->summary = &p.summary();
    if (p.has_graph()) ++d->graph_packets;
  }
  return true;
}

class RecorderE2E : public ::testing::TestWithParam<std::string> {
 protected:
  std::string Preload() { return Runfile(GetParam()); }
  std::string Path(const std::string& name) {
    std::string p = Tmp() + "/" + name;
    return p;
  }
};

TEST_P(RecorderE2E, MultiThreaded) {
  std::string path = Path("threads.hlt");
  ProgRun r = RunProg(Preload(), {"threads"}, {"MALLOC_TRACE=" + path});
  ASSERT_EQ(r.status, 0) << r.err;
  Decoded d;
  ASSERT_TRUE(Decode(path, &d));
  EXPECT_TRUE(d.trace.packet(0).has_header());
  EXPECT_TRUE(d.trace.packet(1).has_modules());
  EXPECT_TRUE(d.stacks_defined_before_use);
  std::map<uint32_t, int> per_tid;
  for (const auto& e : d.events) {
    if (e.kind == 1 && e.size >= 16 && e.size < 20) ++per_tid[e.tid];
  }
  EXPECT_GE(per_tid.size(), 4u);
  for (auto& [tid, n] : per_tid) EXPECT_GE(n, 1000) << tid;
  for (auto& [tid, seqs] : d.sequences) {
    for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i) << tid;
  }
  ASSERT_NE(d.summary, nullptr);
  EXPECT_EQ(d.summary->reason(), pb::ExitSummary::EXIT);
  EXPECT_TRUE(d.summary->heap_graph());
  EXPECT_GE(d.graph_packets, 1);
  EXPECT_GE(d.summary->events(), 8000u);
}

// Blocks freed on one thread and reused on another: merged by time (each
// thread's order kept, frees first at equal times, as the analyzer does),
// every address alternates between allocated and freed. Stamp reuse while
// main records alone must not break this once the helper thread exists.
TEST_P(RecorderE2E, CrossThreadReuseKeepsOrder) {
  std::string path = Path("handoff.hlt");
  ProgRun r = RunProg(Preload(), {"handoff"}, {"MALLOC_TRACE=" + path});
  ASSERT_EQ(r.status, 0) << r.err;
  Decoded d;
  ASSERT_TRUE(Decode(path, &d));
  // Per-thread streams in recorded order (batches of a thread in sequence
  // order appear in the file in that order).
  std::map<uint32_t, std::vector<const Event*>> streams;
  for (const auto& e : d.events) streams[e.tid].push_back(&e);
  ASSERT_GE(streams.size(), 2u);
  std::vector<const Event*> merged;
  std::map<uint32_t, size_t> pos;
  for (;;) {
    const Event* best = nullptr;
    uint32_t best_tid = 0;
    for (auto& [tid, v] : streams) {
      if (pos[tid] == v.size()) continue;
      const Event* e = v[pos[tid]];
      if (e->time > 0 && pos[tid] > 0) {
        EXPECT_GE(e->time, v[pos[tid] - 1]->time) << tid;
      }
      auto rank = [](const Event* x) {
        return std::make_pair(x->time, (x->kind >= 1 && x->kind <= 6) ? 1 : 0);
      };
      if (best == nullptr || rank(e) < rank(best)) {
        best = e;
        best_tid = tid;
      }
    }
    if (best == nullptr) break;
    ++pos[best_tid];
    merged.push_back(best);
  }
  std::set<uint64_t> live;
  int cross = 0;
  std::map<uint64_t, uint32_t> owner;
  for (const Event* e : merged) {
    if (e->kind == 1) {
      EXPECT_TRUE(live.insert(e->address).second)
          << "allocated twice: " << e->address << " t=" << e->time;
      if (owner.count(e->address) && owner[e->address] != e->tid) ++cross;
      owner[e->address] = e->tid;
    } else if (e->kind == 8 && e->address != 0 && owner.count(e->address)) {
      // (Frees of blocks allocated before tracing started, e.g. by
      // __libc_freeres at exit, are not the point here.)
      EXPECT_EQ(live.erase(e->address), 1u)
          << "freed while not live: " << e->address << " t=" << e->time;
      if (owner.count(e->address) && owner[e->address] != e->tid) ++cross;
    }
  }
  EXPECT_GE(cross, 1000);
}

// Event times follow real time through stamp reuse and the clock's
// refinement: bursts 30 ms apart (at least) are recorded at least 30 ms
// apart (no upper bound: the box may be slow), and times never decrease.
TEST_P(RecorderE2E, TimesFollowSleeps) {
  std::string path = Path("sleep.hlt");
  ProgRun r = RunProg(Preload(), {"sleep"}, {"MALLOC_TRACE=" + path});
  ASSERT_EQ(r.status, 0) << r.err;
  Decoded d;
  ASSERT_TRUE(Decode(path, &d));
  uint64_t first[4] = {0, 0, 0, 0};
  uint64_t prev = 0;
  for (const auto& e : d.events) {
    EXPECT_GE(e.time, prev);
    prev = e.time;
    if (e.kind == 1 && e.size >= 24 && e.size < 28 && first[e.size - 24] == 0)
      first[e.size - 24] = e.time;
  }
  for (int i = 1; i < 4; ++i) {
    ASSERT_NE(first[i], 0u) << i;
    EXPECT_GE(first[i] - first[i - 1], 30000000u) << i;
  }
}

TEST_P(RecorderE2E, CxxStacksShowUserFrame) {
  std::string path = Path("cxx.hlt");
  ProgRun r = RunProg(Preload(), {"cxx"}, {"MALLOC_TRACE=" + path});
  ASSERT_EQ(r.status, 0) << r.err;
  uint64_t cxx = AddrOf(r.out, "LeakCxx"), sdp = AddrOf(r.out, "LeakStrdup");
  ASSERT_NE(cxx, 0u);
  Decoded d;
  ASSERT_TRUE(Decode(path, &d));
  // The first frame outside libc, libstdc++ and the preload must be the
  // user's function, for std::string, new[] and strdup.
  auto user_frame = [&](const Event& e) -> uint64_t {
    for (uint64_t pc : d.Stack(e.stack)) {
      std::string m = d.ModuleOf(e.stack, pc);
      if (m.find("libc.so") != std::string::npos ||
          m.find("libstdc++") != std::string::npos ||
          m.find("preload") != std::string::npos ||
          m.find("libheaplens") != std::string::npos) {
        continue;
      }
      return pc;
    }
    return 0;
  };
  int found_string = 0, found_array = 0, found_strdup = 0;
  for (const auto& e : d.events) {
    if (e.kind < 1 || e.kind > 5) continue;
    uint64_t pc = user_frame(e);
    bool in_cxx = pc > cxx && pc < cxx + 400;
    bool in_sd = pc > sdp && pc < sdp + 200;
    if (e.size == 101 && in_cxx) ++found_string;
    if (e.size == 28 && in_cxx) ++found_array;
    if (e.size == 29 && in_sd) ++found_strdup;
  }
  EXPECT_EQ(found_string, 1);
  EXPECT_EQ(found_array, 1);
  EXPECT_EQ(found_strdup, 1);
}

TEST_P(RecorderE2E, ForkWithPidPattern) {
  std::string pattern = Path("fork.%p.hlt");
  ProgRun r = RunProg(Preload(), {"fork"}, {"MALLOC_TRACE=" + pattern});
  ASSERT_EQ(r.status, 0) << r.err;
  Decoded parent;
  ASSERT_TRUE(Decode(Path("fork." + std::to_string(r.pid) + ".hlt"), &parent));
  ASSERT_NE(parent.summary, nullptr);
  // Find the child's file.
  int children = 0;
  for (int pid = r.pid + 1; pid < r.pid + 200; ++pid) {
    std::string p = Path("fork." + std::to_string(pid) + ".hlt");
    if (access(p.c_str(), F_OK) != 0) continue;
    Decoded c;
    ASSERT_TRUE(Decode(p, &c));
    ++children;
    EXPECT_EQ(c.trace.packet(0).header().parent_trace_pid(),
              static_cast<uint32_t>(r.pid));
    int n20 = 0;
    for (const auto& e : c.events) n20 += e.kind == 1 && e.size == 20;
    EXPECT_EQ(n20, 100);
    ASSERT_NE(c.summary, nullptr);
    EXPECT_EQ(c.summary->exit_status(), 3);
    EXPECT_TRUE(c.stacks_defined_before_use);
  }
  EXPECT_EQ(children, 1);
  int n20 = 0;
  for (const auto& e : parent.events) n20 += e.kind == 1 && e.size == 20;
  EXPECT_EQ(n20, 0);  // the child's events are not in the parent's file
}

TEST_P(RecorderE2E, ForkAndExecWithoutPidPattern) {
  for (const char* mode : {"fork", "exec"}) {
    std::string path = Path(std::string("nopid-") + mode + ".hlt");
    ProgRun r = RunProg(Preload(), {mode}, {"MALLOC_TRACE=" + path});
    ASSERT_EQ(r.status, 0) << r.err;
    Decoded parent;
    ASSERT_TRUE(Decode(path, &parent)) << mode;
    EXPECT_EQ(parent.trace.packet(0).header().pid(),
              static_cast<uint32_t>(r.pid));
    ASSERT_NE(parent.summary, nullptr) << mode;
    // The forked child writes <path>.<pid>. In "exec" mode the child then
    // execs: its pre-exec trace is kept (ending with ExitSummary(EXEC) when
    // the exec wrappers of libheaplens.so are there; the test-only fake
    // preload has none, so it just ends) and the new image, same pid,
    // writes <path>.<pid>.1 instead of overwriting it.
    const bool exec_mode = std::string(mode) == "exec";
    const bool wraps_exec =
        std::string(GetParam()).find("libheaplens") != std::string::npos;
    int found = 0;
    for (int pid = r.pid + 1; pid < r.pid + 200; ++pid) {
      std::string p = path + "." + std::to_string(pid);
      if (access(p.c_str(), F_OK) != 0) continue;
      Decoded c;
      ASSERT_TRUE(Decode(p, &c)) << p;
      if (!exec_mode || wraps_exec) {
        ASSERT_NE(c.summary, nullptr) << p;
      }
      if (exec_mode) {
        if (wraps_exec) {
          EXPECT_EQ(c.summary->reason(), heaplens::trace::ExitSummary::EXEC)
              << p;
        }
        Decoded image;
        ASSERT_TRUE(Decode(p + ".1", &image)) << p << ".1";
        ASSERT_NE(image.summary, nullptr) << p << ".1";
      }
      ++found;
    }
    EXPECT_EQ(found, 1) << mode;
  }
}

TEST_P(RecorderE2E, DlopenDlclose) {
  std::string path = Path("dl.hlt");
  std::string plugin = Runfile("interposer/recorder/testing/libe2e_plugin.so");
  ProgRun r = RunProg(Preload(), {"dlopen", plugin}, {"MALLOC_TRACE=" + path});
  ASSERT_EQ(r.status, 0) << r.err;
  Decoded d;
  ASSERT_TRUE(Decode(path, &d));
  ASSERT_GE(d.epochs.size(), 2u);
  int plugin_frames = 0;
  for (const auto& e : d.events) {
    if (e.kind != 1 || e.size != 123) continue;
    for (uint64_t pc : d.Stack(e.stack)) {
      if (d.ModuleOf(e.stack, pc).find("libe2e_plugin") != std::string::npos) {
        ++plugin_frames;
      }
    }
  }
  EXPECT_EQ(plugin_frames, 1);
  // The last epoch no longer has the plugin.
  bool in_last = false;
  for (const auto& m : d.epochs.back().modules()) {
    in_last |= m.path().find("libe2e_plugin") != std::string::npos;
  }
  EXPECT_FALSE(in_last);
}

TEST_P(RecorderE2E, SigkillKeepsOldEvents) {
  std::string path = Path("kill.hlt");
  ProgRun r = RunProg(Preload(), {"kill"}, {"MALLOC_TRACE=" + path}, 0, 4);
  ASSERT_TRUE(WIFSIGNALED(r.status));
  Decoded d;
  ASSERT_TRUE(Decode(path, &d));
  EXPECT_EQ(d.summary, nullptr);
  int n = 0;
  for (const auto& e : d.events)
    n += e.kind == 1 && e.size >= 1000 && e.size < 1100;
  // "alive 300" was printed after 301 allocations about 1 ms apart; allow
  // 50 ms of loss.
  EXPECT_GE(n, 301 - 50);
}

TEST_P(RecorderE2E, ExitStatusAndUnderscoreExit) {
  std::string p1 = Path("exit.hlt"), p2 = Path("uexit.hlt");
  ProgRun r1 = RunProg(Preload(), {"exitcode"}, {"MALLOC_TRACE=" + p1});
  EXPECT_EQ(WEXITSTATUS(r1.status), 5);
  Decoded d1;
  ASSERT_TRUE(Decode(p1, &d1));
  ASSERT_NE(d1.summary, nullptr);
  EXPECT_EQ(d1.summary->reason(), pb::ExitSummary::EXIT);
  EXPECT_EQ(d1.summary->exit_status(), 5);
  ProgRun r2 = RunProg(Preload(), {"underscore"}, {"MALLOC_TRACE=" + p2});
  EXPECT_EQ(WEXITSTATUS(r2.status), 7);
  Decoded d2;
  ASSERT_TRUE(Decode(p2, &d2));
  ASSERT_NE(d2.summary, nullptr);
  EXPECT_EQ(d2.summary->reason(), pb::ExitSummary::UNDERSCORE_EXIT);
  EXPECT_EQ(d2.summary->exit_status(), 7);
  EXPECT_EQ(d2.graph_packets, 0);
}

// glibc's own memory is freed at exit (__libc_freeres, as Valgrind) only
// when no other thread of the program runs: stdout's buffer is freed before
// the heap graph in a single-threaded program, and kept while a thread still
// writes through it (freeing it under that thread could crash the program).
TEST_P(RecorderE2E, LibcFreeresOnlyWhenAlone) {
  for (const bool writer : {false, true}) {
    SCOPED_TRACE(writer ? "with a writer thread" : "alone");
    const std::string path = Path(writer ? "stdio_w.hlt" : "stdio.hlt");
    std::vector<std::string> args = {"stdio"};
    if (writer) args.push_back("writer");
    ProgRun r = RunProg(Preload(), args, {"MALLOC_TRACE=" + path});
    ASSERT_EQ(r.status, 0) << r.err;
    const uint64_t buf = AddrOf(r.out, "stdout_buf");
    ASSERT_NE(buf, 0u) << r.out;
    Decoded d;
    ASSERT_TRUE(Decode(path, &d));
    ASSERT_NE(d.summary, nullptr);
    EXPECT_EQ(d.summary->reason(), pb::ExitSummary::EXIT);
    EXPECT_EQ(d.graph_packets > 0, true);
    bool freed = false;
    for (const Event& e : d.events) {
      if (e.kind == 8 && e.address == buf) freed = true;
    }
    EXPECT_EQ(freed, !writer);
    if (writer) EXPECT_NE(r.out.find("writer 0"), std::string::npos);
  }
}

TEST_P(RecorderE2E, UnwritablePath) {
  ProgRun r =
      RunProg(Preload(), {"cxx"}, {"MALLOC_TRACE=/nonexistent-dir/t.hlt"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.err.find("heaplens: MALLOC_TRACE=/nonexistent-dir/t.hlt: cannot "
                       "create: No such file or directory"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("heaplens"), r.err.rfind("heaplens"));  // once
}

TEST_P(RecorderE2E, SymlinkNotFollowed) {
  std::string target = Path("target"), link = Path("link.hlt");
  unlink(link.c_str());
  close(open(target.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600));
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  ProgRun r = RunProg(Preload(), {"cxx"}, {"MALLOC_TRACE=" + link});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.err.find("refusing to follow a symbolic link"), std::string::npos)
      << r.err;
  struct stat st;
  ASSERT_EQ(stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
}

TEST_P(RecorderE2E, AtSecureRefused) {
  std::string path = Path("secure.hlt");
  unlink(path.c_str());
  ProgRun r =
      RunProg(Preload(), {"cxx"},
              {"MALLOC_TRACE=" + path, "HEAPLENS_TEST_ASSUME_SECURE=1"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

TEST_P(RecorderE2E, FileSizeLimitStopsTracingCleanly) {
  std::string path = Path("full.hlt");
  ProgRun r = RunProg(Preload(), {"threads"}, {"MALLOC_TRACE=" + path}, 30000);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("cannot write: File too large"), std::string::npos)
      << r.err;
  Decoded d;
  ASSERT_TRUE(Decode(path, &d));  // still a valid trace
  EXPECT_LE(ReadAll(path).size(), 30000u);
}

TEST_P(RecorderE2E, ExceptionsStillWork) {
  std::string path = Path("throw.hlt");
  ProgRun r = RunProg(Preload(), {"throw"}, {"MALLOC_TRACE=" + path});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("caught boom"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    FakePreload, RecorderE2E,
    ::testing::Values("interposer/recorder/testing/libfakepreload.so"));
INSTANTIATE_TEST_SUITE_P(Heaplens, RecorderE2E,
                         ::testing::Values("interposer/libheaplens.so"));

}  // namespace
