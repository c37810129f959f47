// heuristics.cc: blocks reached only through interior pointers that
// Valgrind's default leak-check heuristics (--leak-check-heuristics=all since
// Valgrind 3.11) accept as reachable. heaplens has no heuristics: it reports
// them as possible (docs/accuracy.md).
//   keep_newarray()   g_tracked = new Tracked[3]: the global points 8 B into
//                     the block, past the element-count cookie (newarray)
//                                                  Valgrind reachable 56 B / 1
//   keep_length64()   g_payload -> offset 8 of a 72 B block whose first word
//                     is 64, the length of the rest (length64)
//                                                  Valgrind reachable 72 B / 1
//   keep_second_base()  g_base2 = new Derived as its second base class
//                     (multipleinheritance)        Valgrind reachable 32 B / 1
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

__attribute__((noinline)) void keep_newarray() { g_tracked = new Tracked[3]; }

__attribute__((noinline)) void keep_length64() {
  auto* p = static_cast<uint64_t*>(calloc(1, 72));
  p[0] = 64;
  g_payload = reinterpret_cast<char*>(p + 1);
}

__attribute__((noinline)) void keep_second_base() { g_base2 = new Derived; }

__attribute__((noinline)) void keep_plain_interior() {
  g_mid = static_cast<char*>(calloc(1, 40)) + 16;
}

int main() {
  keep_newarray();
  keep_length64();
  keep_second_base();
  keep_plain_interior();
  corpus_scrub_stack();
  corpus_say("heuristics: done\n");
  return 0;
}
