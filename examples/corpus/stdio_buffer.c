// stdio_buffer.c: the C library allocates on the program's behalf. printf to
// a pipe or file allocates stdout's buffer (4096 B here), held by the FILE in
// libc's data: reachable. Valgrind runs glibc's __libc_freeres at exit, which
// frees it, so Valgrind reports nothing in use (docs/accuracy.md).
//   leak_after_printf()   1 x 33 B lost                  definite 33 B / 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/corpus/corpus_util.h"

__attribute__((noinline)) void leak_after_printf(void) {
  char* p = malloc(33);
  memset(p, 's', 33);
  printf("stdio_buffer: %d bytes\n", 33);
}

int main(void) {
  leak_after_printf();
  corpus_scrub_stack();
  printf("stdio_buffer: done\n");
  return 0;
}
