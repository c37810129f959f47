#!/usr/bin/env bash
# tools/setup.sh: installs what heaplens needs to build and test, from
# Debian's archive only. Idempotent and quiet when everything is present.
#
#   tools/setup.sh            build + test dependencies
#   tools/setup.sh --bench    also the peer tools the benchmarks compare with
set -euo pipefail

packages=(
  build-essential        # gcc/g++ for Bazel's local C++ toolchain
  bazel-bootstrap        # Bazel 4.2.3, WORKSPACE mode, runs offline
  protobuf-compiler libprotobuf-dev
  libabsl-dev
  libgtest-dev libgmock-dev
  libunwind-dev          # stack capture in the preload library
  libdw-dev libelf-dev   # DWARF symbolization in the analyzer
  libzstd-dev
  zlib1g-dev             # gzip for the pprof export
  python3                # test harnesses and the summary line
  time                   # /usr/bin/time for peak RSS in tests
  valgrind               # ms_print (massif export test), accuracy checks
  libc-devtools binutils # glibc's mtrace script (and its addr2line) for the export test
  chromium fonts-dejavu-core  # the HTML report's headless-browser test
  clang libclang-rt-14-dev    # libFuzzer for tests/robustness/fuzz.sh
  sqlite3 xz-utils zstd git perl  # real programs in tests/robustness
  redis-server redis-tools        # a server under the preload (robustness)
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(heaptrack perl sqlite3 libbenchmark-dev hyperfine)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done

if ((${#missing[@]} > 0)); then
  echo "heaplens setup: installing ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
