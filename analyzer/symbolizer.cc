#include "analyzer/symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

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
  // C has no namespaces or classes: skip the walk to the DIE (it reads the
  // CU from its start).
  Dwarf_Die def_cu;
  if (dwarf_diecu(&def, &def_cu, nullptr, nullptr) != nullptr) {
    switch (dwarf_srclang(&def_cu)) {
      case DW_LANG_C89:
      case DW_LANG_C:
      case DW_LANG_C99:
      case DW_LANG_C11:
        return name;
      default:
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

// The functions of one compilation unit, built once from its DIE tree:
// every DW_TAG_subprogram and DW_TAG_inlined_subroutine with its address
// ranges, in DIE preorder, with nesting. A lookup binary-searches the
// outermost functions, then walks down only the containing function's
// inline tree (dwarf_getscopes would walk the whole CU for every pc).
struct CuIndex {
  struct Node {
    Dwarf_Die die;
    int tag;
    uint32_t first_range, n_ranges;
    uint32_t subtree_end;  // index of the first node after its subtree
  };
  struct Range {
    uint64_t low, high;
  };
  struct Top {
    uint64_t low, high;
    uint32_t node;
  };
  std::vector<Node> nodes;
  std::vector<Range> ranges;
  std::vector<Top> tops;  // ranges of outermost functions, by low

  void Build(Dwarf_Die* cudie) {
    Walk(cudie, /*in_function=*/false);
    std::sort(tops.begin(), tops.end(),
              [](const Top& a, const Top& b) { return a.low < b.low; });
  }

  bool Contains(const Node& n, uint64_t pc) const {
    for (uint32_t i = 0; i < n.n_ranges; ++i) {
      const Range& r = ranges[n.first_range + i];
      if (pc >= r.low && pc < r.high) return true;
    }
    return false;
  }

  // The functions containing `pc`, innermost first; empty if none.
  void Find(uint64_t pc, std::vector<const Node*>* chain) const {
    chain->clear();
    auto it =
        std::upper_bound(tops.begin(), tops.end(), pc,
                         [](uint64_t v, const Top& t) { return v < t.low; });
    // Outermost functions do not overlap in practice; look back a little
    // in case they do.
    const Node* top = nullptr;
    for (int back = 0; back < 8 && it != tops.begin(); ++back) {
      --it;
      if (pc < it->high) {
        top = &nodes[it->node];
        break;
      }
    }
    if (top == nullptr) return;
    std::vector<const Node*> outer_first = {top};
    uint32_t i = static_cast<uint32_t>(top - nodes.data()) + 1;
    uint32_t end = top->subtree_end;
    while (i < end) {
      const Node& n = nodes[i];
      if (Contains(n, pc)) {
        outer_first.push_back(&n);
        end = n.subtree_end;
        ++i;
      } else {
        i = n.subtree_end;
      }
    }
    chain->assign(outer_first.rbegin(), outer_first.rend());
  }

 private:
  static bool MayOwnFunctions(int tag) {
    switch (tag) {
      case DW_TAG_compile_unit:
      case DW_TAG_partial_unit:
      case DW_TAG_module:
      case DW_TAG_namespace:
      case DW_TAG_class_type:
      case DW_TAG_structure_type:
      case DW_TAG_union_type:
      case DW_TAG_lexical_block:
      case DW_TAG_with_stmt:
      case DW_TAG_catch_block:
      case DW_TAG_try_block:
      case DW_TAG_entry_point:
      case DW_TAG_subprogram:
      case DW_TAG_inlined_subroutine:
        return true;
      default:
        return false;
    }
  }

  void Walk(Dwarf_Die* parent, bool in_function) {
    Dwarf_Die child;
    if (dwarf_child(parent, &child) != 0) return;
    do {
      const int tag = dwarf_tag(&child);
      if (!MayOwnFunctions(tag)) continue;
      if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
        const uint32_t index = static_cast<uint32_t>(nodes.size());
        Node node{child, tag, static_cast<uint32_t>(ranges.size()), 0, 0};
        Dwarf_Addr base, start, end;
        ptrdiff_t offset = 0;
        while ((offset = dwarf_ranges(&child, offset, &base, &start, &end)) >
               0) {
          if (start < end) ranges.push_back(Range{start, end});
        }
        node.n_ranges = static_cast<uint32_t>(ranges.size()) - node.first_range;
        nodes.push_back(node);
        if (!in_function) {
          for (uint32_t r = 0; r < node.n_ranges; ++r) {
            const Range& range = ranges[node.first_range + r];
            tops.push_back(Top{range.low, range.high, index});
          }
        }
        Walk(&child, in_function || node.n_ranges > 0);
        nodes[index].subtree_end = static_cast<uint32_t>(nodes.size());
      } else {
        Walk(&child, in_function);
      }
    } while (dwarf_siblingof(&child, &child) == 0);
  }
};

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

  // Per CU (keyed by the CU DIE's address), built on first use.
  absl::flat_hash_map<const void*, std::unique_ptr<CuIndex>> cus;
  // Function names by DIE, computed once.
  absl::flat_hash_map<const void*, std::string> die_names;
  // dwfl_module_addrinfo answers for sized symbols, as address intervals
  // [start, end) in which every address gets the same answer: the symbol's
  // extent, cut at the next symbol start (see SymbolName).
  struct SymbolAnswer {
    uint64_t end;
    std::string name;  // demangled, version dropped
  };
  std::map<uint64_t, SymbolAnswer> symbol_answers;
  std::vector<uint64_t> symbol_starts;  // every defined symbol's address
  bool symbol_starts_read = false;
};

