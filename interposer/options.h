// options.h: heaplens runtime options, read once from HEAPLENS_OPTIONS.
//
// The table is options.inc (an X-macro). Syntax:
//   HEAPLENS_OPTIONS=mmap_threshold=256k:release_policy=eager:stack_depth=32
// Entries are separated by ':' (or ','). Unknown names and bad values are
// reported once on stderr and ignored. Under AT_SECURE (setuid/setgid) the
// variable is ignored, as glibc ignores MALLOC_* variables.
//
// Nothing here allocates; parsing works before constructors run.
//
// Example:
//   InitOptions();
//   if (GetOptions().abort_on_invalid_free) ...
#ifndef HEAPLENS_INTERPOSER_OPTIONS_H_
#define HEAPLENS_INTERPOSER_OPTIONS_H_

#include <stddef.h>
#include <stdint.h>

namespace heaplens {

// Values of release_policy.
enum ReleasePolicy : uint64_t {
  kReleaseDecay = 0,
  kReleaseEager = 1,
  kReleaseNever = 2,
};

struct Options {
#define HL_OPTION_SIZE(name, def, desc) uint64_t name;
#define HL_OPTION_BOOL(name, def, desc) uint64_t name;
#define HL_OPTION_ENUM(name, def, values, desc) uint64_t name;
#include "interposer/options.inc"
};

// The effective options. Defaults until InitOptions() ran.
const Options& GetOptions();

// Reads HEAPLENS_OPTIONS (once; later calls do nothing). Returns false when
// the environment was not available yet (called before libc set `environ`);
// then a later call tries again.
bool InitOptions();

// Parses `spec` on top of the current values (for tests and InitOptions).
// Returns the number of entries rejected.
int ParseOptions(const char* spec);

// Restores the defaults (tests).
void ResetOptionsForTest();

// Tests: makes InitOptions see AT_SECURE as `secure` (1 or 0); -1 restores
// getauxval(AT_SECURE).
void SetSecureModeForTest(int secure);

// Writes the effective options in canonical form ("name=value:..." in table
// order, sizes in bytes, enums by name) to buf, NUL-terminated and truncated
// to cap. Returns the length it needed (like snprintf). No allocation.
size_t OptionsCanonicalString(char* buf, size_t cap);

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_OPTIONS_H_
