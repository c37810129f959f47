#!/usr/bin/env bash
# tests/robustness/fuzz.sh [SECONDS]: coverage-guided fuzzing of the trace
# reader and every analysis with libFuzzer (Debian's clang), under
# AddressSanitizer and UndefinedBehaviorSanitizer, for a bounded time
# (default 120 s). Bazel's toolchain is gcc, so the target is built here with
# clang from the same sources Bazel uses. A crash is copied into
# analyzer/fuzz/corpus/regressions/ (commit it: fuzz_regression_test then
# replays it forever) and the script exits 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-120}"

command -v clang++ >/dev/null && [[ -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ]] || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
}

bazel build //proto:trace_proto_gen >/dev/null 2>&1
gen="$(bazel info bazel-bin 2>/dev/null)/proto"
srcs=$(bazel query 'kind("source file", deps(//analyzer/fuzz:trace_fuzz_target))' 2>/dev/null |
  grep -E '^//(analyzer|proto)' | grep -E '\.cc$' | sed -e 's|^//||' -e 's|:|/|')

work="$(mktemp -d /tmp/heaplens-fuzz.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/include/proto" "$work/obj"
cp "$gen/trace.pb.h" "$gen/trace.pb.cc" "$work/include/proto/"

flags=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined
  -fno-sanitize-recover=undefined -I. -I"$work/include")
objs=()
for s in $srcs "$work/include/proto/trace.pb.cc"; do
  o="$work/obj/$(echo "$s" | tr '/' '_').o"
  clang++ "${flags[@]}" -c "$s" -o "$o" &
  objs+=("$o")
  (($(jobs -r | wc -l) >= 2)) && wait -n
done
wait
absl_libs=$(sed -n 's/.*"\(-labsl_[a-z0-9_]*\)".*/\1/p' third_party/system/absl.BUILD | tr '\n' ' ')
clang++ "${flags[@]}" "${objs[@]}" -o "$work/trace_fuzz" $absl_libs -lprotobuf -ldw -lelf -lpthread -lrt

corpus="$work/corpus"
mkdir -p "$corpus"
cp -r analyzer/fuzz/corpus/. "$corpus/"
mkdir -p analyzer/fuzz/corpus/regressions
set +e
"$work/trace_fuzz" "$corpus" -max_total_time="$seconds" -max_len=65536 \
  -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$work/" -print_final_stats=1 \
  2>"$work/log"
rc=$?
set -e
tail -n 15 "$work/log"
if ((rc != 0)); then
  for a in "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-*; do
    [[ -e "$a" ]] && cp "$a" analyzer/fuzz/corpus/regressions/ && echo "kept $(basename "$a")"
  done
  echo "fuzz: FAILED (see above)"
  exit 1
fi
echo "fuzz: no crash in ${seconds}s"