namespace {

const std::string& CachedDieName(
    absl::flat_hash_map<const void*, std::string>* cache, Dwarf_Die* die) {
  auto [it, inserted] = cache->try_emplace(die->addr);
  if (inserted) it->second = DieName(die);
  return it->second;
}

std::string SymbolFunctionName(const char* symname) {
  // Drop a symbol version ("__libc_start_main@@GLIBC_2.34").
  absl::string_view bare = symname;
  bare = bare.substr(0, bare.find('@'));
  return Demangle(std::string(bare).c_str());
}

}  // namespace

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
    // O_NONBLOCK: a hostile trace may name a FIFO, which would block a
    // plain open; only regular files are read.
    int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      if (i == 0) why = "file not found";
      continue;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      if (i == 0) why = "not a regular file";
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
  const std::string* symname = nullptr;
  {
    auto it = m.symbol_answers.upper_bound(addr);
    if (it != m.symbol_answers.begin() && addr < std::prev(it)->second.end) {
      symname = &std::prev(it)->second.name;
    }
  }
  std::string uncached_symname;
  if (symname == nullptr) {
    GElf_Off offset;
    GElf_Sym sym;
    const char* name = dwfl_module_addrinfo(m.mod, addr, &offset, &sym, nullptr,
                                            nullptr, nullptr);
    if (name != nullptr) {
      uncached_symname = SymbolFunctionName(name);
      symname = &uncached_symname;
      if (sym.st_size != 0 && offset < sym.st_size) {
        if (!m.symbol_starts_read) {
          m.symbol_starts_read = true;
          const int n = dwfl_module_getsymtab(m.mod);
          for (int i = 1; i < n; ++i) {
            GElf_Sym s;
            GElf_Addr a;
            GElf_Word shndx;
            if (dwfl_module_getsym_info(m.mod, i, &s, &a, &shndx, nullptr,
                                        nullptr) != nullptr) {
              m.symbol_starts.push_back(a);
            }
          }
          std::sort(m.symbol_starts.begin(), m.symbol_starts.end());
        }
        const uint64_t start = addr - offset;
        uint64_t end = start + sym.st_size;
        auto next = std::upper_bound(m.symbol_starts.begin(),
                                     m.symbol_starts.end(), start);
        if (next != m.symbol_starts.end()) end = std::min(end, *next);
        if (addr < end) {
          auto [it, inserted] = m.symbol_answers.try_emplace(
              start, Module::SymbolAnswer{end, uncached_symname});
          if (inserted) symname = &it->second.name;
        }
      }
    }
  }
  const std::string sym_function = symname != nullptr ? *symname : "??";

  Dwarf_Addr bias = 0;
  Dwarf_Die* cudie = dwfl_module_addrdie(m.mod, addr, &bias);
  std::string file;
  int line = 0;
  if (Dwfl_Line* l = dwfl_module_getsrc(m.mod, addr)) {
    const char* f = dwfl_lineinfo(l, nullptr, &line, nullptr, nullptr, nullptr);
    if (f != nullptr) file = f;
  }
  std::vector<const CuIndex::Node*> chain;
  if (cudie != nullptr) {
    auto [it, inserted] = m.cus.try_emplace(cudie->addr);
    if (inserted) {
      it->second = std::make_unique<CuIndex>();
      it->second->Build(cudie);
    }
    it->second->Find(addr - bias, &chain);
  }
  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  bool done = false;
  for (const CuIndex::Node* node : chain) {
    Dwarf_Die die = node->die;
    Frame f = base;
    f.file = file;
    f.line = line;
    f.function = CachedDieName(&m.die_names, &die);
    if (node->tag == DW_TAG_subprogram) {
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
      if (dwarf_formudata(dwarf_attr(&die, DW_AT_call_file, &attr),
                          &call_file) == 0 &&
          (files != nullptr ||
           dwarf_getsrcfiles(cudie, &files, &nfiles) == 0) &&
          call_file < nfiles) {
        const char* cf = dwarf_filesrc(files, call_file, nullptr, nullptr);
        file = cf != nullptr ? cf : "";
      } else {
        file.clear();
      }
      line = dwarf_formudata(dwarf_attr(&die, DW_AT_call_line, &attr),
                             &call_line) == 0
                 ? static_cast<int>(call_line)
                 : 0;
    }
    if (f.function.empty()) f.function = "??";
    out.push_back(std::move(f));
    if (done) break;
  }
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
