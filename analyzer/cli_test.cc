// Runs the heaplens binary: exit codes and messages of `report` and `run`.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "analyzer/test_util.h"
#include "analyzer/testing/trace_builder.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using namespace ::heaplens::testing;  // NOLINT: builders
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Result {
  int rc;
  std::string out;  // stdout and stderr
};

Result Heaplens(const std::string& args) {
  const std::string cmd = absl::StrCat("analyzer/heaplens ", args, " 2>&1");
  FILE* p = popen(cmd.c_str(), "r");
  Result r{-1, ""};
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string WriteFile(const std::string& name, const std::string& bytes) {
  const std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string LeakTrace() {
  TraceBuilder b;
  const uint64_t s = b.Stack({0x1100, 0x1000});
  b.Batch(1, 0, {Alloc(kMalloc, 1, 0x10000, 40, s)});
  b.Graph({0x10000}, {{}}, {});
  b.Summary(trace::ExitSummary::EXIT, 0, true);
  return b.bytes();
}

TEST(CliTest, MissingFile) {
  Result r = Heaplens("report /nonexistent/trace.hlt");
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.out, HasSubstr("/nonexistent/trace.hlt"));
  EXPECT_THAT(r.out, HasSubstr("No such file"));
}

TEST(CliTest, EmptyFile) {
  const std::string path = WriteFile("empty.hlt", "");
  Result r = Heaplens("report " + path);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.out, HasSubstr(path + ": empty file"));
}

TEST(CliTest, RandomBytes) {
  std::string bytes;
  uint32_t x = 12345;
  for (int i = 0; i < 4096; ++i) {
    x = x * 1103515245 + 12345;
    bytes.push_back(static_cast<char>(x >> 16));
  }
  bytes[0] = 'Q';
  const std::string path = WriteFile("random.hlt", bytes);
  Result r = Heaplens("report " + path);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.out, HasSubstr(path + ": byte 0: expected a packet tag"));
}

TEST(CliTest, CorruptInTheMiddleNamesTheOffset) {
  std::string bytes = LeakTrace();
  const size_t offset = bytes.size();
  bytes += "\x0a\xff\xff\xff\xff\x0f" + std::string(100, 'x');
  const std::string path = WriteFile("corrupt.hlt", bytes);
  Result r = Heaplens("report " + path);
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(path, ": byte ", offset,
                                            ": packet length 4.0 GiB")));
}

TEST(CliTest, UsageErrors) {
  EXPECT_EQ(Heaplens("").rc, 2);
  EXPECT_EQ(Heaplens("frobnicate").rc, 2);
  EXPECT_EQ(Heaplens("report").rc, 2);
  Result r = Heaplens("report --bogus x.hlt");
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.out, HasSubstr("unknown flag --bogus"));
  r = Heaplens("report --format=xml x.hlt");
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.out, HasSubstr("--format=xml"));
  r = Heaplens("report --preload=x x.hlt");  // a flag of another command
  EXPECT_EQ(r.rc, 2);
}

TEST(CliTest, Help) {
  Result r = Heaplens("--help");
  EXPECT_EQ(r.rc, 0);
  EXPECT_THAT(r.out, HasSubstr("report"));
  r = Heaplens("report --help");
  EXPECT_EQ(r.rc, 0);
  EXPECT_THAT(r.out, HasSubstr("Examples:"));
  r = Heaplens("run --help");
  EXPECT_EQ(r.rc, 0);
  EXPECT_THAT(r.out, HasSubstr("Examples:"));
}

TEST(CliTest, ReportTextJsonAndOutputFile) {
  const std::string path = WriteFile("leak.hlt", LeakTrace());
  Result r = Heaplens("report " + path);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("40 bytes in 1 blocks are definitely lost"));
  const std::string json_path = TempPath("out.json");
  r = Heaplens(
      absl::StrCat("report --format=json --output ", json_path, " ", path));
  EXPECT_EQ(r.rc, 0) << r.out;
  google::protobuf::Struct doc;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(ReadFile(json_path), &doc)
          .ok());
  EXPECT_EQ(doc.fields()
                .at("summary")
                .struct_value()
                .fields()
                .at("definite_bytes")
                .number_value(),
            40);
}

TEST(CliTest, TruncatedTraceIsReportedWithANote) {
  std::string bytes = LeakTrace();
  TraceBuilder b;
  b.Batch(1, 0, {Alloc(kMalloc, 1, 0x10000, 40, 0)});
  std::string cut = b.bytes().substr(0, b.bytes().size() - 2);
  const std::string path = WriteFile("cut.hlt", cut);
  Result r = Heaplens("report " + path);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("trace truncated at byte"));
}

TEST(CliTest, RunSetsTheEnvironmentAndReportsEveryTrace) {
  // A stand-in for libheaplens.so: any existing file will do, since the
  // "program" is a shell that writes traces itself.
  const std::string preload = WriteFile("fake_preload.so", "");
  const std::string src = WriteFile("src.hlt", LeakTrace());
  const std::string env_out = TempPath("env.txt");
  const std::string dir = TempPath("traces");
  ASSERT_EQ(system(("mkdir -p " + dir).c_str()), 0);
  // The shell writes its own trace and a "child" trace, then exits 3.
  const std::string script = absl::StrCat(
      "echo \"$LD_PRELOAD|$MALLOC_TRACE\" > ", env_out, "; ", "cp ", src,
      " \"$(echo \"$MALLOC_TRACE\" | sed s/%p/$$/)\"; ", "cp ", src,
      " \"$(echo \"$MALLOC_TRACE\" | sed s/%p/99999999/)\"; ", "exit 3");
  Result r = Heaplens(absl::StrCat("run --preload ", preload, " --output ", dir,
                                   "/t.%p.hlt -- /bin/sh -c '", script, "'"));
  EXPECT_EQ(r.rc, 3) << r.out;
  const std::string env = ReadFile(env_out);
  EXPECT_THAT(env, StartsWith(preload));
  EXPECT_THAT(env, HasSubstr("|" + dir + "/t.%p.hlt"));
  // Two traces, two reports.
  size_t count = 0;
  for (size_t pos = 0;
       (pos = r.out.find("LEAK SUMMARY", pos)) != std::string::npos; ++pos) {
    ++count;
  }
  EXPECT_EQ(count, 2u) << r.out;
  EXPECT_THAT(r.out, HasSubstr("t.99999999.hlt"));
}

TEST(CliTest, RunPrependsToAnExistingPreload) {
  const std::string preload = WriteFile("fake_preload.so", "");
  const std::string env_out = TempPath("env.txt");
  Result r = Heaplens(absl::StrCat("run --preload ", preload, " --output ",
                                   TempPath("x.hlt"),
                                   " -- /usr/bin/env LD_PRELOAD= /bin/true"));
  // No trace written: exit 2 with a message.
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.out, HasSubstr("wrote no trace"));
}

TEST(CliTest, RunWithoutPreload) {
  Result r = Heaplens("run --preload /nonexistent/lib.so -- /bin/true");
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.out, HasSubstr("/nonexistent/lib.so"));
  r = Heaplens("run");
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.out, HasSubstr("no command"));
}

}  // namespace
}  // namespace heaplens
