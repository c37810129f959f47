// API semantics of the preloaded allocator, in the spirit of glibc's malloc
// tests. Runs under LD_PRELOAD=libheaplens.so (see run_preloaded.sh).
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <new>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace {

// Defeats the compiler's knowledge of malloc semantics.
template <typename T>
T Opaque(T v) {
  asm volatile("" : "+r"(v));
  return v;
}

TEST(Preload, IsActive) {
  EXPECT_NE(dlsym(RTLD_DEFAULT, "heaplens_mark"), nullptr)
      << "run under LD_PRELOAD=libheaplens.so";
}

TEST(Malloc, ZeroAndNull) {
  void* p = malloc(Opaque<size_t>(0));
  ASSERT_NE(p, nullptr);
  free(p);
  free(nullptr);
  EXPECT_EQ(malloc_usable_size(nullptr), 0u);
}

TEST(Malloc, AlignmentAndUsableSize) {
  std::vector<void*> v;
  for (size_t s = 1; s < 300000; s = s * 5 / 4 + 1) {
    char* p = static_cast<char*>(malloc(Opaque(s)));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << s;
    size_t u = malloc_usable_size(p);
    EXPECT_GE(u, s);
    memset(p, 0xab, u);
    v.push_back(p);
  }
  for (void* p : v) free(p);
}

TEST(Malloc, TooLargeFailsWithEnomem) {
  for (size_t s :
       {SIZE_MAX, SIZE_MAX / 2, size_t{PTRDIFF_MAX}, size_t{1} << 50}) {
    errno = 0;
    EXPECT_EQ(malloc(Opaque(s)), nullptr) << s;
    EXPECT_EQ(errno, ENOMEM);
  }
}

TEST(Malloc, SuccessKeepsErrno) {
  errno = 1234;
  void* p = malloc(Opaque<size_t>(100));
  void* q = malloc(Opaque<size_t>(1 << 20));
  free(p);
  free(q);
  EXPECT_EQ(errno, 1234);
}

TEST(Calloc, OverflowFails) {
  errno = 0;
  EXPECT_EQ(calloc(Opaque(SIZE_MAX / 2), 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(calloc(Opaque(size_t{1} << 33), size_t{1} << 33), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(Calloc, IsZeroedEvenWhenReused) {
  for (size_t s : {8ul, 100ul, 5000ul, 40000ul, 200000ul, 6000000ul}) {
    for (int round = 0; round < 3; ++round) {
      char* d = static_cast<char*>(malloc(Opaque(s)));
      memset(d, 0x5a, s);
      free(d);
      char* p = static_cast<char*>(calloc(1, Opaque(s)));
      ASSERT_NE(p, nullptr);
      for (size_t i = 0; i < s; i += 7) ASSERT_EQ(p[i], 0) << s << " " << i;
      ASSERT_EQ(p[s - 1], 0);
      free(p);
    }
  }
}

TEST(Realloc, Semantics) {
  char* p = static_cast<char*>(realloc(nullptr, Opaque<size_t>(10)));
  ASSERT_NE(p, nullptr);
  memcpy(p, "abcdefghi", 10);
  // Grow through small, in-heap large and mmap'd sizes: content preserved.
  size_t sizes[] = {20, 100, 3000, 40000, 100000, 300000, 5000000, 100, 16};
  for (size_t s : sizes) {
    p = static_cast<char*>(realloc(p, Opaque(s)));
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(memcmp(p, "abcdefghi", 10), 0) << s;
    EXPECT_GE(malloc_usable_size(p), s);
  }
  // Failure keeps the block.
  errno = 0;
  EXPECT_EQ(realloc(p, Opaque(SIZE_MAX - 100)), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(memcmp(p, "abcdefghi", 10), 0);
  // realloc(p, 0) frees and returns NULL.
  EXPECT_EQ(realloc(p, Opaque<size_t>(0)), nullptr);
}

TEST(Realloc, LargeGrowthKeepsContent) {
  size_t n = 200000;
  unsigned char* p = static_cast<unsigned char*>(malloc(Opaque(n)));
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(i * 7);
  for (size_t m = n * 2; m < (64u << 20); m *= 2) {
    p = static_cast<unsigned char*>(realloc(p, Opaque(m)));
    ASSERT_NE(p, nullptr);
    for (size_t i = 0; i < n; i += 997) {
      ASSERT_EQ(p[i], static_cast<unsigned char>(i * 7));
    }
  }
  free(p);
}

TEST(ReallocArray, Overflow) {
  errno = 0;
  EXPECT_EQ(reallocarray(nullptr, Opaque(SIZE_MAX / 4), 8), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  void* p = reallocarray(nullptr, Opaque<size_t>(10), 10);
  ASSERT_NE(p, nullptr);
  free(p);
}

TEST(PosixMemalign, Errors) {
  void* sentinel = reinterpret_cast<void*>(0x1234);
  void* p = sentinel;
  EXPECT_EQ(posix_memalign(&p, Opaque<size_t>(0), 10), EINVAL);
  EXPECT_EQ(posix_memalign(&p, Opaque<size_t>(4), 10), EINVAL);
  EXPECT_EQ(posix_memalign(&p, Opaque<size_t>(24), 10), EINVAL);
  EXPECT_EQ(posix_memalign(&p, Opaque<size_t>(64), SIZE_MAX / 2), ENOMEM);
  EXPECT_EQ(p, sentinel);
}

TEST(Memalign, EveryAlignment) {
  std::vector<void*> v;
  for (size_t a = 8; a <= (size_t{1} << 21); a *= 2) {
    for (size_t s :
         {1ul, 8ul, 24ul, 100ul, 4096ul, 5000ul, 40000ul, 200000ul}) {
      void* p = nullptr;
      ASSERT_EQ(posix_memalign(&p, Opaque(a), s), 0);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % a, 0u) << a << " " << s;
      EXPECT_GE(malloc_usable_size(p), s);
      memset(p, 1, s);
      v.push_back(p);
      void* q = memalign(Opaque(a), s);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % a, 0u);
      v.push_back(q);
      void* r = aligned_alloc(Opaque(a), s);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(r) % a, 0u);
      v.push_back(r);
    }
  }
  for (void* p : v) free(p);
  // memalign rounds a non-power-of-two alignment up.
  void* p = memalign(Opaque<size_t>(48), 10);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  free(p);
  errno = 0;
  EXPECT_EQ(aligned_alloc(Opaque<size_t>(48), 10), nullptr);
  EXPECT_EQ(errno, EINVAL);
}

TEST(Valloc, PageAligned) {
  long page = sysconf(_SC_PAGESIZE);
  void* p = valloc(Opaque<size_t>(10));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % page, 0u);
  void* q = pvalloc(Opaque<size_t>(0));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % page, 0u);
  EXPECT_GE(malloc_usable_size(q), static_cast<size_t>(page));
  void* r = pvalloc(Opaque<size_t>(page + 1));
  EXPECT_GE(malloc_usable_size(r), static_cast<size_t>(2 * page));
  free(p);
  free(q);
  free(r);
}

TEST(New, Variants) {
  int* a = new int(5);
  delete a;
  int* b = new int[100];
  delete[] b;
  struct alignas(256) Big {
    char c[300];
  };
  Big* big = new Big;
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big) % 256, 0u);
  delete big;
  Big* bigs = new Big[3];
  EXPECT_EQ(reinterpret_cast<uintptr_t>(bigs) % 256, 0u);
  delete[] bigs;
  void* n = operator new(Opaque<size_t>(100), std::nothrow);
  operator delete(n, std::nothrow);
  void* s = operator new(Opaque<size_t>(100));
  operator delete(s, 100);
  void* al = operator new(Opaque<size_t>(100), std::align_val_t(4096));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(al) % 4096, 0u);
  operator delete(al, 100, std::align_val_t(4096));
}

