#!/usr/bin/env bash
# Agent memory with 10,000 live processes in its cache: half started before the agent (seeded from
# /proc), half after (each an exec the agent records). Reads the agent's VmRSS/VmHWM from
# /proc/PID/status and its cache size from `palisade status -o json`. Target: <= 150 MB.
#
# usage: sudo bench/agent-rss.sh [PROCESSES (10000)]
# Everything it starts is killed at the end (the sleepers die with their parent: PR_SET_PDEATHSIG).
set -euo pipefail
cd "$(dirname "$0")/.."

TOTAL=${1:-10000}
HALF=$((TOTAL / 2))
SOCK=/run/palisade/palisade.sock
TMP=$(mktemp -d /tmp/palisade-bench-rss.XXXXXX)
PIDS=()
AGENT_PID=

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
if [ -S "$SOCK" ] && ./bin/palisade status >/dev/null 2>&1; then
  echo "an agent is already running ($SOCK): stop it first" >&2; exit 1
fi
make -s -C bpf >/dev/null
make -s -C bench >/dev/null
[ -f dist/agent/cli/main.js ] || npx tsc -p tsconfig.json

# Room for the processes: pid_max, threads-max and the root user's process limit.
running=$(ls -d /proc/[0-9]* | wc -l)
pid_max=$(cat /proc/sys/kernel/pid_max)
threads_max=$(cat /proc/sys/kernel/threads-max)
nproc_limit=$(ulimit -u)
need=$((running + TOTAL + 1000))
echo "processes now $running, pid_max $pid_max, threads-max $threads_max, ulimit -u $nproc_limit, needed ~$need"
for lim in "$pid_max" "$threads_max"; do
  [ "$lim" -ge "$need" ] || { echo "not enough room for $TOTAL more processes (limit $lim)" >&2; exit 1; }
done
[ "$nproc_limit" = unlimited ] || [ "$nproc_limit" -ge "$need" ] || { echo "ulimit -u $nproc_limit is too low" >&2; exit 1; }

cleanup() {
  set +e
  if [ -n "$AGENT_PID" ]; then
    kill -TERM $AGENT_PID 2>/dev/null
    for _ in $(seq 50); do kill -0 $AGENT_PID 2>/dev/null || break; sleep 0.1; done
    kill -KILL $AGENT_PID 2>/dev/null
  fi
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  # The sleepers' children die with them (PR_SET_PDEATHSIG) and are reaped by init: wait for that.
  for _ in $(seq 100); do
    [ "$(pgrep -c -x sleepers || true)" = 0 ] && [ "$(pgrep -c -f '^/bin/sleep 900$' || true)" = 0 ] && break
    sleep 0.1
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts N sleepers ($2 = "exec" to exec /bin/sleep) and waits until they are all up.
start_sleepers() {
  local n=$1 mode=${2:-} out="$TMP/sleepers-$RANDOM"
  ./build/bench/sleepers "$n" 900 $mode >"$out" &
  PIDS+=($!)
  disown $! # killed and waited for in cleanup(), without the shell's "Killed" notice
  for _ in $(seq 600); do grep -q '^ready' "$out" 2>/dev/null && break; sleep 0.1; done
  grep -q "^ready $n\$" "$out" || { echo "sleepers: $(cat "$out")" >&2; exit 1; }
}

status_json() { ./bin/palisade status -o json 2>/dev/null; }
field() { node -e 'let s=JSON.parse(require("fs").readFileSync(0,"utf8"));for(const k of process.argv[1].split("."))s=s[k];console.log(s)' "$1"; }
vm() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; } # kB

start_agent() {
  ./bin/palisade agent --export-stdout none --export-file "$TMP/events.jsonl" --export-file-max-size-mb 0 \
    --log-level warn >/dev/null 2>"$TMP/agent.log" &
  AGENT_PID=$!
  for _ in $(seq 600); do [ -S "$SOCK" ] && break; kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
  [ -S "$SOCK" ] || { echo "agent did not start:" >&2; cat "$TMP/agent.log" >&2; exit 1; }
  sleep 1
  # The agent's own pid (node), from its status: $! may be a wrapper.
  npid=$(status_json | field pid)
  [ "$npid" = "$AGENT_PID" ] || AGENT_PID="$AGENT_PID $npid"
}
stop_agent() {
  kill -TERM $AGENT_PID 2>/dev/null
  for _ in $(seq 100); do kill -0 "$npid" 2>/dev/null || break; sleep 0.1; done
  wait 2>/dev/null || true
  AGENT_PID=
  for _ in $(seq 50); do [ -S "$SOCK" ] || break; sleep 0.1; done
}
# Resident memory by kind (kB): anonymous (heap, buffers) and file-backed (node binary, libraries).
rollup() { awk '$1=="Rss:"{r=$2} $1=="Anonymous:"{a=$2} END {printf "anon %d MB, file+shmem %d MB", a/1024, (r-a)/1024}' "/proc/$1/smaps_rollup"; }

echo "command: bench/agent-rss.sh $TOTAL"
t0=$(date +%s)
start_agent
echo "agent alone ($(status_json | field process_cache.live) live processes): VmRSS $(( $(vm "$npid" VmRSS) / 1024 )) MB ($(rollup "$npid")), VmHWM $(( $(vm "$npid" VmHWM) / 1024 )) MB"
stop_agent
rm -f "$TMP/events.jsonl"

start_sleepers "$HALF"
echo "$HALF sleepers started before the agent (forks, seeded from /proc)"

start_agent
s=$(status_json)
rss_start=$(vm "$npid" VmRSS)
echo "agent pid $npid up: cache $(field process_cache.size <<<"$s") entries ($(field process_cache.live <<<"$s") live), VmRSS $((rss_start / 1024)) MB"

start_sleepers "$HALF" exec
echo "$HALF sleepers started after the agent (each an exec of /bin/sleep)"
# Wait until the agent has taken every exec in (its cache stops growing), at most 60 s.
prev=-1
for _ in $(seq 120); do
  sleep 0.5
  live=$(status_json | field process_cache.live)
  [ "$live" = "$prev" ] && break
  prev=$live
done
sleep 2 # a gc pass or two
s=$(status_json)
echo "$s" >"$TMP/status.json"
rss=$(vm "$npid" VmRSS)
hwm=$(vm "$npid" VmHWM)
size=$(field process_cache.size <<<"$s")
live=$(field process_cache.live <<<"$s")
execs=$(grep -c '^{"process_exec":{"process":{[^}]*"binary":"/usr/bin/sleep","arguments":"900"' "$TMP/events.jsonl" || true)
sleepers=$(pgrep -c -x sleep || true)
sleepers=$((sleepers + $(pgrep -c -x sleepers || true)))
echo
echo "live processes named sleep/sleepers: $sleepers; sleep execs recorded by the agent: $execs/$HALF"
echo "agent cache: size $size, live $live, evicted $(field process_cache.evicted <<<"$s"), lost $(field events.lost <<<"$s")"
echo "agent VmRSS $((rss / 1024)) MB ($(rollup "$npid")) (at start $((rss_start / 1024)) MB), VmHWM $((hwm / 1024)) MB; target <= 150 MB: $([ "$hwm" -le $((150 * 1024)) ] && echo met || echo NOT met)"
echo "elapsed $(( $(date +%s) - t0 )) s"
