#include "interposer/recorder/heap_graph.h"

#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "interposer/internal_memory.h"
#include "interposer/log.h"
#include "interposer/recorder/wire.h"

namespace heaplens {
namespace {

// A growable buffer over InternalMap (never malloc).
class GrowBuf {
 public:
  ~GrowBuf() {
    if (p_ != nullptr) InternalUnmap(p_, cap_);
  }
  bool Reserve(size_t n) {
    if (cap_ - len_ >= n) return true;
    size_t cap = cap_ == 0 ? (1 << 20) : cap_;
    while (cap - len_ < n) cap *= 2;
    auto* p = static_cast<uint8_t*>(InternalMap(cap));
    if (p == nullptr) return false;
    if (p_ != nullptr) {
      memcpy(p, p_, len_);
      InternalUnmap(p_, cap_);
    }
    p_ = p;
    cap_ = cap;
    return true;
  }
  uint8_t* data() { return p_; }
  const uint8_t* data() const { return p_; }
  size_t size() const { return len_; }
  size_t capacity() const { return cap_; }
  void set_size(size_t n) { len_ = n; }

 private:
  uint8_t* p_ = nullptr;
  size_t cap_ = 0;
  size_t len_ = 0;
};

struct Range {
  uintptr_t start;
  uintptr_t end;
};

struct Chunks {
  uintptr_t* start = nullptr;
  uintptr_t* end = nullptr;
  size_t n = 0;
  size_t cap = 0;
  uintptr_t lo = 0, hi = 0;  // overall extent
};

void CountChunk(void* arg, uintptr_t, size_t) { ++*static_cast<size_t*>(arg); }

void AddChunk(void* arg, uintptr_t start, size_t usable) {
  auto* c = static_cast<Chunks*>(arg);
  if (c->n >= c->cap || usable == 0) return;
  c->start[c->n] = start;
  c->end[c->n] = start + usable;
  ++c->n;
}

struct Ranges {
  GrowBuf buf;
  size_t n = 0;
  Range* at() { return reinterpret_cast<Range*>(buf.data()); }
};

void AddRange(void* arg, uintptr_t start, size_t size) {
  auto* r = static_cast<Ranges*>(arg);
  if (!r->buf.Reserve(sizeof(Range))) return;
  r->at()[r->n++] = {start, start + size};
  r->buf.set_size(r->n * sizeof(Range));
}

// ForEachInternalRegion calls back under the internal-memory lock, so
// AddRange must not map memory then (InternalMap takes that lock): room for
// as many regions as internal_memory.cc tracks (8192) is made beforehand.
bool ReserveForInternalRegions(Ranges* r) {
  return r->buf.Reserve((r->n + 8192 + 1) * sizeof(Range));
}

void SortRanges(Range* r, size_t n) {
  // Shell sort: no allocation, n is small (hundreds).
  for (size_t gap = n / 2; gap > 0; gap /= 2) {
    for (size_t i = gap; i < n; ++i) {
      Range t = r[i];
      size_t j = i;
      for (; j >= gap && r[j - gap].start > t.start; j -= gap)
        r[j] = r[j - gap];
      r[j] = t;
    }
  }
}

uintptr_t ParseHex(const char** p) {
  uintptr_t v = 0;
  for (;; ++*p) {
    char c = **p;
    if (c >= '0' && c <= '9') {
      v = v * 16 + static_cast<uintptr_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v = v * 16 + static_cast<uintptr_t>(c - 'a' + 10);
    } else {
      return v;
    }
  }
}

// One line of /proc/self/maps.
struct MapLine {
  uintptr_t start, end;
  char perms[4];  // "rwxp"
  const char* name;
  size_t name_len;
};

// Parses the line at p into *m; returns the next line (at '\0' when done).
const char* ParseMapLine(const char* p, MapLine* m) {
  const char* line_end = strchr(p, '\n');
  if (line_end == nullptr) line_end = p + strlen(p);
  const char* q = p;
  m->start = ParseHex(&q);
  if (*q == '-') ++q;
  m->end = ParseHex(&q);
  if (*q == ' ') ++q;
  for (int i = 0; i < 4; ++i) m->perms[i] = q < line_end ? q[i] : '-';
  int fields = 0;  // perms, offset, dev, inode, then the path
  while (q < line_end && fields < 4) {
    while (q < line_end && *q != ' ') ++q;
    while (q < line_end && *q == ' ') ++q;
    ++fields;
  }
  m->name = q;
  m->name_len = static_cast<size_t>(line_end - q);
  return *line_end == '\n' ? line_end + 1 : line_end;
}

// What one source knows about its interior references to one block, for
// Valgrind's leak-check heuristics and its bounds test (the analyzer knows
// the requested size; trace.proto HeapGraph.interior).
struct Interior {
  uint64_t min_offset;  // the smallest offset of a pointer into the block
  uint64_t mi_offset;   // the smallest offset passing multipleinheritance
  uint64_t word0;       // the block's first two words (kAt8, kString)
  uint64_t word1;
  uint32_t flags;
};
constexpr uint32_t kAt8 = 1;     // a pointer at offset 8 (length64, newarray)
constexpr uint32_t kString = 2;  // at offset 24, and word0 <= word1 (stdstring)
constexpr uint32_t kMulti = 4;   // multipleinheritance, at mi_offset
constexpr int kInteriorFlagBits = 3;

bool ReadMaps(GrowBuf* buf);

// The process's file-backed mappings, to tell whether a word points at a
// C++ virtual table: inside a readable file mapping, and its first entries
// are null or point into executable file mappings, with two code pointers
// before anything else (memcheck's test for multipleinheritance).
class MapTable {
 public:
  ~MapTable() {
    if (cache_ != nullptr) InternalUnmap(cache_, kCache * sizeof(CacheEntry));
  }

