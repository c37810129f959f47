// symbolize_benchmark: symbolizes N unique addresses spread over the code of
// a large module loaded in this process (default: libc.so.6, whose DWARF
// comes from its separate debug file found by build-id, when installed),
// with a cold symbolizer, and prints the time.
//
//   symbolize_benchmark [N] [MODULE_SUBSTRING] [DUMP_FILE]
//
// With DUMP_FILE, every frame of every address is written there (to compare
// two symbolizer versions for identical results).
#include <elf.h>
#include <link.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "analyzer/symbolizer.h"

namespace {

struct Target {
  const char* needle;
  heaplens::trace::Module module;
  uint64_t text_begin = 0, text_end = 0;
};

int Visit(struct dl_phdr_info* info, size_t, void* data) {
  auto* t = static_cast<Target*>(data);
  if (info->dlpi_name == nullptr ||
      strstr(info->dlpi_name, t->needle) == nullptr)
    return 0;
  t->module.set_path(info->dlpi_name);
  t->module.set_base(info->dlpi_addr);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD) {
      auto* s = t->module.add_segments();
      s->set_vaddr(ph.p_vaddr);
      s->set_memsz(ph.p_memsz);
      s->set_flags(ph.p_flags);
      if (ph.p_flags & PF_X) {
        t->text_begin = info->dlpi_addr + ph.p_vaddr;
        t->text_end = t->text_begin + ph.p_memsz;
      }
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
          t->module.set_build_id(std::string(desc, nh->n_descsz));
        }
        p = desc + ((nh->n_descsz + 3) & ~3u);
      }
    }
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? atoi(argv[1]) : 10000;
  Target t;
  t.needle = argc > 2 ? argv[2] : "libc.so";
  dl_iterate_phdr(Visit, &t);
  if (t.text_end == 0) {
    fprintf(stderr, "no loaded module matches %s\n", t.needle);
    return 2;
  }
  heaplens::TraceIndex index;
  *index.epochs.emplace_back().add_modules() = t.module;
  std::mt19937_64 rng(1);
  auto start = std::chrono::steady_clock::now();
  heaplens::Symbolizer s(index);
  uint64_t with_line = 0, inlined = 0, named = 0;
  std::vector<uint64_t> pcs;
  for (int i = 0; i < n; ++i) {
    const uint64_t pc = t.text_begin + rng() % (t.text_end - t.text_begin);
    pcs.push_back(pc);
    const auto& frames = s.SymbolizePc(0, pc);
    named += frames[0].function != "??";
    with_line += frames[0].line > 0;
    inlined += frames.size() > 1;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  printf(
      "%s (%.1f MiB of code): %llu unique addresses in %.3f s "
      "(%.1f us each); named %llu, with file:line %llu, with inlined "
      "frames %llu\n",
      t.module.path().c_str(), (t.text_end - t.text_begin) / 1048576.0,
      static_cast<unsigned long long>(s.unique_pcs()), secs, secs * 1e6 / n,
      static_cast<unsigned long long>(named),
      static_cast<unsigned long long>(with_line),
      static_cast<unsigned long long>(inlined));
  for (const std::string& note : s.notes()) printf("note: %s\n", note.c_str());
  if (argc > 3) {
    FILE* dump = fopen(argv[3], "w");
    if (dump == nullptr) return 1;
    for (uint64_t pc : pcs) {
      for (const heaplens::Frame& f : s.SymbolizePc(0, pc)) {
        fprintf(dump, "%llx %s %s:%d%s\n",
                static_cast<unsigned long long>(pc - t.text_begin),
                f.function.c_str(), f.file.c_str(), f.line,
                f.inlined ? " [inlined]" : "");
      }
    }
    fclose(dump);
  }
  return 0;
}
