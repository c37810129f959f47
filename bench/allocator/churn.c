// Single-threaded small-object churn: a sliding window of live blocks of
// random small sizes.
#include <stdlib.h>
#include <string.h>

int main(void) {
  enum { kWindow = 4096, kOps = 20000000 };
  static void* slot[kWindow];
  unsigned x = 12345;
  for (int i = 0; i < kOps; ++i) {
    x = x * 1103515245u + 12345u;
    unsigned k = (x >> 8) % kWindow;
    free(slot[k]);
    size_t n = 8 + (x >> 20) % 256;
    slot[k] = malloc(n);
    memset(slot[k], 1, 8);
  }
  for (int k = 0; k < kWindow; ++k) free(slot[k]);
  return 0;
}
