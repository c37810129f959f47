// e2e_prog: small programs run under the preload by recorder_e2e_test.
// Usage: e2e_prog MODE [ARG]. Prints "addr NAME 0x..." lines for functions
// the test looks for in stacks.
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

volatile void* g_keep;
// malloc + free through volatile so the compiler cannot elide the pair.
void Churn(size_t n) {
  void* volatile p = malloc(n);
  free(p);
}

extern "C" __attribute__((noinline)) void LeakCxx() {
  // A std::string on the heap (leaked) and a new'd object.
  auto* s = new std::string(100, 'x');
  g_keep = s;
  s = nullptr;
  int* leak = new int[7];
  g_keep = leak;
}

extern "C" __attribute__((noinline)) void LeakStrdup() {
  g_keep = strdup("a string that is long enough");
}

void* Worker(void* arg) {
  long id = reinterpret_cast<long>(arg);
  for (int i = 0; i < 1000; ++i) Churn(16 + id);
  return nullptr;
}

// Blocks change threads: main allocates, the helper frees it and allocates
// one main frees, so addresses are reused across threads. Main records alone
// first (the recorder then reuses time stamps).
pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
void* g_slot;
int g_turn;  // 0: main's, 1: helper's

void* Helper(void*) {
  for (int i = 0; i < 2000; ++i) {
    pthread_mutex_lock(&g_mu);
    while (g_turn != 1) pthread_cond_wait(&g_cv, &g_mu);
    free(g_slot);
    g_slot = malloc(48);
    g_turn = 0;
    pthread_cond_signal(&g_cv);
    pthread_mutex_unlock(&g_mu);
  }
  return nullptr;
}

void Handoff() {
  for (int i = 0; i < 5000; ++i) Churn(48);
  pthread_t t;
  pthread_create(&t, nullptr, Helper, nullptr);
  for (int i = 0; i < 2000; ++i) {
    pthread_mutex_lock(&g_mu);
    while (g_turn != 0) pthread_cond_wait(&g_cv, &g_mu);
    free(g_slot);
    g_slot = malloc(48);
    g_turn = 1;
    pthread_cond_signal(&g_cv);
    pthread_mutex_unlock(&g_mu);
  }
  pthread_join(t, nullptr);
  free(g_slot);
  for (int i = 0; i < 5000; ++i) Churn(48);
}

// Writes to stdout until the process ends.
void* StdoutWriter(void*) {
  for (int i = 0;; ++i) {
    printf("writer %d\n", i);
    fflush(stdout);
    usleep(200);
  }
  return nullptr;
}

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  printf("addr LeakCxx %p\n", reinterpret_cast<void*>(&LeakCxx));
  printf("addr LeakStrdup %p\n", reinterpret_cast<void*>(&LeakStrdup));
  fflush(stdout);
  if (mode == "threads") {
    pthread_t t[4];
    for (long i = 0; i < 4; ++i)
      pthread_create(&t[i], nullptr, Worker, (void*)i);
    for (auto& x : t) pthread_join(x, nullptr);
  } else if (mode == "sleep") {
    // Allocations 30 ms apart, across the clock's refinement at 20 ms.
    for (int i = 0; i < 4; ++i) {
      for (int k = 0; k < 100; ++k) Churn(24 + i);
      usleep(30000);
    }
  } else if (mode == "handoff") {
    Handoff();
  } else if (mode == "cxx") {
    LeakCxx();
    LeakStrdup();
    g_keep = nullptr;
  } else if (mode == "fork") {
    Churn(10);
    pid_t p = fork();
    if (p == 0) {
      for (int i = 0; i < 100; ++i) Churn(20);
      exit(3);
    }
    int st;
    waitpid(p, &st, 0);
    Churn(30);
  } else if (mode == "exec") {
    pid_t p = fork();
    if (p == 0) {
      execl(argv[0], argv[0], "cxx", (char*)nullptr);
      _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
  } else if (mode == "dlopen") {
    void* h = dlopen(argv[2], RTLD_NOW);
    if (h == nullptr) return 2;
    auto fn = reinterpret_cast<void* (*)()>(dlsym(h, "plugin_leak"));
    g_keep = fn();
    dlclose(h);
    g_keep = malloc(77);
  } else if (mode == "kill") {
    // Allocate steadily; the test kills us with SIGKILL.
    for (int i = 0;; ++i) {
      g_keep = malloc(1000 + i % 100);
      if (i % 100 == 0) {
        printf("alive %d\n", i);
        fflush(stdout);
      }
      usleep(1000);
    }
  } else if (mode == "underscore") {
    g_keep = malloc(5);
    _exit(7);
  } else if (mode == "exitcode") {
    g_keep = malloc(5);
    exit(5);
  } else if (mode == "stdio") {
    // stdout (a file here) has its buffer; with ARG "writer", a thread
    // still writes through it when main returns.
    printf("addr stdout_buf %p\n", static_cast<void*>(stdout->_IO_buf_base));
    fflush(stdout);
    if (argc > 2 && std::string(argv[2]) == "writer") {
      pthread_t t;
      pthread_create(&t, nullptr, StdoutWriter, nullptr);
      usleep(20000);
    }
  } else if (mode == "throw") {
    try {
      throw std::string("boom");
    } catch (const std::string& s) {
      printf("caught %s\n", s.c_str());
    }
  }
  return 0;
}
