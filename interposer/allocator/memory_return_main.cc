// Memory return: allocate ~100 MB in small blocks, free them all, and check
// that resident memory drops below 10% of the peak without malloc_trim.
//   memory_return_main          break may drop (nothing live at the top)
//   memory_return_main pinned   one small block stays live at the top of
//                               the heap: the break cannot drop, madvise must
//                               do the work
// Exit status 0 on success; prints the numbers.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static long RssKb() {
  FILE* f = fopen("/proc/self/statm", "r");
  long size = 0, rss = 0;
  if (f == nullptr || fscanf(f, "%ld %ld", &size, &rss) != 2) return -1;
  fclose(f);
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char** argv) {
  bool pinned = argc > 1 && strcmp(argv[1], "pinned") == 0;
  char* brk_start = static_cast<char*>(sbrk(0));
  const size_t kTotal = size_t{100} << 20;
  size_t cap = kTotal / 16;
  void** blocks = static_cast<void**>(mmap(nullptr, cap * sizeof(void*),
                                           PROT_READ | PROT_WRITE,
                                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  size_t n = 0, bytes = 0;
  unsigned seed = 1;
  while (bytes < kTotal && n < cap) {
    seed = seed * 1103515245 + 12345;
    size_t s = 16 + (seed >> 8) % 1000;
    char* p = static_cast<char*>(malloc(s));
    memset(p, 1, s);
    blocks[n++] = p;
    bytes += s;
  }
  void* top = nullptr;
  if (pinned) {
    top = malloc(20000);  // a class not used above: a new span at the top
    memset(top, 1, 20000);
    for (size_t i = 0; i < n; ++i) {
      if (blocks[i] > top) {
        printf("pin block %p is not above block %p\n", top, blocks[i]);
        return 2;
      }
    }
  }
  void* brk_peak = sbrk(0);
  long peak = RssKb();
  for (size_t i = 0; i < n; ++i) free(blocks[i]);
  munmap(blocks, cap * sizeof(void*));
  long after = RssKb();
  void* brk_after = sbrk(0);
  long grown_kb = (static_cast<char*>(brk_peak) - brk_start) / 1024;
  long kept_kb = (static_cast<char*>(brk_after) - brk_start) / 1024;
  printf(
      "%s: peak %ld kB, after free %ld kB (%.1f%%), break grew %ld kB, "
      "%ld kB of it kept\n",
      pinned ? "pinned" : "unpinned", peak, after, 100.0 * after / peak,
      grown_kb, kept_kb);
  // The pin must hold: the break may drop only to just above it.
  if (pinned && brk_after < static_cast<char*>(top) + 20000) return 3;
  // Unpinned, the break still stays high: the blocks freed last (the
  // topmost) sit in this thread's cache and keep their spans in use. Reported,
  // not required (docs/allocator.md, "Not done yet"); the requirement is
  // resident memory.
  free(top);
  return after * 10 < peak ? 0 : 1;
}
