// plugin_host.c: dlopens the plugin given by path (argv[1]; the test finds it
// in the runfiles), runs it and dlcloses it.
//   host_leak()   1 x 64 B lost in the host, before dlopen: definite 64 B / 1
//                 (allocated after dlclose, it would reuse memory the loader
//                 freed, to which the loader keeps a stale pointer under
//                 heaplens: docs/accuracy.md)
//   the plugin's leaks: see plugin.c
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "examples/corpus/corpus_util.h"

__attribute__((noinline)) void host_leak(void) {
  char* p = malloc(64);
  memset(p, 'h', 64);
}

__attribute__((noinline)) int run_plugin(const char* path) {
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    corpus_say("plugin_host: dlopen failed\n");
    return 1;
  }
  void (*run)(void) = (void (*)(void))dlsym(h, "plugin_run");
  if (run == NULL) {
    corpus_say("plugin_host: no plugin_run\n");
    return 1;
  }
  run();
  return dlclose(h) == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    corpus_say("usage: plugin_host PLUGIN.so\n");
    return 2;
  }
  host_leak();
  int rc = run_plugin(argv[1]);
  corpus_scrub_stack();
  corpus_say(rc == 0 ? "plugin_host: done\n" : "plugin_host: failed\n");
  return rc;
}
