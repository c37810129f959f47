// faults.c: one program, many ways for a traced process to misbehave or be
// hit by faults. tests/robustness/faults_test.py runs each mode under the
// preload (tracing off and on) with a timeout and checks the outcome.
//
//   faults MODE
//
// Every mode prints "ok <mode>" on success and exits 0, unless the mode's
// purpose is to crash or abort.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static volatile int g_stop;

static void fail(const char* what) {
  fprintf(stderr, "FAIL: %s (errno %d)\n", what, errno);
  exit(1);
}

// A thread that allocates and frees in a loop until g_stop.
static void* churn(void* arg) {
  uintptr_t seed = (uintptr_t)arg;
  void* slots[64] = {0};
  while (!g_stop) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    int i = (int)((seed >> 33) % 64);
    free(slots[i]);
    size_t n = (size_t)((seed >> 40) % 2000) + 1;
    slots[i] = malloc(n);
    if (!slots[i]) fail("malloc in churn");
    memset(slots[i], (int)i, n);
  }
  for (int i = 0; i < 64; i++) free(slots[i]);
  return NULL;
}

static void start_churners(pthread_t* t, int n) {
  for (int i = 0; i < n; i++)
    if (pthread_create(&t[i], NULL, churn, (void*)(uintptr_t)(i + 1)))
      fail("pthread_create");
}

static void stop_churners(pthread_t* t, int n) {
  g_stop = 1;
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  g_stop = 0;
}

static int wait_ok(pid_t pid) {
  int st;
  if (waitpid(pid, &st, 0) != pid) fail("waitpid");
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// fork from a multi-threaded parent; the child allocates and exits.
static void fork_threads(void) {
  pthread_t t[3];
  start_churners(t, 3);
  for (int i = 0; i < 40; i++) {
    pid_t pid = fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
      void* v[100];
      for (int j = 0; j < 100; j++) v[j] = malloc((size_t)j * 31 + 1);
      for (int j = 0; j < 100; j++) free(v[j]);
      char* s = strdup("child");
      if (!s) _exit(3);
      // A child that also starts a thread must work too.
      pthread_t ct;
      if (pthread_create(&ct, NULL, churn, (void*)1)) _exit(4);
      usleep(1000);
      g_stop = 1;
      pthread_join(ct, NULL);
      exit(0);
    }
    if (!wait_ok(pid)) fail("child failed");
  }
  stop_churners(t, 3);
}

static volatile sig_atomic_t g_fork_done;
static void fork_in_handler(int sig) {
  (void)sig;
  pid_t pid = fork();
  if (pid == 0) {
    void* p = malloc(100);
    free(p);
    _exit(0);
  }
  if (pid > 0) {
    int st;
    waitpid(pid, &st, 0);
    g_fork_done++;
  }
}

// fork from a signal handler while other threads allocate.
static void fork_signal(void) {
  pthread_t t[2];
  start_churners(t, 2);
  signal(SIGUSR1, fork_in_handler);
  for (int i = 0; i < 30; i++) {
    raise(SIGUSR1);
    void* p = malloc(64);
    free(p);
  }
  stop_churners(t, 2);
  if (g_fork_done != 30) fail("forks in handler");
}

// Installs handler for sig (SA_RESTART) and arms the interval timer `which`
// to fire every usec microseconds.
static void start_timer(int sig, int which, void (*handler)(int), long usec) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART;
  sigaction(sig, &sa, NULL);
  struct itimerval it = {{0, usec}, {0, usec}};
  setitimer(which, &it, NULL);
}

// fork from a timer signal that lands anywhere, mostly inside traced
// malloc/free (and so inside the recorder). The child returns from the
// handler, leaks one 123-byte block of its own and exits normally: its trace
// must hold that leak, whether or not the fork interrupted the recorder.
static volatile sig_atomic_t g_forks_left = 20;
static volatile sig_atomic_t g_am_child;

static void fork_and_return(int sig) {
  (void)sig;
  if (g_am_child || g_forks_left <= 0) return;
  int saved = errno;
  pid_t pid = fork();
  if (pid == 0) {
    g_am_child = 1;
  } else if (pid > 0) {
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
      g_forks_left = -1000;  // reported by the caller
    else
      g_forks_left--;
  }
  errno = saved;
}

static __attribute__((noinline)) void leak_123(void) {
  char* volatile leak = malloc(123);
  leak[0] = 1;
  leak = NULL;
}

static __attribute__((noinline)) void child_leaks(void) {
  leak_123();
  void* v[50];
  for (int i = 0; i < 50; i++) v[i] = malloc((size_t)i * 10 + 1);
  for (int i = 0; i < 50; i++) free(v[i]);
  exit(0);
}

static void fork_interrupts_malloc(void) {
  start_timer(SIGPROF, ITIMER_PROF, fork_and_return, 500);
  void* v[256] = {0};
  for (long i = 0; g_forks_left > 0 && i < 400000000; i++) {
    if (g_am_child) child_leaks();
    int k = (int)(i % 256);
    free(v[k]);
    v[k] = malloc((size_t)(i % 700) + 1);
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_PROF, &off, NULL);
  if (g_am_child) child_leaks();
  for (int k = 0; k < 256; k++) free(v[k]);
  if (g_forks_left != 0) fail("children of forks from the timer handler");
}

static volatile sig_atomic_t g_handler_allocs;
static void malloc_in_handler(int sig) {
  (void)sig;
  void* p = malloc(48);
  if (p) {
    memset(p, 1, 48);
    free(p);
    g_handler_allocs++;
  }
}

