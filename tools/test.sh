#!/usr/bin/env bash
# tools/test.sh: installs what is missing, builds everything and runs the
# whole test suite. Ends with one line "N passed, N failed" counting test
# cases (GoogleTest cases, and one per script test) from Bazel's test.xml.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh || exit 1

status=0
bazel test //... "$@" || status=$?
# Exit code 4 = build ok but no tests found; anything else non-zero: failed.

python3 tools/test_summary.py || status=1
exit $status
