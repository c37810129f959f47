#include "analyzer/trace_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace heaplens {
namespace {

constexpr size_t kBufferBytes = 1 << 20;
constexpr uint8_t kPacketTag = 0x0A;  // field 1, wire type 2

absl::Status ErrnoStatus(int err, absl::string_view path,
                         absl::string_view what) {
  std::string msg = absl::StrCat(path, ": ", what, ": ", strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    default:
      return absl::UnknownError(msg);
  }
}

}  // namespace

absl::Status TraceDataLoss(absl::string_view path, uint64_t offset,
                           absl::string_view what) {
  return absl::DataLossError(absl::StrCat(path, ": byte ", offset, ": ", what));
}

std::string HumanBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB",
                                       "TiB", "PiB", "EiB"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  double v = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", v, kUnits[unit]);
}

absl::StatusOr<std::unique_ptr<TraceReader>> TraceReader::Open(
    const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
  // writer (`heaplens report some.fifo` hung); it is rejected below as not a
  // regular file. On a regular file the flag changes nothing.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ErrnoStatus(errno, path, "cannot open trace");
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return ErrnoStatus(err, path, "cannot stat trace");
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a regular file"));
  }
  return std::unique_ptr<TraceReader>(
      new TraceReader(path, fd, static_cast<uint64_t>(st.st_size)));
}

TraceReader::TraceReader(std::string path, int fd, uint64_t file_size)
    : path_(std::move(path)),
      fd_(fd),
      file_size_(file_size),
      end_offset_(file_size) {
  buf_.resize(kBufferBytes);
}

TraceReader::~TraceReader() { close(fd_); }

absl::Status TraceReader::Fill(size_t n) {
  if (Available() >= n) return absl::OkStatus();
  // Move the unread bytes to the front, then read until n are available.
  size_t avail = Available();
  if (buf_pos_ > 0) {
    memmove(&buf_[0], &buf_[buf_pos_], avail);
    buf_file_offset_ += buf_pos_;
    buf_pos_ = 0;
    buf_end_ = avail;
  }
  while (buf_end_ < n) {
    ssize_t r = read(fd_, &buf_[buf_end_], buf_.size() - buf_end_);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, path_, "read failed");
    }
    if (r == 0) break;  // EOF
    buf_end_ += static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

bool TraceReader::ZeroFrom(uint64_t offset) const {
  char chunk[1 << 16];
  while (offset < file_size_) {
    size_t want = static_cast<size_t>(
        std::min<uint64_t>(sizeof(chunk), file_size_ - offset));
    ssize_t r = pread(fd_, chunk, want, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    for (ssize_t i = 0; i < r; ++i) {
      if (chunk[i] != 0) return false;
    }
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

void TraceReader::EndTruncated(uint64_t offset, std::string why) {
  done_ = true;
  end_offset_ = offset;
  truncation_note_ = absl::StrCat("trace truncated at byte ", offset, " of ",
                                  file_size_, ": ", why);
}

absl::StatusOr<bool> TraceReader::Next(RawPacket* out) {
  if (done_) return false;
  if (absl::Status s = Fill(1); !s.ok()) return s;
  const uint64_t start = Offset();
  if (Available() == 0) {
    done_ = true;
    return false;
  }
  const uint8_t tag = static_cast<uint8_t>(buf_[buf_pos_]);
  if (tag != kPacketTag) {
    if (tag == 0 && ZeroFrom(start)) {
      EndTruncated(start,
                   absl::StrCat(file_size_ - start,
                                " zero bytes follow the last packet (the "
                                "writer stopped; process killed?)"));
      return false;
    }
    return TraceDataLoss(
        path_, start,
        absl::StrFormat("expected a packet tag 0x0a, found 0x%02x%s", tag,
                        start == 0 ? " (not a heaplens trace)" : ""));
  }
  // Varint length: at most 10 bytes.
  if (absl::Status s = Fill(11); !s.ok()) return s;
  uint64_t length = 0;
  size_t i = 1;
  int shift = 0;
  for (;; ++i, shift += 7) {
    if (i >= Available()) {
      EndTruncated(start, "the last packet's length is cut short");
      return false;
    }
    if (i > 10) {
      return TraceDataLoss(path_, start + 1,
                           "packet length is not a valid varint");
    }
    const uint8_t b = static_cast<uint8_t>(buf_[buf_pos_ + i]);
    if (shift == 63 && b > 1) {
      return TraceDataLoss(path_, start + 1,
                           "packet length is not a valid varint");
    }
    length |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
  }
  const size_t header = i + 1;
  const uint64_t body = start + header;
  const uint64_t left = file_size_ - body;
  if (length > kMaxPacketBytes) {
    return TraceDataLoss(
        path_, start,
        absl::StrCat("packet length ", HumanBytes(length),
                     length > left ? " exceeds the file size (" : " (",
                     HumanBytes(left), " left) and the limit of ",
                     HumanBytes(kMaxPacketBytes)));
  }
  if (length > left) {
    if (ZeroFrom(body)) {
      EndTruncated(start, "zero bytes follow the last packet header");
    } else {
      EndTruncated(start, absl::StrCat("the last packet (", length,
                                       " bytes) has only ", left, " bytes"));
    }
    return false;
  }
  out->offset = start;
  out->body_offset = body;
  if (header + length <= buf_.size()) {
    if (absl::Status s = Fill(header + length); !s.ok()) return s;
    if (Available() < header + length) {  // file shrank under us
      EndTruncated(start, "the file ended early");
      return false;
    }
    out->bytes = absl::string_view(&buf_[buf_pos_ + header], length);
    buf_pos_ += header + length;
  } else {
    if (absl::Status s = ReadAt(body, length, &big_); !s.ok()) return s;
    out->bytes = big_;
    // Drop the buffer and continue after the packet.
    buf_file_offset_ = body + length;
    buf_pos_ = buf_end_ = 0;
    if (lseek(fd_, static_cast<off_t>(buf_file_offset_), SEEK_SET) < 0) {
      return ErrnoStatus(errno, path_, "seek failed");
    }
  }
  return true;
}

bool TraceReader::TreatLastPacketAsTruncated(const RawPacket& packet) {
  const uint64_t end = packet.body_offset + packet.bytes.size();
  // The packet may be zero-padded inside (length committed, body not yet).
  if (!ZeroFrom(end)) return false;
  EndTruncated(packet.offset, "the last packet is incomplete");
  return true;
}

absl::Status TraceReader::Seek(uint64_t offset) {
  if (offset > file_size_) {
    return absl::OutOfRangeError(
        absl::StrCat(path_, ": seek to byte ", offset, " beyond the end"));
  }
  if (lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) {
    return ErrnoStatus(errno, path_, "seek failed");
  }
  buf_file_offset_ = offset;
  buf_pos_ = buf_end_ = 0;
  done_ = false;
  return absl::OkStatus();
}

absl::Status TraceReader::ReadAt(uint64_t offset, uint64_t length,
                                 std::string* out) const {
  if (offset > file_size_ || length > file_size_ - offset) {
    return TraceDataLoss(
        path_, offset,
        absl::StrCat("read of ", length, " bytes beyond the end of the file"));
  }
  out->resize(length);
  uint64_t done = 0;
  while (done < length) {
    ssize_t r = pread(fd_, &(*out)[done], length - done,
                      static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, path_, "read failed");
    }
    if (r == 0) {
      return TraceDataLoss(path_, offset + done, "the file ended early");
    }
    done += static_cast<uint64_t>(r);
  }
  return absl::OkStatus();
}

}  // namespace heaplens
