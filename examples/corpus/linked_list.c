// linked_list.c: a 10-node singly linked list whose head is lost.
//   leak_list()   1 definite (the head, 32 B) + 9 indirect (288 B)
#include <stdlib.h>
#include <string.h>

#include "examples/corpus/corpus_util.h"

struct node {
  struct node* next;
  char payload[24];
};  // 32 bytes

__attribute__((noinline)) struct node* new_node(struct node* next) {
  struct node* e = malloc(sizeof *e);
  memset(e->payload, 0, sizeof e->payload);
  e->next = next;
  return e;
}

__attribute__((noinline)) void leak_list(int n) {
  struct node* head = NULL;
  for (int i = 0; i < n; i++) head = new_node(head);
  head = NULL;
}

int main(void) {
  leak_list(10);
  corpus_scrub_stack();
  corpus_say("linked_list: done\n");
  return 0;
}
