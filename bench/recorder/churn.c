// Single-threaded small-object churn: a sliding window of live blocks.
#include <stdlib.h>
int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 2000000;
  enum { kWindow = 64 };
  void* volatile win[kWindow] = {0};
  for (long i = 0; i < n; ++i) {
    int k = i % kWindow;
    free(win[k]);
    win[k] = malloc(16 + (i * 7) % 112);
  }
  for (int k = 0; k < kWindow; ++k) free(win[k]);
  return 0;
}
