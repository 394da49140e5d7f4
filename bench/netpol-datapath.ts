// Network-policy datapath cost between two network namespaces (see bench/netpol-datapath.sh).
//
// A client workload (namespace a, its own cgroup) connects to a server workload (namespace b).
// For each policy size N the client's egress and the server's ingress maps hold N entries each, the
// worst case for the lookup: half of them for N/2 other CIDR identities (each with an ipcache /128
// in fd00:213::/64, never contacted) and half for other ports of the very peer and port that match,
// so the matching key shares its trie path with as many entries as possible. Modes:
//   off        no program attached (the bare kernel)
//   N          programs attached, N entries per direction (0: workloads with no policy)
//   iptables / nft  (optional, when the binaries exist): the same allow list as N rules in the
//              client namespace's OUTPUT chain (iptables-legacy: a linear chain, match last),
//              nftables: one set of N (addr . port) elements
// Figures per mode (median over ROUNDS, modes alternating within each round):
//   connect/s   sequential connect()+close() by one client process (CONNECTS per round)
//   rr p50/mean/p99  TCP request/response round trip, 64 bytes, one connection (RR per round)
// Then: apply() of one changed entry at 10,000 entries, and a bulk load of 50,000 entries per
// direction from empty (3 times each; median).
import { execFileSync } from 'node:child_process';
import { probeFeatures } from '../native/index.js';
import { NetworkDatapath } from '../network/datapath/datapath.js';
import { EMPTY_STATE } from '../network/datapath/maps.js';
import type { DatapathState, PolicyEntry, VerdictHalf } from '../network/model.js';
import { TestNet, type Peer } from '../test/helpers/netns.js';

const ROUNDS = Number(process.argv[2] ?? 3);
const CONNECTS = Number(process.argv[3] ?? 2000);
const RR = Number(process.argv[4] ?? 5000);
const SIZES = (process.argv[5] ?? '10,100,1000,10000,50000').split(',').map(Number);
const C = 256, S = 257, PORT = 8080;

const half = (allow: boolean, rule: number): VerdictHalf => ({
  allow, deny: false, allowMarks: 0n, denyMarks: 0n, allowRule: allow ? rule : 0, denyRule: 0,
});

