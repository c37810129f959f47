// Large-buffer reuse: allocate 5-25 MiB buffers, touch them, free them.
#include <stdlib.h>
#include <string.h>

int main(void) {
  unsigned x = 7;
  for (int i = 0; i < 400; ++i) {
    x = x * 1103515245u + 12345u;
    size_t n = (5u << 20) + (x >> 8) % (20u << 20);
    char* p = malloc(n);
    for (size_t j = 0; j < n; j += 4096) p[j] = (char)j;
    free(p);
  }
  return 0;
}
