// The exact-key hash maps beside the LPM tries (netpol.h, np_eval.h): a model of the kernel's lookup over
// the bytes the datapath writes (hash first, then longest prefix) must give what the reference evaluator
// gives for the same state, over random policy sets and random packets.
import { describe, expect, it } from 'vitest';
import { PolicyCompiler, RuleIds, StateEvaluator } from '../../network/compile/index.js';
import { addrBytes, NP_HALF, NP_VALUE } from '../../network/datapath/layout.js';
import { EMPTY_STATE, stateDiff, type MapRole } from '../../network/datapath/maps.js';
import type { DatapathState, Direction, Verdict, Workload } from '../../network/model.js';
import { parseNetworkPolicies } from '../../network/policy/index.js';

/** The maps as the kernel would hold them after a bulk load: hex key -> value. */
type Maps = Record<MapRole, Map<string, Buffer>>;

function load(state: DatapathState): Maps {
  const maps = {} as Maps;
  for (const [role, w] of stateDiff(EMPTY_STATE, state)) {
    const m = new Map<string, Buffer>();
    for (let i = 0; i < w.count; i++) {
      const k = w.key(i).toString('hex');
      expect(m.has(k), `${role}: one key written twice`).toBe(false);
      m.set(k, w.value(i));
    }
    maps[role] = m;
  }
  return maps;
}

/** BPF_MAP_TYPE_LPM_TRIE: the entry with the longest prefix (u32 LE first) matching the key's data bits. */
function lpm(trie: Map<string, Buffer>, key: Buffer): Buffer | undefined {
  let best: Buffer | undefined;
  let bestLen = -1;
  for (const [hex, value] of trie) {
    const k = Buffer.from(hex, 'hex');
    const len = k.readUInt32LE(0);
    if (len <= bestLen || len > key.readUInt32LE(0)) continue;
    let same = true;
    for (let bit = 0; bit < len && same; bit++) {
      const byte = 4 + (bit >> 3);
      const mask = 0x80 >> (bit & 7);
      same = (k[byte]! & mask) === (key[byte]! & mask);
    }
    if (same) {
      best = value;
      bestLen = len;
    }
  }
  return best;
}

/** np_identity_of: pal_np_ip_exact, then pal_np_ipcache, else WORLD. */
function identityOf(maps: Maps, ip: string): number {
  const k = Buffer.alloc(20);
  k.writeUInt32LE(128, 0);
  addrBytes(ip).copy(k, 4);
  const v = maps.ipcacheExact.get(k.toString('hex')) ?? lpm(maps.ipcache, k);
  return v ? v.readUInt32LE(0) : 2;
}

interface HalfAnswer {
  allow: boolean;
  rule: number;
}

/** np_half over the value bytes: deny wins across both lookups, then allow, then the default. */
function half(a: Buffer | undefined, b: Buffer | undefined, at: number, defaultDeny: boolean): HalfAnswer {
  const denies = (v: Buffer | undefined): boolean => !!v && v[at + NP_HALF.deny] === 1;
  const allows = (v: Buffer | undefined): boolean => !!v && v[at + NP_HALF.allow] === 1;
  for (const v of [a, b]) if (denies(v)) return { allow: false, rule: v!.readUInt32LE(at + NP_HALF.deny_rule) };
  for (const v of [a, b]) if (allows(v)) return { allow: true, rule: v!.readUInt32LE(at + NP_HALF.allow_rule) };
  return { allow: !defaultDeny, rule: 0 };
}

/** np_evaluate: the exact map first, then the trie, for the peer and for ANY. */
function decide(maps: Maps, dir: Direction, local: number, peer: number, proto: number, port: number): { verdict: Verdict; ruleId: number } {
  const [exact, trie] = dir === 'egress' ? [maps.egressExact, maps.egress] : [maps.ingressExact, maps.ingress];
  const lookup = (p: number): Buffer | undefined => {
    const k = Buffer.alloc(16);
    k.writeUInt32LE(96, 0);
    k.writeUInt32BE(local, 4);
    k.writeUInt32BE(p, 8);
    k[12] = proto;
    k.writeUInt16BE(port, 14);
    return exact.get(k.toString('hex')) ?? lpm(trie, k);
  };
  const a = lookup(peer);
  const b = lookup(0);
  const lk = Buffer.alloc(4);
  lk.writeUInt32LE(local);
  const d = maps.idents.get(lk.toString('hex'));
  const off = dir === 'egress' ? 2 : 0;
  const enf = half(a, b, NP_VALUE.enf, !!d && d[off] === 1);
  const all = half(a, b, NP_VALUE.all, !!d && d[off + 1] === 1);
  if (!enf.allow) return { verdict: 'DROPPED', ruleId: enf.rule };
  if (!all.allow) return { verdict: 'AUDIT', ruleId: all.rule };
  return { verdict: 'FORWARDED', ruleId: enf.rule || all.rule };
}

