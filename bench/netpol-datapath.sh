#!/usr/bin/env bash
# Network-policy datapath cost: connect() rate and TCP request/response latency between two network
# namespaces with 10 … 50,000 policy entries, against no programs, iptables-legacy and nftables
# (when installed: apt-get install iptables nftables); then the time of apply() for one change at
# 10,000 entries and a bulk load of 50,000. What is measured: see the head of bench/netpol-datapath.ts.
#
# usage: sudo [BPF_STATS=1] [PEERS=0] bench/netpol-datapath.sh [ROUNDS (3)] [CONNECTS (2000)] [RR (5000)] [SIZES (10,100,1000,10000,50000)]
#   BPF_STATS=1 also prints each program's run time per call (turns kernel.bpf_stats_enabled on for the
#   run, host-wide, and puts it back); PEERS=0 skips iptables-legacy and nftables.
# Traffic stays inside the two namespaces the run creates (10.213.x.0/24) and removes.
set -euo pipefail
cd "$(dirname "$0")/.."
npx --no-install tsc -p tsconfig.json
exec node dist/bench/netpol-datapath.js "$@"
