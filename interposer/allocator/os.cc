#include "interposer/allocator/os.h"

#include <errno.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

namespace heaplens {

void* RealOs::Sbrk(intptr_t increment) {
  int saved = errno;
  void* old = sbrk(increment);
  if (old == reinterpret_cast<void*>(-1)) return nullptr;
  errno = saved;
  return old;
}

void* RealOs::Map(size_t size) {
  int saved = errno;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  errno = saved;
  return p;
}

bool RealOs::Unmap(void* addr, size_t size) {
  int saved = errno;
  if (munmap(addr, size) != 0) return false;
  errno = saved;
  return true;
}

bool RealOs::Release(void* addr, size_t size) {
  int saved = errno;
  if (madvise(addr, size, MADV_DONTNEED) != 0) return false;
  errno = saved;
  return true;
}

void* RealOs::Remap(void* addr, size_t old_size, size_t new_size) {
  int saved = errno;
  void* p = mremap(addr, old_size, new_size, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) return nullptr;
  errno = saved;
  return p;
}

uint64_t RealOs::NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 +
         static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

}  // namespace heaplens
