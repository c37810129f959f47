// libc_frames.cc: allocations made inside libc / libstdc++ on the user's
// behalf; the report's first user frame must be the user function.
//   make_copy()     strdup of 19 chars, lost                definite 20 B / 1
//   format_msg()    asprintf "value=12345", lost            definite 12 B / 1
//   build_map()     new std::map<int,int> with 5 entries: the 48 B map lost,
//                   its 5 x 40 B nodes indirect  definite 48 B / 1 + indirect
//                   200 B / 5
//   make_label()    new std::string built by operator+ (60 chars):
//                   32 B object + 61 B buffer    definite 32 B / 1 + indirect
//                   61 B / 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <map>
#include <string>

#include "examples/corpus/corpus_util.h"

__attribute__((noinline)) void make_copy() {
  char* volatile p = strdup("copy of some string");
  (void)p;
}

__attribute__((noinline)) void format_msg() {
  char* p = nullptr;
  if (asprintf(&p, "value=%d", 12345) < 0) p = nullptr;
  p = nullptr;
}

__attribute__((noinline)) void build_map() {
  auto* m = new std::map<int, int>();
  for (int i = 0; i < 5; i++) (*m)[i * 7] = i;
  m = nullptr;
}

__attribute__((noinline)) void make_label() {
  std::string prefix(30, 'p');
  std::string* volatile s = new std::string(prefix + std::string(30, 's'));
  (void)s;
}

int main() {
  make_copy();
  format_msg();
  build_map();
  make_label();
  corpus_scrub_stack();
  corpus_say("libc_frames: done\n");
  return 0;
}
