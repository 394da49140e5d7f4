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
# 3. diagnostics (JS only, one run each): the same pipeline with a sink that writes nothing, and
#    with a sink that copies lines into a Buffer: where the time goes.
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
C_CMD=(taskset -c "$CONS_CPU" ./build/bench/consumer -c "$PROD_CPU" -r "$RING_MB" -i 1 -f /dev/null)
SMALL="--budget 1 --buffer-kb 64"
JS_CMD=(taskset -c "$CONS_CPU" node dist/bench/pipeline-throughput.js --producer-cpu "$PROD_CPU" --ring-mb "$RING_MB" --poll-ms 1 --out /dev/null)

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

echo
echo "diagnostics (JS small batches, one run each, same workload as a capacity round):"
for sink in none buffer; do
  echo "  --sink $sink: $(run "${JS_CMD[@]}" --calls "$calls" --per-call "$PER_CALL" $SMALL --sink "$sink")"
done
