#include "analyzer/export/mtrace.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace heaplens {
namespace {

bool HasSpace(const std::string& s) {
  for (char c : s) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) return true;
  }
  return s.empty();
}

}  // namespace

void MtraceWriter::OnStart(const TraceIndex& index) {
  index_ = &index;
  modules_ = std::make_unique<ModuleMap>(index);
  out_ << "= Start\n";
}

const std::string& MtraceWriter::Where(uint64_t stack) {
  auto [it, inserted] = where_.try_emplace(stack);
  if (!inserted || stack == 0 || !index_->stacks.Contains(stack)) {
    return it->second;
  }
  for (uint32_t node : index_->stacks.Frames(stack)) {
    const uint64_t pc = index_->stacks.pc(node);
    const trace::Module* m = modules_->Find(index_->stacks.epoch(node), pc);
    if (m != nullptr && ModuleMap::IsSelf(*m)) continue;
    if (m != nullptr && !HasSpace(m->path())) {
      it->second = absl::StrFormat("@ %s:[0x%x] ", m->path(), pc - m->base());
    } else {
      it->second = absl::StrFormat("@ [0x%x] ", pc);
    }
    break;
  }
  return it->second;
}

void MtraceWriter::OnEvent(const Event& e) {
  switch (e.kind) {
    case kMalloc:
    case kCalloc:
    case kMemalign:
    case kNew:
    case kNewArray:
      out_ << Where(e.stack)
           << absl::StreamFormat("+ 0x%x 0x%x\n", e.address, e.size);
      break;
    case kRealloc: {
      const std::string& where = Where(e.stack);
      out_ << where << absl::StreamFormat("< 0x%x\n", e.old_address) << where
           << absl::StreamFormat("> 0x%x 0x%x\n", e.address, e.size);
      break;
    }
    case kFree:
    case kDelete:
    case kDeleteArray:
      out_ << absl::StreamFormat("- 0x%x\n", e.address);
      break;
    case kInvalidFree:
      out_ << Where(e.stack) << absl::StreamFormat("- 0x%x\n", e.address);
      break;
    case kAllocFailed:
      out_ << Where(e.stack) << absl::StreamFormat("+ (nil) 0x%x\n", e.size);
      break;
    default:
      break;  // heap shape and marks have no mtrace line
  }
}

void MtraceWriter::OnEnd(const ReplayStats&) { out_ << "= End\n"; }

}  // namespace heaplens
