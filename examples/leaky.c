// leaky.c: the heaplens demo program. Every kind of finding on purpose:
//
//   leak_direct()   3 x 100 B lost                     definitely lost
//   make_name()     strdup'ed name, lost               definitely lost
//   leak_list()     a 5-node list whose head is lost   1 definite + 4 indirect
//   keep_config()   64 B still pointed to by a global  still reachable
//   pin_top()       one 40 B block held by a global while ~10 MB of 500 B
//                   blocks are freed; the report's HEAP LAYOUT shows what
//                   pins what (examples/pin_top.c is the 100 MB showcase).
//
// It prints with write(2) rather than stdio so the C library allocates
// nothing on its behalf and the expected numbers are exact (see
// tests/e2e/leaky_report_test.py).
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct node {
  struct node* next;
  char payload[40];
};  // 48 bytes

static char* g_config;  // still reachable at exit
static void* g_pin;     // the block that pins the top of the heap

static void say(const char* s) { (void)!write(1, s, strlen(s)); }

__attribute__((noinline)) void leak_direct(void) {
  for (int i = 0; i < 3; i++) {
    char* p = malloc(100);
    memset(p, 'a' + i, 100);
  }
}

__attribute__((noinline)) char* make_name(const char* base) {
  return strdup(base);  // 14 bytes with the terminator
}

__attribute__((noinline)) void leak_list(int n) {
  struct node* head = NULL;
  for (int i = 0; i < n; i++) {
    struct node* e = malloc(sizeof *e);
    memset(e->payload, 0, sizeof e->payload);
    e->next = head;
    head = e;
  }
  head = NULL;  // the whole list is now unreachable
}

__attribute__((noinline)) void keep_config(void) {
  g_config = malloc(64);
  memset(g_config, 0, 64);
}

__attribute__((noinline)) void* pin_top(void) {
  void* p = malloc(40);
  memset(p, 0, 40);
  return p;
}

__attribute__((noinline)) void churn_and_pin(int blocks) {
  void** v = malloc(sizeof(void*) * (size_t)blocks);
  for (int i = 0; i < blocks; i++) {
    v[i] = malloc(500);
    memset(v[i], 1, 500);
  }
  g_pin = pin_top();
  for (int i = 0; i < blocks; i++) free(v[i]);
  free(v);
}

// Overwrites dead stack slots so no stale copy of a lost pointer survives
// on the stack until exit (a conservative scan, like Valgrind's, would
// otherwise count it as a reference).
__attribute__((noinline)) void scrub_stack(void) {
  volatile char buf[16384];
  memset((char*)buf, 0, sizeof buf);
}

int main(void) {
  say("leaky: leaking on purpose\n");
  leak_direct();
  char* name = make_name("heaplens-demo");
  name = NULL;
  leak_list(5);
  keep_config();
  churn_and_pin(20000);
  scrub_stack();
  say("leaky: done\n");
  return 0;
}
