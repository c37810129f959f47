#include "analyzer/symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace heaplens {

std::string BuildIdHex(const std::string& build_id) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(build_id.size() * 2);
  for (unsigned char c : build_id) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

namespace {

std::string Demangle(const char* name) {
  if (name == nullptr) return "";
  if (name[0] == '_' && name[1] == 'Z') {
    int status = 0;
    char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    if (status == 0 && d != nullptr) {
      std::string out(d);
      free(d);
      return out;
    }
    free(d);
  }
  return name;
}

// The function name of a subprogram or inlined_subroutine DIE: its
// demangled linkage name, else its DW_AT_name qualified with the enclosing
// namespaces and classes (following abstract_origin and specification).
std::string DieName(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  const char* linkage = nullptr;
  if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) != nullptr ||
      dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr) != nullptr) {
    linkage = dwarf_formstring(&attr);
  }
  if (linkage != nullptr) return Demangle(linkage);
  const char* name = nullptr;
  if (dwarf_attr_integrate(die, DW_AT_name, &attr) != nullptr) {
    name = dwarf_formstring(&attr);
  }
  if (name == nullptr) return "";
  // The defining declaration, where the enclosing scopes are.
  Dwarf_Die def = *die;
  for (int hops = 0; hops < 4; ++hops) {
    Dwarf_Die next;
    if ((dwarf_attr(&def, DW_AT_abstract_origin, &attr) != nullptr ||
         dwarf_attr(&def, DW_AT_specification, &attr) != nullptr) &&
        dwarf_formref_die(&attr, &next) != nullptr) {
      def = next;
    } else {
      break;
    }
  }
  std::string qualified;
  Dwarf_Die* scopes = nullptr;
  const int n = dwarf_getscopes_die(&def, &scopes);
  for (int i = n - 1; i >= 1; --i) {
    const int tag = dwarf_tag(&scopes[i]);
    if (tag != DW_TAG_namespace && tag != DW_TAG_class_type &&
        tag != DW_TAG_structure_type && tag != DW_TAG_union_type) {
      continue;
    }
    const char* scope = dwarf_diename(&scopes[i]);
    absl::StrAppend(&qualified,
                    scope != nullptr ? scope : "(anonymous namespace)", "::");
  }
  free(scopes);
  return qualified + name;
}

std::string ReadBuildId(Elf* elf) {
  const void* id = nullptr;
  ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
  if (n <= 0 || id == nullptr) return "";
  return std::string(static_cast<const char*>(id), static_cast<size_t>(n));
}

bool IsSelf(const std::string& path) {
  const size_t slash = path.rfind('/');
  absl::string_view base = slash == std::string::npos
                               ? path
                               : absl::string_view(path).substr(slash + 1);
  return absl::StartsWith(base, "libheaplens");
}

}  // namespace

struct Symbolizer::Module {
  std::string path;
  std::string build_id;  // from the trace
  bool opened = false;
  bool self = false;
  Dwfl* dwfl = nullptr;
  Dwfl_Module* mod = nullptr;
  std::string note;            // why symbols are missing or doubtful
  std::string debuginfo_path;  // for the callbacks (must outlive dwfl)
  char* debuginfo_ptr = nullptr;
  Dwfl_Callbacks callbacks{};
};

Symbolizer::Symbolizer(const TraceIndex& index, SymbolizerOptions options)
    : index_(index), options_(std::move(options)) {
  elf_version(EV_CURRENT);
}

Symbolizer::~Symbolizer() {
  for (auto& m : modules_) {
    if (m->dwfl != nullptr) dwfl_end(m->dwfl);
  }
}

uint32_t Symbolizer::ModuleFor(const trace::Module& m) {
  std::string key = absl::StrCat(m.path(), std::string(1, '\0'), m.build_id());
  auto [it, inserted] = module_ids_.try_emplace(key, modules_.size());
  if (inserted) {
    auto mod = std::make_unique<Module>();
    mod->path = m.path();
    mod->build_id = m.build_id();
    mod->self = IsSelf(m.path());
    modules_.push_back(std::move(mod));
  }
  return it->second;
}

