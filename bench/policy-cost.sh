#!/usr/bin/env bash
# TracingPolicy filter cost (issue 3), in one run:
#
# (a) ns added to each openat() by a syscalls/sys_enter_openat tracepoint policy that filters every
#     call out in the kernel. Modes, alternating in rounds (the starting mode rotates each round),
#     all with the same agent running (process sensor only: it does not touch openat by itself):
#       none         no openat policy
#       empty        an empty BPF program (r0 = 0; exit) on the same tracepoint, attached by the loop
#                    itself (openat-loop -e): the bare cost of the hook
#       binary-miss  policy: filename captured (index 6, string), selector matchBinaries In
#                    [/usr/bin/true] + matchArgs Prefix ["/nonexistent-palisade-bench/"]: the
#                    binary filter fails first, no argument is read
#       prefix-miss  policy: filename captured, selector matchArgs Prefix
#                    ["/nonexistent-palisade-bench/"]: the string is read and looked up, never matches
#     Each measurement: openat-loop N opens of one existing file, pinned to LOOP_CPU, then (-g) 2 M
#     getppid() calls with the same hooks attached (what a syscall no policy watches pays). Figures:
#     the median of 10,000-call chunks of each run (ns/call), the mode minus "none" of the same round,
#     and the median of those differences over the rounds; also the policy modes minus "empty" (the
#     engine's own share, the hook's fixed cost removed). Policies are added before the mode's run
#     and deleted after it (`palisade policy add/delete`); posted must stay 0.
#     Then, outside the rounds, one run per mode with kernel.bpf_stats_enabled=1: the programs' own
#     run time per call (it includes ~45 ns of the accounting itself; the empty program shows it),
#     plus a program that only does bpf_probe_read_user_str() of the filename (openat-loop -s).
#
# (b) Highest rate at which a MATCHING policy's events reach the JSON file exporter with zero loss.
#     Per rate: a fresh agent (--export-file F --export-file-max-size-mb 0), a policy matching the
#     filename Equal [marker], openat-loop paced at RATE opens/s for SECS s; after the agent has
#     drained: `palisade status -o json` (events.lost, kernel.lost_hook, events.sinkDropped),
#     `palisade policy list -o json` (counts.posted, counts.lost), then the agent is stopped and the
#     policy's lines in F are counted. Zero loss = all losses 0 and lines == posted == opens.
#
# usage: sudo bench/policy-cost.sh [ROUNDS (13)] [OPENS (1000000)] [RATES ("10000 20000 40000 60000 80000")] [SECS (5)]
#   ROUNDS=0 skips (a).
#
# Pinning (2 shared vCPUs): the loop on CPU 1, the agent (node and all its threads) on CPU 0.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-13}
N=${2:-1000000}
RATES=${3:-"10000 20000 40000 60000 80000"}
SECS=${4:-5}
LOOP_CPU=1
AGENT_CPU=0
TMP=$(mktemp -d /tmp/palisade-bench-pol.XXXXXX)
SOCK=$TMP/agent.sock
TARGET=$TMP/target
MARKER=$TMP/marker
MISS_PREFIX=/nonexistent-palisade-bench/
OTHER_BIN=/usr/bin/true
AGENT_PID=
MOUNTED_TRACEFS=0
STATS_WAS=

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }

make -s -C bpf >/dev/null
make -s -C bench >/dev/null
[ -f dist/agent/cli/main.js ] || npx tsc -p tsconfig.json

