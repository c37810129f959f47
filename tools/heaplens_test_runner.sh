#!/usr/bin/env bash
# Runs a program under heaplens with the leak gate; used by heaplens_test()
# (tools/heaplens.bzl). Paths are runfiles-relative; Bazel runs tests from
# the runfiles root of the workspace.
#
#   heaplens_test_runner.sh --heaplens=P --preload=P [--gate-flag=F]...
#                           [--expect-leaks] -- PROGRAM [ARGS...]
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

out="${TEST_UNDECLARED_OUTPUTS_DIR:-${TEST_TMPDIR:-/tmp}}"
mkdir -p "$out"
junit=()
[[ -n "${XML_OUTPUT_FILE:-}" ]] && junit=(--junit "$out/heaplens_junit.xml")

"$heaplens" run --gate --preload "$preload" --output "$out/trace.%p.hlt" \
  "${junit[@]}" "${gate_flags[@]}" -- "$@" 2> >(tee "$out/heaplens_stderr.txt" >&2)
status=$?

if ((expect_leaks)); then
  if ((status == 1)); then
    echo "heaplens_test: leaks found, as expected"
    exit 0
  fi
  echo "heaplens_test: expected the gate to fail with exit 1, got $status" >&2
  exit 1
fi
exit $status
