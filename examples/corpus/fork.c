// fork.c: parent and child leak different blocks (each process is traced
// into its own file: MALLOC_TRACE with %p, valgrind --xml-file with %p).
//   before fork:  keep_shared()  32 B in g_shared   reachable in both
//                 lose_before_fork() 77 B in g_lost, which the child drops:
//                                  reachable in the parent, definite 77 B / 1
//                                  in the child (an inherited block)
//   child:        child_leak()   2 x 222 B lost     definite 444 B / 2
//                 (exits with exit(0), so its leak check runs)
//   parent:       parent_leak()  1 x 111 B lost     definite 111 B / 1
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "examples/corpus/corpus_util.h"

static void* g_shared;
static void* volatile g_lost;

__attribute__((noinline)) void keep_shared(void) {
  g_shared = malloc(32);
  memset(g_shared, 3, 32);
}

__attribute__((noinline)) void lose_before_fork(void) {
  g_lost = malloc(77);
  memset(g_lost, 7, 77);
}

__attribute__((noinline)) void child_leak(void) {
  for (int i = 0; i < 2; i++) {
    char* p = malloc(222);
    memset(p, 'c', 222);
  }
}

__attribute__((noinline)) void parent_leak(void) {
  char* p = malloc(111);
  memset(p, 'p', 111);
}

int main(void) {
  keep_shared();
  lose_before_fork();
  pid_t pid = fork();
  if (pid == 0) {
    g_lost = NULL;
    child_leak();
    corpus_scrub_stack();
    corpus_say("fork: child done\n");
    exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  parent_leak();
  corpus_scrub_stack();
  corpus_say("fork: parent done\n");
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
