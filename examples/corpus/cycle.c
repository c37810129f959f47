// cycle.c: unreachable cycles (Valgrind: one clique leader is definite, the
// rest of the clique indirect).
//   leak_ring(3)   a ring of 3 x 48 B      definite 48 B / 1 + indirect 96 B /
//   2 leak_pair()    two 80 B blocks pointing at each other
//                                          definite 80 B / 1 + indirect 80 B /
//                                          1
//   leak_self()    a 56 B block pointing at itself   definite 56 B / 1
#include <stdlib.h>
#include <string.h>

#include "examples/corpus/corpus_util.h"

struct ring {
  struct ring* next;
  char pad[40];
};  // 48 bytes

__attribute__((noinline)) void leak_ring(int n) {
  struct ring* first = calloc(1, sizeof *first);
  struct ring* cur = first;
  for (int i = 1; i < n; i++) {
    cur->next = calloc(1, sizeof *cur);
    cur = cur->next;
  }
  cur->next = first;
  first = cur = NULL;
}

__attribute__((noinline)) void leak_pair(void) {
  void** a = calloc(1, 80);
  void** b = calloc(1, 80);
  a[0] = b;
  b[0] = a;
  a = b = NULL;
}

__attribute__((noinline)) void leak_self(void) {
  void** s = calloc(1, 56);
  s[0] = s;
  s = NULL;
}

int main(void) {
  leak_ring(3);
  leak_pair();
  leak_self();
  corpus_scrub_stack();
  corpus_say("cycle: done\n");
  return 0;
}
