#include "interposer/recorder/trace_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "interposer/log.h"

namespace heaplens {
namespace {

ssize_t RealWrite(int fd, const void* buf, size_t n) {
  return ::write(fd, buf, n);
}

int RealReserve(int fd, off_t offset, off_t len) {
  return ::fallocate(fd, FALLOC_FL_KEEP_SIZE, offset, len);
}

// Reads the pid from the header of an existing trace (first packet), or 0.
uint32_t ExistingTracePid(int fd) {
  uint8_t buf[64];
  ssize_t n = pread(fd, buf, sizeof(buf), 0);
  if (n <= 0) return 0;
  size_t i = 0;
  auto varint = [&](uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && i < static_cast<size_t>(n); shift += 7) {
      uint8_t b = buf[i++];
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  uint64_t v;
  // Trace.packet (0x0a) len, Packet.header (0x0a) len, then header fields.
  if (!varint(&v) || v != 0x0a || !varint(&v)) return 0;
  if (!varint(&v) || v != 0x0a || !varint(&v)) return 0;
  while (i < static_cast<size_t>(n)) {
    uint64_t tag;
    if (!varint(&tag)) return 0;
    if ((tag & 7) != 0) return 0;
    if (!varint(&v)) return 0;
    if ((tag >> 3) == 3) return static_cast<uint32_t>(v);
  }
  return 0;
}

}  // namespace

const FileOps kRealFileOps = {RealWrite, RealReserve};

bool ExpandTracePath(const char* pattern, int pid, const char* exe_name,
                     char* out, size_t cap) {
  RawBuffer b(out, cap);
  for (const char* p = pattern; *p != '\0'; ++p) {
    if (p[0] == '%' && p[1] == 'p') {
      b.Dec(static_cast<uint64_t>(pid));
      ++p;
    } else if (p[0] == '%' && p[1] == 'e') {
      b.Str(exe_name);
      ++p;
    } else if (p[0] == '%' && p[1] == '%') {
      b.Char('%');
      ++p;
    } else {
      b.Char(*p);
    }
  }
  if (b.size() + 1 >= cap) return false;
  b.CStr();
  return true;
}

const char* ErrnoText(int err) {
  switch (err) {
    case ENOENT:
      return "No such file or directory";
    case EACCES:
      return "Permission denied";
    case EPERM:
      return "Operation not permitted";
    case ELOOP:
      return "Too many levels of symbolic links";
    case ENOSPC:
      return "No space left on device";
    case EFBIG:
      return "File too large";
    case EDQUOT:
      return "Disk quota exceeded";
    case EIO:
      return "Input/output error";
    case EROFS:
      return "Read-only file system";
    case EISDIR:
      return "Is a directory";
    case ENOTDIR:
      return "Not a directory";
    case ENAMETOOLONG:
      return "File name too long";
    case EMFILE:
      return "Too many open files";
    case ENFILE:
      return "Too many open files in system";
    case EEXIST:
      return "File exists";
    case EWOULDBLOCK:
      return "Resource temporarily unavailable";
    case EBADF:
      return "Bad file descriptor";
    case EINVAL:
      return "Invalid argument";
    case EPIPE:
      return "Broken pipe";
    case ENOMEM:
      return "Cannot allocate memory";
    default:
      return "Unknown error";
  }
}

// Returns the fd, -1 on a hard error (*err set), -2 to try the next name.
int TraceFile::TryOpen(const char* path, int pid, int* err, const char** what) {
  // O_RDWR, not O_WRONLY: ExistingTracePid() reads the header back.
  int fd =
      ::open(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    *err = errno;
    *what =
        *err == ELOOP ? "refusing to follow a symbolic link" : "cannot create";
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *err = errno;
    *what = "cannot stat";
    ::close(fd);
    return -1;
  }
  if (S_ISREG(st.st_mode)) {
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return -2;  // another live traced process writes it
    }
    if (st.st_size > 0 && ExistingTracePid(fd) == static_cast<uint32_t>(pid)) {
      ::close(fd);  // our own image before execve
      return -2;
    }
    if (ftruncate(fd, 0) != 0) {
      *err = errno;
      *what = "cannot truncate";
      ::close(fd);
      return -1;
    }
    fchmod(fd, 0600);
  }
  return fd;
}

bool TraceFile::Open(const char* path, int pid, int* err, const char** what) {
  *err = 0;
  *what = "cannot create";
  for (int attempt = 0; attempt < 17; ++attempt) {
    RawBuffer b(path_, sizeof(path_));
    b.Str(path);
    if (attempt > 0) b.Char('.').Dec(static_cast<uint64_t>(pid));
    if (attempt > 1) b.Char('.').Dec(static_cast<uint64_t>(attempt - 1));
    if (b.size() + 1 >= sizeof(path_)) {
      *err = ENAMETOOLONG;
      return false;
    }
    b.CStr();
    int fd = TryOpen(path_, pid, err, what);
    if (fd >= 0) {
      fd_ = fd;
      size_ = 0;
      reserved_end_ = 0;
      reserve_ok_ = true;
      return true;
    }
    if (fd == -1) return false;
  }
  *err = EWOULDBLOCK;
  *what = "cannot lock";
  return false;
}

int TraceFile::TruncateTo(uint64_t size) {
  if (fd_ < 0) return EBADF;
  if (size > size_) return EINVAL;
  if (ftruncate(fd_, static_cast<off_t>(size)) != 0) return errno;
  size_ = size;
  reserved_end_ = 0;  // ftruncate dropped the preallocation
  return 0;
}

int TraceFile::Append(const void* data, size_t n, bool use_reserve) {
  if (fd_ < 0) return EBADF;
  if (!use_reserve && reserve_ok_ && size_ + n + kTailReserve > reserved_end_) {
    // Grows with the file (a quarter of its size, 64 KiB to 1 MiB at a
    // time): a 20 MB trace took ~280 fallocate calls at 64 KiB each.
    uint64_t step = size_ / 4;
    if (step < (64 << 10)) step = 64 << 10;
    if (step > (1 << 20)) step = 1 << 20;
    uint64_t want = n + kTailReserve + step;
    if (ops_->reserve == nullptr) {
      reserve_ok_ = false;
    } else if (ops_->reserve(fd_, static_cast<off_t>(size_),
                             static_cast<off_t>(want)) == 0) {
      reserved_end_ = size_ + want;
    } else if (errno == ENOSPC || errno == EDQUOT || errno == EFBIG) {
      return errno;  // keep what is reserved for the last word
    } else {
      reserve_ok_ = false;  // EOPNOTSUPP and the like: no reserve here
    }
  }
  const char* p = static_cast<const char*>(data);
  size_t left = n;
  while (left > 0) {
    ssize_t w = ops_->write(fd_, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = w < 0 ? errno : ENOSPC;
      if (n != left) {
        // Drop the partial packet so the file ends at a packet boundary.
        if (ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
          // Nothing else to try; the reader tolerates a torn tail.
        }
        reserved_end_ = 0;
      }
      return e;
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  size_ += n;
  return 0;
}

void TraceFile::ReleaseReserve() {
  if (fd_ < 0 || reserved_end_ <= size_) return;
  // ftruncate to the same size frees the blocks fallocate kept past it.
  if (ftruncate(fd_, static_cast<off_t>(size_)) == 0) reserved_end_ = 0;
}

void TraceFile::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void TraceFile::Abandon() { Close(); }

}  // namespace heaplens
