// Two threads: the producer allocates, the consumer frees (cross-thread
// frees) through a bounded single-producer/single-consumer ring.
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { kRing = 1 << 12, kItems = 5000000 };
static void* ring[kRing];
static atomic_ulong head, tail;

static void* Consumer(void* arg) {
  (void)arg;
  for (unsigned long i = 0; i < kItems; ++i) {
    while (atomic_load_explicit(&tail, memory_order_acquire) == i) {
    }
    free(ring[i % kRing]);
    atomic_store_explicit(&head, i + 1, memory_order_release);
  }
  return NULL;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, Consumer, NULL);
  unsigned x = 1;
  for (unsigned long i = 0; i < kItems; ++i) {
    while (i - atomic_load_explicit(&head, memory_order_acquire) >= kRing) {
    }
    x = x * 1103515245u + 12345u;
    size_t n = 16 + (x >> 16) % 512;
    void* p = malloc(n);
    memset(p, 2, 16);
    ring[i % kRing] = p;
    atomic_store_explicit(&tail, i + 1, memory_order_release);
  }
  pthread_join(t, NULL);
  return 0;
}
