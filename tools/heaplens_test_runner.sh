#!/usr/bin/env bash
# Runs a program under heaplens with the leak gate; used by heaplens_test()
# (tools/heaplens.bzl). Paths are runfiles-relative; Bazel runs tests from
# the runfiles root of the workspace.
#
#   heaplens_test_runner.sh --heaplens=P --preload=P [--gate-flag=F]...
#                           [--expect-leaks] -- PROGRAM [ARGS...]
#
# Exit status: PROGRAM's own if it failed, else the gate's (0 clean, 1 leaks
# over budget, 2 unreadable trace or usage error). With --expect-leaks: 0
# exactly when the gate reported leaks (1), else 1.
#
# Kept in the test's outputs (bazel-testlogs/PKG/NAME/test.outputs/, zipped
# by Bazel as outputs.zip): the traces (trace.PID.hlt), heaplens_report.txt
# (the text report of every trace), heaplens_gate.txt (the gate summary),
# heaplens_junit.xml and heaplens.sarif.
set -uo pipefail

heaplens="" preload="" expect_leaks=0
gate_flags=()
while (($# > 0)); do
  case "$1" in
    --heaplens=*) heaplens="${1#*=}" ;;
    --preload=*) preload="${1#*=}" ;;
    --gate-flag=*) gate_flags+=("${1#*=}") ;;
    --expect-leaks) expect_leaks=1 ;;
    --) shift; break ;;
    *) echo "heaplens_test_runner: unknown flag $1" >&2; exit 2 ;;
  esac
  shift
done
(($# > 0)) || { echo "heaplens_test_runner: no program" >&2; exit 2; }
[[ -x "$heaplens" ]] || { echo "heaplens_test_runner: no heaplens at '$heaplens'" >&2; exit 2; }
[[ -f "$preload" ]] || { echo "heaplens_test_runner: no preload at '$preload'" >&2; exit 2; }

out="${TEST_UNDECLARED_OUTPUTS_DIR:-${TEST_TMPDIR:-/tmp}/heaplens_test}"
mkdir -p "$out"
rm -f "$out"/trace.*.hlt

"$heaplens" run --gate --preload "$preload" --output "$out/trace.%p.hlt" \
  --junit "$out/heaplens_junit.xml" --sarif "$out/heaplens.sarif" \
  "${gate_flags[@]}" -- "$@" 2> >(tee "$out/heaplens_gate.txt" >&2)
status=$?
wait  # for tee

# The full text report of every trace, for whoever reads the outputs.
traces=("$out"/trace.*.hlt)
if [[ -e "${traces[0]}" ]]; then
  "$heaplens" report "${traces[@]}" >"$out/heaplens_report.txt" 2>&1 || true
fi

if ((expect_leaks)); then
  if ((status == 1)); then
    echo "heaplens_test: leaks found, as expected"
    exit 0
  fi
  echo "heaplens_test: expected the gate to fail with exit 1, got $status" >&2
  exit 1
fi
if ((status == 1)); then
  echo "heaplens_test: leaks over budget; traces and reports in $out" >&2
fi
exit $status