# Syscall tracepoints are attached through tracefs.
if [ ! -d /sys/kernel/tracing/events ] && [ ! -d /sys/kernel/debug/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing
  MOUNTED_TRACEFS=1
fi

cleanup() {
  set +e
  [ -n "$STATS_WAS" ] && sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
  if [ -n "$AGENT_PID" ]; then
    kill -TERM "$AGENT_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$AGENT_PID" 2>/dev/null && kill -KILL "$AGENT_PID"
  fi
  [ "$MOUNTED_TRACEFS" = 1 ] && umount /sys/kernel/tracing
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every command that matters goes through run(): it is logged and printed (once each) at the end.
: >"$TMP/commands"
run() { printf '%q ' "$@" | sed 's/ $//' >>"$TMP/commands"; echo >>"$TMP/commands"; "$@"; }
jq_() { node -e "const d=JSON.parse(require('fs').readFileSync(0,'utf8'));console.log((${1}))"; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_idle() { awk -v c="cpu$1" '$1 == c {print $5 + $6}' /proc/stat; } # idle + iowait ticks of one CPU
hz=$(getconf CLK_TCK)

start_agent() { # $1: export file
  local cmd=(taskset -c "$AGENT_CPU" ./bin/palisade agent --policy-dir '' --export-stdout none --export-file "$1"
    --export-file-max-size-mb 0 --log-level warn --socket "$SOCK")
  { printf '%q ' "${cmd[@]}"; echo '&'; } >>"$TMP/commands"
  "${cmd[@]}" >"$TMP/agent.log" 2>&1 &
  AGENT_PID=$!
  for _ in $(seq 600); do
    ./bin/palisade status --socket "$SOCK" >/dev/null 2>&1 && break
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
  done
  ./bin/palisade status --socket "$SOCK" >/dev/null 2>&1 || { echo "agent did not start:" >&2; cat "$TMP/agent.log" >&2; exit 1; }
  local npid
  npid=$(./bin/palisade status --socket "$SOCK" -o json | jq_ d.pid)
  [ "$npid" = "$AGENT_PID" ] || { echo "agent pid $npid is not \$! ($AGENT_PID)" >&2; exit 1; }
}

stop_agent() {
  run kill -TERM "$AGENT_PID"
  for _ in $(seq 300); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$AGENT_PID" 2>/dev/null && { echo "agent did not stop in 30 s: killed" >&2; kill -KILL "$AGENT_PID"; }
  wait "$AGENT_PID" 2>/dev/null || true
  AGENT_PID=
}

policy() { # name, selector YAML (indented for the selectors list)
  cat <<EOF
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: bench-$1
spec:
  tracepoints:
  - subsystem: syscalls
    event: sys_enter_openat
    message: "bench $1"
    args:
    - index: 6
      type: string     # filename
    selectors:
$2
EOF
}
policy prefix-miss "    - matchArgs:
      - index: 6
        operator: Prefix
        values: [\"$MISS_PREFIX\"]" >"$TMP/prefix-miss.yaml"
policy binary-miss "    - matchBinaries:
      - operator: In
        values: [\"$OTHER_BIN\"]
      matchArgs:
      - index: 6
        operator: Prefix
        values: [\"$MISS_PREFIX\"]" >"$TMP/binary-miss.yaml"
policy match "    - matchArgs:
      - index: 6
        operator: Equal
        values: [\"$MARKER\"]" >"$TMP/match.yaml"
touch "$TARGET" "$MARKER"

# BPF programs of other processes on the openat path (another agent's openat or raw sys_enter
# policy): they cost every mode the same, but add noise. Counted before each measurement.
foreign_progs() {
  echo "bpftool perf list -j" >>"$TMP/commands"
  bpftool perf list -j 2>/dev/null | node -e '
    const l = JSON.parse(require("fs").readFileSync(0, "utf8") || "[]");
    console.log(l.filter((x) => x.pid != process.argv[1] && ["sys_enter_openat", "sys_enter"].includes(x.tracepoint)).length);
  ' "$AGENT_PID" 2>/dev/null || echo "?"
}

# "openat-loop: ... 1650.2 ns/open ..., median of 100 chunks of 10000: 1610.3 ns/open, getppid 135.2 ns"
#   -> "1650.2 1610.3 135.2"
loop_ns() { sed -n 's/.*: \([0-9.]*\) ns\/open (.*median of [0-9]* chunks of [0-9]*: \([0-9.]*\) ns\/open, getppid \([0-9.]*\) ns.*/\1 \2 \3/p' <<<"$1"; }

policy_counts() { # name -> "posted lost"
  echo "./bin/palisade policy list -o json --socket $SOCK" >>"$TMP/commands"
  ./bin/palisade policy list -o json --socket "$SOCK" | jq_ "(() => { const p = d.find((x) => x.name === 'bench-$1'); return p ? p.counts.posted + ' ' + p.counts.lost : '? ?'; })()"
}

# One measurement; sets RES="mean_ns chunk_median_ns getppid_ns posted foreign".
# -g: after the openats, 2,000,000 getppid() calls with the same hooks attached (a syscall no policy
# watches: what every other syscall on the machine pays meanwhile).
GETPPIDS=2000000
measure() {
  local mode=$1 out posted=- foreign
  foreign=$(foreign_progs)
  case $mode in
    none) out=$(run taskset -c "$LOOP_CPU" ./build/bench/openat-loop -g "$GETPPIDS" "$N" "$TARGET") ;;
    empty) out=$(run taskset -c "$LOOP_CPU" ./build/bench/openat-loop -e -g "$GETPPIDS" "$N" "$TARGET") ;;
    *)
      run ./bin/palisade policy add "$TMP/$mode.yaml" --socket "$SOCK" >/dev/null
      sleep 0.5
      out=$(run taskset -c "$LOOP_CPU" ./build/bench/openat-loop -g "$GETPPIDS" "$N" "$TARGET")
      posted=$(policy_counts "$mode" | awk '{print $1}')
      run ./bin/palisade policy delete "bench-$mode" --socket "$SOCK" >/dev/null
      ;;
  esac
  echo "$out" >>"$TMP/loop-output"
  RES="$(loop_ns "$out") $posted $foreign"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "command: bench/policy-cost.sh $ROUNDS $N \"$RATES\" $SECS ($(date -u '+%F %T') UTC, $(uname -r))"
MODES=(none empty binary-miss prefix-miss)
if [ "$ROUNDS" -gt 0 ]; then # ---- (a) ----
echo "== (a) filter cost: $ROUNDS rounds x ${#MODES[@]} modes x $N openat+close of $TARGET; loop on CPU $LOOP_CPU, agent on CPU $AGENT_CPU"
start_agent "$TMP/events-a.log"
echo "(ns per openat+close: mean of the run, median of its 10,000-open chunks; getppid: ns per call, same hooks;"
echo " posted: the policy's kernel count, must be 0; foreign: other processes' programs on sys_enter_openat/sys_enter)"
printf '%-6s %-12s %10s %13s %11s %7s %8s\n' round mode mean_ns chunk_med_ns getppid_ns posted foreign
declare -A MED MEAN GPP
FOREIGN_MAX=0
for r in $(seq "$ROUNDS"); do
  for k in $(seq 0 $(( ${#MODES[@]} - 1 ))); do
    mode=${MODES[$(( (k + r - 1) % ${#MODES[@]} ))]}
    measure "$mode"
    read -r mean med gpp posted foreign <<<"$RES"
    printf '%-6s %-12s %10s %13s %11s %7s %8s\n' "$r" "$mode" "$mean" "$med" "$gpp" "$posted" "$foreign"
    MED[$mode,$r]=$med
    MEAN[$mode,$r]=$mean
    GPP[$mode,$r]=$gpp
    [ "$foreign" != "?" ] && [ "$foreign" -gt "$FOREIGN_MAX" ] && FOREIGN_MAX=$foreign
    if [ "$posted" != - ] && [ "$posted" != 0 ]; then echo "  !! $mode posted $posted events: the filter let something through"; fi
  done
done

echo
# Paired differences: each round's mode minus another mode of the same round, then the median.
diffs() { # array, mode, reference mode
  local -n arr=$1
  local out= r
  for r in $(seq "$ROUNDS"); do out="$out $(awk -v a="${arr[$2,$r]}" -v b="${arr[$3,$r]}" 'BEGIN {printf "%.1f", a - b}')"; done
  echo "$out"
}
echo "added ns per openat (+close), each round's mode minus that round's none, median over $ROUNDS rounds:"
printf '  %-12s %11s %11s %13s   %s\n' mode "chunk med" "run mean" "getppid" "per round (chunk medians)"
for mode in "${MODES[@]:1}"; do
  d_med=$(diffs MED "$mode" none)
  d_mean=$(diffs MEAN "$mode" none)
  d_gpp=$(diffs GPP "$mode" none)
  printf '  %-12s %+11.1f %+11.1f %+13.1f  %s\n' "$mode" "$(median <<<"$d_med")" "$(median <<<"$d_mean")" "$(median <<<"$d_gpp")" "$d_med"
  eval "DMED_${mode//-/_}=\$(median <<<\"\$d_med\")"
done
echo "the engine's own share: policy mode minus that round's empty program (the hook's fixed cost removed):"
for mode in binary-miss prefix-miss; do
  d=$(diffs MED "$mode" empty)
  printf '  %-12s %+11.1f   %s\n' "$mode" "$(median <<<"$d")" "$d"
  eval "DENG_${mode//-/_}=\$(median <<<\"\$d\")"
done
base= gbase=
for r in $(seq "$ROUNDS"); do base="$base ${MED[none,$r]}"; gbase="$gbase ${GPP[none,$r]}"; done
echo "  none: median $(median <<<"$base") ns per openat+close, $(median <<<"$gbase") ns per getppid"
awk -v p="$DMED_prefix_miss" -v b="$DMED_binary_miss" -v pe="$DENG_prefix_miss" -v be="$DENG_binary_miss" 'BEGIN {
  printf "prefix-miss adds %.1f ns per openat against no policy (target <= 40 ns): %s; %.1f ns beyond an empty program\n", p, (p <= 40 ? "met" : "NOT met"), pe
  printf "binary-miss adds %.1f ns per openat against no policy (target <= 40 ns): %s; %.1f ns beyond an empty program\n", b, (b <= 40 ? "met" : "NOT met"), be
}'
[ "$FOREIGN_MAX" -gt 0 ] && echo "note: up to $FOREIGN_MAX BPF programs of other processes were attached to sys_enter_openat/sys_enter during the rounds (same for every mode, but noise)"

# In-kernel time per call, exactly: one run per mode with kernel.bpf_stats_enabled=1.
echo
echo "in-kernel run time per openat (kernel.bpf_stats_enabled=1; one run each, not part of the rounds):"
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
run sysctl -qw kernel.bpf_stats_enabled=1
for m in -e -s; do
  out=$(run taskset -c "$LOOP_CPU" ./build/bench/openat-loop "$m" "$N" "$TARGET")
  echo "  $(grep 'program:' <<<"$out" | sed 's/^openat-loop: //')"
done
for mode in binary-miss prefix-miss; do
  run ./bin/palisade policy add "$TMP/$mode.yaml" --socket "$SOCK" >/dev/null
  ids=$(bpftool perf list -j | node -e '
    const l = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log(l.filter((x) => x.pid == process.argv[1] && x.tracepoint === "sys_enter_openat").map((x) => x.prog_id).join(","));
  ' "$AGENT_PID")
  run bpftool prog show -j >"$TMP/progs0.json"
  run taskset -c "$LOOP_CPU" ./build/bench/openat-loop "$N" "$TARGET" >/dev/null
  run bpftool prog show -j >"$TMP/progs1.json"
  run ./bin/palisade policy delete "bench-$mode" --socket "$SOCK" >/dev/null
  node -e '
    const fs = require("fs");
    const ids = process.argv[2].split(",").map(Number);
    const a = new Map(JSON.parse(fs.readFileSync(process.argv[3], "utf8")).map((p) => [p.id, p]));
    for (const p of JSON.parse(fs.readFileSync(process.argv[4], "utf8"))) {
      if (!ids.includes(p.id)) continue;
      const q = a.get(p.id) || { run_time_ns: 0, run_cnt: 0 };
      const cnt = (p.run_cnt || 0) - (q.run_cnt || 0), ns = (p.run_time_ns || 0) - (q.run_time_ns || 0);
      console.log(`  ${process.argv[1]}: ${p.name} (prog ${p.id}) ${cnt} runs, ${cnt ? (ns / cnt).toFixed(1) : "-"} ns/run`);
    }
  ' "$mode" "$ids" "$TMP/progs0.json" "$TMP/progs1.json"
done
run sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
STATS_WAS=
stop_agent
fi # ---- end of (a) ----

# ---- (b) matching policy: highest rate with zero loss ----
echo
echo "== (b) matching policy (Equal $MARKER) into the JSON file exporter: $SECS s per rate, fresh agent per rate"
echo "(achieved: opens/s the loop reached; exported: the policy's lines in the file; cpu%: the agent's, during the loop;"
echo " idle%: CPU $AGENT_CPU (the agent's) idle during the loop; us/ev: agent CPU per event, loop + drain;"
echo " drain_s: from the loop's end until the file stopped growing)"
printf '%-7s %9s %8s %8s %8s %8s %9s %8s %9s %5s %5s %6s %7s %s\n' rate achieved opens posted exported ev_lost lost_hook pol_lost sink_drop cpu% idle% us/ev drain_s zero_loss
# Waiting for the agent to drain must not start processes: every exec and exit is an event the agent
# writes to the same file. So this polls with shell builtins only: the file's position from
# /proc/AGENT/fdinfo (appends move it to the end), $EPOCHREALTIME, and `read -t` on a FIFO as sleep.
mkfifo "$TMP/tick"
exec {TICK}<>"$TMP/tick"
export_fd() { # sets EXPORT_FD: the agent's fd of file $1
  local f
  EXPORT_FD=
  for f in /proc/"$AGENT_PID"/fd/*; do if [ "$(readlink "$f")" = "$1" ]; then EXPORT_FD=${f##*/}; fi; done
  [ -n "$EXPORT_FD" ] || { echo "no fd of $1 in the agent" >&2; exit 1; }
}
fd_pos() { # sets POS
  local k v
  POS=0
  while read -r k v; do if [ "$k" = pos: ]; then POS=$v; fi; done <"/proc/$AGENT_PID/fdinfo/$EXPORT_FD"
}
# Drained: no 0.1 s step wrote more than 200 kB (~40 lines) for 1 s; LAST_BUSY: the last step that
# did. At most 120 s.
wait_drained() {
  local prev i quiet=0
  fd_pos; prev=$POS
  LAST_BUSY=$EPOCHREALTIME
  for ((i = 0; i < 1200 && quiet < 10; i++)); do
    read -r -t 0.1 -u "$TICK" _ || true
    fd_pos
    [ -n "${DEBUG_DRAIN:-}" ] && echo "drain step $i: +$(( POS - prev ))" >&2
    if (( POS - prev > 200000 )); then LAST_BUSY=$EPOCHREALTIME; quiet=0; else quiet=$((quiet + 1)); fi
    prev=$POS
  done
}
BEST=0
FAILED=0
for RATE in $(tr ' ' '\n' <<<"$RATES" | grep -v '^$' | sort -n); do
  file=$TMP/events-$RATE.log
  start_agent "$file"
  run ./bin/palisade policy add "$TMP/match.yaml" --socket "$SOCK" >/dev/null
  sleep 0.5
  count=$(( RATE * SECS ))
  export_fd "$file"
  i0=$(cpu_idle "$AGENT_CPU"); c0=$(cpu_ticks "$AGENT_PID"); t0=$EPOCHREALTIME
  out=$(run taskset -c "$LOOP_CPU" ./build/bench/openat-loop "$count" "$MARKER" "$RATE")
  c1=$(cpu_ticks "$AGENT_PID"); t1=$EPOCHREALTIME; i1=$(cpu_idle "$AGENT_CPU")
  wait_drained
  drain_s=$(awk -v a="$t1" -v b="$LAST_BUSY" 'BEGIN {d = b - a; printf "%.1f", (d < 0 ? 0 : d)}')
  echo "$out" >>"$TMP/loop-output"
  achieved=$(sed -n 's/.*(\([0-9]*\) opens\/s).*/\1/p' <<<"$out")
  c2=$(cpu_ticks "$AGENT_PID")
  run ./bin/palisade status -o json --socket "$SOCK" >"$TMP/status.json"
  read -r posted pol_lost <<<"$(policy_counts match)"
  read -r ev_lost lost_hook sink_drop <<<"$(jq_ "d.events.lost + ' ' + d.kernel.lost_hook + ' ' + d.events.sinkDropped" <"$TMP/status.json")"
  run ./bin/palisade policy delete bench-match --socket "$SOCK" >/dev/null
  stop_agent
  exported=$(run grep -c -F '"policy_name":"bench-match"' "$file" || true)
  cpu=$(awk -v c="$(( c1 - c0 ))" -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", 100 * c / hz / (b - a)}')
  idle=$(awk -v c="$(( i1 - i0 ))" -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", 100 * c / hz / (b - a)}')
  usev=$(awk -v c="$(( c2 - c0 ))" -v hz="$hz" -v n="$exported" 'BEGIN {printf "%.1f", (n > 0 ? 1e6 * c / hz / n : 0)}')
  ok=no
  if [ "$ev_lost" = 0 ] && [ "$lost_hook" = 0 ] && [ "$pol_lost" = 0 ] && [ "$sink_drop" = 0 ] && [ "$exported" = "$posted" ] && [ "$posted" = "$count" ]; then
    ok=yes
    [ "$FAILED" = 0 ] && BEST=$RATE
  else
    FAILED=1
  fi
  printf '%-7s %9s %8s %8s %8s %8s %9s %8s %9s %5s %5s %6s %7s %s\n' "$RATE" "$achieved" "$count" "$posted" "$exported" "$ev_lost" "$lost_hook" "$pol_lost" "$sink_drop" "$cpu" "$idle" "$usev" "$drain_s" "$ok"
  rm -f "$file"*
done
echo "highest rate with zero loss (and every lower rate too): $BEST opens/s ($( [ "$BEST" = 0 ] && echo none || echo "exported == posted == opens" ))"

echo
echo "policies used (files in $TMP, removed at exit):"
for f in prefix-miss binary-miss match; do echo "--- $f.yaml"; cat "$TMP/$f.yaml"; done
echo
echo "commands run (each once; TMP=$TMP):"
awk '!seen[$0]++' "$TMP/commands" | sed 's/^/  /'
