// Parses what the hand-written encoder produces with the generated code.
#include "interposer/recorder/wire.h"

#include <stdint.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "interposer/recorder/event_batch.h"
#include "interposer/recorder/heap_graph.h"
#include "interposer/recorder/module_map.h"
#include "interposer/recorder/stack_interner.h"
#include "proto/trace.pb.h"

namespace heaplens {
namespace {

namespace pb = ::heaplens::trace;

TEST(WireTest, VarintAndZigZag) {
  uint8_t buf[16];
  EXPECT_EQ(PutVarint(buf, 0) - buf, 1);
  EXPECT_EQ(PutVarint(buf, 300) - buf, 2);
  EXPECT_EQ(buf[0], 0xac);
  EXPECT_EQ(buf[1], 0x02);
  EXPECT_EQ(PutVarint(buf, ~0ull) - buf, 10);
  EXPECT_EQ(ZigZag(0), 0u);
  EXPECT_EQ(ZigZag(-1), 1u);
  EXPECT_EQ(ZigZag(1), 2u);
  EXPECT_EQ(ZigZag(INT64_MIN), ~0ull);
}

TEST(WireTest, NestedLengthsOfEverySize) {
  // Bodies whose length needs 1..3 varint bytes, to exercise back-patching.
  for (size_t len : {0u, 1u, 127u, 128u, 300u, 16383u, 16384u, 70000u}) {
    std::vector<uint8_t> buf(len + 64);
    WireWriter w(buf.data(), buf.size());
    std::string text(len, 'x');
    EncodeNotice(&w, kWarning, 5, text.c_str(), 7);
    ASSERT_FALSE(w.overflow());
    pb::Trace t;
    ASSERT_TRUE(t.ParseFromArray(w.data(), static_cast<int>(w.size())));
    ASSERT_EQ(t.packet_size(), 1);
    EXPECT_EQ(t.packet(0).notice().text(), text);
    EXPECT_EQ(t.packet(0).notice().severity(), pb::Notice::WARNING);
    EXPECT_EQ(t.packet(0).notice().tid(), 7u);
  }
}

TEST(WireTest, OverflowIsReported) {
  uint8_t buf[8];
  WireWriter w(buf, sizeof(buf));
  EncodeNotice(&w, kError, 1, "this does not fit", 1);
  EXPECT_TRUE(w.overflow());
}

// Fake heap for the graph: three blocks in a static array, block 0 points to
// block 1's start and into block 2.
alignas(16) uint64_t g_heap[12];
void FakeChunks(void (*fn)(void*, uintptr_t, size_t), void* arg) {
  fn(arg, reinterpret_cast<uintptr_t>(&g_heap[0]), 32);
  fn(arg, reinterpret_cast<uintptr_t>(&g_heap[4]), 32);
  fn(arg, reinterpret_cast<uintptr_t>(&g_heap[8]), 32);
}
void NoRegions(void (*)(void*, uintptr_t, size_t), void*) {}

bool AppendTo(void* arg, const uint8_t* p, size_t n) {
  static_cast<std::string*>(arg)->append(reinterpret_cast<const char*>(p), n);
  return true;
}

TEST(WireTest, FullTraceParses) {
  std::vector<uint8_t> buf(8 << 20);
  WireWriter w(buf.data(), buf.size());
  const char* argv[] = {"prog", "--flag", "arg with space"};
  HeaderInfo h;
  h.pid = 1234;
  h.ppid = 1;
  h.exe = "/usr/bin/prog";
  h.argv = argv;
  h.argc = 3;
  h.page_size = 4096;
  h.start_monotonic_ns = 123456789;
  h.start_realtime_ns = 1700000000000000000ull;
  h.options = "stack_depth=64";
  h.mmap_threshold = 131072;
  h.allocator = "heaplens 0.1";
  h.initial_brk = 0x555555559000;
  h.max_stack_depth = 64;
  EncodeHeader(&w, h);
  EncodeModuleEpoch(&w, 1, 10, "/proc/self/exe-path");

  StackInterner* in = new StackInterner();
  uint64_t s1[] = {0x401000, 0x402000, 0x403000};
  uint64_t s2[] = {0x401500, 0x402000, 0x403000};  // shares 2 frames
  uint32_t id1 = in->Intern(s1, 3);
  uint32_t id2 = in->Intern(s2, 3);
  std::vector<uint8_t> scratch(20 * StackInterner::kMaxNodesPerPacket);
  in->EncodePending(&w, scratch.data());

  EventRecord ev[4] = {};
  ev[0] = {100, 0x10000, 24, 0, id1, 8, 1, 0};         // MALLOC
  ev[1] = {150, 0x10040, 100, 0x10000, id2, 4, 6, 0};  // REALLOC
  ev[2] = {160, 0x10040, 0, 0, 0, 0, 8, 0};            // FREE
  ev[3] = {170, 0x20000, 4096, 0, 0, 0, 16, 0};        // HEAP_GROW
  std::vector<uint8_t> bscratch(BatchScratchSize(4));
  EncodeEventBatch(&w, 77, 3, ev, 4, bscratch.data());
  EncodeThreadInfo(&w, 77, "worker", 5, 200);
  SummaryInfo s;
  s.reason = kExitNormal;
  s.exit_status = -3;
  s.time_ns = 300;
  s.events = 4;
  s.heap_graph = true;
  EncodeSummary(&w, s);
  ASSERT_FALSE(w.overflow());

  std::string file(reinterpret_cast<const char*>(w.data()), w.size());
  g_heap[0] = reinterpret_cast<uintptr_t>(&g_heap[4]);      // start of 1
  g_heap[1] = reinterpret_cast<uintptr_t>(&g_heap[8]) + 8;  // inside 2
  g_heap[2] = reinterpret_cast<uintptr_t>(&g_heap[4]);      // duplicate
  uint64_t root_words[2] = {reinterpret_cast<uintptr_t>(&g_heap[0]), 42};
  ExtraRoot root = {1, "data", reinterpret_cast<uintptr_t>(root_words),
                    sizeof(root_words)};
  HeapGraphSources src = {FakeChunks, NoRegions, NoRegions, false};
  HeapGraphStats st;
  ASSERT_TRUE(
      WriteHeapGraphWith(src, AppendTo, &file, 0, nullptr, 0, &root, 1, &st));
  EXPECT_EQ(st.live_blocks, 3u);
  EXPECT_EQ(st.live_bytes, 96u);

  pb::Trace t;
  ASSERT_TRUE(t.ParseFromString(file));
  ASSERT_EQ(t.packet_size(), 8);
  const pb::Header& hp = t.packet(0).header();
  EXPECT_EQ(hp.format_major(), 1u);
  EXPECT_EQ(hp.pid(), 1234u);
  EXPECT_EQ(hp.exe(), "/usr/bin/prog");
  ASSERT_EQ(hp.argv_size(), 3);
  EXPECT_EQ(hp.argv(2), "arg with space");
  EXPECT_EQ(hp.initial_brk(), 0x555555559000u);
  EXPECT_EQ(hp.max_stack_depth(), 64u);

  const pb::ModuleEpoch& me = t.packet(1).modules();
  EXPECT_EQ(me.epoch(), 1u);
  ASSERT_GT(me.modules_size(), 1);
  EXPECT_EQ(me.modules(0).path(), "/proc/self/exe-path");
  EXPECT_GT(me.modules(0).segments_size(), 0);
  bool libc_found = false;
  for (const auto& m : me.modules()) {
    if (m.path().find("libc.so") != std::string::npos) {
      libc_found = true;
      EXPECT_EQ(m.build_id().size(), 20u);  // Debian's libc has a build-id
    }
  }
  EXPECT_TRUE(libc_found);

  // Stack nodes: 4 nodes (3 for s1, 1 more for s2's innermost).
  const pb::StackNodes& sn = t.packet(2).stacks();
  EXPECT_EQ(sn.first_id(), 1u);
  ASSERT_EQ(sn.parent_distance_size(), 4);
  std::vector<uint64_t> parent, pc;
  int64_t prev = 0;
  for (int i = 0; i < 4; ++i) {
    parent.push_back(1 + i - sn.parent_distance(i));
    prev += sn.pc_delta(i);
    pc.push_back(static_cast<uint64_t>(prev));
  }
  auto unwind = [&](uint64_t id) {
    std::vector<uint64_t> out;
    while (id != 0) {
      out.push_back(pc[id - 1]);
      id = parent[id - 1];
    }
    return out;
  };
  EXPECT_EQ(unwind(id1), std::vector<uint64_t>(s1, s1 + 3));
  EXPECT_EQ(unwind(id2), std::vector<uint64_t>(s2, s2 + 3));

  const pb::EventBatch& b = t.packet(3).events();
  EXPECT_EQ(b.tid(), 77u);
  EXPECT_EQ(b.sequence(), 3u);
  EXPECT_EQ(b.event_count(), 4u);
  EXPECT_EQ(b.begin_time_ns(), 100u);
  EXPECT_EQ(b.end_time_ns(), 170u);
  ASSERT_EQ(b.kind_size(), 4);
  EXPECT_EQ(b.kind(1), 6u);
  ASSERT_EQ(b.time_delta_size(), 4);
  EXPECT_EQ(b.time_delta(0), 100u);
  EXPECT_EQ(b.time_delta(3), 10u);
  ASSERT_EQ(b.address_delta_size(), 4);  // all four kinds carry an address
  EXPECT_EQ(b.address_delta(0), 0x10000);
  EXPECT_EQ(b.address_delta(1), 0x40);
  EXPECT_EQ(b.address_delta(2), 0);
  EXPECT_EQ(b.address_delta(3), 0x20000 - 0x10040);
  ASSERT_EQ(b.size_size(), 3);  // malloc, realloc, heap_grow
  EXPECT_EQ(b.size(2), 4096u);
  ASSERT_EQ(b.slack_size(), 2);
  EXPECT_EQ(b.slack(0), 8u);
  ASSERT_EQ(b.stack_size(), 2);
  EXPECT_EQ(b.stack(1), id2);
  ASSERT_EQ(b.old_address_delta_size(), 1);
  EXPECT_EQ(b.old_address_delta(0), -0x40);

  EXPECT_EQ(t.packet(4).thread().name(), "worker");
  EXPECT_EQ(t.packet(5).summary().exit_status(), -3);
  EXPECT_TRUE(t.packet(5).summary().heap_graph());

  const pb::HeapGraph& g0 = t.packet(6).graph();
  EXPECT_EQ(g0.block_count(), 3u);
  ASSERT_EQ(g0.roots_size(), 1);
  ASSERT_EQ(g0.roots(0).ref_size(), 1);
  EXPECT_EQ(g0.roots(0).ref(0), 0u);  // block 0, start pointer
  const pb::HeapGraph& g1 = t.packet(7).graph();
  EXPECT_TRUE(g1.last());
  ASSERT_EQ(g1.edge_count_size(), 3);
  EXPECT_EQ(g1.edge_count(0), 2u);  // duplicate removed
  EXPECT_EQ(g1.edge_count(1), 0u);
  ASSERT_EQ(g1.edge_size(), 2);
  EXPECT_EQ(g1.edge(0), (1u << 1) | 0);
  EXPECT_EQ(g1.edge(1), (2u << 1) | 1);
  EXPECT_EQ(g1.block_address_delta(0),
            static_cast<int64_t>(reinterpret_cast<uintptr_t>(&g_heap[0])));
  EXPECT_EQ(g1.block_address_delta(1), 32);
}

}  // namespace
}  // namespace heaplens
