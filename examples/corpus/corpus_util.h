// corpus_util.h: helpers shared by the accuracy corpus (examples/corpus/,
// tests/accuracy/). Output goes through write(2), never stdio, so the C
// library allocates nothing on the program's behalf; scrub_stack() wipes
// dead stack slots so no stale copy of a lost pointer survives until exit
// (both heaplens and Valgrind scan stacks conservatively).
#ifndef HEAPLENS_EXAMPLES_CORPUS_CORPUS_UTIL_H_
#define HEAPLENS_EXAMPLES_CORPUS_CORPUS_UTIL_H_

#include <string.h>
#include <unistd.h>

static inline void corpus_say(const char* s) {
  (void)!write(1, s, strlen(s));
}

__attribute__((noinline, unused)) static void corpus_scrub_stack(void) {
  volatile char buf[32768];
  memset((char*)buf, 0, sizeof buf);
  __asm__ volatile("" : : "r"(buf) : "memory");
}

#endif  // HEAPLENS_EXAMPLES_CORPUS_CORPUS_UTIL_H_