  // Parses /proc/self/maps' text (ReadMaps).
  bool Load(const GrowBuf& text) {
    if (text.data() == nullptr) return false;
    cache_ = static_cast<CacheEntry*>(InternalMap(kCache * sizeof(CacheEntry)));
    if (cache_ == nullptr) return false;
    const char* p = reinterpret_cast<const char*>(text.data());
    while (*p != '\0') {
      MapLine line;
      p = ParseMapLine(p, &line);
      if (line.perms[0] != 'r' || line.name_len == 0 || line.name[0] != '/') {
        continue;
      }
      const Map m = {line.start, line.end, line.perms[2] == 'x'};
      if (!maps_.Reserve(sizeof(Map))) return false;
      memcpy(maps_.data() + maps_.size(), &m, sizeof(m));
      maps_.set_size(maps_.size() + sizeof(m));
    }
    loaded_ = true;
    return true;
  }

  bool LooksLikeVtable(uint64_t a) {
    if (!loaded_ || a < 4096 || (a & 7) != 0) return false;
    CacheEntry& e = cache_[(a >> 3) % kCache];
    if (e.address == a) return e.verdict;
    e.address = a;
    e.verdict = Check(a);
    return e.verdict;
  }

 private:
  struct Map {
    uintptr_t start, end;
    bool exec;
  };
  struct CacheEntry {
    uint64_t address;
    bool verdict;
  };
  static constexpr size_t kCache = 1024;
  static constexpr size_t kMaxEntries = 20;

  const Map* Find(uintptr_t a) const {
    const Map* m = reinterpret_cast<const Map*>(maps_.data());
    size_t lo = 0, hi = maps_.size() / sizeof(Map);
    while (lo < hi) {  // the first map ending above a
      const size_t mid = (lo + hi) / 2;
      if (m[mid].end <= a) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo == maps_.size() / sizeof(Map) || m[lo].start > a) return nullptr;
    return &m[lo];
  }

  bool Check(uintptr_t a) const {
    const Map* table = Find(a);
    if (table == nullptr) return false;
    uint64_t words[kMaxEntries];
    size_t n = kMaxEntries;
    if ((table->end - a) / 8 < n) n = (table->end - a) / 8;
    struct iovec local = {words, n * 8};
    struct iovec remote = {reinterpret_cast<void*>(a), n * 8};
    const ssize_t r =
        syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0);
    if (r <= 0) return false;
    n = static_cast<size_t>(r) / 8;
    int code = 0;
    for (size_t i = 0; i < n; ++i) {
      if (words[i] == 0) continue;
      const Map* m = Find(words[i]);
      if (m == nullptr || !m->exec) return false;
      if (++code == 2) return true;
    }
    return false;
  }

