#!/usr/bin/env bash
# Runs the three benchmarks one after the other (about 6 minutes in all); see docs/benchmarks.md.
#   sudo bench/run-all.sh 2>&1 | tee /tmp/palisade-bench.txt
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -C bpf >/dev/null
make -s -C bench >/dev/null
npx tsc -p tsconfig.json
echo "== $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%d GB", $2/1048576}' /proc/meminfo), node $(node --version)"
echo "== load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== 1. pipeline throughput"
bench/pipeline-throughput.sh
echo
echo "== 2. exec overhead"
bench/exec-overhead.sh
echo
echo "== 3. agent memory with 10,000 live processes"
bench/agent-rss.sh
