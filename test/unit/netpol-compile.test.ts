import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compile, PolicyCompiler, PROTO, RuleIds, StateEvaluator } from '../../network/compile/index.js';
import { forEachPortPrefix } from '../../network/compile/l4.js';
import { ID, type DatapathState, type PolicyEntry, type Workload } from '../../network/model.js';
import { formatPolicyError, parseNetworkPolicies, type NetPolicy } from '../../network/policy/index.js';

const parse = (text: string, file = 'p.yaml'): NetPolicy[] => {
  const r = parseNetworkPolicies(text, file);
  expect(r.errors.map(formatPolicyError)).toEqual([]);
  return r.policies;
};
const wl = (cg: number, namespace: string, app: string, ip: string): Workload => ({ cgroupId: BigInt(cg), cgroupPath: `/${cg}`, namespace, labels: { app }, ips: [ip] });
const W = [wl(10, 'prod', 'web', '10.1.0.10'), wl(20, 'prod', 'db', '10.1.0.20'), wl(30, 'prod', 'client', '10.1.0.30')];
const cnp = (name: string, spec: string): string => `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: ${name}, namespace: prod}\nspec:\n${spec}`;

describe('port ranges', () => {
  it('split into the fewest prefixes that cover the range exactly', () => {
    for (const [from, to] of [[8000, 8080], [1, 65535], [0, 65535], [80, 80], [1024, 2047], [1023, 1025]] as const) {
      const covered = new Set<number>();
      let n = 0;
      forEachPortPrefix(from, to, (port, bits) => {
        n++;
        const size = 2 ** (16 - bits);
        expect(port % size).toBe(0);
        for (let p = port; p < port + size; p++) covered.add(p);
      });
      expect(covered.size).toBe(to - from + 1);
      expect(Math.min(...covered)).toBe(from);
      expect(Math.max(...covered)).toBe(to);
      if (from === 1024 && to === 2047) expect(n).toBe(1);
      if (from === 80) expect(n).toBe(1);
    }
  });
});

describe('entries', () => {
  const entriesOf = (state: DatapathState, dir: 'ingress' | 'egress'): PolicyEntry[] => state.policy.filter((e) => e.dir === dir);

  it('an L3 rule is a proto null entry; ANY is TCP and UDP; ICMP puts the type in the port', () => {
    const { state } = compile(parse(cnp('x', `  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: db}}]
  - toPorts: [{ports: [{port: "53"}]}]
  - icmps: [{fields: [{type: 8}]}]
`)), W);
    const keys = entriesOf(state, 'ingress').map((e) => [e.peerId === ID.ANY ? 'any' : 'db', e.proto, e.port, e.portBits]);
    expect(keys).toEqual(expect.arrayContaining([
      ['db', null, 0, 0],
      ['any', PROTO.TCP, 53, 16],
      ['any', PROTO.UDP, 53, 16],
      ['any', PROTO.ICMP, 8, 16],
    ]));
    expect(keys).toHaveLength(4);
  });

  it('less specific entries fold into the more specific ones of the same peer', () => {
    const { state } = compile(parse(cnp('x', `  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: db}}]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {app: db}}]
    toPorts: [{ports: [{port: "22", protocol: TCP}]}]
`)), W);
    const e = entriesOf(state, 'ingress');
    const l3 = e.find((x) => x.proto === null)!;
    const ssh = e.find((x) => x.proto === PROTO.TCP)!;
    expect(l3.enf).toMatchObject({ allow: true, deny: false });
    expect(ssh.enf).toMatchObject({ allow: true, deny: true });
    expect(ssh.enf.denyRule).not.toBe(0);
    expect(ssh.enf.allowRule).toBe(l3.enf.allowRule);
  });

  it('audit policies fill the all half only; binaries set marks, not allow', () => {
    const { state } = compile(parse(`${cnp('x', `  endpointSelector: {matchLabels: {app: client}}
  egress: [{toEntities: [world], binaries: [/usr/bin/curl]}]
`)}---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: y, namespace: prod, annotations: {palisade.io/mode: audit}}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress: [{toEntities: [host]}]
`), W, { markBits: () => 4n });
    const world = state.policy.find((e) => e.peerId === ID.WORLD)!;
    expect(world.enf).toMatchObject({ allow: false, allowMarks: 4n });
    const host = state.policy.find((e) => e.peerId === ID.HOST)!;
    expect(host.enf.allow).toBe(false);
    expect(host.all.allow).toBe(true);
    const d = state.defaults.find((x) => x.localId === state.cgroups.find((c) => c.cgroupId === 30n)!.identity)!;
    expect(d).toMatchObject({ egressEnf: true, egressAll: true, ingressEnf: false });
  });

  it('binaries without a mark allocator are refused with the rule named', () => {
    expect(() => compile(parse(cnp('x', `  endpointSelector: {}
  egress: [{toEntities: [world], binaries: [/usr/bin/curl]}]
`)), W)).toThrow(/binaries need process marks/);
  });
});

