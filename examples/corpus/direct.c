// direct.c: plain lost blocks.
//   leak_mallocs()   4 x 100 B malloc, lost                 definite 400 B / 4
//   leak_calloc()    1 x 256 B calloc, lost                 definite 256 B / 1
//   leak_zero()      1 x malloc(0), lost                    definite   0 B / 1
//   (freed blocks are not reported)
#include <stdlib.h>
#include <string.h>

#include "examples/corpus/corpus_util.h"

__attribute__((noinline)) void leak_mallocs(void) {
  for (int i = 0; i < 4; i++) {
    char* p = malloc(100);
    memset(p, 'a' + i, 100);
  }
}

__attribute__((noinline)) void leak_calloc(void) {
  void* volatile p = calloc(32, 8);
  (void)p;
}

__attribute__((noinline)) void leak_zero(void) {
  void* volatile p = malloc(0);
  (void)p;
}

__attribute__((noinline)) void no_leak(void) {
  for (int i = 0; i < 10; i++) free(malloc(64 * (size_t)(i + 1)));
}

int main(void) {
  leak_mallocs();
  leak_calloc();
  leak_zero();
  no_leak();
  corpus_scrub_stack();
  corpus_say("direct: done\n");
  return 0;
}