function buildState(net: TestNet, n: number, cgC: bigint, cgS: bigint): DatapathState {
  const policy: PolicyEntry[] = [];
  const ipcache = [
    { cidr: `${net.v4(1)}/32`, identity: C },
    { cidr: `${net.v4(2)}/32`, identity: S },
  ];
  const others = Math.floor(n / 2);
  for (let i = 0; i < others; i++) {
    const id = (1 << 24) | (i + 16);
    ipcache.push({ cidr: `fd00:213::${(0x1000 + (i >> 16)).toString(16)}:${(i & 0xffff).toString(16)}/128`, identity: id });
    policy.push({ dir: 'egress', localId: C, peerId: id, proto: 6, port: PORT, portBits: 16, enf: half(true, 1), all: half(true, 1) });
    policy.push({ dir: 'ingress', localId: S, peerId: id, proto: 6, port: PORT, portBits: 16, enf: half(true, 2), all: half(true, 2) });
  }
  // other ports of the matching peer: 10000.. upward (never PORT)
  for (let i = 0; i < n - others - (n > 0 ? 1 : 0); i++) {
    const port = 10000 + i;
    policy.push({ dir: 'egress', localId: C, peerId: S, proto: 6, port, portBits: 16, enf: half(true, 3), all: half(true, 3) });
    policy.push({ dir: 'ingress', localId: S, peerId: C, proto: 6, port, portBits: 16, enf: half(true, 4), all: half(true, 4) });
  }
  if (n > 0) {
    policy.push({ dir: 'egress', localId: C, peerId: S, proto: 6, port: PORT, portBits: 16, enf: half(true, 5), all: half(true, 5) });
    policy.push({ dir: 'ingress', localId: S, peerId: C, proto: 6, port: PORT, portBits: 16, enf: half(true, 6), all: half(true, 6) });
  }
  const dd = (localId: number) => ({ localId, ingressEnf: n > 0, ingressAll: n > 0, egressEnf: n > 0, egressAll: n > 0 });
  return { policy, defaults: [dd(C), dd(S)], ipcache, cgroups: [{ cgroupId: cgC, identity: C }, { cgroupId: cgS, identity: S }] };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const has = (bin: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

interface Figures { cps: number[]; p50: number[]; mean: number[]; p99: number[]; prog: Map<string, { runs: number; ns: number }> }
const PROGS = ['np_connect4', 'np_sock_create', 'np_ingress', 'np_egress', 'np_state'];

async function measure(client: Peer, host: string): Promise<{ cps: number; p50: number; mean: number; p99: number }> {
  const c = await client.call('connectLoop', { host, port: PORT, n: CONNECTS });
  if (!c.ok || (c.fails as number) > 0) throw new Error(`connect loop failed: ${JSON.stringify(c)}`);
  const r = await client.call('rr', { host, port: PORT, n: RR, size: 64 });
  if (!r.ok) throw new Error(`rr failed: ${JSON.stringify(r)}`);
  return { cps: CONNECTS / ((c.ns as number) / 1e9), p50: (r.p50 as number) / 1000, mean: (r.mean as number) / 1000, p99: (r.p99 as number) / 1000 };
}

async function main(): Promise<void> {
  const root = probeFeatures().cgroup2Path;
  if (!root) throw new Error('cgroup v2 is not mounted');
  const net = TestNet.create(root);
  const dp = NetworkDatapath.load({ maxPolicyEntries: 131072, maxIpcache: 131072 });
  // PEERS=0 leaves iptables and nftables out
  const peers = process.env.PEERS !== '0';
  const ipt = peers && has('iptables-legacy') ? 'iptables-legacy' : null;
  const nft = peers && has('nft');
  // BPF_STATS=1: per-program run time (a host-wide switch; put back as found at the end)
  const bpfStats = process.env.BPF_STATS === '1';
  const statsBefore = bpfStats ? execFileSync('sysctl', ['-n', 'kernel.bpf_stats_enabled'], { encoding: 'utf8' }).trim() : '0';
  const inA = (cmd: string, args: string[], input?: string): void => {
    execFileSync('ip', ['netns', 'exec', net.nsA, cmd, ...args], { input, stdio: [input ? 'pipe' : 'ignore', 'ignore', 'inherit'] });
  };
  let drainTimer: NodeJS.Timeout | undefined;
  try {
    const wc = net.workload('client');
    const ws = net.workload('server');
    dp.apply(buildState(net, 0, wc.id, ws.id));
    execFileSync('ip', ['netns', 'exec', net.nsA, 'sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1']);
    const { peer: client } = await net.spawn('a', wc);
    const { peer: server } = await net.spawn('b', ws);
    if (!(await server.call('listen', { proto: 'tcp', port: PORT })).ok) throw new Error('listen failed');
    const host = net.v4(2);
    // drain as the agent does (every 10 ms), so that records are written, not lost
    let drained = 0;
    drainTimer = setInterval(() => (drained += dp.drain(() => {})), 10);
    if (bpfStats) execFileSync('sysctl', ['-qw', 'kernel.bpf_stats_enabled=1']);

    const modes: string[] = ['off', ...SIZES.map(String)];
    if (ipt) modes.push(...SIZES.map((n) => `iptables-${n}`));
    if (nft) modes.push(...SIZES.map((n) => `nft-${n}`));
    const fig = new Map<string, Figures>(modes.map((m) => [m, { cps: [], p50: [], mean: [], p99: [], prog: new Map() }]));
    const states = new Map<number, DatapathState>();
    for (const n of SIZES) states.set(n, buildState(net, n, wc.id, ws.id));
    await measure(client, host); // warm-up

    for (let round = 0; round < ROUNDS; round++) {
      const order = modes.map((_, i) => modes[(i + round) % modes.length]!);
      for (const mode of order) {
        let cleanup = (): void => {};
        if (mode === 'off') {
          dp.detach();
        } else if (mode.startsWith('iptables-')) {
          dp.detach();
          const n = Number(mode.slice(9));
          const lines = ['*filter', ':OUTPUT ACCEPT [0:0]'];
          for (let i = 0; i < n - 1; i++) lines.push(`-A OUTPUT -p tcp -d ${host} --dport ${10000 + i} -j ACCEPT`);
          lines.push(`-A OUTPUT -p tcp -d ${host} --dport ${PORT} -j ACCEPT`, `-A OUTPUT -p tcp -d ${host} -j DROP`, 'COMMIT', '');
          inA(`${ipt}-restore`, [], lines.join('\n'));
          cleanup = () => inA(ipt!, ['-F', 'OUTPUT']);
        } else if (mode.startsWith('nft-')) {
          dp.detach();
          const n = Number(mode.slice(4));
          const elems: string[] = [];
          for (let i = 0; i < n - 1; i++) elems.push(`${host} . ${10000 + i}`);
          elems.push(`${host} . ${PORT}`);
          const rules = `table inet palbench {
  set allowed {
    type ipv4_addr . inet_service
    elements = { ${elems.join(', ')} }
  }
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr . tcp dport @allowed accept
    ip daddr ${host} drop
  }
}
`;
          inA('nft', ['-f', '-'], rules);
          cleanup = () => inA('nft', ['delete', 'table', 'inet', 'palbench']);
        } else {
          dp.apply(states.get(Number(mode))!);
          dp.attach(root);
        }
        try {
          const before = dp.programStats();
          const m = await measure(client, host);
          const after = dp.programStats();
          const f = fig.get(mode)!;
          if (/^\d/.test(mode)) {
            for (const p of PROGS) {
              const acc = f.prog.get(p) ?? { runs: 0, ns: 0 };
              acc.runs += (after[p]?.runs ?? 0) - (before[p]?.runs ?? 0);
              acc.ns += (after[p]?.ns ?? 0) - (before[p]?.ns ?? 0);
              f.prog.set(p, acc);
            }
          }
          f.cps.push(m.cps);
          f.p50.push(m.p50);
          f.mean.push(m.mean);
          f.p99.push(m.p99);
        } finally {
          cleanup();
        }
      }
    }
    const c = dp.counters();
    console.log(`\nnetpol datapath: ${ROUNDS} rounds, ${CONNECTS} connects and ${RR} round trips per mode and round; medians`);
    console.log('mode            entries/dir   connect/s   rr p50 µs   rr mean µs   rr p99 µs');
    for (const mode of modes) {
      const f = fig.get(mode)!;
      const entries = mode === 'off' ? '-' : mode.replace(/^\D+-/, '');
      const name = mode === 'off' ? 'no programs' : /^\d/.test(mode) ? 'palisade' : mode.replace(/-\d+$/, '');
      console.log(`${name.padEnd(15)} ${entries.padStart(11)} ${median(f.cps).toFixed(0).padStart(11)} ${median(f.p50).toFixed(1).padStart(11)} ${median(f.mean).toFixed(1).padStart(12)} ${median(f.p99).toFixed(1).padStart(11)}`);
    }
    console.log(`counters: ${JSON.stringify(c)}, records drained: ${drained}`);
    if (bpfStats) {
      console.log('\nprogram run time (kernel.bpf_stats_enabled; includes ~20-45 ns of the accounting itself), ns per run:');
      console.log(`entries/dir  ${PROGS.map((p) => p.padStart(15)).join('')}`);
      for (const n of SIZES) {
        const f = fig.get(String(n))!;
        console.log(`${String(n).padStart(11)}  ${PROGS.map((p) => {
          const x = f.prog.get(p);
          return (x && x.runs > 0 ? (x.ns / x.runs).toFixed(0) : '-').padStart(15);
        }).join('')}`);
      }
    }

    // apply(): one change at 10,000 entries, and bulk loads of 50,000
    const big = buildState(net, 10000, wc.id, ws.id);
    const one: number[] = [];
    const oneKernel: number[] = [];
    dp.apply(big);
    for (let i = 0; i < 5; i++) {
      const changed: DatapathState = {
        ...big,
        policy: [...big.policy, { dir: 'egress', localId: C, peerId: S, proto: 17, port: 20000 + i, portBits: 16, enf: half(true, 9), all: half(true, 9) }],
      };
      const t = performance.now();
      const st = dp.apply(changed);
      one.push(performance.now() - t);
      oneKernel.push(st.syscalls);
      dp.apply(big);
    }
    const bulk: number[] = [];
    let bulkSyscalls = 0;
    const fifty = buildState(net, 50000, wc.id, ws.id);
    for (let i = 0; i < 3; i++) {
      dp.apply(EMPTY_STATE);
      const t = performance.now();
      bulkSyscalls = dp.apply(fifty).syscalls;
      bulk.push(performance.now() - t);
    }
    // the same change written directly: what the kernel write costs without the state diff
    const m = dp.maps.egress;
    const k = Buffer.alloc(16), v = Buffer.alloc(64);
    k.writeUInt32LE(96);
    const tw = performance.now();
    for (let i = 0; i < 1000; i++) {
      k.writeUInt16BE(30000 + i, 14);
      m.update(k, v);
    }
    const perWrite = (performance.now() - tw) / 1000;
    for (let i = 0; i < 1000; i++) {
      k.writeUInt16BE(30000 + i, 14);
      m.delete(k);
    }
    console.log(`apply one added entry at 10,000 entries/dir: ${median(one).toFixed(1)} ms (${oneKernel[0]} map write; the rest is the diff of two whole states in JS)`);
    console.log(`one LPM update in the kernel at 50,000 entries: ${(perWrite * 1000).toFixed(1)} µs`);
    console.log(`bulk load of 50,000 entries/dir (100,000 policy + 25,002 ipcache entries) from empty: ${median(bulk).toFixed(0)} ms (${bulkSyscalls} map writes)`);
    dp.apply(EMPTY_STATE);
  } finally {
    clearInterval(drainTimer);
    if (bpfStats) execFileSync('sysctl', ['-qw', `kernel.bpf_stats_enabled=${statsBefore}`]);
    dp.close();
    await net.destroy();
  }
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e);
  process.exit(1);
});