  GrowBuf maps_;
  CacheEntry* cache_ = nullptr;
  bool loaded_ = false;
};

class GraphBuilder {
 public:
  GraphBuilder(const Chunks& c, MapTable* maps) : c_(c), maps_(maps) {}

  bool Init() {
    size_t bytes = (c_.n * 2 + 1) * sizeof(uint32_t);
    stamp_ = static_cast<uint32_t*>(InternalMap(bytes));
    stamp_bytes_ = bytes;
    pos_bytes_ = (c_.n + 1) * sizeof(uint32_t);
    pos_ = static_cast<uint32_t*>(InternalMap(pos_bytes_));
    bounce_ = static_cast<uint8_t*>(InternalMap(kBounce));
    return stamp_ != nullptr && pos_ != nullptr && bounce_ != nullptr;
  }
  ~GraphBuilder() {
    if (stamp_ != nullptr) InternalUnmap(stamp_, stamp_bytes_);
    if (pos_ != nullptr) InternalUnmap(pos_, pos_bytes_);
    if (bounce_ != nullptr) InternalUnmap(bounce_, kBounce);
  }

  // Returns the reference for value v, or ~0 if it is not in a live chunk.
  uint64_t Lookup(uintptr_t v) const {
    if (v < c_.lo || v >= c_.hi) return ~0ull;
    size_t lo = 0, hi = c_.n;  // find the last start <= v
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (c_.start[mid] <= v) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo == 0) return ~0ull;
    size_t i = lo - 1;
    if (v >= c_.end[i]) return ~0ull;
    return (static_cast<uint64_t>(i) << 1) | (v != c_.start[i] ? 1 : 0);
  }

  // Scans words of [p, p + n) (already readable memory) adding refs to
  // `out` and, for each new interior ref, an Interior record to `info`.
  bool ScanWords(const uint8_t* p, size_t n, GrowBuf* out, GrowBuf* info) {
    const uintptr_t* w = reinterpret_cast<const uintptr_t*>(p);
    size_t words = n / sizeof(uintptr_t);
    for (size_t i = 0; i < words; ++i) {
      uint64_t ref = Lookup(w[i]);
      if (ref == ~0ull) continue;
      const size_t block = static_cast<size_t>(ref >> 1);
      if (stamp_[ref] != cur_stamp_) {
        stamp_[ref] = cur_stamp_;
        if (!out->Reserve(sizeof(uint64_t))) return false;
        memcpy(out->data() + out->size(), &ref, sizeof(ref));
        out->set_size(out->size() + sizeof(ref));
        if ((ref & 1) != 0) {
          if (!info->Reserve(sizeof(Interior))) return false;
          pos_[block] = static_cast<uint32_t>(info->size() / sizeof(Interior));
          Interior fresh = {~0ull, ~0ull, 0, 0, 0};
          memcpy(info->data() + info->size(), &fresh, sizeof(fresh));
          info->set_size(info->size() + sizeof(fresh));
        }
      }
      if ((ref & 1) != 0) {
        NoteInterior(reinterpret_cast<Interior*>(info->data()) + pos_[block],
                     w[i], block);
      }
    }
    return true;
  }

  // Scans foreign memory safely through process_vm_readv.
  bool ScanSafely(uintptr_t start, uintptr_t end, GrowBuf* out, GrowBuf* info) {
    start = (start + 7) & ~static_cast<uintptr_t>(7);
    pid_t pid = getpid();
    while (start + sizeof(uintptr_t) <= end) {
      size_t n = end - start;
      if (n > kBounce) n = kBounce;
      struct iovec local = {bounce_, n};
      struct iovec remote = {reinterpret_cast<void*>(start), n};
      ssize_t r = syscall(SYS_process_vm_readv, pid, &local, 1, &remote, 1, 0);
      if (r <= 0) {
        // Unreadable page: skip it.
        start = (start + 4096) & ~static_cast<uintptr_t>(4095);
        continue;
      }
      if (!ScanWords(bounce_, static_cast<size_t>(r), out, info)) {
        return false;
      }
      start += static_cast<size_t>(r) & ~static_cast<size_t>(7);
      if ((static_cast<size_t>(r) & 7) != 0) start += 8;
    }
    return true;
  }

