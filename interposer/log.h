// log.h: diagnostics for code that runs inside the traced process.
//
// Nothing here allocates or uses stdio: messages are formatted into a stack
// buffer and written to fd 2 with write(2). HL_CHECK aborts with the file and
// line; it is for broken invariants of heaplens itself, never for misuse by
// the traced program (which is reported, not fatal, unless the user asks).
#ifndef HEAPLENS_INTERPOSER_LOG_H_
#define HEAPLENS_INTERPOSER_LOG_H_

#include <stddef.h>
#include <stdint.h>

namespace heaplens {

// Appends to a fixed buffer, silently truncating. No allocation.
class RawBuffer {
 public:
  RawBuffer(char* buf, size_t cap) : buf_(buf), cap_(cap) {}
  RawBuffer& Str(const char* s);
  RawBuffer& Str(const char* s, size_t n);
  RawBuffer& Dec(uint64_t v);
  RawBuffer& SignedDec(int64_t v);
  RawBuffer& Hex(uint64_t v);
  RawBuffer& Char(char c);
  size_t size() const { return len_; }
  const char* data() const { return buf_; }
  // NUL-terminates (within capacity) and returns the string.
  const char* CStr();

 private:
  char* buf_;
  size_t cap_;
  size_t len_ = 0;
};

// Writes "heaplens: <msg>\n" to stderr.
void RawLog(const char* msg);
void RawLog(const RawBuffer& msg);

[[noreturn]] void RawCheckFailed(const char* file, int line, const char* cond);

}  // namespace heaplens

#define HL_CHECK(cond)                                       \
  do {                                                       \
    if (__builtin_expect(!(cond), 0))                        \
      ::heaplens::RawCheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)

#ifdef NDEBUG
#define HL_DCHECK(cond) \
  do {                  \
  } while (0)
#else
#define HL_DCHECK(cond) HL_CHECK(cond)
#endif

#endif  // HEAPLENS_INTERPOSER_LOG_H_
