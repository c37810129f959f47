// Unit tests of the recorder's parts that run without LD_PRELOAD.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "interposer/recorder/event_batch.h"
#include "interposer/recorder/stack_interner.h"
#include "interposer/recorder/trace_file.h"
#include "interposer/recorder/unwinder.h"
#include "interposer/recorder/wire.h"
#include "proto/trace.pb.h"

namespace heaplens {
namespace {

std::string TmpDir() {
  const char* d = getenv("TEST_TMPDIR");
  return d != nullptr ? d : "/tmp";
}

TEST(StackInternerTest, DedupAndPrefixSharing) {
  auto* in = new StackInterner();
  uint64_t a[] = {1, 2, 3};
  uint64_t b[] = {4, 2, 3};
  uint64_t c[] = {2, 3};
  uint32_t ia = in->Intern(a, 3);
  EXPECT_EQ(in->node_count(), 3u);
  EXPECT_EQ(in->Intern(a, 3), ia);
  EXPECT_EQ(in->Find(a, 3, StackInterner::Hash(a, 3)), ia);
  uint32_t ib = in->Intern(b, 3);
  EXPECT_NE(ia, ib);
  EXPECT_EQ(in->node_count(), 4u);
  uint32_t ic = in->Intern(c, 2);  // a prefix (outer part) of a
  EXPECT_EQ(in->node_count(), 4u);
  uint32_t parent;
  uint64_t pc;
  ASSERT_TRUE(in->Node(ia, &parent, &pc));
  EXPECT_EQ(pc, 1u);
  EXPECT_EQ(parent, ic);
  EXPECT_EQ(in->Find(b, 2, StackInterner::Hash(b, 2)), 0u);
  EXPECT_EQ(in->pending(), 4u);
}

TEST(StackInternerTest, ManyStacksGrowTables) {
  auto* in = new StackInterner();
  std::vector<uint32_t> ids;
  for (uint64_t i = 0; i < 20000; ++i) {
    uint64_t s[] = {0x1000 + i, 0x2000 + i % 7, 0x3000};
    ids.push_back(in->Intern(s, 3));
  }
  for (uint64_t i = 0; i < 20000; ++i) {
    uint64_t s[] = {0x1000 + i, 0x2000 + i % 7, 0x3000};
    ASSERT_EQ(in->Find(s, 3, StackInterner::Hash(s, 3)), ids[i]);
  }
  EXPECT_EQ(in->node_count(), 20000u + 7 + 1);
}

TEST(StackInternerTest, ResetForgetsAndContinuesIds) {
  auto* in = new StackInterner();
  uint64_t a[] = {1, 2};
  uint32_t ia = in->Intern(a, 2);
  in->Reset(false);
  EXPECT_EQ(in->Find(a, 2, StackInterner::Hash(a, 2)), 0u);
  uint32_t ia2 = in->Intern(a, 2);
  EXPECT_GT(ia2, ia);
  EXPECT_EQ(in->pending(), 2u);
  in->Reset(true);
  EXPECT_EQ(in->Intern(a, 2), 2u);
}

TEST(EventBatchTest, ColumnsPerKind) {
  EXPECT_EQ(ColumnsOf(1),
            kColTime | kColAddress | kColSize | kColSlack | kColStack);
  EXPECT_EQ(ColumnsOf(8), kColTime | kColAddress);
  EXPECT_EQ(ColumnsOf(11), kColTime | kColAddress | kColStack);
  EXPECT_EQ(ColumnsOf(12), kColTime | kColSize | kColStack);
  EXPECT_EQ(ColumnsOf(24), kColTime | kColSize);
  EXPECT_EQ(ColumnsOf(20), kColTime | kColAddress | kColSize);
}

TEST(EventBatchTest, ChurnIsCompact) {
  // malloc/free pairs at nearby addresses, 50 ns apart: the format's target
  // is a few bytes per event.
  std::vector<EventRecord> ev;
  for (int i = 0; i < 2000; ++i) {
    uint64_t addr = 0x555555560000 + (i % 16) * 32;
    ev.push_back({static_cast<uint64_t>(i) * 100, addr, 24, 0, 5, 8, 1, 0});
    ev.push_back({static_cast<uint64_t>(i) * 100 + 50, addr, 0, 0, 0, 0, 8, 0});
  }
  std::vector<uint8_t> out(MaxBatchPacketSize(ev.size()));
  std::vector<uint8_t> scratch(BatchScratchSize(ev.size()));
  WireWriter w(out.data(), out.size());
  EncodeEventBatch(&w, 1, 0, ev.data(), ev.size(), scratch.data());
  ASSERT_FALSE(w.overflow());
  double per_event = static_cast<double>(w.size()) / ev.size();
  EXPECT_LE(per_event, 5.0);  // 6 per malloc + 3 per free
  heaplens::trace::Trace t;
  ASSERT_TRUE(t.ParseFromArray(w.data(), static_cast<int>(w.size())));
  EXPECT_EQ(t.packet(0).events().event_count(), 4000u);
}

// The ring path: two pieces encoded in place with a stamp conversion must
// give the bytes of one contiguous, already converted batch.
TEST(EventBatchTest, TwoPiecesWithConversionEqualOneBatch) {
  StampConversion conv;
  conv.scaled = true;
  conv.tsc0 = 1000;
  conv.mult0 = (1ull << 32) / 3;  // ~1/3 ns per tick
  conv.tsc1 = 900000;
  conv.ns1 = conv.ToNs(900000);
  conv.mult1 = (1ull << 32) / 3 + 12345;
  std::mt19937_64 rng(5);
  const uint32_t kinds[] = {1, 8, 6, 24, 16, 11, 12, 9, 4, 10};
  std::vector<EventRecord> raw(3000), converted;
  uint64_t stamp = 500;  // starts before tsc0: converts to 0
  for (auto& e : raw) {
    e = EventRecord{};
    stamp += rng() % 700;
    e.time_ns = stamp;
    e.kind = kinds[rng() % 10];
    e.address = 0x10000 + (rng() % 4096) * 16;
    e.size = rng() % 300;
    e.old_address = 0x10000 + (rng() % 4096) * 16;
    e.stack = static_cast<uint32_t>(rng() % 50);
    e.slack = static_cast<uint32_t>(rng() % 16);
  }
  ASSERT_GT(stamp, conv.tsc1);  // both pieces of the conversion are used
  for (EventRecord e : raw) {
    e.time_ns = conv.ToNs(e.time_ns);
    converted.push_back(e);
  }
  for (size_t split : {size_t{0}, size_t{1}, size_t{1234}, raw.size()}) {
    std::vector<uint8_t> out1(MaxBatchPacketSize(raw.size()));
    std::vector<uint8_t> out2(MaxBatchPacketSize(raw.size()));
    std::vector<uint8_t> scratch(BatchScratchSize(raw.size()));
    WireWriter w1(out1.data(), out1.size()), w2(out2.data(), out2.size());
    EncodeEventBatch(&w1, 3, 9, converted.data(), converted.size(),
                     scratch.data());
    EncodeEventBatch(&w2, 3, 9, raw.data(), split, raw.data() + split,
                     raw.size() - split, conv, scratch.data());
    ASSERT_FALSE(w1.overflow());
    ASSERT_EQ(std::vector<uint8_t>(w1.data(), w1.data() + w1.size()),
              std::vector<uint8_t>(w2.data(), w2.data() + w2.size()))
        << "split " << split;
  }
}

TEST(TraceFileTest, ExpandPath) {
  char buf[256];
  ASSERT_TRUE(ExpandTracePath("/tmp/t.%p.%e.%%", 42, "prog", buf, sizeof(buf)));
  EXPECT_STREQ(buf, "/tmp/t.42.prog.%");
  EXPECT_FALSE(ExpandTracePath("/a/very/long/path", 1, "x", buf, 5));
}

TEST(TraceFileTest, CreatesPrivateFile) {
  std::string path = TmpDir() + "/private.hlt";
  unlink(path.c_str());
  TraceFile f;
  int err;
  const char* what;
  ASSERT_TRUE(f.Open(path.c_str(), getpid(), &err, &what));
  EXPECT_EQ(f.Append("abc", 3), 0);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(st.st_size, 3);
  // A second tracer (a child without %p) falls back to <path>.<pid>.
  TraceFile g;
  ASSERT_TRUE(g.Open(path.c_str(), 99999, &err, &what));
  EXPECT_EQ(std::string(g.path()), path + ".99999");
  g.Close();
  f.Close();
}

TEST(TraceFileTest, RefusesSymlink) {
  std::string target = TmpDir() + "/target";
  std::string link = TmpDir() + "/link.hlt";
  unlink(link.c_str());
  close(open(target.c_str(), O_CREAT | O_WRONLY, 0600));
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  TraceFile f;
  int err;
  const char* what;
  EXPECT_FALSE(f.Open(link.c_str(), getpid(), &err, &what));
  EXPECT_EQ(err, ELOOP);
  EXPECT_STREQ(what, "refusing to follow a symbolic link");
}

TEST(TraceFileTest, UnwritableDirectory) {
  TraceFile f;
  int err;
  const char* what;
  EXPECT_FALSE(f.Open("/nonexistent-dir/x.hlt", getpid(), &err, &what));
  EXPECT_EQ(err, ENOENT);
  EXPECT_STREQ(what, "cannot create");
  EXPECT_STREQ(ErrnoText(ENOENT), "No such file or directory");
}

int g_budget;
ssize_t LimitedWrite(int fd, const void* p, size_t n) {
  if (g_budget <= 0) {
    errno = ENOSPC;
    return -1;
  }
  size_t k = n < static_cast<size_t>(g_budget) ? n : g_budget;
  g_budget -= static_cast<int>(k);
  return write(fd, p, k);
}

TEST(TraceFileTest, DiskFullKeepsPacketBoundary) {
  std::string path = TmpDir() + "/full.hlt";
  unlink(path.c_str());
  TraceFile f;
  static const FileOps kOps = {LimitedWrite, nullptr};
  f.set_ops(&kOps);
  int err;
  const char* what;
  ASSERT_TRUE(f.Open(path.c_str(), getpid(), &err, &what));
  g_budget = 10;
  EXPECT_EQ(f.Append("12345678", 8), 0);
  EXPECT_EQ(f.Append("abcdefgh", 8), ENOSPC);  // 2 bytes got through
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8);  // the torn packet was cut off
  f.Close();
}

int g_reserve_calls;
int NoRoomReserve(int, off_t, off_t) {
  ++g_reserve_calls;
  errno = ENOSPC;
  return -1;
}
int RealReserve(int fd, off_t off, off_t len) {
  ++g_reserve_calls;
  return fallocate(fd, FALLOC_FL_KEEP_SIZE, off, len);
}

TEST(TraceFileTest, TailReserveKeptForTheLastWord) {
  std::string path = TmpDir() + "/reserve.hlt";
  unlink(path.c_str());
  TraceFile f;
  static const FileOps kRoom = {
      [](int fd, const void* p, size_t n) { return write(fd, p, n); },
      RealReserve};
  f.set_ops(&kRoom);
  int err;
  const char* what;
  ASSERT_TRUE(f.Open(path.c_str(), getpid(), &err, &what));
  g_reserve_calls = 0;
  std::string packet(1000, 'x');
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(f.Append(packet.data(), packet.size()), 0);
  }
  // One reservation per ~64 KiB written, not one per append.
  EXPECT_GE(g_reserve_calls, 1);
  EXPECT_LE(g_reserve_calls, 5);

