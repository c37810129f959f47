#!/bin/sh
# Runs a test program with libheaplens.so preloaded.
#   run_preloaded.sh PROGRAM off|on [ARGS...]
# "on" also sets MALLOC_TRACE so the recorder is active.
set -eu
prog="$1"
mode="$2"
shift 2
lib="$TEST_SRCDIR/heaplens/interposer/libheaplens.so"
[ -f "$lib" ] || { echo "missing $lib" >&2; exit 1; }
if [ "$mode" = on ]; then
  MALLOC_TRACE="${TEST_TMPDIR:-/tmp}/trace.%p.hlt"
  export MALLOC_TRACE
fi
LD_PRELOAD="$lib" exec "$prog" "$@"
