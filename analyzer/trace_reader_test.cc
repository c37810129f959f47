#include "analyzer/trace_reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "analyzer/test_util.h"
#include "analyzer/testing/trace_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using ::heaplens::testing::TempPath;
using ::heaplens::testing::TraceBuilder;
using ::testing::HasSubstr;

std::string Write(const std::string& name, const std::string& bytes) {
  const std::string path = TempPath(name);
  FILE* f = fopen(path.c_str(), "wb");
  fwrite(bytes.data(), 1, bytes.size(), f);
  fclose(f);
  return path;
}

// Reads all packets; returns the status of the first error.
absl::Status ReadAll(const std::string& path, std::vector<std::string>* out,
                     std::unique_ptr<TraceReader>* keep = nullptr) {
  auto reader = TraceReader::Open(path);
  if (!reader.ok()) return reader.status();
  RawPacket p;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&p);
    if (!more.ok()) return more.status();
    if (!*more) break;
    out->push_back(std::string(p.bytes));
  }
  if (keep) *keep = *std::move(reader);
  return absl::OkStatus();
}

TEST(TraceReaderTest, ReadsFramedPackets) {
  std::string bytes = TraceBuilder::Frame("abc") + TraceBuilder::Frame("") +
                      TraceBuilder::Frame(std::string(300, 'x'));
  std::vector<std::string> packets;
  std::unique_ptr<TraceReader> r;
  ASSERT_TRUE(ReadAll(Write("t.hlt", bytes), &packets, &r).ok());
  ASSERT_EQ(packets.size(), 3u);
  EXPECT_EQ(packets[0], "abc");
  EXPECT_EQ(packets[1], "");
  EXPECT_EQ(packets[2], std::string(300, 'x'));
  EXPECT_FALSE(r->truncation_note().has_value());
}

TEST(TraceReaderTest, PacketLargerThanBuffer) {
  std::string big(3 << 20, 'y');
  std::string bytes = TraceBuilder::Frame(big) + TraceBuilder::Frame("z");
  std::vector<std::string> packets;
  ASSERT_TRUE(ReadAll(Write("t.hlt", bytes), &packets).ok());
  ASSERT_EQ(packets.size(), 2u);
  EXPECT_EQ(packets[0], big);
  EXPECT_EQ(packets[1], "z");
}

TEST(TraceReaderTest, TruncatedFinalPacketIsANote) {
  std::string bytes = TraceBuilder::Frame("abc") + TraceBuilder::Frame("defgh");
  bytes.resize(bytes.size() - 2);
  std::vector<std::string> packets;
  std::unique_ptr<TraceReader> r;
  ASSERT_TRUE(ReadAll(Write("t.hlt", bytes), &packets, &r).ok());
  EXPECT_EQ(packets.size(), 1u);
  ASSERT_TRUE(r->truncation_note().has_value());
  EXPECT_THAT(*r->truncation_note(), HasSubstr("truncated at byte 5"));
  EXPECT_EQ(r->end_offset(), 5u);
}

TEST(TraceReaderTest, TruncatedLengthVarintIsANote) {
  std::string bytes = TraceBuilder::Frame("abc") + "\x0a\x80";
  std::vector<std::string> packets;
  std::unique_ptr<TraceReader> r;
  ASSERT_TRUE(ReadAll(Write("t.hlt", bytes), &packets, &r).ok());
  EXPECT_EQ(packets.size(), 1u);
  EXPECT_TRUE(r->truncation_note().has_value());
}

TEST(TraceReaderTest, ZeroTailIsANote) {
  std::string bytes = TraceBuilder::Frame("abc") + std::string(4096, '\0');
  std::vector<std::string> packets;
  std::unique_ptr<TraceReader> r;
  ASSERT_TRUE(ReadAll(Write("t.hlt", bytes), &packets, &r).ok());
  EXPECT_EQ(packets.size(), 1u);
  ASSERT_TRUE(r->truncation_note().has_value());
  EXPECT_THAT(*r->truncation_note(), HasSubstr("zero bytes"));
}

TEST(TraceReaderTest, ZerosFollowedByDataIsCorrupt) {
  std::string bytes = TraceBuilder::Frame("abc") + std::string(10, '\0') + "x";
  std::vector<std::string> packets;
  absl::Status s = ReadAll(Write("t.hlt", bytes), &packets);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("byte 5: expected a packet tag"));
}

TEST(TraceReaderTest, CorruptVarint) {
  std::string bytes = "\x0a" + std::string(11, '\xff');
  std::vector<std::string> packets;
  absl::Status s = ReadAll(Write("t.hlt", bytes), &packets);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("not a valid varint"));
}

TEST(TraceReaderTest, HugeLengthIsCorrupt) {
  std::string bytes = "\x0a";
  TraceBuilder::AppendVarint(4ull << 30, &bytes);
  bytes += "abc";
  const std::string path = Write("t.hlt", bytes);
  std::vector<std::string> packets;
  absl::Status s = ReadAll(path, &packets);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr(path + ": byte 0: packet length 4.0 GiB "
                                            "exceeds the file size"));
}

TEST(TraceReaderTest, WrongTagNamesTheFile) {
  const std::string path = Write("t.hlt", "hello world");
  std::vector<std::string> packets;
  absl::Status s = ReadAll(path, &packets);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr(path + ": byte 0: expected a packet tag"));
}

TEST(TraceReaderTest, MissingFileIsNotFound) {
  auto r = TraceReader::Open("/nonexistent/t.hlt");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("/nonexistent/t.hlt"));
}

TEST(TraceReaderTest, DirectoryIsInvalidArgument) {
  auto r = TraceReader::Open("/");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TraceReaderTest, FifoIsInvalidArgumentWithoutWaiting) {
  // Without a writer, a blocking open of a FIFO never returns.
  const std::string path = TempPath("fifo.hlt");
  unlink(path.c_str());
  ASSERT_EQ(0, mkfifo(path.c_str(), 0600));
  auto r = TraceReader::Open(path);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("not a regular file"));
  unlink(path.c_str());
}

TEST(TraceReaderTest, SeekAndReadAt) {
  std::string bytes = TraceBuilder::Frame("abc") + TraceBuilder::Frame("de");
  auto r = TraceReader::Open(Write("t.hlt", bytes));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE((*r)->Seek(5).ok());
  RawPacket p;
  ASSERT_TRUE(*(*r)->Next(&p));
  EXPECT_EQ(p.bytes, "de");
  EXPECT_EQ(p.offset, 5u);
  EXPECT_EQ(p.body_offset, 7u);
  std::string out;
  ASSERT_TRUE((*r)->ReadAt(2, 3, &out).ok());
  EXPECT_EQ(out, "abc");
  EXPECT_EQ((*r)->ReadAt(6, 100, &out).code(), absl::StatusCode::kDataLoss);
}

TEST(TraceReaderTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(12), "12 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(4ull << 30), "4.0 GiB");
}

}  // namespace
}  // namespace heaplens