describe('rule ids', () => {
  const text = cnp('x', `  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEntities: [world]}, {fromEntities: [host]}]
`);
  it('are the same for the same rule across compiles, new for a changed rule, never reused', () => {
    const ids = new RuleIds();
    const a = compile(parse(text), W, { ruleIds: ids }).rules.map((r) => r.id);
    const b = compile(parse(text), W, { ruleIds: ids }).rules.map((r) => r.id);
    expect(b).toEqual(a);
    const changed = compile(parse(text.replace('[host]', '[cluster]')), W, { ruleIds: ids }).rules.map((r) => r.id);
    expect(changed[0]).toBe(a[0]);
    expect(a).not.toContain(changed[1]);
    expect(ids.info(a[1]!)).toMatchObject({ policy: 'x', namespace: 'prod', path: 'spec.ingress[1]', verdict: 'allow', mode: 'enforce', file: 'p.yaml', line: 6 });
  });

  it('follow a rule whose place stays when rules are added before it; a refused build changes no id', () => {
    const ids = new RuleIds();
    const egress = cnp('y', `  endpointSelector: {matchLabels: {app: web}}
  egress: [{toEntities: [world]}]
`);
    const [before] = compile(parse(egress), W, { ruleIds: ids }).rules.map((r) => r.id);
    const more = egress.replace('  egress:', '  ingress: [{fromEntities: [host]}]\n  egress:');
    const after = compile(parse(more), W, { ruleIds: ids }).rules;
    expect(after.map((r) => r.path)).toEqual(['spec.ingress[0]', 'spec.egress[0]']);
    expect(after[1]!.id).toBe(before);
    expect(after[0]!.id).not.toBe(before);
    // a build that fails (binaries with no mark allocator) does not become the version compared with
    const refused = more.replace('{toEntities: [world]}', '{toEntities: [world], binaries: [/usr/bin/curl]}');
    expect(() => compile(parse(refused), W, { ruleIds: ids })).toThrow();
    expect(compile(parse(more), W, { ruleIds: ids }).rules.map((r) => r.id)).toEqual(after.map((r) => r.id));
  });
});

describe('default deny', () => {
  it('a policy whose two subjects select one workload makes both their directions default-deny for it', () => {
    const text = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: two, namespace: prod}
specs:
  - endpointSelector: {matchLabels: {app: web}}
    ingress: [{fromEntities: [host]}]
  - endpointSelector: {}
    egress: [{toEntities: [world]}]
`;
    const c = new PolicyCompiler({ ruleIds: new RuleIds() });
    const state = c.update({ upsert: parse(text), workloads: W });
    const web = state.cgroups.find((g) => g.cgroupId === 10n)!.identity;
    const db = state.cgroups.find((g) => g.cgroupId === 20n)!.identity;
    expect(c.defaultDenyBy(web, 'ingress', false)?.name).toBe('two');
    expect(c.defaultDenyBy(web, 'egress', false)?.name).toBe('two');
    expect(c.defaultDenyBy(db, 'ingress', false)).toBeUndefined();
    expect(c.defaultDenyBy(db, 'egress', false)?.name).toBe('two');
    expect(state.defaults.find((d) => d.localId === web)).toMatchObject({ ingressEnf: true, egressEnf: true });
  });
});

describe('incremental compile gives what a full compile gives', () => {
  const POLICIES = [
    cnp('a', `  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEndpoints: [{matchLabels: {app: client}}], toPorts: [{ports: [{port: "80", protocol: TCP}]}]}]
`),
    cnp('b', `  endpointSelector: {matchLabels: {app: client}}
  egress: [{toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.0.9.0/24]}]}, {toEntities: [cluster]}]
`),
    cnp('c', `  endpointSelector: {matchLabels: {app: db}}
  egress: [{toCIDR: [10.0.9.128/25]}, {toEntities: [world], toPorts: [{ports: [{port: "53"}]}]}]
`),
    cnp('d', `  endpointSelector: {}
  ingressDeny: [{toPorts: [{ports: [{port: "22", protocol: TCP}]}]}]
