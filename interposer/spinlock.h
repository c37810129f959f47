// spinlock.h: a lock that needs no allocation and no initialization.
//
// Used only off the hot path (refilling a thread cache, growing the heap,
// flushing a trace batch). Zero-initialized storage is an unlocked lock, so
// it works before constructors run. Fork handlers (libc_override.cc) take
// every SpinLock the child needs and reset them in the child.
#ifndef HEAPLENS_INTERPOSER_SPINLOCK_H_
#define HEAPLENS_INTERPOSER_SPINLOCK_H_

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdint>

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

// A SpinLock that knows which thread holds it. fork() called from a signal
// handler can interrupt the lock's critical section on the forking thread;
// the fork handlers must then neither wait for the lock (it is released only
// when the handler returns) nor reset it in the child (the interrupted frame
// still runs there). HeldByCurrentThread() tells that case apart from a lock
// held by another thread.
class OwnedSpinLock {
 public:
  constexpr OwnedSpinLock() = default;
  void Lock() {
    lock_.Lock();
    owner_.store(Self(), std::memory_order_relaxed);
  }
  bool TryLock() {
    if (!lock_.TryLock()) return false;
    owner_.store(Self(), std::memory_order_relaxed);
    return true;
  }
  void Unlock() {
    owner_.store(0, std::memory_order_relaxed);
    lock_.Unlock();
  }
  // Exact for the calling thread: only it can have stored its own id.
  bool HeldByCurrentThread() const {
    return owner_.load(std::memory_order_relaxed) == Self();
  }
  void ResetAfterFork() {
    owner_.store(0, std::memory_order_relaxed);
    lock_.ResetAfterFork();
  }

 private:
  static uintptr_t Self() { return static_cast<uintptr_t>(pthread_self()); }
  SpinLock lock_;
  std::atomic<uintptr_t> owner_{0};
};

template <typename Lock>
class SpinLockHolder {
 public:
  explicit SpinLockHolder(Lock* l) : l_(l) { l_->Lock(); }
  ~SpinLockHolder() { l_->Unlock(); }
  SpinLockHolder(const SpinLockHolder&) = delete;
  SpinLockHolder& operator=(const SpinLockHolder&) = delete;

 private:
  Lock* l_;
};

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_SPINLOCK_H_