  void NewStamp() { ++cur_stamp_; }

  const Chunks& chunks() const { return c_; }

 private:
  static uint64_t WordAt(uintptr_t a) {
    uint64_t v;
    memcpy(&v, reinterpret_cast<const void*>(a), sizeof(v));
    return v;
  }

  // Pointer value v points inside live block `block` (not at its start).
  // Heap chunks are the allocator's own memory and always readable.
  void NoteInterior(Interior* in, uintptr_t v, size_t block) {
    const uintptr_t start = c_.start[block];
    const uint64_t usable = c_.end[block] - start;
    const uint64_t off = v - start;
    if (off < in->min_offset) in->min_offset = off;
    if (off == 8) {
      in->flags |= kAt8;
      in->word0 = WordAt(start);
    } else if (off == 24 && (in->flags & kString) == 0) {
      const uint64_t length = WordAt(start), capacity = WordAt(start + 8);
      if (length <= capacity) {
        in->flags |= kString;
        in->word0 = length;
        in->word1 = capacity;
      }
    }
    if ((v & 7) == 0 && off >= 8 && off + 8 <= usable && off < in->mi_offset &&
        maps_ != nullptr && maps_->LooksLikeVtable(WordAt(v)) &&
        maps_->LooksLikeVtable(WordAt(start))) {
      in->flags |= kMulti;
      in->mi_offset = off;
    }
  }

  static constexpr size_t kBounce = 256 << 10;
  const Chunks& c_;
  MapTable* maps_;
  uint32_t* stamp_ = nullptr;
  size_t stamp_bytes_ = 0;
  uint32_t* pos_ = nullptr;  // block -> its Interior in the current scan
  size_t pos_bytes_ = 0;
  uint32_t cur_stamp_ = 0;
  uint8_t* bounce_ = nullptr;
};

// Encodes packed varints of refs into `w`'s buffer area directly.
void PutPacked(WireWriter* w, uint32_t field, const uint64_t* v, size_t n) {
  if (n == 0) return;
  size_t bytes = 0;
  for (size_t i = 0; i < n; ++i) bytes += VarintSize(v[i]);
  w->Tag(field, 2);
  w->RawVarint(bytes);
  for (size_t i = 0; i < n; ++i) w->RawVarint(v[i]);
}

// The size of the interior descriptors and words of `info` (n records).
size_t InteriorWords(const Interior* in, size_t n, uint64_t* out) {
  size_t k = 0;
  for (size_t i = 0; i < n; ++i) {
    if ((in[i].flags & (kAt8 | kString)) != 0) out[k++] = in[i].word0;
    if ((in[i].flags & kString) != 0) out[k++] = in[i].word1;
    if ((in[i].flags & kMulti) != 0) out[k++] = in[i].mi_offset;
  }
  return k;
}

// Writes the interior descriptors ((min_offset << 3) | flags) as packed
// field `desc_field` and their words as `word_field`. `scratch` must hold
// 3 * n words.
void PutInterior(WireWriter* w, uint32_t desc_field, uint32_t word_field,
                 const Interior* in, size_t n, uint64_t* scratch) {
  if (n == 0) return;
  for (size_t i = 0; i < n; ++i) {
    scratch[i] = (in[i].min_offset << kInteriorFlagBits) | in[i].flags;
  }
  PutPacked(w, desc_field, scratch, n);
  PutPacked(w, word_field, scratch, InteriorWords(in, n, scratch));
}

struct RootCtx {
  GraphBuilder* g;
  GrowBuf* pkt;  // encoded RootRegion messages (field 2 of HeapGraph)
  GrowBuf refs;
  GrowBuf info;     // Interior records of the interior refs
  GrowBuf scratch;  // for PutInterior
  bool ok = true;
};