TEST(New, FailureThrowsBadAlloc) {
  EXPECT_THROW(operator new(Opaque(SIZE_MAX / 2)), std::bad_alloc);
  EXPECT_THROW(operator new[](Opaque(SIZE_MAX / 2)), std::bad_alloc);
  EXPECT_THROW(operator new(Opaque(SIZE_MAX / 2), std::align_val_t(64)),
               std::bad_alloc);
  EXPECT_EQ(operator new(Opaque(SIZE_MAX / 2), std::nothrow), nullptr);
}

int g_handler_calls;
void Handler() {
  if (++g_handler_calls == 3) std::set_new_handler(nullptr);
}

TEST(New, NewHandlerLoop) {
  g_handler_calls = 0;
  std::set_new_handler(Handler);
  EXPECT_THROW(operator new(Opaque(SIZE_MAX / 2)), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 3);
}

TEST(InvalidFree, IsIgnored) {
  // Double free of a small block, interior pointers, foreign memory.
  char* p = static_cast<char*>(malloc(Opaque<size_t>(64)));
  free(p);
  free(p);
  char* q = static_cast<char*>(malloc(Opaque<size_t>(64)));
  char* r = static_cast<char*>(malloc(Opaque<size_t>(64)));
  EXPECT_NE(q, r);  // the double free did not duplicate the block
  free(q + 16);
  char* big = static_cast<char*>(malloc(Opaque<size_t>(50000)));
  free(big + 4096);
  free(big);
  free(big);
  char stack[64];
  free(Opaque(static_cast<void*>(stack)));
  void* m = mmap(nullptr, 8192, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  free(Opaque(m));
  // realloc of foreign memory copies it.
  memcpy(m, "foreign", 8);
  char* moved = static_cast<char*>(realloc(m, 100));
  ASSERT_NE(moved, nullptr);
  EXPECT_STREQ(moved, "foreign");
  free(moved);
  munmap(m, 8192);
  free(r);
}

TEST(InvalidFree, AbortsWhenAsked) {
  EXPECT_DEATH(
      {
        // The option is read at start; emulate by re-exec with the option.
        setenv("HEAPLENS_OPTIONS", "abort_on_invalid_free=1", 1);
        execl("/proc/self/exe", "self", "--gtest_filter=Child.DoubleFree",
              nullptr);
      },
      "double free");
}

TEST(Child, DoubleFree) {
  if (getenv("HEAPLENS_OPTIONS") == nullptr) GTEST_SKIP();
  char* p = static_cast<char*>(malloc(Opaque<size_t>(64)));
  free(p);
  free(p);
}

// A free of memory the allocator never handed out (a static array) is an
// invalid free too, like glibc's "free(): invalid pointer"; so is an interior
// pointer into a large mmap'd block.
TEST(InvalidFree, ForeignFreeAbortsWhenAsked) {
  EXPECT_DEATH(
      {
        setenv("HEAPLENS_OPTIONS", "abort_on_invalid_free=1", 1);
        execl("/proc/self/exe", "self", "--gtest_filter=Child.ForeignFree",
              nullptr);
      },
      "invalid pointer");
  EXPECT_DEATH(
      {
        setenv("HEAPLENS_OPTIONS", "abort_on_invalid_free=1", 1);
        execl("/proc/self/exe", "self",
              "--gtest_filter=Child.LargeInteriorFree", nullptr);
      },
      "invalid pointer");
}

char g_static_block[256];

TEST(Child, ForeignFree) {
  if (getenv("HEAPLENS_OPTIONS") == nullptr) GTEST_SKIP();
  free(Opaque(static_cast<void*>(g_static_block + 64)));
}

TEST(Child, LargeInteriorFree) {
  if (getenv("HEAPLENS_OPTIONS") == nullptr) GTEST_SKIP();
  char* big = static_cast<char*>(malloc(Opaque<size_t>(1 << 20)));
  free(big + 8192);
}

thread_local std::vector<int>* t_vec;
struct TlsUser {
  ~TlsUser() {
    // Runs during thread exit, around our cache teardown.
    void* p = malloc(100);
    free(p);
    delete t_vec;
  }
};
thread_local TlsUser t_user;

void KeyDestructor(void* v) {
  free(v);
  void* p = malloc(Opaque<size_t>(200));  // after our cache is gone
  free(p);
}

TEST(Threads, AllocationDuringThreadExit) {
  pthread_key_t key;
  ASSERT_EQ(pthread_key_create(&key, KeyDestructor), 0);
  for (int i = 0; i < 50; ++i) {
    std::thread t([key] {
      (void)&t_user;
      t_vec = new std::vector<int>(100);
      pthread_setspecific(key, malloc(64));
      std::vector<void*> v;
      for (int j = 0; j < 1000; ++j) v.push_back(malloc(j % 500 + 1));
      for (void* p : v) free(p);
    });
    t.join();
  }
}

}  // namespace
