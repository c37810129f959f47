// global_reachable.c: blocks still referenced at exit (not leaks).
//   keep_config()   g_config -> 64 B -> 128 B (a chain)   reachable 192 B / 2
//   keep_static()   a function-local static -> 48 B       reachable  48 B / 1
//   leak_one()      one lost block for contrast           definite   24 B / 1
#include <stdlib.h>
#include <string.h>

#include "examples/corpus/corpus_util.h"

struct config {
  char* extra;
  char pad[56];
};  // 64 bytes

static struct config* g_config;

__attribute__((noinline)) void keep_config(void) {
  g_config = malloc(sizeof *g_config);
  memset(g_config, 0, sizeof *g_config);
  g_config->extra = malloc(128);
  memset(g_config->extra, 1, 128);
}

__attribute__((noinline)) void keep_static(void) {
  static void* cache;
  cache = malloc(48);
  memset(cache, 2, 48);
}

__attribute__((noinline)) void leak_one(void) {
  void* volatile p = malloc(24);
  (void)p;
}

int main(void) {
  keep_config();
  keep_static();
  leak_one();
  corpus_scrub_stack();
  corpus_say("global_reachable: done\n");
  return 0;
}
