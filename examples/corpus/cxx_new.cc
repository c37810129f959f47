// cxx_new.cc: C++ operator new / new[] and std::string on the heap.
//   leak_object()      new Widget (24 B), lost                 definite 24 B /
//   1 leak_int_array()   new int[25] (100 B, no cookie), lost    definite 100 B
//   / 1 leak_obj_array()   new Tracked[4] (8 B cookie + 4 x 16 B), lost
//                                                              definite 72 B /
//                                                              1
//   leak_string()      new std::string(39 chars): the 32 B string object
//                      lost, its 40 B buffer indirect  definite 32 B / 1 +
//                      indirect 40 B / 1
//   keep_string()      g_name = new std::string(50 chars): the 32 B object
//                      and its 51 B buffer                     reachable 83 B /
//                      2
//   a global std::string is destroyed by exit(), so it is not live at exit.
#include <string>

#include "examples/corpus/corpus_util.h"

struct Widget {
  long a, b, c;
};

struct Tracked {
  Tracked() : x(1), y(2) {}
  ~Tracked() { x = 0; }
  long x, y;
};

std::string* g_name;

__attribute__((noinline)) void leak_object() {
  Widget* volatile w = new Widget();
  (void)w;
}

__attribute__((noinline)) void leak_int_array() {
  int* volatile a = new int[25]();
  (void)a;
}

__attribute__((noinline)) void leak_obj_array() {
  Tracked* volatile t = new Tracked[4];
  (void)t;
}

__attribute__((noinline)) void leak_string() {
  std::string* volatile s =
      new std::string("a string long enough for the heap......");
  (void)s;
}

__attribute__((noinline)) void keep_string() {
  g_name = new std::string(50, 'n');
}

int main() {
  leak_object();
  leak_int_array();
  leak_obj_array();
  leak_string();
  keep_string();
  corpus_scrub_stack();
  corpus_say("cxx_new: done\n");
  return 0;
}
