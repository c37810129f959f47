// plugin.c: a shared library loaded by plugin_host with dlopen and unloaded
// with dlclose before exit. Its leaks must be reported (and symbolized) after
// the module is gone.
//   plugin_leak()   2 x 150 B lost                         definite 300 B / 2
//   plugin_keep()   1 x 90 B held only by the plugin's own .bss: after dlclose
//                   that memory is unmapped, so the block is lost
//                                                          definite  90 B / 1
#include <stdlib.h>
#include <string.h>

static void* g_plugin_state;

__attribute__((noinline)) void plugin_leak(void) {
  for (int i = 0; i < 2; i++) {
    char* p = malloc(150);
    memset(p, 'x', 150);
  }
}

__attribute__((noinline)) void plugin_keep(void) {
  g_plugin_state = malloc(90);
  memset(g_plugin_state, 'k', 90);
}

void plugin_run(void) {
  plugin_leak();
  plugin_keep();
}
