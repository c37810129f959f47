#!/usr/bin/env bash
# bench/analyzer/real_traces.sh: the analyzer on traces of real programs.
#
#   bench/analyzer/real_traces.sh [REPS] [BASE_DIR]
#
# Records two traces under libheaplens.so, from programs whose live sets are
# far larger than make_trace's:
#   perl     1M hash entries, half deleted (2M live blocks at the peak)
#   cc1plus  g++ -O2 compiling analyzer/replay.cc (GCC frees little at exit)
# then runs, REPS times (default 3), pinned to one core:
#   replay_benchmark TRACE          (replay rate with the live set)
#   heaplens gate TRACE             (elapsed s, user s, peak RSS)
#   heaplens report TRACE           (the same, with the layout analyses)
# With BASE_DIR (a directory holding another build's `heaplens` and
# `replay_benchmark`), the same runs alternate with that build, side by side.
# Run from the repository root after `bazel build //bench/analyzer:all
# //analyzer:heaplens //interposer:libheaplens.so`.
set -euo pipefail
reps="${1:-3}"
base="${2:-}"
bin=bazel-bin
out="$(mktemp -d /tmp/heaplens-real.XXXXXX)"
trap 'rm -rf "$out"' EXIT
preload="$PWD/$bin/interposer/libheaplens.so"

MALLOC_TRACE="$out/perl.hlt" LD_PRELOAD="$preload" perl -e \
  'my %h; $h{"k$_"} = [$_] for 1..1000000; $_ % 2 and delete $h{"k$_"} for 1..1000000'
MALLOC_TRACE="$out/cc.%p.hlt" LD_PRELOAD="$preload" g++ -O2 -std=c++17 \
  -I. -I"$bin" -c -o "$out/replay.o" analyzer/replay.cc
# The compiler proper writes the largest of the traces (g++ and as are small).
mv "$(ls -S "$out"/cc.*.hlt | head -1)" "$out/cc1plus.hlt"

builds=("new:$bin/analyzer/heaplens:$bin/bench/analyzer/replay_benchmark")
if [[ -n "$base" ]]; then
  builds+=("base:$base/heaplens:$base/replay_benchmark")
fi
# Elapsed, user time and peak RSS of one pinned run (the gate exits 1 on
# leaks: not an error here).
timed() {
  /usr/bin/time -o "$out/time" -f '%e s %U u %M KiB' taskset -c 1 "$@" \
    >/dev/null 2>&1 || true
  tail -1 "$out/time"
}

for trace in perl cc1plus; do
  t="$out/$trace.hlt"
  echo "== $trace: $(du -h "$t" | cut -f1)"
  for ((i = 0; i < reps; ++i)); do
    for b in "${builds[@]}"; do
      IFS=: read -r name hl rb <<<"$b"
      rate=$(taskset -c 1 "$rb" "$t" | sed -n 's/^replay (+ live set).*= \([0-9.]*\) M events\/s.*/\1/p')
      gate=$(timed "$hl" gate "$t")
      report=$(timed "$hl" report "$t" --output /dev/null)
      echo "$name: replay $rate M events/s | gate $gate | report $report"
    done
  done
done