const std::vector<Symbolizer::Range>& Symbolizer::RangesOf(uint32_t epoch) {
  auto [it, inserted] = epoch_ranges_.try_emplace(epoch);
  if (!inserted || epoch >= index_.epochs.size()) return it->second;
  std::vector<Range>& ranges = it->second;
  for (const trace::Module& m : index_.epochs[epoch].modules()) {
    const uint32_t id = ModuleFor(m);
    if (m.segments_size() == 0) {
      // No segments: the module covers from its base up to the next one.
      ranges.push_back(Range{m.base(), 0, id, m.base()});
      continue;
    }
    for (const trace::Segment& s : m.segments()) {
      const uint64_t begin = m.base() + s.vaddr();
      ranges.push_back(Range{begin, begin + s.memsz(), id, m.base()});
    }
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].end == 0) {
      ranges[i].end = i + 1 < ranges.size() ? ranges[i + 1].begin : ~0ull;
    }
  }
  return ranges;
}

void Symbolizer::Open(Module& m) {
  m.opened = true;
  if (m.self || m.path.empty() || m.path[0] == '[' ||
      absl::StartsWith(m.path, "linux-vdso")) {
    return;  // no file to read
  }
  m.debuginfo_path =
      absl::StrCat(":.debug:", absl::StrJoin(options_.debug_dirs, ":"));
  m.callbacks.find_elf = dwfl_build_id_find_elf;
  m.callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
  m.callbacks.section_address = dwfl_offline_section_address;
  m.debuginfo_ptr = &m.debuginfo_path[0];
  m.callbacks.debuginfo_path = &m.debuginfo_ptr;
  const std::string want = BuildIdHex(m.build_id);

  // Candidate files: the recorded path, then the build-id debug files.
  std::vector<std::string> candidates = {m.path};
  if (m.build_id.size() >= 2) {
    for (const std::string& dir : options_.debug_dirs) {
      candidates.push_back(absl::StrCat(dir, "/.build-id/", want.substr(0, 2),
                                        "/", want.substr(2), ".debug"));
    }
  }
  std::string why;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const std::string& file = candidates[i];
    int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (i == 0) why = "file not found";
      continue;
    }
    // Check the build-id before handing the file to libdwfl.
    Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
    std::string have = elf != nullptr ? ReadBuildId(elf) : "";
    if (elf != nullptr) elf_end(elf);
    if (elf == nullptr) {
      close(fd);
      if (i == 0) why = "not an ELF file";
      continue;
    }
    if (!m.build_id.empty() && have != m.build_id) {
      close(fd);
      if (i == 0) {
        why = absl::StrCat("build-id mismatch: the file has ",
                           have.empty() ? "none" : BuildIdHex(have),
                           ", the trace ", want);
      }
      continue;
    }
    m.dwfl = dwfl_begin(&m.callbacks);
    if (m.dwfl == nullptr) {
      close(fd);
      break;
    }
    dwfl_report_begin(m.dwfl);
    // Base 0 with p_vaddr added: module-relative addresses (pc - load bias).
    m.mod = dwfl_report_elf(m.dwfl, m.path.c_str(), file.c_str(), fd, 0,
                            /*add_p_vaddr=*/true);
    dwfl_report_end(m.dwfl, nullptr, nullptr);
    if (m.mod == nullptr) {
      dwfl_end(m.dwfl);
      m.dwfl = nullptr;
      close(fd);
      continue;
    }
    if (i > 0) {
      m.note = absl::StrCat(m.path, ": ", why, "; using ", file);
    }
    Dwarf_Addr bias;
    if (dwfl_module_getdwarf(m.mod, &bias) == nullptr) {
      const std::string no_dwarf =
          "no DWARF debug info: functions from the symbol table, no file:line";
      m.note = m.note.empty() ? absl::StrCat(m.path, ": ", no_dwarf)
                              : absl::StrCat(m.note, "; ", no_dwarf);
    }
    return;
  }
  m.note = absl::StrCat(
      m.path, ": ", why.empty() ? "cannot read" : why,
      m.build_id.empty() ? ""
                         : absl::StrCat("; no debug file for build-id ", want),
      ": frames shown as ??");
}

