#include "interposer/log.h"

#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace heaplens {

RawBuffer& RawBuffer::Str(const char* s) { return Str(s, strlen(s)); }

RawBuffer& RawBuffer::Str(const char* s, size_t n) {
  while (n-- > 0 && len_ + 1 < cap_) buf_[len_++] = *s++;
  return *this;
}

RawBuffer& RawBuffer::Char(char c) { return Str(&c, 1); }

RawBuffer& RawBuffer::Dec(uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) Char(tmp[--n]);
  return *this;
}

RawBuffer& RawBuffer::SignedDec(int64_t v) {
  if (v < 0) {
    Char('-');
    return Dec(static_cast<uint64_t>(0) - static_cast<uint64_t>(v));
  }
  return Dec(static_cast<uint64_t>(v));
}

RawBuffer& RawBuffer::Hex(uint64_t v) {
  static const char kDigits[] = "0123456789abcdef";
  char tmp[16];
  int n = 0;
  do {
    tmp[n++] = kDigits[v & 15];
    v >>= 4;
  } while (v != 0);
  Str("0x");
  while (n > 0) Char(tmp[--n]);
  return *this;
}

const char* RawBuffer::CStr() {
  if (cap_ == 0) return "";
  buf_[len_ < cap_ ? len_ : cap_ - 1] = '\0';
  return buf_;
}

static void WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) return;  // nothing sensible to do about a broken stderr
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void RawLog(const char* msg) {
  char buf[1024];
  RawBuffer b(buf, sizeof(buf));
  b.Str("heaplens: ").Str(msg).Char('\n');
  WriteAll(2, b.data(), b.size());
}

void RawLog(const RawBuffer& msg) {
  char buf[1024];
  RawBuffer b(buf, sizeof(buf));
  b.Str("heaplens: ").Str(msg.data(), msg.size()).Char('\n');
  WriteAll(2, b.data(), b.size());
}

void RawCheckFailed(const char* file, int line, const char* cond) {
  char buf[512];
  RawBuffer b(buf, sizeof(buf));
  b.Str("internal error: CHECK failed at ")
      .Str(file)
      .Char(':')
      .Dec(static_cast<uint64_t>(line))
      .Str(": ")
      .Str(cond);
  RawLog(b);
  syscall(SYS_kill, getpid(), SIGABRT);
  _exit(134);
}

}  // namespace heaplens
