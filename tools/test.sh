#!/usr/bin/env bash
# tools/test.sh: installs what is missing, builds everything and runs the
# whole test suite:
#   1. bazel test //...                      unit, end-to-end, robustness
#   2. bazel test --config=asan //analyzer/... the analyzer under ASan+UBSan
#   3. tests/robustness/fuzz.sh              bounded libFuzzer run (CI only
#                                            by default; FUZZ_SECONDS=0 skips)
# Ends with one line "N passed, N failed" counting test cases.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh || exit 1

results="$(mktemp /tmp/heaplens-results.XXXXXX)"
trap 'rm -f "$results"' EXIT
rm -f "$results"
status=0

bazel test --keep_going //... "$@" || status=1
python3 tools/test_summary.py collect --query 'tests(//...)' \
  --testlogs "$(bazel info bazel-testlogs 2>/dev/null)" --results "$results"

bazel test --keep_going --config=asan //analyzer/... "$@" || status=1
python3 tools/test_summary.py collect --query 'tests(//analyzer/...)' \
  --testlogs "$(bazel info --config=asan bazel-testlogs 2>/dev/null)" \
  --prefix "asan:" --results "$results"

fuzz_seconds="${FUZZ_SECONDS:-$([[ "${CI:-}" == "true" ]] && echo 120 || echo 0)}"
if ((fuzz_seconds > 0)); then
  if tests/robustness/fuzz.sh "$fuzz_seconds"; then
    python3 tools/test_summary.py add --name "fuzz:trace_fuzz" --passed --results "$results"
  else
    python3 tools/test_summary.py add --name "fuzz:trace_fuzz" --failed --results "$results"
    status=1
  fi
fi

python3 tools/test_summary.py print --results "$results" || status=1
exit $status