`),
    cnp('e', `  endpointSelector: {matchLabels: {app: cache}}
  ingress: [{fromEndpoints: [{matchLabels: {app: web}}]}]
`),
  ].map((t) => parse(t)[0]!);
  const MORE = [...W, wl(40, 'prod', 'cache', '10.1.0.40'), wl(11, 'prod', 'web', '10.1.0.11')];
  const DSTS = ['10.1.0.10', '10.1.0.11', '10.1.0.20', '10.1.0.30', '10.1.0.40', '10.0.5.5', '10.0.9.9', '10.0.9.200', '8.8.8.8'];

  function grid(state: DatapathState, workloads: Workload[]): string[] {
    const ev = new StateEvaluator(state);
    const out: string[] = [];
    for (const src of workloads) {
      for (const dst of DSTS) {
        const d = workloads.find((w) => w.ips[0] === dst);
        for (const [proto, port] of [[6, 80], [6, 22], [17, 53], [6, 443]] as const) {
          const v = ev.flow({ srcCgroup: src.cgroupId, srcIp: src.ips[0]!, dstCgroup: d?.cgroupId, dstIp: dst, proto, port });
          out.push(`${src.cgroupPath}>${dst} ${proto}/${port} ${v.verdict}`);
        }
      }
    }
    return out;
  }

  it('through adds, replacements, deletes and workload changes', () => {
    const c = new PolicyCompiler({ ruleIds: new RuleIds() });
    let workloads = W;
    c.update({ workloads });
    const loaded = new Map<string, NetPolicy>();
    const steps: Array<() => void> = [
      () => c.update({ upsert: [POLICIES[0]!] }),
      () => c.update({ upsert: [POLICIES[1]!, POLICIES[3]!] }),
      () => c.update({ upsert: [POLICIES[2]!] }),
      () => c.update({ workloads: (workloads = MORE) }),
      () => c.update({ upsert: [POLICIES[4]!] }),
      () => c.update({ remove: ['CiliumNetworkPolicy/prod/b'] }),
      () => c.update({ workloads: (workloads = W) }),
      () => c.update({ upsert: [POLICIES[1]!] }),
      () => c.update({ remove: ['CiliumNetworkPolicy/prod/c', 'CiliumNetworkPolicy/prod/a'] }),
    ];
    const present: string[][] = [['a'], ['a', 'b', 'd'], ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd', 'e'], ['a', 'c', 'd', 'e'], ['a', 'c', 'd', 'e'], ['a', 'b', 'c', 'd', 'e'], ['b', 'd', 'e']];
    steps.forEach((step, i) => {
      step();
      loaded.clear();
      for (const p of POLICIES) if (present[i]!.includes(p.name)) loaded.set(p.name, p);
      const full = compile([...loaded.values()], workloads, { ruleIds: new RuleIds() }).state;
      expect(c.state.policy.length, `step ${i}`).toBe(full.policy.length);
      expect(c.state.ipcache.length, `step ${i}`).toBe(full.ipcache.length);
      expect(grid(c.state, workloads), `step ${i}`).toEqual(grid(full, workloads));
    });
  });

  it('leaves unchanged groups and maps alone', () => {
    const c = new PolicyCompiler({ ruleIds: new RuleIds() });
    c.update({ workloads: W, upsert: [POLICIES[0]!, POLICIES[1]!] });
    const before = c.state;
    const after = c.update({ upsert: [POLICIES[3]!] });
    expect(after.ipcache).toBe(before.ipcache);
    expect(after.cgroups).toBe(before.cgroups);
    const kept = before.policy.filter((e) => after.policy.includes(e));
    expect(kept.length).toBeGreaterThan(0);
  });

  it('a replaced policy keeps the CIDR identities it still names; a refused one leaves none behind', () => {
    const c = new PolicyCompiler({ ruleIds: new RuleIds() });
    c.update({ workloads: W, upsert: [POLICIES[1]!] });
    const before = c.state;
    const ids = new Map(before.ipcache.map((e) => [e.cidr, e.identity]));
    // same prefixes, other ports: only the policy entries change
    const replaced = parse(cnp('b', `  endpointSelector: {matchLabels: {app: client}}
  egress: [{toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.0.9.0/24]}], toPorts: [{ports: [{port: "443", protocol: TCP}]}]}]
