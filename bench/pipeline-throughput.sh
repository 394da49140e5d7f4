#!/usr/bin/env bash
# Pipeline throughput, JS (the agent's Pipeline) against C (libbpf ring_buffer + snprintf), same run,
# same BPF producer (bpf/test/bench_producer.bpf.c), same JSON lines, both written to /dev/null.
#
# usage: sudo bench/pipeline-throughput.sh [ROUNDS (3)] [RECORDS (500000)]
#
# 1. capacity, ROUNDS rounds of C / JS (agent defaults) / JS (small batches), alternating: the
#    producer writes RECORDS pal_hook records as fast as it can (4 per getppid call) into a 256 MB
#    ring buffer that holds them all, so the kernel loses nothing and the consumer is busy from the
#    first record to the last: events/s (lines written) = its capacity.
#    "JS defaults" is the Pipeline as the agent builds it (pollBudget 200000 frames, 4 MB drain
#    buffer); "JS small batches" sets pollBudget 1 and bufferBytes 64 KB, so each flush carries at
#    most one 64 KB drain (~680 records).
# 2. sustained: the producer is paced at 90% of each consumer's median capacity (1 record per
#    call; JS small batches) for ~10 s; lost must be 0 (JS also prints the peak ring backlog).
# 3. same lines: both consumers write 1,000 records to a file; their lines must have the same
#    fields in the same order (compared by a script), and their sizes are printed.
# 4. diagnostics (one run each, same workload as a capacity round): JS with a sink that writes
#    nothing (where the time goes), and both consumers with credentials, capabilities and
#    namespaces in the process blocks (config enable_process_cred / enable_process_ns, -C -S in C):
#    the line size they cost.
#
# Process blocks are as the agent's defaults print them: no credentials, capabilities or namespaces
# (as in Tetragon, where --enable-process-cred and --enable-process-ns turn them on).
#
# Pinning: each consumer (the C program, or node with all its threads) on CPU 0 (taskset -c 0);
# the producer on CPU 1 (set by the consumer with sched_setaffinity / taskset -p before it starts).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
RECORDS=${2:-500000}
PER_CALL=4
RING_MB=256
CONS_CPU=0
PROD_CPU=1
MOUNTED_TRACEFS=0

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
make -s -C bpf >/dev/null
make -s -C bench >/dev/null
[ -f dist/bench/pipeline-throughput.js ] || npx tsc -p tsconfig.json
[ -f build/Release/palisade_native.node ] || { echo "the native addon is not built (npm run build:native)" >&2; exit 1; }
# Syscall tracepoints are attached through tracefs.
if [ ! -d /sys/kernel/tracing/events/syscalls ]; then
  mount -t tracefs nodev /sys/kernel/tracing
  MOUNTED_TRACEFS=1
fi
cleanup() { [ "$MOUNTED_TRACEFS" = 1 ] && umount /sys/kernel/tracing 2>/dev/null; true; }
trap cleanup EXIT

calls=$((RECORDS / PER_CALL))
C_BASE=(taskset -c "$CONS_CPU" ./build/bench/consumer -c "$PROD_CPU" -r "$RING_MB" -i 1)
C_CMD=("${C_BASE[@]}" -f /dev/null)
SMALL="--budget 1 --buffer-kb 64"
JS_BASE=(taskset -c "$CONS_CPU" node dist/bench/pipeline-throughput.js --producer-cpu "$PROD_CPU" --ring-mb "$RING_MB" --poll-ms 1)
JS_CMD=("${JS_BASE[@]}" --out /dev/null)

