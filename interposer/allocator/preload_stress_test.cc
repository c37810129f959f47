// Multi-threaded and fork stress of the preloaded allocator: cross-thread
// frees, thread churn, fork while other threads allocate. Each test runs
// under an alarm so a deadlock fails instead of hanging.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace {

class Stress : public ::testing::Test {
 protected:
  void SetUp() override { alarm(120); }
  void TearDown() override { alarm(0); }
};

// Fills a block with a pattern derived from its address and size.
void Fill(void* p, size_t n) {
  unsigned char v =
      static_cast<unsigned char>(reinterpret_cast<uintptr_t>(p) >> 4 ^ n);
  memset(p, v, n < 64 ? n : 64);
}
bool Check(void* p, size_t n) {
  unsigned char v =
      static_cast<unsigned char>(reinterpret_cast<uintptr_t>(p) >> 4 ^ n);
  const unsigned char* c = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < (n < 64 ? n : 64); ++i) {
    if (c[i] != v) return false;
  }
  return true;
}

struct Queue {
  std::mutex mu;
  std::vector<std::pair<void*, size_t>> items;
};

TEST_F(Stress, CrossThreadFrees) {
  constexpr int kThreads = 4;
  Queue queues[kThreads];
  std::atomic<bool> bad{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 200000; ++i) {
        size_t n = rng() % 4 == 0 ? rng() % 40000 + 1 : rng() % 256 + 1;
        void* p = malloc(n);
        Fill(p, n);
        Queue& q = queues[(t + 1) % kThreads];
        {
          std::lock_guard<std::mutex> l(q.mu);
          q.items.emplace_back(p, n);
        }
        if (i % 16 == 0) {
          std::vector<std::pair<void*, size_t>> mine;
          {
            std::lock_guard<std::mutex> l(queues[t].mu);
            mine.swap(queues[t].items);
          }
          for (auto& it : mine) {
            if (!Check(it.first, it.second)) bad = true;
            free(it.first);
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (auto& q : queues) {
    for (auto& it : q.items) {
      if (!Check(it.first, it.second)) bad = true;
      free(it.first);
    }
  }
  EXPECT_FALSE(bad);
}

TEST_F(Stress, ThreadChurn) {
  std::mutex mu;
  std::vector<void*> handoff;
  for (int round = 0; round < 100; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        std::vector<void*> v;
        for (int i = 0; i < 2000; ++i) v.push_back(malloc(i % 700 + 1));
        std::lock_guard<std::mutex> l(mu);
        for (size_t i = 0; i < v.size(); ++i) {
          if (i % 2) {
            free(v[i]);
          } else {
            handoff.push_back(v[i]);
          }
        }
        // Free some blocks allocated by threads that already exited.
        while (handoff.size() > 3000) {
          free(handoff.back());
          handoff.pop_back();
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  for (void* p : handoff) free(p);
}

TEST_F(Stress, ForkWhileThreadsAllocate) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::vector<void*> v(512, nullptr);
      while (!stop) {
        size_t i = rng() % v.size();
        free(v[i]);
        v[i] = malloc(rng() % 3 == 0 ? rng() % 300000 + 1 : rng() % 512 + 1);
      }
      for (void* p : v) free(p);
    });
  }
  for (int i = 0; i < 100; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // The child must be able to allocate, free, and start threads.
      std::vector<void*> v;
      for (int j = 0; j < 2000; ++j) v.push_back(malloc(j % 1000 + 1));
      for (void* p : v) free(p);
      std::thread th([] { free(malloc(100)); });
      th.join();
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    ASSERT_EQ(WEXITSTATUS(status), 0);
  }
  stop = true;
  for (auto& th : threads) th.join();
}

// A signal handler that allocates and frees while its thread is inside
// malloc/free (the allocator's re-entrant path): no deadlock, no corruption.
// It also frees blocks the interrupted code allocated (deferred frees).
std::atomic<int> g_handler_runs{0};
std::atomic<void*> g_handoff{nullptr};

void AllocatingHandler(int) {
  int saved = errno;
  void* a = malloc(48);
  void* b = calloc(3, 100);
  void* c = realloc(nullptr, 40);
  c = realloc(c, 5000);
  void* d = memalign(256, 100);
  void* big = malloc(200000);
  if (a != nullptr && b != nullptr && c != nullptr && d != nullptr &&
      big != nullptr && reinterpret_cast<uintptr_t>(d) % 256 == 0 &&
      static_cast<char*>(b)[299] == 0 && malloc_usable_size(c) >= 5000) {
    memset(a, 1, 48);
    memset(c, 2, 5000);
    memset(big, 3, 200000);
    g_handler_runs++;
  }
  free(a);
  free(b);
  free(c);
  free(d);
  free(big);
  free(g_handoff.exchange(nullptr));
  errno = saved;
}

TEST_F(Stress, MallocInSignalHandler) {
  struct sigaction sa = {};
  sa.sa_handler = AllocatingHandler;
  sa.sa_flags = SA_RESTART;
  ASSERT_EQ(sigaction(SIGPROF, &sa, nullptr), 0);
  struct itimerval it = {{0, 200}, {0, 200}};
  ASSERT_EQ(setitimer(ITIMER_PROF, &it, nullptr), 0);
  std::mt19937 rng(7);
  std::vector<void*> v(256, nullptr);
  for (long i = 0; i < 20000000 && g_handler_runs < 3000; ++i) {
    size_t k = i % v.size();
    free(v[k]);
    size_t n = rng() % 8 == 0 ? rng() % 100000 + 1 : rng() % 300 + 1;
    v[k] = malloc(n);
    ASSERT_NE(v[k], nullptr);
    Fill(v[k], n);
    if (i % 16 == 0) free(g_handoff.exchange(malloc(n)));
  }
  struct itimerval off = {};
  setitimer(ITIMER_PROF, &off, nullptr);
  signal(SIGPROF, SIG_DFL);
  for (void* p : v) free(p);
  free(g_handoff.exchange(nullptr));
  EXPECT_GT(g_handler_runs.load(), 0);
  // The heap is sane afterwards.
  std::vector<void*> w;
  for (int j = 0; j < 10000; ++j) {
    w.push_back(malloc(j % 700 + 1));
    Fill(w.back(), j % 700 + 1);
  }
  for (int j = 0; j < 10000; ++j) EXPECT_TRUE(Check(w[j], j % 700 + 1));
  for (void* p : w) free(p);
}

// fork() from a signal handler that may interrupt malloc, while other
// threads allocate. The child allocates and exits.
std::atomic<int> g_forks{0};
std::atomic<int> g_fork_failures{0};

void ForkingHandler(int) {
  int saved = errno;
  pid_t pid = fork();
  if (pid == 0) {
    void* p = malloc(100);
    free(p);
    _exit(p != nullptr ? 0 : 1);
  }
  if (pid > 0) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      g_fork_failures++;
    }
    g_forks++;
  }
  errno = saved;
}

TEST_F(Stress, ForkInSignalHandler) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::vector<void*> v(256, nullptr);
      while (!stop) {
        size_t i = rng() % v.size();
        free(v[i]);
        v[i] = malloc(rng() % 2000 + 1);
      }
      for (void* p : v) free(p);
    });
  }
  struct sigaction sa = {};
  sa.sa_handler = ForkingHandler;
  sa.sa_flags = SA_RESTART;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, nullptr), 0);
  pthread_t self = pthread_self();
  std::atomic<bool> killer_done{false};
  std::thread killer([&] {
    for (int i = 0; i < 40; ++i) {
      pthread_kill(self, SIGUSR1);
      usleep(2000);
    }
    killer_done = true;
  });
  std::mt19937 rng(9);
  std::vector<void*> v(128, nullptr);
  while (!killer_done) {
    size_t k = rng() % v.size();
    free(v[k]);
    v[k] = malloc(rng() % 3000 + 1);
  }
  killer.join();
  stop = true;
  for (auto& th : threads) th.join();
  for (void* p : v) free(p);
  signal(SIGUSR1, SIG_DFL);
  EXPECT_GT(g_forks.load(), 0);
  EXPECT_EQ(g_fork_failures.load(), 0);
}

}  // namespace
