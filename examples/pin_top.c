// pin_top.c: one small live chunk at the top of the brk heap pins ~100 MB.
//
//   churn()    allocates 200,000 x 500 B blocks (~100 MB) from the brk heap
//   pin_top()  allocates one 40 B block after them: it lands above them
//   churn()    frees the 500 B blocks; the 40 B block stays live (a global)
//
// The break cannot drop below the 40 B block, so ~100 MB of free heap stays
// mapped (and, until the allocator madvises it, resident). heaplens must name
// pin_top as the pinner (tests/e2e/pinning_report_test.py). At marks 1 (after
// the blocks were freed) and 2 (at the end) the program prints sbrk(0) and
// the [heap] mapping's Rss so the test can compare them with the model.
//
// It prints with write(2) and reads /proc with read(2) into static buffers,
// so nothing but the allocations below touches the heap.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCKS 200000
#define BLOCK_SIZE 500

extern void heaplens_mark(unsigned long) __attribute__((weak));

static void* g_pin;  // keeps the pinning block live until exit
static void* g_blocks[BLOCKS];
static char g_smaps[1 << 20];

static void say(const char* s) { (void)!write(1, s, strlen(s)); }

// The Rss of the [heap] mapping in KiB, from /proc/self/smaps (0 if none).
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

__attribute__((noinline)) void* pin_top(void) {
  void* p = malloc(40);
  memset(p, 0, 40);
  return p;
}

__attribute__((noinline)) void churn(void) {
  for (int i = 0; i < BLOCKS; i++) {
    g_blocks[i] = malloc(BLOCK_SIZE);
    memset(g_blocks[i], 1, BLOCK_SIZE);
  }
  g_pin = pin_top();
  for (int i = 0; i < BLOCKS; i++) free(g_blocks[i]);
}

int main(void) {
  say("pin_top: start\n");
  churn();
  Mark(1);
  Mark(2);
  say("pin_top: done\n");
  return 0;
}
