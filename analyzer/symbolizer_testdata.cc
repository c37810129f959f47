#include "analyzer/symbolizer_testdata.h"

namespace symtest {

__attribute__((noinline)) void* Capture() {
  void* r = __builtin_return_address(0);
  asm volatile("" : : "r"(r) : "memory");
  return r;
}

static inline __attribute__((always_inline)) void* Inlined() {
  void* p = Capture();  // kInlinedCallLine
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
const int kInlinedCallLine = 12;

__attribute__((noinline)) void* Outer() {
  void* p = Inlined();  // kOuterCallLine
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
const int kOuterCallLine = 19;

__attribute__((noinline)) int Plain(int x) {
  asm volatile("" : "+r"(x));
  return x * 3 + 1;
}

}  // namespace symtest
