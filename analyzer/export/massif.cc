#include "analyzer/export/massif.h"

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace heaplens {

MassifRecorder::MassifRecorder(MassifOptions options) : options_(options) {
  options_.snapshots = std::max(options_.snapshots, 2);
  options_.detailed_every = std::max(options_.detailed_every, 1);
}

void MassifRecorder::OnStart(const TraceIndex&) { Take(false); }

std::vector<std::pair<uint64_t, uint64_t>> MassifRecorder::Tree() const {
  std::vector<std::pair<uint64_t, uint64_t>> tree;
  tree.reserve(by_stack_.size());
  for (const auto& [stack, bytes] : by_stack_) {
    if (bytes > 0) tree.emplace_back(stack, bytes);
  }
  std::sort(tree.begin(), tree.end());
  return tree;
}

void MassifRecorder::Take(bool force_tree) {
  Snapshot s;
  s.clock = clock_;
  s.heap = heap_;
  s.extra = extra_;
  s.detailed = force_tree || snapshots_taken_ % options_.detailed_every == 0;
  if (s.detailed) s.tree = Tree();
  ++snapshots_taken_;
  snaps_.push_back(std::move(s));
  if (snaps_.size() >= 2 * static_cast<size_t>(options_.snapshots)) {
    // Keep every other snapshot (the first and the newest among them) and
    // double the interval, as massif does.
    std::vector<Snapshot> kept;
    for (size_t i = 0; i < snaps_.size(); i += 2) {
      kept.push_back(std::move(snaps_[i]));
    }
    snaps_ = std::move(kept);
    const uint64_t span = snaps_.back().clock - snaps_.front().clock;
    interval_ = std::max(interval_ * 2, span / options_.snapshots);
  }
  next_ = clock_ + interval_;
}

void MassifRecorder::MaybePeak() {
  if (heap_ == 0) return;
  if (has_peak_ &&
      static_cast<double>(heap_) <= static_cast<double>(peak_.heap) *
                                        (1 + options_.peak_inaccuracy / 100)) {
    return;
  }
  peak_.clock = clock_;
  peak_.heap = heap_;
  peak_.extra = extra_;
  peak_.detailed = true;
  peak_.tree = Tree();
  has_peak_ = true;
}

void MassifRecorder::Add(uint64_t address, const Event& e) {
  auto [it, inserted] =
      live_.try_emplace(address, Block{e.size, e.slack, e.stack});
  if (!inserted) {  // the free was not recorded: replace the stale block
    Remove(address);
    live_.emplace(address, Block{e.size, e.slack, e.stack});
  }
  heap_ += e.size;
  extra_ += e.slack;
  by_stack_[e.stack] += e.size;
  if (options_.clock == MassifOptions::Clock::kBytes) clock_ += e.size;
}

void MassifRecorder::Remove(uint64_t address) {
  auto it = live_.find(address);
  if (it == live_.end()) return;
  const Block b = it->second;
  MaybePeak();  // the heap is about to shrink: was this a peak?
  live_.erase(it);
  heap_ -= b.size;
  extra_ -= b.slack;
  auto s = by_stack_.find(b.stack);
  if (s != by_stack_.end() && (s->second -= b.size) == 0) by_stack_.erase(s);
  if (options_.clock == MassifOptions::Clock::kBytes) clock_ += b.size;
}

void MassifRecorder::OnEvent(const Event& e) {
  if (options_.clock == MassifOptions::Clock::kMilliseconds) {
    clock_ = std::max(clock_, e.time_ns);
  }
  switch (e.kind) {
    case kMalloc:
    case kCalloc:
    case kMemalign:
    case kNew:
    case kNewArray:
      Add(e.address, e);
      break;
    case kRealloc:
      Remove(e.old_address);
      Add(e.address, e);
      break;
    case kFree:
    case kDelete:
    case kDeleteArray:
      Remove(e.address);
      break;
    default:
      return;
  }
  if (clock_ >= next_) Take(false);
}

void MassifRecorder::OnEnd(const ReplayStats&) {
  MaybePeak();
  const Snapshot& last = snaps_.back();
  if (last.clock != clock_ || last.heap != heap_ || last.extra != extra_) {
    Take(false);
  }
  merged_ = snaps_;
  if (!has_peak_) {  // the heap was always empty: the first snapshot
    merged_.front().detailed = true;
    peak_index_ = 0;
    return;
  }
  // The peak goes before snapshots of the same time: it is the state just
  // before the release at that time.
  auto pos = std::lower_bound(
      merged_.begin(), merged_.end(), peak_.clock,
      [](const Snapshot& s, uint64_t c) { return s.clock < c; });
  peak_index_ = pos - merged_.begin();
  merged_.insert(pos, peak_);
}

namespace {

std::string MassifFrame(const Frame& f) {
  std::string text = absl::StrFormat("0x%X: ", f.address);
  if (f.function.empty() || f.function == "??") {
    absl::StrAppend(&text, "???");
    if (!f.module.empty()) absl::StrAppend(&text, " (in ", f.module, ")");
  } else if (f.line > 0) {
    const size_t slash = f.file.rfind('/');
    absl::StrAppend(
        &text, f.function, " (",
        slash == std::string::npos ? f.file : f.file.substr(slash + 1), ":",
        f.line, ")");
  } else {
    absl::StrAppend(
        &text, f.function,
        f.module.empty() ? "" : absl::StrCat(" (in ", f.module, ")"));
  }
  // ms_print strips everything after '#' as a comment.
  std::replace(text.begin(), text.end(), '#', '_');
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

struct TreeNode {
  uint64_t bytes = 0;
  std::map<std::string, std::unique_ptr<TreeNode>> children;
};

void RenderNode(const TreeNode& node, const std::string& label, int depth,
                uint64_t total, double threshold, std::string* out) {
  std::vector<std::pair<const std::string*, const TreeNode*>> kids;
  uint64_t small_bytes = 0;
  int small_count = 0;
  for (const auto& [text, child] : node.children) {
    if (total > 0 && child->bytes * 100.0 / total < threshold) {
      small_bytes += child->bytes;
      ++small_count;
    } else {
      kids.emplace_back(&text, child.get());
    }
  }
  std::stable_sort(kids.begin(), kids.end(), [](const auto& a, const auto& b) {
    return a.second->bytes > b.second->bytes;
  });
  const size_t n = kids.size() + (small_count > 0 ? 1 : 0);
  absl::StrAppend(out, std::string(depth, ' '), "n", n, ": ", node.bytes, " ",
                  label, "\n");
  for (const auto& [text, child] : kids) {
    RenderNode(*child, *text, depth + 1, total, threshold, out);
  }
  if (small_count > 0) {
    absl::StrAppend(out, std::string(depth + 1, ' '), "n0: ", small_bytes,
                    " in ", small_count, " place", small_count == 1 ? "" : "s",
                    ", below massif's threshold (",
                    absl::StrFormat("%.2f", threshold), "%)\n");
  }
}

std::string ClockText(uint64_t clock, MassifOptions::Clock unit) {
  if (unit == MassifOptions::Clock::kBytes) return absl::StrCat(clock);
  // ms with up to 3 decimals (ns resolution is noise at this scale).
  std::string t = absl::StrFormat("%.3f", clock / 1e6);
  while (t.back() == '0') t.pop_back();
  if (t.back() == '.') t.pop_back();
  return t;
}

}  // namespace

std::string RenderMassif(const MassifRecorder& recorder, Symbolizer& symbolizer,
                         const std::string& cmd) {
  const MassifOptions& options = recorder.options();
  std::string out = absl::StrCat(
      "desc: heaplens export (massif format)\ncmd: ",
      cmd.empty() ? "(unknown)" : cmd, "\ntime_unit: ",
      options.clock == MassifOptions::Clock::kBytes ? "B" : "ms", "\n");
  const auto& snaps = recorder.snapshots();
  for (size_t i = 0; i < snaps.size(); ++i) {
    const MassifRecorder::Snapshot& s = snaps[i];
    absl::StrAppend(&out, "#-----------\nsnapshot=", i, "\n#-----------\n",
                    "time=", ClockText(s.clock, options.clock), "\n",
                    "mem_heap_B=", s.heap, "\nmem_heap_extra_B=", s.extra,
                    "\nmem_stacks_B=0\nheap_tree=");
    if (!s.detailed) {
      absl::StrAppend(&out, "empty\n");
      continue;
    }
    absl::StrAppend(&out, i == recorder.peak_index() ? "peak\n" : "detailed\n");
    TreeNode root;
    for (const auto& [stack, bytes] : s.tree) {
      root.bytes += bytes;
      TreeNode* node = &root;
      const std::vector<Frame>& frames = symbolizer.Symbolize(stack);
      if (frames.empty()) {
        auto& child = node->children["0x0: ???"];
        if (!child) child = std::make_unique<TreeNode>();
        child->bytes += bytes;
        continue;
      }
      for (const Frame& f : frames) {  // allocation site first
        auto& child = node->children[MassifFrame(f)];
        if (!child) child = std::make_unique<TreeNode>();
        child->bytes += bytes;
        node = child.get();
      }
    }
    RenderNode(root,
               "(heap allocation functions) malloc/new/new[], --alloc-fns, "
               "etc.",
               0, root.bytes, options.threshold, &out);
  }
  return out;
}

}  // namespace heaplens