std::vector<Frame> Symbolizer::Lookup(Module& m, uint64_t pc, uint64_t rel) {
  std::vector<Frame> out;
  Frame base;
  base.address = pc;
  base.module = m.path;
  base.function = "??";
  if (m.mod == nullptr) {
    out.push_back(base);
    return out;
  }
  const Dwarf_Addr addr = rel;
  GElf_Off offset;
  GElf_Sym sym;
  const char* symname = dwfl_module_addrinfo(m.mod, addr, &offset, &sym,
                                             nullptr, nullptr, nullptr);
  std::string sym_function = "??";
  if (symname != nullptr) {
    // Drop a symbol version ("__libc_start_main@@GLIBC_2.34").
    absl::string_view bare = symname;
    bare = bare.substr(0, bare.find('@'));
    sym_function = Demangle(std::string(bare).c_str());
  }

  Dwarf_Addr bias = 0;
  Dwarf_Die* cudie = dwfl_module_addrdie(m.mod, addr, &bias);
  std::string file;
  int line = 0;
  if (Dwfl_Line* l = dwfl_module_getsrc(m.mod, addr)) {
    const char* f = dwfl_lineinfo(l, nullptr, &line, nullptr, nullptr, nullptr);
    if (f != nullptr) file = f;
  }
  Dwarf_Die* scopes = nullptr;
  const int n =
      cudie != nullptr ? dwarf_getscopes(cudie, addr - bias, &scopes) : 0;
  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  bool done = false;
  for (int i = 0; i < n && !done; ++i) {
    Dwarf_Die* die = &scopes[i];
    const int tag = dwarf_tag(die);
    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
    Frame f = base;
    f.file = file;
    f.line = line;
    f.function = DieName(die);
    if (tag == DW_TAG_subprogram) {
      if (symname != nullptr &&
          (f.function.empty() || f.function.find('(') == std::string::npos)) {
        // The symbol table has the qualified, demangled name for C++.
        f.function = sym_function;
      }
      done = true;
    } else {
      f.inlined = true;
      // The next outer frame is at this inlined call's site.
      Dwarf_Attribute attr;
      Dwarf_Word call_file = 0, call_line = 0;
      if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr),
                          &call_file) == 0 &&
          (files != nullptr ||
           dwarf_getsrcfiles(cudie, &files, &nfiles) == 0) &&
          call_file < nfiles) {
        const char* cf = dwarf_filesrc(files, call_file, nullptr, nullptr);
        file = cf != nullptr ? cf : "";
      } else {
        file.clear();
      }
      line = dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr),
                             &call_line) == 0
                 ? static_cast<int>(call_line)
                 : 0;
    }
    if (f.function.empty()) f.function = "??";
    out.push_back(std::move(f));
  }
  free(scopes);
  if (!done) {
    // No DWARF subprogram: the symbol table's name and the line we have.
    Frame f = base;
    f.function = sym_function;
    f.file = file;
    f.line = line;
    out.push_back(std::move(f));
  }
  return out;
}

const std::vector<Frame>& Symbolizer::SymbolizePc(uint32_t epoch, uint64_t pc) {
  auto [it, inserted] = pc_cache_.try_emplace(PcKey{epoch, pc});
  if (!inserted) return *it->second;
  it->second = std::make_unique<std::vector<Frame>>();
  std::vector<Frame>& out = *it->second;
  const std::vector<Range>& ranges = RangesOf(epoch);
  // A return address: look up the call instruction before it.
  const uint64_t lookup = pc > 0 ? pc - 1 : 0;
  auto r = std::upper_bound(
      ranges.begin(), ranges.end(), lookup,
      [](uint64_t v, const Range& range) { return v < range.begin; });
  if (r == ranges.begin() || lookup >= std::prev(r)->end) {
    Frame f;
    f.address = pc;
    f.function = "??";
    out.push_back(f);
    return out;
  }
  --r;
  Module& m = *modules_[r->module];
  if (m.self && options_.skip_self) return out;  // dropped
  if (!m.opened) Open(m);
  out = Lookup(m, pc, lookup - r->base);
  return out;
}

const std::vector<Frame>& Symbolizer::Symbolize(uint64_t stack_id) {
  auto [it, inserted] = stack_cache_.try_emplace(stack_id);
  if (!inserted) return *it->second;
  it->second = std::make_unique<std::vector<Frame>>();
  std::vector<Frame>& out = *it->second;
  for (uint32_t node : index_.stacks.Frames(stack_id)) {
    const std::vector<Frame>& frames =
        SymbolizePc(index_.stacks.epoch(node), index_.stacks.pc(node));
    out.insert(out.end(), frames.begin(), frames.end());
  }
  return out;
}

std::vector<std::string> Symbolizer::notes() const {
  std::vector<std::string> out;
  for (const auto& m : modules_) {
    if (!m->note.empty()) out.push_back(m->note);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace heaplens
