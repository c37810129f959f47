// heuristics.cc: blocks reached only through interior pointers that
// Valgrind's default leak-check heuristics (--leak-check-heuristics=all since
// Valgrind 3.11) accept as reachable. heaplens applies the same heuristics
// (docs/accuracy.md) and must agree.
//   keep_newarray()   g_tracked = new Tracked[3]: the global points 8 B into
//                     the block, past the element-count cookie (newarray)
//                                                  Valgrind reachable 56 B / 1
//   keep_length64()   g_payload -> offset 8 of a 72 B block whose first word
//                     is 64, the length of the rest (length64)
//                                                  Valgrind reachable 72 B / 1
//   keep_second_base()  g_base2 = new Derived as its second base class
//                     (multipleinheritance)        Valgrind reachable 32 B / 1
//   keep_string_rep()  g_text -> offset 24 of a 35 B block laid out like a
//                     pre-C++11 std::string rep: length 5, capacity 10,
//                     refcount, then the characters (stdstring)
//                                                  Valgrind reachable 35 B / 1
//   keep_plain_interior() g_mid -> offset 16 of a zeroed 40 B block: no
//                     heuristic applies            possible 40 B / 1 in both
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "examples/corpus/corpus_util.h"

struct Tracked {
  Tracked() : x(1), y(2) {}
  ~Tracked() { x = 0; }
  long x, y;
};

struct Base1 {
  virtual ~Base1() {}
  long a = 1;
};
struct Base2 {
  virtual ~Base2() {}
  long b = 2;
};
struct Derived : Base1, Base2 {};  // 32 B; Base2 at offset 16

Tracked* g_tracked;
char* g_payload;
Base2* g_base2;
char* g_mid;
char* g_text;

__attribute__((noinline)) void keep_newarray() { g_tracked = new Tracked[3]; }

__attribute__((noinline)) void keep_length64() {
  auto* p = static_cast<uint64_t*>(calloc(1, 72));
  p[0] = 64;
  g_payload = reinterpret_cast<char*>(p + 1);
}

__attribute__((noinline)) void keep_second_base() { g_base2 = new Derived; }

__attribute__((noinline)) void keep_string_rep() {
  auto* rep = static_cast<uint64_t*>(calloc(1, 24 + 10 + 1));
  rep[0] = 5;   // length
  rep[1] = 10;  // capacity
  g_text = reinterpret_cast<char*>(rep + 3);
  memcpy(g_text, "hello", 6);
}

__attribute__((noinline)) void keep_plain_interior() {
  g_mid = static_cast<char*>(calloc(1, 40)) + 16;
}

int main() {
  keep_newarray();
  keep_length64();
  keep_second_base();
  keep_string_rep();
  keep_plain_interior();
  corpus_scrub_stack();
  corpus_say("heuristics: done\n");
  return 0;
}