bool AddRoot(RootCtx* ctx, uint32_t kind, const char* name, size_t name_len,
             uintptr_t start, uintptr_t end, bool direct) {
  ctx->refs.set_size(0);
  ctx->info.set_size(0);
  ctx->g->NewStamp();
  bool ok = direct ? ctx->g->ScanWords(reinterpret_cast<const uint8_t*>(start),
                                       end - start, &ctx->refs, &ctx->info)
                   : ctx->g->ScanSafely(start, end, &ctx->refs, &ctx->info);
  if (!ok) return false;
  size_t nrefs = ctx->refs.size() / sizeof(uint64_t);
  size_t ninterior = ctx->info.size() / sizeof(Interior);
  size_t need = 64 + name_len + nrefs * 10 + ninterior * 40;
  if (!ctx->pkt->Reserve(need)) return false;
  if (!ctx->scratch.Reserve(ninterior * 3 * sizeof(uint64_t) + 8)) {
    return false;
  }
  WireWriter w(ctx->pkt->data() + ctx->pkt->size(),
               ctx->pkt->capacity() - ctx->pkt->size());
  size_t m = w.BeginNested(2);
  w.Uint(1, kind);
  if (name_len > 0) w.Bytes(2, name, name_len);
  w.Uint(3, start);
  w.Uint(4, end - start);
  PutPacked(&w, 5, reinterpret_cast<const uint64_t*>(ctx->refs.data()), nrefs);
  PutInterior(&w, 6, 7, reinterpret_cast<const Interior*>(ctx->info.data()),
              ninterior, reinterpret_cast<uint64_t*>(ctx->scratch.data()));
  w.EndNested(m);
  if (w.overflow()) return false;
  ctx->pkt->set_size(ctx->pkt->size() + w.size());
  return true;
}

// Adds [start, end) minus the excluded ranges as roots.
bool AddRootMinus(RootCtx* ctx, uint32_t kind, const char* name,
                  size_t name_len, uintptr_t start, uintptr_t end,
                  const Range* ex, size_t nex) {
  for (size_t i = 0; i < nex && start < end; ++i) {
    if (ex[i].end <= start) continue;
    if (ex[i].start >= end) break;
    if (ex[i].start > start) {
      if (!AddRoot(ctx, kind, name, name_len, start, ex[i].start, false)) {
        return false;
      }
    }
    if (ex[i].end > start) start = ex[i].end;
  }
  if (start < end) return AddRoot(ctx, kind, name, name_len, start, end, false);
  return true;
}

bool ReadMaps(GrowBuf* buf) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  for (;;) {
    if (!buf->Reserve(64 << 10)) break;
    ssize_t r =
        read(fd, buf->data() + buf->size(), buf->capacity() - buf->size() - 1);
    if (r <= 0) break;
    buf->set_size(buf->size() + static_cast<size_t>(r));
  }
  close(fd);
  if (buf->data() == nullptr) return false;
  buf->data()[buf->size()] = '\0';
  return true;
}

bool StartsWith(const char* s, size_t n, const char* prefix) {
  size_t k = strlen(prefix);
  return n >= k && memcmp(s, prefix, k) == 0;
}

