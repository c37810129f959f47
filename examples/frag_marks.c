// frag_marks.c: phases that grow, fragment and shrink the brk heap, with a
// heaplens_mark(n) at the end of each. At every mark it prints sbrk(0) and
// the [heap] mapping's Rss (from /proc/self/smaps), so
// tests/e2e/heap_model_marks_test.py can check the model's break and
// resident bytes at the same marks against the kernel's.
//
//   mark 1  start
//   mark 2  40,000 x 1000 B allocated (~40 MB)
//   mark 3  every other block freed: half the bytes free, no page empty
//   mark 4  all but the last 100 blocks freed
//   mark 5  20,000 x 200 B allocated into the free space
//   mark 6  everything freed
//
// write(2)/read(2) with static buffers: no hidden allocations.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BIG 40000
#define SMALL 20000

extern void heaplens_mark(unsigned long) __attribute__((weak));

static void* g_big[BIG];
static void* g_small[SMALL];
static char g_smaps[1 << 20];

static void say(const char* s) { (void)!write(1, s, strlen(s)); }

static unsigned long HeapRssKb(void) {
  int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t n = 0;
  ssize_t r;
  while (n < sizeof g_smaps - 1 &&
         (r = read(fd, g_smaps + n, sizeof g_smaps - 1 - n)) > 0)
    n += (size_t)r;
  close(fd);
  g_smaps[n] = 0;
  char* heap = strstr(g_smaps, "[heap]");
  if (heap == NULL) return 0;
  char* rss = strstr(heap, "\nRss:");
  return rss ? strtoul(rss + 5, NULL, 10) : 0;
}

static void Mark(unsigned long id) {
  if (heaplens_mark) heaplens_mark(id);
  char line[128];
  snprintf(line, sizeof line, "mark %lu brk 0x%lx heap_rss_kb %lu\n", id,
           (unsigned long)(uintptr_t)sbrk(0), HeapRssKb());
  say(line);
}

__attribute__((noinline)) void alloc_big(void) {
  for (int i = 0; i < BIG; i++) {
    g_big[i] = malloc(1000);
    memset(g_big[i], 1, 1000);
  }
}

__attribute__((noinline)) void alloc_small(void) {
  for (int i = 0; i < SMALL; i++) {
    g_small[i] = malloc(200);
    memset(g_small[i], 2, 200);
  }
}

int main(void) {
  Mark(1);
  alloc_big();
  Mark(2);
  for (int i = 0; i < BIG; i += 2) free(g_big[i]), g_big[i] = NULL;
  Mark(3);
  for (int i = 1; i < BIG - 200; i += 2) free(g_big[i]), g_big[i] = NULL;
  Mark(4);
  alloc_small();
  Mark(5);
  for (int i = 0; i < BIG; i++) free(g_big[i]);
  for (int i = 0; i < SMALL; i++) free(g_small[i]);
  Mark(6);
  say("frag_marks: done\n");
  return 0;
}
