// The compiler's policy delta lets the datapath write a change without comparing every entry; the
// writes must be exactly those the full comparison finds.
import { describe, expect, it } from 'vitest';
import { PolicyCompiler, RuleIds } from '../../network/compile/index.js';
import { stateDiff } from '../../network/datapath/maps.js';
import type { DatapathState, Workload } from '../../network/model.js';
import { parseNetworkPolicies } from '../../network/policy/index.js';

const workloads: Workload[] = [
  { cgroupId: 1n, cgroupPath: '/a', namespace: 'ns', labels: { app: 'a' }, ips: ['10.9.0.1'] },
  { cgroupId: 2n, cgroupPath: '/b', namespace: 'ns', labels: { app: 'b' }, ips: ['10.9.0.2'] },
];

const policy = (name: string, app: string, port: number, cidrs = '192.0.2.0/24'): string => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}, namespace: ns}
spec:
  endpointSelector: {matchLabels: {app: ${app}}}
  egress:
  - toCIDR: [${cidrs}]
    toPorts: [{ports: [{port: "${port}", endPort: ${port + 20}, protocol: TCP}]}]
  - toEndpoints: [{matchLabels: {app: b}}]
`;

const parse = (text: string) => parseNetworkPolicies(text, 'p.yaml').policies;
const writes = (d: ReturnType<typeof stateDiff>): string[] =>
  [...d].flatMap(([role, x]) => [
    ...Array.from({ length: x.count }, (_, i) => `${role} + ${x.key(i).toString('hex')} ${x.value(i).toString('hex')} old=${x.oldValue(i)?.toString('hex') ?? '-'}`),
    ...x.deletes.map((u) => `${role} - ${u.key.toString('hex')}`),
  ]).sort();

describe('policy and ipcache deltas', () => {
  it('gives the same map writes as comparing whole states, for adds, replacements and deletes', () => {
    const c = new PolicyCompiler({ ruleIds: new RuleIds() });
    let prev: DatapathState = c.update({ workloads, upsert: parse(policy('one', 'a', 1000)) });
    const steps = [
      // new prefixes: one equal to a workload address (not in the ipcache: the address keeps it)
      { upsert: parse(policy('two', 'b', 2000, '192.0.2.0/24, 198.51.100.0/24, 10.9.0.2/32')) },
      { upsert: parse(policy('one', 'a', 3000)) }, // replaced: same keys, other ports
      { remove: ['CiliumNetworkPolicy/ns/two'] },
    ];
    for (const step of steps) {
      const next = c.update(step);
      expect(next.policyDelta?.base.deref()).toBe(prev);
      const withDelta = writes(stateDiff(prev, next));
      const { policyDelta: _p, ipcacheDelta: _i, ...whole } = next;
      expect(withDelta.length).toBeGreaterThan(0);
      expect(withDelta).toEqual(writes(stateDiff(prev, whole)));
      // the delta is what the datapath goes by: an empty one writes no policy entry at all
      expect(next.policyDelta!.added.every((e) => !prev.policy.includes(e))).toBe(true);
      expect(next.policyDelta!.removed.every((e) => !next.policy.includes(e))).toBe(true);
      const noChange = { ...whole, policyDelta: { base: new WeakRef(prev), added: [], removed: [] } };
      expect(writes(stateDiff(prev, noChange)).filter((w) => /^(ingress|egress) /.test(w))).toEqual([]);
      // the CIDRs of 'two' came and went with it
      expect(next.ipcacheDelta?.base.deref(), JSON.stringify(step)).toBe(step === steps[1] ? undefined : prev);
      prev = next;
    }
  });
});
