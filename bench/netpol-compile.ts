// Network policy compile times: parse and bulk-compile N rules, then one incremental change with them
// loaded (add one 10-rule policy, then delete it), p50 and p95 over repetitions. Pure CPU; the
// datapath helper measures the same end to end with the BPF maps.
//
//   npx tsc -p tsconfig.json && node --expose-gc dist/bench/netpol-compile.js [--sizes 10,1000,10000,50000] [--reps 40] [--bulk-runs 3] [--mix mixed|simple] [--maps]
//
// It runs under the agent's node options (bin/node-options), re-running itself with them if needed.
//
// --maps (root): every compiled state is also written into the BPF maps of a loaded (unattached)
// netpol datapath, and the times include that write: bulk = compile + load into empty maps,
// change = compile + the incremental map update, i.e. a policy change until the kernel enforces it.
// The maps have the agent's default sizes (65,536 entries each), or the next power of two that holds
// a size's entries when they do not fit (the exact-key hash maps are preallocated at that size).
import { performance } from 'node:perf_hooks';
import { PolicyCompiler, RuleIds } from '../network/compile/index.js';
import { NetworkDatapath } from '../network/datapath/datapath.js';
import { EMPTY_STATE } from '../network/datapath/maps.js';
import type { DatapathState, Workload } from '../network/model.js';
import { parseNetworkPolicies, type NetPolicy } from '../network/policy/index.js';
import { underAgentNodeOptions } from './agent-node.js';

underAgentNodeOptions();

const RULES_PER_POLICY = 10;
const APPS = 20;

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

/** 100 workloads, 5 per app: 20 identities. */
function workloads(): Workload[] {
  return Array.from({ length: 100 }, (_, i) => ({
    cgroupId: BigInt(1000 + i), cgroupPath: `/bench/${i}`, namespace: 'bench', labels: { app: `app${i % APPS}` },
    ips: [`10.200.${i >> 8}.${i & 255}`],
  }));
}

/** CiliumNetworkPolicy p<n>, selecting app(n % 20), with these spec members. */
const cnp = (n: number, rules: string): string => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p${n}, namespace: bench}
spec:
  endpointSelector: {matchLabels: {app: app${n % APPS}}}
${rules}`;

/** Policy n for --mix simple: each rule one address and one TCP port, so one rule is one map entry. */
function simplePolicyYaml(n: number): string {
  const rules: string[] = [];
  for (let r = 0; r < RULES_PER_POLICY; r++) {
    const k = n * RULES_PER_POLICY + r;
    rules.push(`  - toCIDR: [${10 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}.1/32]\n    toPorts: [{ports: [{port: "${1 + (k % 60000)}", protocol: TCP}]}]`);
  }
  return cnp(n, `  egress:
${rules.join('\n')}
`);
}

/** Policy n: selects app(n % 20); rules alternate CIDR egress with a port range, selector ingress with a port, and a CIDR deny. */
function policyYaml(n: number): string {
  const rules: string[] = [];
  const ingress: string[] = [];
  const deny: string[] = [];
  for (let r = 0; r < RULES_PER_POLICY; r++) {
    const k = n * RULES_PER_POLICY + r;
    const net = `${10 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}.0/24`;
    if (r % 5 === 4) deny.push(`  - toCIDR: [${net}]\n    toPorts: [{ports: [{port: "${1 + (k % 60000)}", protocol: TCP}]}]`);
    else if (r % 5 === 3) ingress.push(`  - fromEndpoints: [{matchLabels: {app: app${k % APPS}}}]\n    toPorts: [{ports: [{port: "${1 + (k % 60000)}", protocol: TCP}]}]`);
    else rules.push(`  - toCIDRSet: [{cidr: ${net}, except: [${net.replace(/0\/24$/, '128/25')}]}]\n    toPorts: [{ports: [{port: "${1000 + (k % 50000)}", endPort: ${1000 + (k % 50000) + 15}}]}]`);
  }
  return cnp(n, `  egress:
