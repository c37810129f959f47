// memalign.c: aligned allocation APIs.
//   leak_posix_memalign()  posix_memalign(64, 100), lost     definite 100 B / 1
//   leak_aligned_alloc()   aligned_alloc(256, 512), lost     definite 512 B / 1
//   leak_memalign()        memalign(4096, 1000), lost        definite 1000 B /
//   1 keep_aligned()         posix_memalign(128, 200) in g_aligned
//                                                            reachable 200 B /
//                                                            1
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "examples/corpus/corpus_util.h"

static void* g_aligned;

__attribute__((noinline)) void leak_posix_memalign(void) {
  void* p = NULL;
  if (posix_memalign(&p, 64, 100) == 0) memset(p, 1, 100);
  p = NULL;
}

__attribute__((noinline)) void leak_aligned_alloc(void) {
  void* volatile p = aligned_alloc(256, 512);
  (void)p;
}

__attribute__((noinline)) void leak_memalign(void) {
  void* volatile p = memalign(4096, 1000);
  (void)p;
}

__attribute__((noinline)) void keep_aligned(void) {
  if (posix_memalign(&g_aligned, 128, 200) == 0) memset(g_aligned, 2, 200);
}

int main(void) {
  leak_posix_memalign();
  leak_aligned_alloc();
  leak_memalign();
  keep_aligned();
  corpus_scrub_stack();
  corpus_say("memalign: done\n");
  return 0;
}
