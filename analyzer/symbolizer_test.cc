#include "analyzer/symbolizer.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <string>

#include "absl/strings/match.h"
#include "analyzer/symbolizer_testdata.h"
#include "analyzer/testing/trace_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heaplens {
namespace {

using ::testing::Contains;
using ::testing::EndsWith;
using ::testing::HasSubstr;

// Every loaded object as a trace Module, from dl_iterate_phdr (Bazel links
// test dependencies as shared libraries, so the test data may be in one).
std::vector<trace::Module> LoadedModules() {
  std::vector<trace::Module> out;
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void* data) -> int {
        auto* out = static_cast<std::vector<trace::Module>*>(data);
        trace::Module m;
        std::string path = info->dlpi_name ? info->dlpi_name : "";
        if (out->empty() && path.empty()) {
          char exe[PATH_MAX];
          ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
          exe[n > 0 ? n : 0] = '\0';
          path = exe;
        }
        if (path.empty()) return 0;  // the vdso
        m.set_path(path);
        m.set_base(info->dlpi_addr);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type == PT_LOAD) {
            trace::Segment* s = m.add_segments();
            s->set_vaddr(ph.p_vaddr);
            s->set_memsz(ph.p_memsz);
            s->set_flags(ph.p_flags);
            s->set_offset(ph.p_offset);
          } else if (ph.p_type == PT_NOTE) {
            const char* p =
                reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
            const char* end = p + ph.p_memsz;
            while (p + sizeof(ElfW(Nhdr)) <= end) {
              auto* nh = reinterpret_cast<const ElfW(Nhdr)*>(p);
              const char* name = p + sizeof(*nh);
              const char* desc = name + ((nh->n_namesz + 3) & ~3u);
              if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                  memcmp(name, "GNU", 4) == 0) {
                m.set_build_id(std::string(desc, nh->n_descsz));
              }
              p = desc + ((nh->n_descsz + 3) & ~3u);
            }
          }
        }
        out->push_back(m);
        return 0;
      },
      &out);
  return out;
}

// The path of the object that contains `address`.
std::string ModuleOf(const void* address) {
  Dl_info info;
  if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

TraceIndex IndexWith(std::vector<trace::Module> modules) {
  TraceIndex index;
  trace::ModuleEpoch epoch;
  for (const trace::Module& m : modules) *epoch.add_modules() = m;
  index.epochs.push_back(epoch);
  return index;
}

TEST(SymbolizerTest, FunctionFileAndLine) {
  TraceIndex index = IndexWith(LoadedModules());
  Symbolizer s(index);
  // pc - 1 is looked up, so entry + 1 names the function itself.
  const uint64_t pc = reinterpret_cast<uint64_t>(&symtest::Plain) + 1;
  const std::vector<Frame>& frames = s.SymbolizePc(0, pc);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].function, "symtest::Plain(int)");
  EXPECT_THAT(frames[0].file, EndsWith("analyzer/symbolizer_testdata.cc"));
  EXPECT_GE(frames[0].line, 25);
  EXPECT_LE(frames[0].line, 28);
  EXPECT_EQ(frames[0].address, pc);
  EXPECT_FALSE(frames[0].inlined);
  const std::string module = ModuleOf(reinterpret_cast<void*>(&symtest::Plain));
  EXPECT_THAT(frames[0].module, EndsWith(module.substr(module.rfind('/'))));
}

TEST(SymbolizerTest, InlinedFrames) {
  TraceIndex index = IndexWith(LoadedModules());
  Symbolizer s(index);
  const uint64_t pc = reinterpret_cast<uint64_t>(symtest::Outer());
  const std::vector<Frame>& frames = s.SymbolizePc(0, pc);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].function, "symtest::Inlined");
  EXPECT_TRUE(frames[0].inlined);
  EXPECT_EQ(frames[0].line, symtest::kInlinedCallLine);
  EXPECT_THAT(frames[0].file, EndsWith("symbolizer_testdata.cc"));
  EXPECT_EQ(frames[1].function, "symtest::Outer()");
  EXPECT_FALSE(frames[1].inlined);
  EXPECT_EQ(frames[1].line, symtest::kOuterCallLine);
  EXPECT_THAT(frames[1].file, EndsWith("symbolizer_testdata.cc"));
}

TEST(SymbolizerTest, StacksUseEachNodesEpochAndSkipSelf) {
  testing::TraceBuilder b;
  std::vector<trace::Module> modules = LoadedModules();
  trace::Module preload;
  preload.set_path("/opt/heaplens/libheaplens.so");
  preload.set_base(0x10000000);
  trace::Segment* seg = preload.add_segments();
  seg->set_vaddr(0);
  seg->set_memsz(0x1000);
  modules.push_back(preload);
  TraceIndex index = IndexWith(modules);
  trace::StackNodes nodes;
  const uint64_t pcs[] = {
      reinterpret_cast<uint64_t>(&symtest::Plain) + 1,  // outermost
      0x10000100,                                       // in the preload
  };
  nodes.set_first_id(1);
  nodes.add_parent_distance(1);
  nodes.add_pc_delta(static_cast<int64_t>(pcs[0]));
  nodes.add_parent_distance(1);
  nodes.add_pc_delta(static_cast<int64_t>(pcs[1] - pcs[0]));
  std::string error;
  ASSERT_TRUE(index.stacks.Add(nodes, 0, &error)) << error;
  Symbolizer s(index);
  const std::vector<Frame>& frames = s.Symbolize(2);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].function, "symtest::Plain(int)");
  EXPECT_EQ(&s.Symbolize(2), &frames);  // cached
}

