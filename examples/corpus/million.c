// million.c: a leak-free program with many allocations (default 1,000,000;
// argv[1] overrides the count). Every block is freed: nothing is live at exit.
// It keeps up to 64 blocks live at a time, of sizes 1..4096 B, plus a few
// reallocs and callocs along the way.
#include <stdlib.h>
#include <string.h>

#include "examples/corpus/corpus_util.h"

__attribute__((noinline)) void churn(long n) {
  void* slots[64] = {0};
  unsigned x = 12345;
  for (long i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    unsigned k = (x >> 8) % 64;
    size_t sz = 1 + (x >> 12) % 4096;
    free(slots[k]);
    if (i % 97 == 0) {
      slots[k] = calloc(1, sz);
    } else {
      slots[k] = malloc(sz);
    }
    ((char*)slots[k])[0] = 1;
  }
  for (int k = 0; k < 64; k++) free(slots[k]);
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  churn(n);
  corpus_scrub_stack();
  corpus_say("million: done\n");
  return 0;
}
