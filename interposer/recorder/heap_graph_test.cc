// The heap graph's interior-reference descriptors (trace.proto
// HeapGraph.interior): the smallest offset and the evidence for memcheck's
// leak-check heuristics, written for roots and for blocks.
#include "interposer/recorder/heap_graph.h"

#include <stdint.h>
#include <string.h>

#include <new>
#include <string>

#include "gtest/gtest.h"
#include "proto/trace.pb.h"

namespace heaplens {
namespace {

namespace pb = ::heaplens::trace;

struct Base1 {
  virtual ~Base1() {}
  virtual long One() { return 1; }
  long a = 1;
};
struct Base2 {
  virtual ~Base2() {}
  virtual long Two() { return 2; }
  long b = 2;
};
struct Derived : Base1, Base2 {};

// Four fake chunks of 64 bytes: 0 newarray-like, 1 string-like, 2 an
// object with two bases, 3 zeros.
alignas(64) uint64_t g_heap[32];
void FakeChunks(void (*fn)(void*, uintptr_t, size_t), void* arg) {
  for (int i = 0; i < 4; ++i) {
    fn(arg, reinterpret_cast<uintptr_t>(&g_heap[8 * i]), 64);
  }
}
void NoRegions(void (*)(void*, uintptr_t, size_t), void*) {}
bool AppendTo(void* arg, const uint8_t* p, size_t n) {
  static_cast<std::string*>(arg)->append(reinterpret_cast<const char*>(p), n);
  return true;
}
uintptr_t At(int word) { return reinterpret_cast<uintptr_t>(&g_heap[word]); }

TEST(HeapGraphTest, InteriorDescriptors) {
  static_assert(sizeof(Derived) <= 64, "fits a fake chunk");
  memset(g_heap, 0, sizeof(g_heap));
  g_heap[0] = 3;  // chunk 0: a count, then the elements
  g_heap[8] = 5;  // chunk 1: length 5, capacity 10
  g_heap[9] = 10;
  Derived* d = new (&g_heap[16]) Derived;
  Base2* second = d;
  const uint64_t mi_offset =
      reinterpret_cast<uintptr_t>(second) - reinterpret_cast<uintptr_t>(d);
  ASSERT_GE(mi_offset, 8u);
  // Chunk 3 points into chunk 0 past its start only at offset 40.
  g_heap[24] = At(5);

  uint64_t roots[6] = {
      At(2),                                // chunk 0 + 16
      At(1),                                // chunk 0 + 8: the minimum
      At(8) + 24,                           // chunk 1 + 24
      At(8) + 40,                           // chunk 1 + 40
      reinterpret_cast<uintptr_t>(second),  // chunk 2 at its second base
      At(26),                               // chunk 3 + 16
  };
  ExtraRoot root = {1, "data", reinterpret_cast<uintptr_t>(roots),
                    sizeof(roots)};
  HeapGraphSources src = {FakeChunks, NoRegions, NoRegions, false};
  HeapGraphStats st;
  std::string file;
  ASSERT_TRUE(
      WriteHeapGraphWith(src, AppendTo, &file, 0, nullptr, 0, &root, 1, &st));
  pb::Trace t;
  ASSERT_TRUE(t.ParseFromString(file));
  ASSERT_EQ(t.packet_size(), 2);
  const pb::HeapGraph& g0 = t.packet(0).graph();
  ASSERT_EQ(g0.roots_size(), 1);
  const pb::RootRegion& r = g0.roots(0);
  ASSERT_EQ(r.ref_size(), 4);  // one per block: all interior
  for (uint64_t ref : r.ref()) EXPECT_EQ(ref & 1, 1u);
  ASSERT_EQ(r.interior_size(), 4);
  EXPECT_EQ(r.interior(0), (8u << 3) | 1);         // at8
  EXPECT_EQ(r.interior(1), (24u << 3) | 2);        // string
  EXPECT_EQ(r.interior(2), (mi_offset << 3) | 4);  // multi
  EXPECT_EQ(r.interior(3), 16u << 3);              // plain
  ASSERT_EQ(r.interior_word_size(), 4);
  EXPECT_EQ(r.interior_word(0), 3u);         // chunk 0's first word
  EXPECT_EQ(r.interior_word(1), 5u);         // length
  EXPECT_EQ(r.interior_word(2), 10u);        // capacity
  EXPECT_EQ(r.interior_word(3), mi_offset);  // where the vtable pointer is

  const pb::HeapGraph& g1 = t.packet(1).graph();
  ASSERT_EQ(g1.edge_count_size(), 4);
  EXPECT_EQ(g1.edge_count(3), 1u);
  ASSERT_EQ(g1.edge_size(), 1);
  EXPECT_EQ(g1.edge(0), (0u << 1) | 1);
  ASSERT_EQ(g1.interior_size(), 1);
  EXPECT_EQ(g1.interior(0), 40u << 3);
  EXPECT_EQ(g1.interior_word_size(), 0);
  d->~Derived();
}

TEST(HeapGraphTest, PlainWordsAreNoVtables) {
  // A block whose word at the pointer and first word point at data, not at
  // tables of code pointers: no multipleinheritance evidence.
  memset(g_heap, 0, sizeof(g_heap));
  static uint64_t data_words[4] = {1, 2, 3, 4};
  g_heap[16] = reinterpret_cast<uintptr_t>(data_words);
  g_heap[18] = reinterpret_cast<uintptr_t>(data_words);
  uint64_t roots[1] = {At(18)};
  ExtraRoot root = {1, "data", reinterpret_cast<uintptr_t>(roots),
                    sizeof(roots)};
  HeapGraphSources src = {FakeChunks, NoRegions, NoRegions, false};
  HeapGraphStats st;
  std::string file;
  ASSERT_TRUE(
      WriteHeapGraphWith(src, AppendTo, &file, 0, nullptr, 0, &root, 1, &st));
  pb::Trace t;
  ASSERT_TRUE(t.ParseFromString(file));
  const pb::RootRegion& r = t.packet(0).graph().roots(0);
  ASSERT_EQ(r.interior_size(), 1);
  EXPECT_EQ(r.interior(0), 16u << 3);
}

}  // namespace
}  // namespace heaplens