TEST(SymbolizerTest, MissingFileIsNamed) {
  trace::Module m;
  m.set_path("/nonexistent/libgone.so");
  m.set_base(0x20000000);
  trace::Segment* seg = m.add_segments();
  seg->set_vaddr(0);
  seg->set_memsz(0x1000);
  TraceIndex index = IndexWith({m});
  Symbolizer s(index);
  const std::vector<Frame>& frames = s.SymbolizePc(0, 0x20000010);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].function, "??");
  EXPECT_EQ(frames[0].module, "/nonexistent/libgone.so");
  EXPECT_THAT(s.notes(), Contains(HasSubstr("libgone.so: file not found")));
}

TEST(SymbolizerTest, BuildIdMismatchIsNamed) {
  std::vector<trace::Module> modules = LoadedModules();
  const std::string path = ModuleOf(reinterpret_cast<void*>(&symtest::Plain));
  for (trace::Module& m : modules) {
    if (m.path() == path) m.set_build_id("\x01\x02\x03\x04\x05\x06\x07\x08");
  }
  TraceIndex index = IndexWith(modules);
  Symbolizer s(index);
  const uint64_t pc = reinterpret_cast<uint64_t>(&symtest::Plain) + 1;
  EXPECT_EQ(s.SymbolizePc(0, pc)[0].function, "??");
  EXPECT_THAT(s.notes(), Contains(HasSubstr("build-id mismatch")));
  EXPECT_THAT(s.notes(), Contains(HasSubstr("0102030405060708")));
}

TEST(SymbolizerTest, FindsDebugInfoByBuildId) {
  // The module's file is gone, but <debug dir>/.build-id/xx/yyyy.debug has
  // the same build-id.
  std::vector<trace::Module> modules = LoadedModules();
  const std::string path = ModuleOf(reinterpret_cast<void*>(&symtest::Plain));
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string debug_dir = std::string(tmp ? tmp : "/tmp") + "/debug";
  for (trace::Module& m : modules) {
    if (m.path() != path) continue;
    ASSERT_FALSE(m.build_id().empty());
    const std::string hex = BuildIdHex(m.build_id());
    const std::string dir = debug_dir + "/.build-id/" + hex.substr(0, 2);
    ASSERT_EQ(system(("mkdir -p " + dir).c_str()), 0);
    ASSERT_EQ(
        symlink(path.c_str(), (dir + "/" + hex.substr(2) + ".debug").c_str()),
        0);
    m.set_path("/gone/after/dlclose/" + path.substr(path.rfind('/') + 1));
  }
  TraceIndex index = IndexWith(modules);
  SymbolizerOptions options;
  options.debug_dirs = {debug_dir};
  Symbolizer s(index, options);
  const uint64_t pc = reinterpret_cast<uint64_t>(&symtest::Plain) + 1;
  EXPECT_EQ(s.SymbolizePc(0, pc)[0].function, "symtest::Plain(int)");
  EXPECT_THAT(s.notes(), Contains(HasSubstr("file not found; using")));
}

TEST(SymbolizerTest, OnlyRegularFilesAreOpened) {
  // A hostile trace may name a FIFO (a plain open would block forever) or a
  // device: neither is read, and the note says why.
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string fifo = std::string(tmp ? tmp : "/tmp") + "/module.fifo";
  unlink(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::vector<trace::Module> modules;
  uint64_t base = 0x20000000;
  for (const std::string& path :
       {fifo, std::string("/dev/zero"), std::string("/dev/stdin")}) {
    trace::Module m;
    m.set_path(path);
    m.set_base(base);
    trace::Segment* seg = m.add_segments();
    seg->set_vaddr(0);
    seg->set_memsz(0x1000);
    modules.push_back(m);
    base += 0x10000;
  }
  TraceIndex index = IndexWith(modules);
  Symbolizer s(index);
  for (int i = 0; i < 3; ++i) {
    const std::vector<Frame>& frames =
        s.SymbolizePc(0, 0x20000010 + 0x10000 * i);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].function, "??");
  }
  EXPECT_THAT(s.notes(),
              Contains(HasSubstr("module.fifo: not a regular file")));
  EXPECT_THAT(s.notes(), Contains(HasSubstr("/dev/zero: not a regular file")));
  unlink(fifo.c_str());
}

TEST(SymbolizerTest, NestedInlinedFramesAreAllListed) {
  // Every level of a nested inline chain is a frame, each at the call site
  // inside the next one (like addr2line -i); the outermost is the function.
  TraceIndex index = IndexWith(LoadedModules());
  Symbolizer s(index);
  const uint64_t pc = reinterpret_cast<uint64_t>(symtest::Outer());
  const std::vector<Frame>& frames = s.SymbolizePc(0, pc);
  ASSERT_FALSE(frames.empty());
  for (size_t i = 0; i + 1 < frames.size(); ++i) {
    EXPECT_TRUE(frames[i].inlined) << i;
  }
  EXPECT_FALSE(frames.back().inlined);
}

TEST(SymbolizerTest, PcOutsideAnyModule) {
  TraceIndex index = IndexWith(LoadedModules());
  Symbolizer s(index);
  const std::vector<Frame>& frames = s.SymbolizePc(0, 0x10);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].function, "??");
  EXPECT_EQ(frames[0].module, "");
}

TEST(SymbolizerTest, EachPcOnce) {
  TraceIndex index = IndexWith(LoadedModules());
  Symbolizer s(index);
  const uint64_t pc = reinterpret_cast<uint64_t>(&symtest::Plain) + 1;
  const Frame* first = &s.SymbolizePc(0, pc)[0];
  EXPECT_EQ(&s.SymbolizePc(0, pc)[0], first);
  EXPECT_EQ(s.unique_pcs(), 1u);
}

}  // namespace
}  // namespace heaplens
