// interior.c: blocks reached only through interior pointers.
//   keep_interior()   g_mid -> offset 16 of a 64 B block (zeroed, so no
//                     Valgrind heuristic applies)          possible 64 B / 1
//   keep_chain()      g_into -> offset 8 of a 32 B block whose first word
//                     points at the start of a 40 B block  possible 72 B / 2
//   keep_one_past()   g_end -> one past the end of a 24 B block: no pointer
//                     into the block at all                definite 24 B / 1
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "examples/corpus/corpus_util.h"

static char* g_mid;
static char* g_into;
static char* g_end;

__attribute__((noinline)) void keep_interior(void) {
  char* p = calloc(1, 64);
  g_mid = p + 16;
}

__attribute__((noinline)) void keep_chain(void) {
  void** a = calloc(1, 32);
  a[0] = calloc(1, 40);
  g_into = (char*)a + 8;
}

__attribute__((noinline)) void keep_one_past(void) {
  char* p = calloc(1, 24);
  g_end = p + 24;
}

int main(void) {
  keep_interior();
  keep_chain();
  keep_one_past();
  corpus_scrub_stack();
  corpus_say("interior: done\n");
  return 0;
}
