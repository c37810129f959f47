// trace_reader.h: a streaming reader over the packets of a heaplens trace.
//
// A trace file is a serialized `heaplens.trace.Trace`: a sequence of packets,
// each framed as tag 0x0A (field 1, wire type 2), a varint length and the
// Packet bytes (proto/trace.proto). TraceReader yields the raw bytes of one
// packet at a time with buffered reads; it never holds more than one packet
// plus its buffer in memory, whatever the file size.
//
// Endings:
//   - a clean end of file after a complete packet ends the trace;
//   - a final packet cut short (killed process, full disk) or a zero-filled
//     tail (a preallocated file whose writer died) ends the trace with a
//     note ("truncated at byte N: ..."), not an error;
//   - anything else malformed is an absl::DataLossError naming the file, the
//     byte offset and what was wrong, e.g.
//     "t.hlt: byte 1234: packet length 4.0 GiB exceeds the file size".
//
// Example:
//   ASSIGN_OR_RETURN(auto reader, TraceReader::Open("trace.hlt"));
//   RawPacket p;
//   while (true) {
//     ASSIGN_OR_RETURN(bool more, reader->Next(&p));
//     if (!more) break;
//     ... parse p.bytes ...
//   }
//   if (reader->truncation_note()) ...
#ifndef HEAPLENS_ANALYZER_TRACE_READER_H_
#define HEAPLENS_ANALYZER_TRACE_READER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace heaplens {

// The largest packet the reader accepts. The recorder writes batches of tens
// of KiB; a larger declared length is corruption, and the bound keeps memory
// bounded on hostile input.
inline constexpr uint64_t kMaxPacketBytes = 64ull << 20;

// One packet's bytes and where they are in the file.
struct RawPacket {
  uint64_t offset = 0;       // offset of the packet's tag byte
  uint64_t body_offset = 0;  // offset of the first byte of the Packet message
  absl::string_view bytes;   // valid until the next call on the reader
};

// "PATH: byte N: what" as a DataLoss status; the one way the analyzer names
// a place in a trace.
absl::Status TraceDataLoss(absl::string_view path, uint64_t offset,
                           absl::string_view what);

// "1.5 GiB", "12 B": sizes in messages.
std::string HumanBytes(uint64_t bytes);

class TraceReader {
 public:
  // Opens `path`. NotFound if it does not exist, PermissionDenied if it is
  // not readable, InvalidArgument if it is not a regular file.
  static absl::StatusOr<std::unique_ptr<TraceReader>> Open(
      const std::string& path);

  ~TraceReader();
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  // Reads the next packet into `*out`. Returns false at the end of the trace
  // (clean or truncated; see truncation_note()).
  absl::StatusOr<bool> Next(RawPacket* out);

  // Continues sequential reading at `offset`, which must be a packet start.
  absl::Status Seek(uint64_t offset);

  // Reads `length` bytes at `offset` (random access, e.g. one event batch in
  // replay). The range must lie inside the file.
  absl::Status ReadAt(uint64_t offset, uint64_t length, std::string* out) const;

  // Set once Next() returned false because the trace was cut short.
  const std::optional<std::string>& truncation_note() const {
    return truncation_note_;
  }
  // Where the readable trace ends (the file size unless truncated).
  uint64_t end_offset() const { return end_offset_; }
  uint64_t file_size() const { return file_size_; }
  const std::string& path() const { return path_; }

  // Declares the packet that Next() returned last unreadable. If it is the
  // last packet of the file (only zero bytes follow), the trace ends there
  // with a truncation note and this returns true; otherwise false.
  bool TreatLastPacketAsTruncated(const RawPacket& packet);

 private:
  TraceReader(std::string path, int fd, uint64_t file_size);

  // Makes at least `n` bytes available at buf_pos_ (fewer only at EOF).
  absl::Status Fill(size_t n);
  size_t Available() const { return buf_end_ - buf_pos_; }
  uint64_t Offset() const { return buf_file_offset_ + buf_pos_; }
  // True if every byte from `offset` to the end of the file is zero.
  bool ZeroFrom(uint64_t offset) const;
  void EndTruncated(uint64_t offset, std::string why);

  std::string path_;
  int fd_;
  uint64_t file_size_;
  uint64_t end_offset_;
  bool done_ = false;
  std::optional<std::string> truncation_note_;

  std::string buf_;               // read buffer
  uint64_t buf_file_offset_ = 0;  // file offset of buf_[0]
  size_t buf_pos_ = 0;
  size_t buf_end_ = 0;
  std::string big_;  // a packet larger than the buffer
};

}  // namespace heaplens

#endif  // HEAPLENS_ANALYZER_TRACE_READER_H_
