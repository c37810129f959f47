#include "interposer/options.h"

#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "interposer/log.h"

extern char** environ;

namespace heaplens {
namespace {

constexpr Options kDefaults = {
#define HL_OPTION_SIZE(name, def, desc) static_cast<uint64_t>(def),
#define HL_OPTION_BOOL(name, def, desc) static_cast<uint64_t>(def),
#define HL_OPTION_ENUM(name, def, values, desc) static_cast<uint64_t>(def),
#include "interposer/options.inc"
};

Options g_options = kDefaults;
bool g_options_read = false;
int g_secure_override = -1;  // SetSecureModeForTest

enum class Kind { kSize, kBool, kEnum };

struct Entry {
  const char* name;
  Kind kind;
  const char* values;  // kEnum: "a|b|c"
  uint64_t Options::*field;
};

constexpr Entry kEntries[] = {
#define HL_OPTION_SIZE(name, def, desc) \
  {#name, Kind::kSize, "", &Options::name},
#define HL_OPTION_BOOL(name, def, desc) \
  {#name, Kind::kBool, "", &Options::name},
#define HL_OPTION_ENUM(name, def, values, desc) \
  {#name, Kind::kEnum, values, &Options::name},
#include "interposer/options.inc"
};

constexpr size_t kMaxSpec = 4096;
constexpr size_t kMaxToken = 128;

bool Eq(const char* a, size_t alen, const char* b) {
  return strlen(b) == alen && memcmp(a, b, alen) == 0;
}

bool ParseSize(const char* v, size_t n, uint64_t* out) {
  if (n == 0) return false;
  uint64_t r = 0;
  size_t i = 0;
  for (; i < n && v[i] >= '0' && v[i] <= '9'; ++i) {
    if (r > (UINT64_MAX - 9) / 10) return false;
    r = r * 10 + static_cast<uint64_t>(v[i] - '0');
  }
  if (i == 0) return false;
  int shift = 0;
  if (i + 1 == n) {
    switch (v[i]) {
      case 'k':
      case 'K':
        shift = 10;
        break;
      case 'm':
      case 'M':
        shift = 20;
        break;
      case 'g':
      case 'G':
        shift = 30;
        break;
      default:
        return false;
    }
  } else if (i != n) {
    return false;
  }
  if (shift != 0 && r > (UINT64_MAX >> shift)) return false;
  *out = r << shift;
  return true;
}

// Index of `v` in "a|b|c", or -1.
int EnumIndex(const char* values, const char* v, size_t n) {
  int idx = 0;
  const char* p = values;
  while (true) {
    const char* bar = strchr(p, '|');
    size_t len = bar ? static_cast<size_t>(bar - p) : strlen(p);
    if (len == n && memcmp(p, v, n) == 0) return idx;
    if (!bar) return -1;
    p = bar + 1;
    ++idx;
  }
}

bool ParseOne(const char* tok, size_t n) {
  const char* eq = static_cast<const char*>(memchr(tok, '=', n));
  if (eq == nullptr) return false;
  size_t name_len = static_cast<size_t>(eq - tok);
  const char* v = eq + 1;
  size_t vlen = n - name_len - 1;
  for (const Entry& e : kEntries) {
    if (!Eq(tok, name_len, e.name)) continue;
    uint64_t val;
    switch (e.kind) {
      case Kind::kSize:
        if (!ParseSize(v, vlen, &val)) return false;
        break;
      case Kind::kBool:
        if (Eq(v, vlen, "1") || Eq(v, vlen, "true")) {
          val = 1;
        } else if (Eq(v, vlen, "0") || Eq(v, vlen, "false")) {
          val = 0;
        } else {
          return false;
        }
        break;
      case Kind::kEnum: {
        int i = EnumIndex(e.values, v, vlen);
        if (i < 0) return false;
        val = static_cast<uint64_t>(i);
        break;
      }
    }
    g_options.*e.field = val;
    return true;
  }
  return false;
}

void Reject(const char* tok, size_t n) {
  char buf[256];
  RawBuffer b(buf, sizeof(buf));
  b.Str("HEAPLENS_OPTIONS: ignoring '")
      .Str(tok, n > kMaxToken ? kMaxToken : n)
      .Str("'");
  RawLog(b);
}

}  // namespace

const Options& GetOptions() { return g_options; }

int ParseOptions(const char* spec) {
  size_t len = strnlen(spec, kMaxSpec + 1);
  if (len > kMaxSpec) {
    RawLog("HEAPLENS_OPTIONS: longer than 4096 bytes; ignored");
    return 1;
  }
  int rejected = 0;
  const char* p = spec;
  const char* end = spec + len;
  while (p < end) {
    const char* q = p;
    while (q < end && *q != ':' && *q != ',') ++q;
    size_t n = static_cast<size_t>(q - p);
    if (n > 0 && (n > kMaxToken || !ParseOne(p, n))) {
      Reject(p, n);
      ++rejected;
    }
    p = q + 1;
  }
  return rejected;
}

bool InitOptions() {
  if (g_options_read) return true;
  if (environ == nullptr) return false;
  g_options_read = true;
  bool secure = g_secure_override >= 0 ? g_secure_override != 0
                                       : getauxval(AT_SECURE) != 0;
  if (secure) return true;
  static const char kVar[] = "HEAPLENS_OPTIONS=";
  for (char** e = environ; *e != nullptr; ++e) {
    if (strncmp(*e, kVar, sizeof(kVar) - 1) == 0) {
      ParseOptions(*e + sizeof(kVar) - 1);
      break;
    }
  }
  return true;
}

void SetSecureModeForTest(int secure) { g_secure_override = secure; }

void ResetOptionsForTest() {
  g_options = kDefaults;
  g_options_read = false;
}

size_t OptionsCanonicalString(char* buf, size_t cap) {
  char tmp[32];
  size_t need = 0;
  auto put = [&](const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i, ++need) {
      if (need + 1 < cap) buf[need] = s[i];
    }
  };
  bool first = true;
  for (const Entry& e : kEntries) {
    if (!first) put(":", 1);
    first = false;
    put(e.name, strlen(e.name));
    put("=", 1);
    uint64_t v = g_options.*e.field;
    if (e.kind == Kind::kEnum) {
      const char* p = e.values;
      for (uint64_t i = 0; i < v && p; ++i) {
        p = strchr(p, '|');
        if (p) ++p;
      }
      if (p) {
        const char* bar = strchr(p, '|');
        put(p, bar ? static_cast<size_t>(bar - p) : strlen(p));
      }
    } else {
      RawBuffer b(tmp, sizeof(tmp));
      b.Dec(v);
      put(b.data(), b.size());
    }
  }
  if (cap > 0) buf[need < cap ? need : cap - 1] = '\0';
  return need;
}

}  // namespace heaplens
