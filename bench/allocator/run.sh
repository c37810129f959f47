#!/bin/bash
# Allocator benchmark: libheaplens.so (preloaded, tracing off) vs glibc
# malloc, side by side. Prints time and peak-RSS ratios (median of N runs).
#   bench/allocator/run.sh [REPS]        (default 3)
# Builds what it needs with bazel. Takes a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS="${1:-3}"
bazel build //interposer:libheaplens.so //bench/allocator:bench 2>/dev/null ||
  bazel build //interposer:libheaplens.so //bench/allocator:bench
LIB="$PWD/bazel-bin/interposer/libheaplens.so"
BIN="$PWD/bazel-bin/bench/allocator"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

cat > "$TMP/hash.pl" <<'PL'
my %h; for my $r (1..4) { for my $i (1..300000) { $h{"k$i"} = [$i, "v" x ($i % 50)]; }
  delete $h{"k$_"} for 1..300000; } print scalar(keys %h), "\n";
PL
cat > "$TMP/dicts.py" <<'PY'
for r in range(6):
    d = [{str(i): [i, str(i) * (i % 20)] for i in range(j, j + 1000)} for j in range(0, 200000, 1000)]
    del d
PY
cat > "$TMP/ins.sql" <<'SQL'
create table t(a integer primary key, b text, c blob);
with recursive c(x) as (select 1 union all select x + 1 from c limit 400000)
insert into t select x, hex(randomblob(16)), randomblob(x % 300) from c;
create index tb on t(b);
select count(*) from t;
SQL

declare -A CMDS=(
  [churn]="$BIN/churn"
  [prodcons]="$BIN/prodcons"
  [bigbuf]="$BIN/bigbuf"
  [perl-hash]="perl $TMP/hash.pl"
  [python-dicts]="python3 $TMP/dicts.py"
  [sqlite-insert]="sqlite3 :memory: -init /dev/null < $TMP/ins.sql"
)
ORDER=(churn prodcons bigbuf perl-hash python-dicts sqlite-insert)

# run CMD PRELOAD -> "seconds maxrss_kb cpu_seconds" (cpu = user + system:
# less sensitive than wall time to other load on a shared machine)
run() {
  /usr/bin/time -f '%e %M %U %S' -o "$TMP/t" env ${2:+LD_PRELOAD=$2} bash -c "$1" >/dev/null 2>&1
  awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }' "$TMP/t"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-14s %9s %9s %7s %10s %10s %7s %7s\n' workload glibc_s heapl_s time× glibc_MB heapl_MB rss× cpu×
LT=0; LR=0; LC=0; N=0
for w in "${ORDER[@]}"; do
  : > "$TMP/gt"; : > "$TMP/gr"; : > "$TMP/ht"; : > "$TMP/hr"
  : > "$TMP/gc"; : > "$TMP/hc"
  for ((i = 0; i < REPS; ++i)); do
    read -r t r c < <(run "${CMDS[$w]}" "")
    echo "$t" >> "$TMP/gt"; echo "$r" >> "$TMP/gr"; echo "$c" >> "$TMP/gc"
    read -r t r c < <(run "${CMDS[$w]}" "$LIB")
    echo "$t" >> "$TMP/ht"; echo "$r" >> "$TMP/hr"; echo "$c" >> "$TMP/hc"
  done
  gt=$(median < "$TMP/gt"); gr=$(median < "$TMP/gr")
  ht=$(median < "$TMP/ht"); hr=$(median < "$TMP/hr")
  gc=$(median < "$TMP/gc"); hc=$(median < "$TMP/hc")
  cr=$(awk -v a="$gc" -v b="$hc" 'BEGIN { if (a < 0.01) a = 0.01; if (b < 0.01) b = 0.01; printf "%.3f", b / a }')
  read -r tr rr < <(awk -v a="$gt" -v b="$ht" -v c="$gr" -v d="$hr" \
    'BEGIN { if (a < 0.01) a = 0.01; if (b < 0.01) b = 0.01; printf "%.3f %.3f\n", b / a, d / c }')
  printf '%-14s %9.2f %9.2f %7.3f %10.1f %10.1f %7.3f %7.3f\n' "$w" "$gt" "$ht" "$tr" \
    "$(awk -v x="$gr" 'BEGIN{print x/1024}')" "$(awk -v x="$hr" 'BEGIN{print x/1024}')" "$rr" "$cr"
  LT=$(awk -v s="$LT" -v r="$tr" 'BEGIN{print s + log(r)}')
  LR=$(awk -v s="$LR" -v r="$rr" 'BEGIN{print s + log(r)}')
  LC=$(awk -v s="$LC" -v r="$cr" 'BEGIN{print s + log(r)}')
  N=$((N + 1))
done
awk -v lt="$LT" -v lr="$LR" -v lc="$LC" -v n="$N" \
  'BEGIN { printf "geomean: time %.3f, peak RSS %.3f, cpu %.3f (targets: time <= 1.05, RSS <= 1.10)\n", exp(lt / n), exp(lr / n), exp(lc / n) }'