// `maps` holds /proc/self/maps (ReadMaps), read before the excluded ranges
// were collected so its own buffer is excluded too.
bool ScanMappings(RootCtx* ctx, const GrowBuf& maps, uintptr_t sp,
                  const Range* ex, size_t nex) {
  if (maps.data() == nullptr) return true;  // no /proc: no mapping roots
  const char* p = reinterpret_cast<const char*>(maps.data());
  while (*p != '\0') {
    MapLine line;
    p = ParseMapLine(p, &line);
    uintptr_t start = line.start, end = line.end;
    const char* name = line.name;
    size_t name_len = line.name_len;
    if (line.perms[0] != 'r' || line.perms[1] != 'w') continue;
    if (StartsWith(name, name_len, "[vvar") ||
        StartsWith(name, name_len, "[vsyscall") ||
        StartsWith(name, name_len, "[uprobes") ||
        (StartsWith(name, name_len, "/dev/") &&
         !StartsWith(name, name_len, "/dev/zero") &&
         !StartsWith(name, name_len, "/dev/shm/"))) {
      continue;
    }
    uint32_t kind = 5;                             // OTHER
    if (name_len > 0 && name[0] == '/') kind = 1;  // DATA of a module
    if (StartsWith(name, name_len, "[stack")) kind = 2;
    if (sp >= start && sp < end) {
      // The exiting thread's stack: only the live part.
      start = sp & ~static_cast<uintptr_t>(7);
      kind = 2;
      if (name_len == 0) {
        name = "[stack of exiting thread]";
        name_len = strlen(name);
      }
    }
    if (kind == 5 && name_len == 0) {
      name = "[anon]";
      name_len = 6;
    }
    if (!AddRootMinus(ctx, kind, name, name_len, start, end, ex, nex)) {
      return false;
    }
  }
  return true;
}

bool EmitBuf(PacketEmit emit, void* arg, const uint8_t* p, size_t n) {
  return emit(arg, p, n);
}

}  // namespace

