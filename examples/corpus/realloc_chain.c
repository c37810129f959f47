// realloc_chain.c: a block grown and shrunk through realloc, then lost.
//   grow_buffer()   realloc(NULL,16) -> 64 -> 1000 -> 5000 -> 300, lost
//                                                definite 300 B / 1
//   keep_grown()    malloc(10) -> realloc 20 -> 40, kept in g_buf
//                                                reachable 40 B / 1
//   shrink_free()   realloc(p, 0)-free'd block: nothing
#include <stdlib.h>
#include <string.h>

#include "examples/corpus/corpus_util.h"

static char* g_buf;

__attribute__((noinline)) void grow_buffer(void) {
  char* p = realloc(NULL, 16);
  static const size_t sizes[] = {64, 1000, 5000, 300};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    p = realloc(p, sizes[i]);
    memset(p, (int)i, sizes[i]);
  }
  p = NULL;
}

__attribute__((noinline)) void keep_grown(void) {
  g_buf = malloc(10);
  g_buf = realloc(g_buf, 20);
  g_buf = realloc(g_buf, 40);
  memset(g_buf, 0, 40);
}

__attribute__((noinline)) void shrink_free(void) {
  char* p = malloc(77);
  p = realloc(p, 33);
  free(p);
}

int main(void) {
  grow_buffer();
  keep_grown();
  shrink_free();
  corpus_scrub_stack();
  corpus_say("realloc_chain: done\n");
  return 0;
}