/** mulberry32: the same sequence on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const APPS = ['a', 'b', 'c'];
const workloads: Workload[] = APPS.map((app, i) => ({
  cgroupId: BigInt(i + 1), cgroupPath: `/${app}`, namespace: 't', labels: { app }, ips: [`10.9.0.${i + 1}`],
}));
const PORTS = [53, 80, 443, 8080, 8081, 8085, 8090, 8095, 9000];
const PEER_IPS = ['10.9.0.1', '10.9.0.2', '10.9.0.3', '192.0.2.1', '192.0.2.9', '192.0.2.17', '192.0.2.130', '198.51.100.7', '8.8.8.8'];

function randomPolicies(r: () => number, n: number): string {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const docs: string[] = [];
  for (let p = 0; p < n; p++) {
    const sections: Record<string, string[]> = { egress: [], egressDeny: [], ingress: [], ingressDeny: [] };
    const rules = 1 + Math.floor(r() * 6);
    for (let i = 0; i < rules; i++) {
      const section = pick(['egress', 'egress', 'egressDeny', 'ingress', 'ingress', 'ingressDeny'] as const);
      const to = section.startsWith('egress') ? 'to' : 'from';
      const peerKind = r();
      let peer: string;
      if (peerKind < 0.35) peer = `${to}CIDR: [${pick(['192.0.2.1/32', '192.0.2.9/32', '192.0.2.130/32', '198.51.100.7/32'])}]`;
      else if (peerKind < 0.6) peer = `${to}CIDRSet: [{cidr: 192.0.2.0/24${r() < 0.5 ? ', except: [192.0.2.128/25]' : ''}}]`;
      else if (peerKind < 0.8) peer = `${to}Endpoints: [{matchLabels: {app: ${pick(APPS)}}}]`;
      else peer = `${to}Entities: [${pick(['world', 'all', 'cluster'])}]`;
      const portKind = r();
      let ports = '';
      const proto = pick(['TCP', 'UDP', 'ANY']);
      if (portKind < 0.45) ports = `\n    toPorts: [{ports: [{port: "${pick(PORTS)}", protocol: ${proto}}]}]`;
      else if (portKind < 0.75) ports = `\n    toPorts: [{ports: [{port: "8080", endPort: ${pick([8081, 8087, 8095])}, protocol: ${proto}}]}]`;
      sections[section]!.push(`  - ${peer}${ports}`);
    }
    const body = Object.entries(sections).filter(([, xs]) => xs.length > 0).map(([k, xs]) => `  ${k}:\n${xs.join('\n')}`).join('\n');
    docs.push(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: p${p}
  namespace: t
  annotations: {palisade.io/mode: ${r() < 0.25 ? 'audit' : 'enforce'}}
spec:
  endpointSelector: {matchLabels: {app: ${pick(APPS)}}}
${body}
`);
  }
  return docs.join('---\n');
}

describe('exact-key hash maps beside the tries', () => {
  it('give the reference evaluator\'s verdict and rule for random policy sets and packets', () => {
    let exactHits = 0;
    let checked = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const parsed = parseNetworkPolicies(randomPolicies(r, 1 + Math.floor(r() * 5)), `seed${seed}.yaml`);
      expect(parsed.errors, `seed ${seed}`).toEqual([]);
      const state = new PolicyCompiler({ ruleIds: new RuleIds() }).update({ upsert: parsed.policies, workloads });
      const maps = load(state);
      exactHits += maps.egressExact.size + maps.ingressExact.size;
      const ref = new StateEvaluator(state);
      for (const ip of PEER_IPS) expect(identityOf(maps, ip), `seed ${seed} identity of ${ip}`).toBe(ref.identityOf(ip));
      for (const c of state.cgroups) {
        for (const ip of PEER_IPS) {
          const peer = ref.identityOf(ip);
          for (const proto of [6, 17]) {
            for (const port of PORTS) {
              for (const dir of ['egress', 'ingress'] as const) {
                const want = ref.decide(dir, c.identity, peer, proto, port);
                expect(decide(maps, dir, c.identity, peer, proto, port), `seed ${seed} ${dir} ${c.identity} ${ip} ${proto}/${port}`)
                  .toEqual({ verdict: want.verdict, ruleId: want.ruleId });
                checked++;
              }
            }
          }
        }
      }
    }
    // the sets did use both maps
    expect(exactHits).toBeGreaterThan(100);
    expect(checked).toBeGreaterThan(30_000);
  });

  it('route by key length: exact policy keys and /128 addresses to the hash maps, every other key to the tries', () => {
    const parsed = parseNetworkPolicies(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: r, namespace: t}
spec:
  endpointSelector: {matchLabels: {app: a}}
  egress:
  - toCIDR: [192.0.2.1/32]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
  - toCIDR: [192.0.2.0/24]
    toPorts: [{ports: [{port: "8080", endPort: 8083, protocol: TCP}]}]
  - toCIDR: [2001:db8::1/128]
  - toCIDR: [2001:db8::/64]
`, 'r.yaml');
    const state = new PolicyCompiler({ ruleIds: new RuleIds() }).update({ upsert: parsed.policies, workloads });
    const maps = load(state);
    for (const [hex] of maps.egressExact) expect(Buffer.from(hex, 'hex').readUInt32LE(0)).toBe(96);
    for (const [hex] of maps.egress) expect(Buffer.from(hex, 'hex').readUInt32LE(0)).toBeLessThan(96);
    for (const [hex] of maps.ipcacheExact) expect(Buffer.from(hex, 'hex').readUInt32LE(0)).toBe(128);
    for (const [hex] of maps.ipcache) expect(Buffer.from(hex, 'hex').readUInt32LE(0)).toBeLessThan(128);
    // the three workload addresses, 192.0.2.1 and 2001:db8::1 are exact; /24 and /64 (and ::ffff:0:0/96's guard) are not
    expect(maps.ipcacheExact.size).toBe(5);
    expect(maps.egressExact.size).toBe(1);
    expect(maps.egress.size).toBeGreaterThan(2);
  });
});