bool WriteHeapGraphWith(const HeapGraphSources& src, PacketEmit emit, void* arg,
                        uintptr_t sp, const uint64_t* regs, int n_regs,
                        const ExtraRoot* extra, int n_extra,
                        HeapGraphStats* stats) {
  // 1. Live chunks, ascending.
  size_t count = 0;
  src.for_each_live_chunk(CountChunk, &count);
  Chunks c;
  c.cap = count + 1;
  size_t arr_bytes = c.cap * sizeof(uintptr_t);
  c.start = static_cast<uintptr_t*>(InternalMap(arr_bytes));
  c.end = static_cast<uintptr_t*>(InternalMap(arr_bytes));
  if (c.start == nullptr || c.end == nullptr) return false;
  src.for_each_live_chunk(AddChunk, &c);
  if (c.n > 0) {
    c.lo = c.start[0];
    c.hi = c.end[c.n - 1];
  }
  stats->live_blocks = c.n;
  stats->live_bytes = 0;
  for (size_t i = 0; i < c.n; ++i) stats->live_bytes += c.end[i] - c.start[i];

  MapTable maps;         // the multipleinheritance vtable test
  GrowBuf maps_text;     // empty without /proc: no mapping roots, and no
  ReadMaps(&maps_text);  // multipleinheritance matches
  maps.Load(maps_text);
  GraphBuilder g(c, &maps);
  bool ok = g.Init();

  // 2. Excluded ranges: the heap and heaplens' own memory. Collected before
  // the root scan allocates its buffers (those are InternalMap'ed and added
  // below after the fact by a second pass).
  Ranges ex;
  if (ok) {
    src.for_each_heap_region(AddRange, &ex);
    ok = ReserveForInternalRegions(&ex);
    if (ok) src.for_each_internal_region(AddRange, &ex);
  }

  // 3. The first packet: block_count and the roots.
  GrowBuf roots;
  RootCtx ctx;
  ctx.g = &g;
  ctx.pkt = &roots;
  if (ok) {
    // Make sure the buffers used from here on exist, then take the internal
    // regions again so they are excluded too.
    ok = roots.Reserve(1 << 20) && ctx.refs.Reserve(1 << 20) &&
         ctx.info.Reserve(1 << 20) && ctx.scratch.Reserve(1 << 20);
    if (ok) {
      ok = ReserveForInternalRegions(&ex);
      if (ok) src.for_each_internal_region(AddRange, &ex);
      SortRanges(ex.at(), ex.n);
    }
  }
  if (ok && n_regs > 0) {
    ok = AddRoot(&ctx, 3, "registers", 9, reinterpret_cast<uintptr_t>(regs),
                 reinterpret_cast<uintptr_t>(regs + n_regs), true);
  }
  for (int i = 0; ok && i < n_extra; ++i) {
    ok = AddRoot(&ctx, extra[i].kind, extra[i].name, strlen(extra[i].name),
                 extra[i].address, extra[i].address + extra[i].size, false);
  }
  if (ok && src.scan_mappings)
    ok = ScanMappings(&ctx, maps_text, sp, ex.at(), ex.n);
  if (!ok) {
    InternalUnmap(c.start, arr_bytes);
    InternalUnmap(c.end, arr_bytes);
    return false;
  }
  GrowBuf out;
  ok = out.Reserve(roots.size() + 64);
  if (ok) {
    WireWriter w(out.data(), out.capacity());
    WireWriter::PacketMark m = w.BeginPacket(kPacketGraph);
    w.Uint(1, c.n);
    w.RawBytes(roots.data(), roots.size());
    w.Bool(7, c.n == 0);
    w.EndPacket(m);
    ok = !w.overflow() && EmitBuf(emit, arg, w.data(), w.size());
  }

  // 4. Blocks, in packets of about 1 MiB of edges.
  GrowBuf edges;    // uint64 refs of the current packet
  GrowBuf info;     // Interior records of its interior refs
  GrowBuf scratch;  // for PutInterior
  GrowBuf counts;   // uint32 per block
  size_t first = 0;
  stats->edges = 0;
  for (size_t i = 0; ok && i < c.n; ++i) {
    size_t before = edges.size();
    g.NewStamp();
    ok = g.ScanWords(reinterpret_cast<const uint8_t*>(c.start[i]),
                     c.end[i] - c.start[i], &edges, &info);
    if (!ok) break;
    uint32_t k = static_cast<uint32_t>((edges.size() - before) / 8);
    stats->edges += k;
    ok = counts.Reserve(4);
    if (!ok) break;
    memcpy(counts.data() + counts.size(), &k, 4);
    counts.set_size(counts.size() + 4);
    size_t nblocks = counts.size() / 4;
    bool last = i + 1 == c.n;
    if (last || edges.size() >= (1 << 20) || info.size() >= (1 << 20) ||
        nblocks >= 65536) {
      size_t nedges = edges.size() / 8;
      size_t ninterior = info.size() / sizeof(Interior);
      ok = out.Reserve(64 + nblocks * 25 + nedges * 10 + ninterior * 40) &&
           scratch.Reserve(ninterior * 3 * sizeof(uint64_t) + 8);
      if (!ok) break;
      WireWriter w(out.data(), out.capacity());
      WireWriter::PacketMark m = w.BeginPacket(kPacketGraph);
      w.Uint(3, first);
      // block_address_delta
      uint64_t* tmp = reinterpret_cast<uint64_t*>(edges.data());
      {
        size_t bytes = 0;
        uintptr_t prev = 0;
        for (size_t b = 0; b < nblocks; ++b) {
          bytes += VarintSize(
              ZigZag(static_cast<int64_t>(c.start[first + b] - prev)));
          prev = c.start[first + b];
        }
        w.Tag(4, 2);
        w.RawVarint(bytes);
        prev = 0;
        for (size_t b = 0; b < nblocks; ++b) {
          w.RawVarint(ZigZag(static_cast<int64_t>(c.start[first + b] - prev)));
          prev = c.start[first + b];
        }
      }
      {
        const uint32_t* cnt = reinterpret_cast<const uint32_t*>(counts.data());
        size_t bytes = 0;
        for (size_t b = 0; b < nblocks; ++b) bytes += VarintSize(cnt[b]);
        w.Tag(5, 2);
        w.RawVarint(bytes);
        for (size_t b = 0; b < nblocks; ++b) w.RawVarint(cnt[b]);
      }
      PutPacked(&w, 6, tmp, nedges);
      w.Bool(7, last);
      PutInterior(&w, 8, 9, reinterpret_cast<const Interior*>(info.data()),
                  ninterior, reinterpret_cast<uint64_t*>(scratch.data()));
      w.EndPacket(m);
      ok = !w.overflow() && EmitBuf(emit, arg, w.data(), w.size());
      first = i + 1;
      edges.set_size(0);
      info.set_size(0);
      counts.set_size(0);
    }
  }
  InternalUnmap(c.start, arr_bytes);
  InternalUnmap(c.end, arr_bytes);
  return ok;
}

}  // namespace heaplens
