// Multi-threaded and fork stress of the preloaded allocator: cross-thread
// frees, thread churn, fork while other threads allocate. Each test runs
// under an alarm so a deadlock fails instead of hanging.
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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

}  // namespace
