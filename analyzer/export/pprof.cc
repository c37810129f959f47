#include "analyzer/export/pprof.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <map>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "analyzer/export/module_map.h"

namespace heaplens {
namespace {

using perftools::profiles::Profile;

class ProfileBuilder {
 public:
  ProfileBuilder(const Analysis& a, Symbolizer& symbolizer)
      : a_(a), symbolizer_(symbolizer), modules_(a.index) {
    String("");
  }

  int64_t String(const std::string& s) {
    auto [it, inserted] = strings_.try_emplace(s, strings_.size());
    if (inserted) profile_.add_string_table(s);
    return it->second;
  }

  void SampleType(const char* type, const char* unit) {
    auto* t = profile_.add_sample_type();
    t->set_type(String(type));
    t->set_unit(String(unit));
  }

  uint64_t MappingFor(const trace::Module& m) {
    const auto key = std::make_tuple(m.path(), m.build_id(), m.base());
    auto it = mappings_.find(key);
    if (it != mappings_.end()) return it->second;
    uint64_t start = ~0ull, limit = 0, offset = 0;
    for (const trace::Segment& s : m.segments()) {
      if ((s.flags() & 1) == 0 || s.memsz() == 0) continue;  // PF_X only
      if (m.base() + s.vaddr() < start) {
        start = m.base() + s.vaddr();
        offset = s.offset();
      }
      limit = std::max(limit, m.base() + s.vaddr() + s.memsz());
    }
    if (limit == 0) start = 0;
    auto* mapping = profile_.add_mapping();
    const uint64_t id = profile_.mapping_size();
    mapping->set_id(id);
    mapping->set_memory_start(start);
    mapping->set_memory_limit(limit);
    mapping->set_file_offset(offset);
    mapping->set_filename(String(m.path()));
    mapping->set_build_id(String(BuildIdHex(m.build_id())));
    mappings_.emplace(key, id);
    return id;
  }

  uint64_t FunctionFor(const Frame& f) {
    const auto key = std::make_pair(f.function, f.file);
    auto [it, inserted] = functions_.try_emplace(key, 0);
    if (!inserted) return it->second;
    auto* fn = profile_.add_function();
    it->second = profile_.function_size();
    fn->set_id(it->second);
    fn->set_name(String(f.function));
    fn->set_system_name(String(f.function));
    fn->set_filename(String(f.file));
    return it->second;
  }

  // The location of node `node`, or 0 for a frame that is left out.
  uint64_t LocationFor(uint32_t node) {
    const uint32_t epoch = a_.index.stacks.epoch(node);
    const uint64_t pc = a_.index.stacks.pc(node);
    const auto key = std::make_pair(epoch, pc);
    auto it = locations_.find(key);
    if (it != locations_.end()) return it->second;
    const std::vector<Frame>& frames = symbolizer_.SymbolizePc(epoch, pc);
    uint64_t id = 0;
    if (!frames.empty()) {
      auto* loc = profile_.add_location();
      id = profile_.location_size();
      loc->set_id(id);
      loc->set_address(pc);
      if (const trace::Module* m = modules_.Find(epoch, pc)) {
        loc->set_mapping_id(MappingFor(*m));
      }
      for (const Frame& f : frames) {
        if (f.function.empty() || f.function == "??") continue;
        auto* line = loc->add_line();
        line->set_function_id(FunctionFor(f));
        line->set_line(f.line);
      }
    }
    locations_.emplace(key, id);
    return id;
  }

  Profile Build(const StackTotals& allocated) {
    SampleType("alloc_objects", "count");
    SampleType("alloc_space", "bytes");
    SampleType("inuse_objects", "count");
    SampleType("inuse_space", "bytes");
    SampleType("leaked_objects", "count");
    SampleType("leaked_space", "bytes");
    profile_.set_default_sample_type(String("leaked_space"));
    // The exe first: viewers take the first mapping as the main binary.
    for (const trace::ModuleEpoch& e : a_.index.epochs) {
      for (const trace::Module& m : e.modules()) {
        if (!ModuleMap::IsSelf(m)) MappingFor(m);
      }
    }
    const StackTotals live = LiveByStack(a_.tracker.live());
    const StackTotals leaked = LeakedByStack(a_.leaks);
    std::map<uint64_t, std::array<int64_t, 6>> values;  // by stack id
    auto add = [&values](const StackTotals& t, int column) {
      for (const auto& [stack, total] : t) {
        auto [it, inserted] = values.try_emplace(stack);
        if (inserted) it->second.fill(0);
        it->second[column] += total.objects;
        it->second[column + 1] += total.bytes;
      }
    };
    add(allocated, 0);
    add(live, 2);
    add(leaked, 4);
    for (const auto& [stack, v] : values) {
      auto* sample = profile_.add_sample();
      if (stack != 0 && a_.index.stacks.Contains(stack)) {
        for (uint32_t node : a_.index.stacks.Frames(stack)) {
          if (uint64_t loc = LocationFor(node)) sample->add_location_id(loc);
        }
      }
      for (int64_t x : v) sample->add_value(x);
    }
    profile_.set_time_nanos(a_.index.header.start_realtime_ns());
    profile_.set_duration_nanos(a_.stats.last_time_ns);
    profile_.add_comment(
        String(absl::StrCat("heaplens export of ", a_.index.path)));
    return std::move(profile_);
  }

 private:
  const Analysis& a_;
  Symbolizer& symbolizer_;
  ModuleMap modules_;
  Profile profile_;
  absl::flat_hash_map<std::string, int64_t> strings_;
  std::map<std::tuple<std::string, std::string, uint64_t>, uint64_t> mappings_;
  std::map<std::pair<std::string, std::string>, uint64_t> functions_;
  absl::flat_hash_map<std::pair<uint32_t, uint64_t>, uint64_t> locations_;
};

}  // namespace

Profile BuildPprofProfile(const Analysis& analysis,
                          const StackTotals& allocated,
                          Symbolizer& symbolizer) {
  return ProfileBuilder(analysis, symbolizer).Build(allocated);
}

absl::StatusOr<std::string> GzipCompress(const std::string& data) {
  z_stream zs = {};
  // 15 + 16: a gzip wrapper (no name, mtime 0) around the deflate stream.
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("zlib: deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = data.size();
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = out.size();
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return absl::InternalError("zlib: deflate failed");
  return out;
}

absl::StatusOr<std::string> GzipDecompress(const std::string& gz) {
  z_stream zs = {};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) {
    return absl::InternalError("zlib: inflateInit2 failed");
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = gz.size();
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    return absl::DataLossError(
        absl::StrCat("not valid gzip data (zlib error ", rc, ")"));
  }
  return out;
}

}  // namespace heaplens