${rules.join('\n')}
  egressDeny:
${deny.join('\n')}
  ingress:
${ingress.join('\n')}
`);
}

function parseAll(from: number, count: number): NetPolicy[] {
  const text = Array.from({ length: count }, (_, i) => (mix === 'simple' ? simplePolicyYaml : policyYaml)(from + i)).join('---\n');
  const r = parseNetworkPolicies(text, 'bench.yaml');
  if (r.errors.length) throw new Error(JSON.stringify(r.errors[0]));
  return r.policies;
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const ms = (x: number): string => `${x.toFixed(2)} ms`;

const sizes = arg('sizes', '10,1000,10000,50000').split(',').map(Number);
const reps = Number(arg('reps', '40'));
const bulkRuns = Number(arg('bulk-runs', '3'));
const mix = arg('mix', 'mixed');
const maps = process.argv.includes('--maps');
if (maps) console.log('--maps: times include writing the BPF maps (sized by one untimed compile, which also warms up "first")');
/** A datapath whose maps hold `state` (the agent's defaults when they do: 65,536 entries each). */
function datapathFor(state: DatapathState): NetworkDatapath {
  let size = 65536;
  while (size < Math.max(state.policy.length, state.ipcache.length)) size *= 2;
  return size === 65536 ? NetworkDatapath.load() : NetworkDatapath.load({ maxPolicyEntries: size, maxIpcache: size });
}
console.log(`mix ${mix}: ${mix === 'simple' ? 'one /32 and one TCP port per rule' : 'CIDR sets with except and 16-port ranges (ANY), selector ingress, CIDR denies'}`);
// CPU time counts the collector's helper threads too; on a shared machine it is steadier than wall time.
console.log(`rules  policies  parse       bulk: first  best        best cpu    entries  ipcache  change p50  change p95`);
for (const rules of sizes) {
  const count = Math.max(1, Math.ceil(rules / RULES_PER_POLICY));
  let t = performance.now();
  const policies = parseAll(0, count);
  const parseMs = performance.now() - t;
  const extra = parseAll(count, 1)[0]!;
  // Bulk load into a fresh compiler, several times: the first run pays for JIT warm-up.
  const bulk: number[] = [];
  const bulkCpu: number[] = [];
  let c = new PolicyCompiler({ ruleIds: new RuleIds() });
  let state = c.state;
  const dp = maps ? datapathFor(new PolicyCompiler({ ruleIds: new RuleIds() }).update({ workloads: workloads(), upsert: policies })) : null;
  for (let run = 0; run < bulkRuns; run++) {
    c = new PolicyCompiler({ ruleIds: new RuleIds() });
    dp?.apply(EMPTY_STATE);
    // The parse's garbage is not the compiler's cost: collect it first when allowed (--expose-gc).
    (globalThis as { gc?: () => void }).gc?.();
    t = performance.now();
    const cpu = process.cpuUsage();
    state = c.update({ workloads: workloads(), upsert: policies });
    dp?.apply(state);
    bulk.push(performance.now() - t);
    const used = process.cpuUsage(cpu);
    bulkCpu.push((used.user + used.system) / 1000);
  }
  const changes: number[] = [];
  for (let i = 0; i < reps; i++) {
    t = performance.now();
    const next = c.update(i % 2 === 0 ? { upsert: [extra] } : { remove: ['CiliumNetworkPolicy/bench/p' + count] });
    dp?.apply(next);
    changes.push(performance.now() - t);
  }
  console.log(
    `${String(rules).padEnd(6)} ${String(count).padEnd(9)} ${ms(parseMs).padEnd(11)} ${ms(bulk[0]!).padEnd(12)} ${ms(Math.min(...bulk)).padEnd(11)} ${ms(Math.min(...bulkCpu)).padEnd(11)} ${String(state.policy.length).padEnd(8)} ${String(state.ipcache.length).padEnd(8)} ${ms(pct(changes, 50)).padEnd(11)} ${ms(pct(changes, 95))}`,
  );
  dp?.close();
}