// A signal handler that calls malloc, interrupting malloc/free on the same
// thread (not async-signal-safe by POSIX, but real programs do it).
static void signal_malloc(void) {
  start_timer(SIGALRM, ITIMER_REAL, malloc_in_handler, 200);
  void* v[256] = {0};
  for (long i = 0; i < 2000000 && g_handler_allocs < 2000; i++) {
    int k = (int)(i % 256);
    free(v[k]);
    v[k] = malloc((size_t)(i % 300) + 1);
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  for (int k = 0; k < 256; k++) free(v[k]);
  if (g_handler_allocs == 0) fail("no handler ran");
}

// vfork + exec and posix_spawn from a program using the preload.
static void spawn(void) {
  for (int i = 0; i < 10; i++) {
    pid_t pid = vfork();
    if (pid == 0) {
      execl("/bin/true", "true", (char*)NULL);
      _exit(127);
    }
    if (pid < 0 || !wait_ok(pid)) fail("vfork+exec");
  }
  for (int i = 0; i < 10; i++) {
    pid_t pid;
    char* argv[] = {"true", NULL};
    if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ))
      fail("posix_spawn");
    if (!wait_ok(pid)) fail("spawned child");
  }
}

struct handoff {
  void* blocks[1000];
};

static void* make_and_exit(void* arg) {
  struct handoff* h = arg;
  for (int i = 0; i < 1000; i++) h->blocks[i] = malloc((size_t)(i % 500) + 1);
  return NULL;  // the thread exits; its blocks are freed by another thread
}

// Threads that exit while others free their memory.
static void thread_exit(void) {
  for (int round = 0; round < 50; round++) {
    struct handoff h;
    pthread_t t;
    if (pthread_create(&t, NULL, make_and_exit, &h)) fail("pthread_create");
    pthread_join(t, NULL);
    for (int i = 0; i < 1000; i++) free(h.blocks[i]);
  }
}

// Address-space or data limit: allocations fail with ENOMEM, the program's
// own error handling runs, and after freeing it can allocate again.
static void rlimit(int resource) {
  struct rlimit rl = {256ull << 20, 256ull << 20};
  if (setrlimit(resource, &rl)) fail("setrlimit");
  errno = 0;
  void* big = malloc(1ull << 30);
  if (big != NULL || errno != ENOMEM)
    fail("1 GiB malloc under a 256 MiB limit");
  // Fill the limit with small blocks (brk heap) until malloc fails.
  enum { kMax = 1 << 22 };
  void** v = calloc(kMax, sizeof(void*));
  if (!v) fail("calloc index");
  int n = 0;
  errno = 0;
  while (n < kMax) {
    void* p = malloc(4000);
    if (!p) break;
    memset(p, 7, 64);
    v[n++] = p;
  }
  if (n == kMax) fail("small allocations never failed");
  if (errno != ENOMEM) fail("errno after failed small malloc");
  for (int i = 0; i < n; i++) free(v[i]);
  free(v);
  void* again = malloc(1 << 20);
  if (!again) fail("allocation after freeing");
  free(again);
}

// Misuse: the allocator must not corrupt itself; tracing records it.
static void double_free(void) {
  char* volatile p = malloc(40);
  free(p);
  free(p);  // double free
  void* q[100];
  for (int i = 0; i < 100; i++) q[i] = malloc(40);  // heap still sane
  for (int i = 0; i < 100; i++) free(q[i]);
}

static void invalid_free(void) {
  static char not_heap[64];
  char* volatile nh = not_heap;
  free(nh);  // never allocated
  char* volatile p = malloc(100);
  free(p + 16);  // interior pointer
  free(p);
  char* volatile r = malloc(32);
  free(r);
  r = realloc(r, 64);  // realloc of a freed block (glibc may abort)
  (void)r;
  void* q[100];
  for (int i = 0; i < 100; i++) q[i] = malloc(32);
  for (int i = 0; i < 100; i++) free(q[i]);
}

// Allocates, then replaces itself with /bin/true (execl, so the argument
// gathering of the wrapper is exercised); a failed exec first must not end
// the trace.
static void exec_self(void) {
  char* volatile kept = malloc(77);
  kept[0] = 1;
  if (execl("/nonexistent/heaplens-test", "x", (char*)NULL) != -1 ||
      errno != ENOENT)
    fail("exec of a missing file");
  char* volatile after = malloc(33);
  after[0] = 1;
  printf("ok exec_self\n");
  fflush(stdout);
  execl("/bin/true", "true", "a", "b", (char*)NULL);
  fail("execl /bin/true");
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: faults MODE\n");
    return 2;
  }
  const char* m = argv[1];
  if (!strcmp(m, "fork_threads"))
    fork_threads();
  else if (!strcmp(m, "fork_signal"))
    fork_signal();
  else if (!strcmp(m, "signal_malloc"))
    signal_malloc();
  else if (!strcmp(m, "fork_interrupts_malloc"))
    fork_interrupts_malloc();
  else if (!strcmp(m, "spawn"))
    spawn();
  else if (!strcmp(m, "thread_exit"))
    thread_exit();
  else if (!strcmp(m, "rlimit_as"))
    rlimit(RLIMIT_AS);
  else if (!strcmp(m, "rlimit_data"))
    rlimit(RLIMIT_DATA);
  else if (!strcmp(m, "double_free"))
    double_free();
  else if (!strcmp(m, "exec_self"))
    exec_self();
  else if (!strcmp(m, "invalid_free"))
    invalid_free();
  else {
    fprintf(stderr, "unknown mode %s\n", m);
    return 2;
  }
  printf("ok %s\n", m);
  return 0;
}
