// threads.c: two threads leak different blocks; the main thread joins them.
//   worker_a()  3 x 40 B lost                 definite 120 B / 3
//   worker_b()  2 x 200 B lost                definite 400 B / 2
//   worker_b()  1 x 72 B kept in g_kept       reachable 72 B / 1
// Each thread scrubs its own stack before returning: glibc keeps exited
// threads' stacks cached, and both tools scan them as memory.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "examples/corpus/corpus_util.h"

static void* volatile g_kept;

__attribute__((noinline)) void worker_a_leak(void) {
  for (int i = 0; i < 3; i++) {
    char* p = malloc(40);
    memset(p, 'a', 40);
  }
}

__attribute__((noinline)) void worker_b_leak(void) {
  for (int i = 0; i < 2; i++) {
    char* p = malloc(200);
    memset(p, 'b', 200);
  }
  g_kept = malloc(72);
}

static void* worker_a(void* arg) {
  worker_a_leak();
  corpus_scrub_stack();
  return arg;
}

static void* worker_b(void* arg) {
  worker_b_leak();
  corpus_scrub_stack();
  return arg;
}

int main(void) {
  pthread_t a, b;
  pthread_create(&a, NULL, worker_a, NULL);
  pthread_create(&b, NULL, worker_b, NULL);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  corpus_scrub_stack();
  corpus_say("threads: done\n");
  return 0;
}
