// clean.c: a program that frees everything it allocates, in a parent and a
// forked child (each writes its own trace with MALLOC_TRACE=...%p...). The
// leak gate must pass it (tests/gate). It prints with write(2) so the C
// library allocates nothing on its behalf.
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct node {
  struct node* next;
  char payload[40];
};

static void say(const char* s) { (void)!write(1, s, strlen(s)); }

__attribute__((noinline)) static void build_and_free_list(int n) {
  struct node* head = NULL;
  for (int i = 0; i < n; i++) {
    struct node* e = calloc(1, sizeof *e);
    e->next = head;
    head = e;
  }
  while (head != NULL) {
    struct node* next = head->next;
    free(head);
    head = next;
  }
}

__attribute__((noinline)) static void grow_and_free(void) {
  char* buf = NULL;
  for (size_t size = 16; size <= 1 << 20; size *= 2) {
    buf = realloc(buf, size);
    memset(buf, 0, size);
  }
  free(buf);
  char* name = strdup("heaplens-clean");
  free(name);
  void* aligned = NULL;
  if (posix_memalign(&aligned, 64, 1000) == 0) free(aligned);
}

static void work(void) {
  build_and_free_list(100);
  grow_and_free();
}

int main(void) {
  say("clean: start\n");
  work();
  pid_t child = fork();
  if (child == 0) {
    work();
    say("clean: child done\n");
    exit(0);
  }
  int status = 0;
  if (child > 0) waitpid(child, &status, 0);
  say("clean: done\n");
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
