// os.h: the allocator's only door to the kernel.
//
// Every brk/sbrk/mmap/munmap/mremap/madvise the allocator makes goes through
// an OsInterface, so the allocator's logic runs unchanged on FakeOs
// (fake_os.h) in unit tests, without touching the real program break.
//
// Contract (both implementations):
//   - Sbrk(inc) moves the break by `inc` bytes (inc may be 0 or negative) and
//     returns the previous break, or nullptr when the break cannot move. It
//     keeps libc's idea of the break consistent (it is sbrk(3)), so other
//     users of sbrk in the process still see the right break.
//   - Map(size) returns `size` bytes (a page multiple) of zero-filled,
//     readable and writable private anonymous memory, or nullptr.
//   - Unmap, Release, Remap take page-aligned ranges the allocator mapped or
//     owns in its heap. Release(addr, size) = madvise(MADV_DONTNEED): the
//     range stays usable and reads as zeros afterwards.
//   - Remap(old, old_size, new_size) is mremap(MREMAP_MAYMOVE); nullptr on
//     failure, the old mapping intact.
//   - Successful calls leave errno unchanged; failed calls set it.
//   - None of them allocate, lock, or call the recorder. Callers record the
//     segment events (track.h) themselves.
//   - NowMs() is a coarse monotonic clock for release decay.
#ifndef HEAPLENS_INTERPOSER_ALLOCATOR_OS_H_
#define HEAPLENS_INTERPOSER_ALLOCATOR_OS_H_

#include <stddef.h>
#include <stdint.h>

namespace heaplens {

class OsInterface {
 public:
  virtual void* Sbrk(intptr_t increment) = 0;
  virtual void* Map(size_t size) = 0;
  virtual bool Unmap(void* addr, size_t size) = 0;
  virtual bool Release(void* addr, size_t size) = 0;
  virtual void* Remap(void* addr, size_t old_size, size_t new_size) = 0;
  virtual uint64_t NowMs() = 0;

 protected:
  ~OsInterface() = default;
};

// The real kernel. Stateless; constant-initialized so it can be used before
// constructors run.
class RealOs final : public OsInterface {
 public:
  constexpr RealOs() = default;
  void* Sbrk(intptr_t increment) override;
  void* Map(size_t size) override;
  bool Unmap(void* addr, size_t size) override;
  bool Release(void* addr, size_t size) override;
  void* Remap(void* addr, size_t old_size, size_t new_size) override;
  uint64_t NowMs() override;
};

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_ALLOCATOR_OS_H_