kv() { tr ' ' '\n' | awk -F= -v k="$1" '$1==k {print $2}'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
run() { # prints the consumer's figures line; the producer's own line goes to stderr
  "$@" 2>/dev/null | grep '^consumer='
}

echo "pipeline throughput: $ROUNDS rounds, $RECORDS records each ($PER_CALL per getppid call), ring $RING_MB MB"
echo "consumer on CPU $CONS_CPU, producer on CPU $PROD_CPU; $(nproc) CPUs, $(uname -r), node $(node --version)"
echo "C:  ${C_CMD[*]} -n $calls -k $PER_CALL"
echo "JS defaults:      ${JS_CMD[*]} --calls $calls --per-call $PER_CALL"
echo "JS small batches: ${JS_CMD[*]} --calls $calls --per-call $PER_CALL $SMALL"
echo
C_RATES=
JD_RATES=
JS_RATES=
JD_RATIOS=
RATIOS=
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.4f", a / b}'; }
for r in $(seq "$ROUNDS"); do
  c=$(run "${C_CMD[@]}" -n "$calls" -k "$PER_CALL")
  echo "round $r C               : $c"
  d=$(run "${JS_CMD[@]}" --calls "$calls" --per-call "$PER_CALL")
  echo "round $r JS defaults     : $d"
  j=$(run "${JS_CMD[@]}" --calls "$calls" --per-call "$PER_CALL" $SMALL)
  echo "round $r JS small batches: $j"
  cr=$(kv events_per_s <<<"$c")
  dr=$(kv events_per_s <<<"$d")
  jr=$(kv events_per_s <<<"$j")
  C_RATES="$C_RATES $cr"
  JD_RATES="$JD_RATES $dr"
  JS_RATES="$JS_RATES $jr"
  JD_RATIOS="$JD_RATIOS $(ratio "$dr" "$cr")"
  RATIOS="$RATIOS $(ratio "$jr" "$cr")"
done
cm=$(median <<<"$C_RATES")
dm=$(median <<<"$JD_RATES")
jm=$(median <<<"$JS_RATES")
pct() { awk -v r="$(median <<<"$1")" 'BEGIN {printf "%.1f%%", 100 * r}'; }
echo
echo "capacity, median of $ROUNDS (lines written per second):"
echo "  C                $cm"
echo "  JS defaults      $dm  (JS/C $(pct "$JD_RATIOS"), median of per-round ratios)"
echo "  JS small batches $jm  (JS/C $(pct "$RATIOS"))"
echo "  targets: >= 1000000 events/s on one core, >= 30% of C"

# Sustained, paced at 90% of the median capacity, ~10 s, one record per call.
echo
for side in C JS; do
  if [ "$side" = C ]; then rate=$(awk -v m="$cm" 'BEGIN {printf "%d", 0.9 * m}'); else rate=$(awk -v m="$jm" 'BEGIN {printf "%d", 0.9 * m}'); fi
  n=$((rate * 10))
  if [ "$side" = C ]; then
    echo "sustained C : ${C_CMD[*]} -n $n -k 1 -R $rate"
    line=$(run "${C_CMD[@]}" -n "$n" -k 1 -R "$rate")
  else
    [ "$rate" -gt 0 ] || { echo "sustained JS: skipped (capacity 0)"; continue; }
    echo "sustained JS: ${JS_CMD[*]} --calls $n --per-call 1 --rate $rate $SMALL"
    line=$(run "${JS_CMD[@]}" --calls "$n" --per-call 1 --rate "$rate" $SMALL)
  fi
  echo "  $line"
  # The producer is paced from its own clock; on a busy CPU it may fall behind the pace, so the
  # rate that counts is what it did produce (sent / seconds), which the consumer then took.
  echo "  => $side: paced at $rate calls/s, produced $(awk -v s="$(kv sent <<<"$line")" -v t="$(kv seconds <<<"$line")" 'BEGIN {printf "%d", s / t}') records/s, written $(kv events <<<"$line") of $(kv sent <<<"$line"), lost in kernel $(kv lost <<<"$line")"
done

# Same lines: the two consumers' JSON must differ only in values (times, pids, their own command
# lines as the producer's parent), never in fields.
echo
echo "same lines: ${C_BASE[*]} -f FILE -n 250 -k $PER_CALL [-C -S]"
echo "            ${JS_BASE[*]} --out FILE --calls 250 --per-call $PER_CALL [--process-cred 1 --process-ns 1]"
CHECK=$(mktemp -d /tmp/palisade-bench-lines.XXXXXX)
for full in "" "-C -S"; do
  jsfull=; [ -n "$full" ] && jsfull="--process-cred 1 --process-ns 1"
  rm -f "$CHECK/c.jsonl" "$CHECK/js.jsonl" # the file sink appends
  run "${C_BASE[@]}" -f "$CHECK/c.jsonl" -n 250 -k "$PER_CALL" $full >/dev/null
  run "${JS_BASE[@]}" --out "$CHECK/js.jsonl" --calls 250 --per-call "$PER_CALL" $jsfull >/dev/null
  echo "  ${full:-defaults}: $(node -e '
    const fs = require("fs");
    const lines = (f) => fs.readFileSync(f, "utf8").trimEnd().split("\n");
    const shape = (v) => v && typeof v === "object" ? (Array.isArray(v) ? "[" + v.map(shape).join(",") + "]" : "{" + Object.keys(v).map((k) => k + ":" + shape(v[k])).join(",") + "}") : typeof v;
    const [c, js] = [lines(process.argv[1]), lines(process.argv[2])];
    const avg = (ls) => Math.round(ls.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0) / ls.length);
    const same = shape(JSON.parse(c[0])) === shape(JSON.parse(js[0]));
    console.log(`C ${c.length} lines of ${avg(c)} bytes, JS ${js.length} lines of ${avg(js)} bytes; fields ${same ? "identical" : "DIFFER"}`);
    if (!same) process.exitCode = 1;' "$CHECK/c.jsonl" "$CHECK/js.jsonl")"
done
rm -rf "$CHECK"

echo
echo "diagnostics (one run each, same workload as a capacity round):"
echo "  JS small batches --sink none: $(run "${JS_CMD[@]}" --calls "$calls" --per-call "$PER_CALL" $SMALL --sink none)"
echo "  C -C -S:                      $(run "${C_CMD[@]}" -n "$calls" -k "$PER_CALL" -C -S)"
echo "  JS small batches, full blocks: $(run "${JS_CMD[@]}" --calls "$calls" --per-call "$PER_CALL" $SMALL --process-cred 1 --process-ns 1)"
