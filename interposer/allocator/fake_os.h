// fake_os.h: an OsInterface for unit tests.
//
// The "break" lives in a private reservation, so tests can grow and shrink
// it, cap it (SetBrkLimit) to force the mmap fallback, and inspect what the
// allocator did (counters, IsReleased) without touching the process break.
// Map/Unmap/Remap use real anonymous mappings. Release zero-fills the range,
// which is what MADV_DONTNEED means for the allocator. The clock is manual.
#ifndef HEAPLENS_INTERPOSER_ALLOCATOR_FAKE_OS_H_
#define HEAPLENS_INTERPOSER_ALLOCATOR_FAKE_OS_H_

#include <string.h>
#include <sys/mman.h>

#include "interposer/allocator/os.h"

namespace heaplens {

class FakeOs final : public OsInterface {
 public:
  // `reserve` bytes of address space back the fake break. The initial break
  // is deliberately not page-aligned, as a real one after ld.so may be.
  explicit FakeOs(size_t reserve = size_t{1} << 30) : reserve_(reserve) {
    base_ = static_cast<char*>(mmap(nullptr, reserve, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                                    -1, 0));
    brk_ = base_ + 24;
    limit_ = base_ + reserve;
  }
  ~FakeOs() { munmap(base_, reserve_); }

  void* Sbrk(intptr_t inc) override {
    ++sbrk_calls;
    char* old = brk_;
    if (inc > 0 && (fail_brk || brk_ + inc > limit_)) return nullptr;
    if (inc < 0 && brk_ + inc < base_) return nullptr;
    brk_ += inc;
    return old;
  }
  void* Map(size_t size) override {
    if (fail_map) return nullptr;
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    ++maps;
    mapped_bytes += size;
    return p;
  }
  bool Unmap(void* addr, size_t size) override {
    ++unmaps;
    mapped_bytes -= size;
    return munmap(addr, size) == 0;
  }
  bool Release(void* addr, size_t size) override {
    ++releases;
    released_bytes += size;
    memset(addr, 0, size);
    return true;
  }
  void* Remap(void* addr, size_t old_size, size_t new_size) override {
    void* p = mremap(addr, old_size, new_size, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return nullptr;
    mapped_bytes += new_size - old_size;
    return p;
  }
  uint64_t NowMs() override { return now_ms; }

  // Lets another "user" of the break move it (as a foreign sbrk would).
  void ForeignSbrk(intptr_t inc) { brk_ += inc; }
  // Caps the break at base + bytes.
  void SetBrkLimit(size_t bytes) { limit_ = base_ + bytes; }
  char* brk() const { return brk_; }
  char* base() const { return base_; }

  bool fail_brk = false;
  bool fail_map = false;
  uint64_t now_ms = 0;
  int sbrk_calls = 0;
  int maps = 0;
  int unmaps = 0;
  int releases = 0;
  size_t released_bytes = 0;
  size_t mapped_bytes = 0;

 private:
  size_t reserve_;
  char* base_;
  char* brk_;
  char* limit_;
};

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_ALLOCATOR_FAKE_OS_H_
