#!/usr/bin/env bash
# tools/demo.sh: the whole product in one command. Installs what is missing,
# builds heaplens, runs the bundled leaky example under the interposer and
# prints the report.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
bazel build //interposer:libheaplens.so //analyzer:heaplens //examples:leaky
mkdir -p out
bazel-bin/analyzer/heaplens run --output out/leaky.hlt -- bazel-bin/examples/leaky
