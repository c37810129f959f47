// A plugin that leaks from its own code; dlopen'ed and dlclose'd by
// e2e_prog so the trace must keep its module for offline symbolization.
#include <stdlib.h>

void* volatile g_plugin_last;

extern "C" __attribute__((visibility("default"), noinline)) void*
plugin_leak() {
  void* p = malloc(123);
  g_plugin_last = p;  // not a tail call: this frame stays on the stack
  return p;
}
