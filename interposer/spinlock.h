// spinlock.h: a lock that needs no allocation and no initialization.
//
// Used only off the hot path (refilling a thread cache, growing the heap,
// flushing a trace batch). Zero-initialized storage is an unlocked lock, so
// it works before constructors run. Fork handlers (libc_override.cc) take
// every SpinLock the child needs and reset them in the child.
#ifndef HEAPLENS_INTERPOSER_SPINLOCK_H_
#define HEAPLENS_INTERPOSER_SPINLOCK_H_

#include <sched.h>

#include <atomic>

namespace heaplens {

class SpinLock {
 public:
  constexpr SpinLock() = default;
  void Lock() {
    for (int spins = 0;; ++spins) {
      if (!state_.exchange(true, std::memory_order_acquire)) return;
      while (state_.load(std::memory_order_relaxed)) {
        if (++spins > 64) {
          sched_yield();
          spins = 0;
        } else {
          __builtin_ia32_pause();
        }
      }
    }
  }
  bool TryLock() { return !state_.exchange(true, std::memory_order_acquire); }
  void Unlock() { state_.store(false, std::memory_order_release); }
  // For the child after fork: the lock may have been held by a thread that
  // does not exist there.
  void ResetAfterFork() { state_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> state_{false};
};

class SpinLockHolder {
 public:
  explicit SpinLockHolder(SpinLock* l) : l_(l) { l_->Lock(); }
  ~SpinLockHolder() { l_->Unlock(); }
  SpinLockHolder(const SpinLockHolder&) = delete;
  SpinLockHolder& operator=(const SpinLockHolder&) = delete;

 private:
  SpinLock* l_;
};

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_SPINLOCK_H_
