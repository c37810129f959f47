#include "interposer/recorder/module_map.h"

#include <elf.h>
#include <link.h>
#include <string.h>

namespace heaplens {
namespace {

int ReadGeneration(struct dl_phdr_info* info, size_t size, void* data) {
  auto* g = static_cast<ModuleGeneration*>(data);
  if (size >=
      offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
    g->adds = info->dlpi_adds;
    g->subs = info->dlpi_subs;
  }
  return 1;  // the counters are the same in every entry
}

struct EncodeArg {
  WireWriter* w;
  const char* exe_path;
  bool first;
};

void EncodeBuildId(WireWriter* w, const struct dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
    const char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const auto* nh = reinterpret_cast<const ElfW(Nhdr)*>(p);
      size_t name_off = sizeof(ElfW(Nhdr));
      size_t desc_off = name_off + ((nh->n_namesz + 3) & ~3u);
      size_t next = desc_off + ((nh->n_descsz + 3) & ~3u);
      if (p + next > end) break;
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
          memcmp(p + name_off, "GNU", 4) == 0) {
        w->Bytes(2, p + desc_off, nh->n_descsz);
        return;
      }
      p += next;
    }
  }
}

int EncodeOne(struct dl_phdr_info* info, size_t, void* data) {
  auto* a = static_cast<EncodeArg*>(data);
  WireWriter* w = a->w;
  size_t m = w->BeginNested(3);  // ModuleEpoch.modules
  const char* path = info->dlpi_name;
  // The main program is the first entry and has an empty name.
  if (a->first && (path == nullptr || path[0] == '\0')) path = a->exe_path;
  a->first = false;
  if (path != nullptr && path[0] != '\0') w->String(1, path);
  EncodeBuildId(w, info);
  w->Uint(3, info->dlpi_addr);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    size_t s = w->BeginNested(4);
    w->Uint(1, ph.p_vaddr);
    w->Uint(2, ph.p_memsz);
    w->Uint(3, ph.p_flags);
    w->Uint(4, ph.p_offset);
    w->EndNested(s);
  }
  w->EndNested(m);
  return 0;
}

}  // namespace

ModuleGeneration CurrentModuleGeneration() {
  ModuleGeneration g;
  dl_iterate_phdr(ReadGeneration, &g);
  return g;
}

void EncodeModuleEpoch(WireWriter* w, uint32_t epoch, uint64_t time_ns,
                       const char* exe_path) {
  WireWriter::PacketMark m = w->BeginPacket(kPacketModules);
  w->Uint(1, epoch);
  w->Uint(2, time_ns);
  EncodeArg a = {w, exe_path, true};
  dl_iterate_phdr(EncodeOne, &a);
  w->EndPacket(m);
}

}  // namespace heaplens
