// unwritten.c: blocks the program never writes. malloc does not clear a
// block, so such a block still holds whatever the allocator left in it while
// it was free (a free-list link to the next free chunk). That is not a
// pointer the program stored and must not make another block reachable.
//   keep_unwritten()  16 x 48 B malloc, never written, kept   reachable 768 B /
//   16 leak_neighbours() 16 x 48 B malloc, lost                  definite  768
//   B / 16
#include <stdlib.h>

#include "examples/corpus/corpus_util.h"

static void* g_kept[16];

// Frees 32 chunks of one size so that the free list links them in address
// order; the next 32 mallocs of that size take them back, and the ones kept
// here hold (unwritten) the link to the one leaked after them.
__attribute__((noinline)) static void churn_free_list(void) {
  void* v[32];
  for (int i = 0; i < 32; i++) v[i] = malloc(48);
  for (int i = 31; i >= 0; i--) free(v[i]);
}

__attribute__((noinline)) void keep_unwritten(int i) { g_kept[i] = malloc(48); }

__attribute__((noinline)) void leak_neighbours(void) {
  void* volatile p = malloc(48);
  ((char*)p)[47] = 1;  // written at the end only: the first word stays
  p = NULL;
}

int main(void) {
  churn_free_list();
  for (int i = 0; i < 16; i++) {
    keep_unwritten(i);
    leak_neighbours();
  }
  corpus_scrub_stack();
  corpus_say("unwritten: done\n");
  return 0;
}