`))[0]!;
    const after = c.update({ upsert: [replaced] });
    expect(after.ipcache).toBe(before.ipcache);
    expect(after.ipcacheDelta).toBeUndefined();
    expect(after.policy.some((e) => e.proto === PROTO.TCP && e.port === 443)).toBe(true);
    // a policy refused at build time (binaries, no mark allocator) after naming a new prefix
    const refused = parse(cnp('f', `  endpointSelector: {}
  egress: [{toCIDR: [192.0.2.0/24]}, {toEntities: [world], binaries: [/usr/bin/curl]}]
`))[0]!;
    // built after another new policy: that one's prefix goes back too
    const before203 = parse(cnp('h', `  endpointSelector: {}
  egress: [{toCIDR: [203.0.113.0/24]}]
`))[0]!;
    expect(() => c.update({ upsert: [before203, refused] })).toThrow(/binaries need process marks/);
    const next = c.update({ upsert: [parse(cnp('g', `  endpointSelector: {}
  egress: [{toCIDR: [198.51.100.0/24]}]
`))[0]!] });
    expect(next.ipcache.map((e) => e.cidr)).not.toContain('192.0.2.0/24');
    expect(next.ipcache.map((e) => e.cidr)).not.toContain('203.0.113.0/24');
    expect(next.ipcacheDelta?.added.map((e) => e.cidr)).toEqual(['198.51.100.0/24']);
    for (const e of next.ipcache) if (ids.has(e.cidr)) expect(e.identity, e.cidr).toBe(ids.get(e.cidr));
  });
});

describe('shipped example policies do what their comments say', () => {
  const load = (file: string): NetPolicy[] => parse(readFileSync(`policies/network/${file}`, 'utf8'), file);
  const D = [
    wl(1, 'default', 'web', '10.9.0.1'), wl(2, 'default', 'frontend', '10.9.0.2'), wl(3, 'default', 'db', '10.9.0.3'),
    wl(4, 'default', 'api', '10.9.0.4'), wl(5, 'analytics', 'report', '10.9.0.5'), wl(6, 'other', 'x', '10.9.0.6'),
    { cgroupId: 7n, cgroupPath: '/7', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, ips: ['10.9.0.7'] },
  ];
  const run = (file: string, src: number, dst: string, proto: number, port: number, marks = 0n): string => {
    const { state } = compile(load(file), D, { ruleIds: new RuleIds(), markBits: () => 1n, namespaceLabels: (ns): Record<string, string> => (ns === 'analytics' ? { team: 'analytics' } : {}) });
    const s = D.find((w) => w.cgroupId === BigInt(src))!;
    const d = D.find((w) => w.ips[0] === dst);
    return new StateEvaluator(state).flow({ srcCgroup: s.cgroupId, srcIp: s.ips[0]!, dstCgroup: d?.cgroupId, dstIp: dst, proto, port, marks }).verdict;
  };
  it('web-ingress', () => {
    expect(run('web-ingress.yaml', 2, '10.9.0.1', 6, 443)).toBe('FORWARDED');
    expect(run('web-ingress.yaml', 2, '10.9.0.1', 6, 22)).toBe('DROPPED');
    expect(run('web-ingress.yaml', 3, '10.9.0.1', 6, 80)).toBe('DROPPED');
  });
  it('egress-lockdown', () => {
    expect(run('egress-lockdown.yaml', 1, '10.9.0.3', 6, 5432)).toBe('FORWARDED');
    expect(run('egress-lockdown.yaml', 1, '10.9.0.6', 6, 80)).toBe('DROPPED');
    expect(run('egress-lockdown.yaml', 1, '10.9.0.7', 17, 53)).toBe('FORWARDED');
    expect(run('egress-lockdown.yaml', 1, '1.1.1.1', 6, 443)).toBe('FORWARDED');
    expect(run('egress-lockdown.yaml', 1, '169.254.169.254', 6, 443)).toBe('DROPPED');
    expect(run('egress-lockdown.yaml', 1, '192.0.2.10', 6, 80, 1n)).toBe('FORWARDED');
    expect(run('egress-lockdown.yaml', 1, '192.0.2.10', 6, 80)).toBe('DROPPED');
  });
  it('db-namespace-isolation (audit)', () => {
    expect(run('db-namespace-isolation.yaml', 4, '10.9.0.3', 6, 5432)).toBe('FORWARDED');
    expect(run('db-namespace-isolation.yaml', 5, '10.9.0.3', 6, 5432)).toBe('FORWARDED');
    expect(run('db-namespace-isolation.yaml', 1, '10.9.0.3', 6, 5432)).toBe('AUDIT');
    expect(run('db-namespace-isolation.yaml', 4, '10.9.0.3', 6, 22)).toBe('AUDIT');
  });
});