  // The disk fills: ordinary appends stop before the reserve is used ...
  static const FileOps kFull = {kRoom.write, NoRoomReserve};
  f.set_ops(&kFull);
  uint64_t before = f.size();
  int e = 0;
  for (int i = 0; i < 100 && e == 0; ++i) {
    e = f.Append(packet.data(), packet.size());
  }
  EXPECT_EQ(e, ENOSPC);
  EXPECT_LE(f.size() + TraceFile::kTailReserve,
            before + (64 << 10) + 1000 + TraceFile::kTailReserve);
  // ... and the last word still goes in.
  uint64_t stopped = f.size();
  EXPECT_EQ(f.Append("last", 4, /*use_reserve=*/true), 0);
  EXPECT_EQ(f.size(), stopped + 4);
  f.Close();
}

// Larger files reserve in larger steps (a quarter of the size, at most
// 1 MiB at a time): 8 MiB in 64 KiB appends takes ~20 calls, not 128.
TEST(TraceFileTest, ReserveGrowsWithTheFile) {
  std::string path = TmpDir() + "/reserve_big.hlt";
  unlink(path.c_str());
  TraceFile f;
  static const FileOps kRoom = {
      [](int fd, const void* p, size_t n) { return write(fd, p, n); },
      RealReserve};
  f.set_ops(&kRoom);
  int err;
  const char* what;
  ASSERT_TRUE(f.Open(path.c_str(), getpid(), &err, &what));
  g_reserve_calls = 0;
  std::string big(64 << 10, 'y');
  for (int i = 0; i < 128; ++i) {
    ASSERT_EQ(f.Append(big.data(), big.size()), 0);
  }
  EXPECT_GE(g_reserve_calls, 8);
  EXPECT_LE(g_reserve_calls, 24);
  // The finished trace gives the reservation back.
  struct stat st;
  ASSERT_EQ(fstat(f.fd(), &st), 0);
  const uint64_t size = 128u * (64 << 10);
  ASSERT_EQ(static_cast<uint64_t>(st.st_size), size);
  if (static_cast<uint64_t>(st.st_blocks) * 512 > size + (64 << 10)) {
    f.ReleaseReserve();
    ASSERT_EQ(fstat(f.fd(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), size);
    EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, size + (16 << 10));
  }
  f.Close();
  unlink(path.c_str());
}

volatile int g_sink;
__attribute__((noinline)) int Inner(uint64_t* pcs) {
  int n = CaptureStack(pcs, 64);
  g_sink = n;  // not a tail call: Inner's frame stays on the stack
  return n;
}

TEST(UnwinderTest, CapturesThroughCallers) {
  UnwinderInit(false);
  uint64_t pcs[64];
  int n = Inner(pcs);
  ASSERT_GE(n, 3);
  // Frame 0 is CaptureStack's own return into Inner or deeper; Inner's
  // caller (this test body) must appear.
  uintptr_t self = reinterpret_cast<uintptr_t>(&Inner);
  bool found = false;
  for (int i = 0; i < n; ++i) {
    if (pcs[i] > self && pcs[i] < self + 256) found = true;
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace heaplens
