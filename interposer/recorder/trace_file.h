// trace_file.h: the trace file: safe creation, whole-packet appends, and the
// write-error policy.
//
// Creation (TraceFile::Open): the MALLOC_TRACE pattern is expanded (%p pid,
// %e executable name, %% a percent sign) and opened with
// O_WRONLY|O_CREAT|O_APPEND|O_NOFOLLOW|O_CLOEXEC, mode 0600 (fchmod'ed to
// 0600 if it existed). A symlink at the path is refused, not followed. The
// file is flock()ed exclusively while traced. If another traced process
// holds the lock (a forked or exec'd child whose path has no %p), or the file
// holds a trace of this very pid (the image before an execve), the next
// candidate is tried: "<path>.<pid>", then "<path>.<pid>.1" ... ".15".
// Otherwise the file is truncated and used.
//
// Writes: every Append() is one whole packet sequence. On a short or failed
// write (ENOSPC, EFBIG, EIO) the file is truncated back to the last complete
// append, so what is on disk is always a valid trace, and the error is
// returned; the recorder then stops tracing.
//
// Room for the last word: the file keeps at least kTailReserve bytes
// allocated past its end (fallocate with FALLOC_FL_KEEP_SIZE, extended by a
// quarter of the file's size, 64 KiB to 1 MiB at a time: ~30 calls for a
// 20 MB trace; up to that much stays allocated past the end of a finished
// file). When the reservation cannot grow
// (the disk is nearly full) Append writes nothing and returns ENOSPC, and the
// recorder's "trace cut short" notice and exit summary go into the reserve:
// a full disk never leaves a trace that cannot say why it ends. The reserve
// is best effort: file systems without fallocate just skip it.
//
// The OS calls go through FileOps so tests can inject faults.
#ifndef HEAPLENS_INTERPOSER_RECORDER_TRACE_FILE_H_
#define HEAPLENS_INTERPOSER_RECORDER_TRACE_FILE_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

namespace heaplens {

struct FileOps {
  ssize_t (*write)(int fd, const void* buf, size_t n);
  // fallocate(fd, FALLOC_FL_KEEP_SIZE, offset, len); -1 and errno on failure.
  int (*reserve)(int fd, off_t offset, off_t len);
};
extern const FileOps kRealFileOps;

// Expands %p, %e and %%; returns false if it does not fit in `cap`.
bool ExpandTracePath(const char* pattern, int pid, const char* exe_name,
                     char* out, size_t cap);

// Returns a short, static description of errno `err` (no allocation, no
// locale): "No space left on device", ...
const char* ErrnoText(int err);

class TraceFile {
 public:
  constexpr TraceFile() = default;

  // Opens (see above). On failure returns false and the errno in *err and
  // the failing path in path(); `what` gets a static verb phrase such as
  // "cannot create" or "refusing to follow a symbolic link".
  bool Open(const char* path, int pid, int* err, const char** what);

  // Appends n bytes; on failure truncates to the last good size and returns
  // the errno (0 on success). Returns ENOSPC without writing if the tail
  // reserve cannot be kept (see above), unless `use_reserve`.
  int Append(const void* data, size_t n, bool use_reserve = false);

  static constexpr uint64_t kTailReserve = 16 << 10;

  // Cuts the file back to `size` bytes (a size() seen earlier): drops the
  // packets appended since. Returns the errno (0 on success).
  int TruncateTo(uint64_t size);
  // Gives back the disk space reserved past the end of the file (up to
  // ~1 MiB), once the trace is complete. Only the process that owns the
  // file may call it: a forked child's idea of the size is stale.
  void ReleaseReserve();
  void Close();
  // Closes the descriptor without unlocking the file (a forked child shares
  // the parent's open file description and its lock).
  void Abandon();

  int fd() const { return fd_; }
  const char* path() const { return path_; }
  uint64_t size() const { return size_; }
  void set_ops(const FileOps* ops) { ops_ = ops; }

 private:
  int TryOpen(const char* path, int pid, int* err, const char** what);

  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t reserved_end_ = 0;  // allocated up to here (0: nothing known)
  bool reserve_ok_ = true;     // false: the file system cannot fallocate
  const FileOps* ops_ = &kRealFileOps;
  char path_[4096] = {};
};

}  // namespace heaplens

#endif  // HEAPLENS_INTERPOSER_RECORDER_TRACE_FILE_H_
