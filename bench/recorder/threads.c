// Two threads, each churning small objects independently.
#include <pthread.h>
#include <stdlib.h>
static long n;
static void* Work(void* arg) {
  enum { kWindow = 64 };
  void* volatile win[kWindow] = {0};
  for (long i = 0; i < n; ++i) {
    int k = i % kWindow;
    free(win[k]);
    win[k] = malloc(16 + (i * 13) % 240);
  }
  for (int k = 0; k < kWindow; ++k) free(win[k]);
  return arg;
}
int main(int argc, char** argv) {
  n = argc > 1 ? atol(argv[1]) : 1000000;
  pthread_t t[2];
  for (int i = 0; i < 2; ++i) pthread_create(&t[i], 0, Work, 0);
  for (int i = 0; i < 2; ++i) pthread_join(t[i], 0);
  return 0;
}
