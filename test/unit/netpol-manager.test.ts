import { describe, expect, it } from 'vitest';
import { RuleIds } from '../../network/compile/index.js';
import { NetPolicyNotFound, NetworkPolicyManager } from '../../network/manager.js';
import type { DatapathState, PolicyMaps, Workload } from '../../network/model.js';
import { formatPolicyError } from '../../network/policy/index.js';

class FakeMaps implements PolicyMaps {
  calls: Array<{ from: DatapathState; to: DatapathState }> = [];
  fail = false;
  apply(from: DatapathState, to: DatapathState): void {
    if (this.fail) throw new Error('map update failed');
    this.calls.push({ from, to });
  }
  get last(): DatapathState | undefined {
    return this.calls.at(-1)?.to;
  }
}

const wl = (cg: number, namespace: string, app: string, ip: string): Workload => ({ cgroupId: BigInt(cg), cgroupPath: `/${cg}`, namespace, labels: { app }, ips: [ip] });
const W = [wl(10, 'prod', 'web', '10.1.0.10'), wl(11, 'prod', 'web', '10.1.0.11'), wl(30, 'prod', 'client', '10.1.0.30')];

const WEB = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client, namespace: prod}
spec:
  podSelector: {matchLabels: {app: client}}
  egress: [{}]
`;

const manager = (opts = {}) => {
  const maps = new FakeMaps();
  const m = new NetworkPolicyManager(maps, { ruleIds: new RuleIds(), ...opts }, W);
  return { maps, m };
};

describe('NetworkPolicyManager', () => {
  it('add applies the next state and lists what is loaded', () => {
    const { maps, m } = manager();
    const r = m.add(WEB, 'web.yaml');
    expect(r).toEqual({ added: ['CiliumNetworkPolicy/prod/web', 'NetworkPolicy/prod/client'], errors: [] });
    expect(maps.last!.policy.length).toBeGreaterThan(0);
    expect(maps.calls.at(-1)!.from).toBe(maps.calls.at(-2)!.to);
    expect(m.list()).toEqual([
      { name: 'web', namespace: 'prod', kind: 'CiliumNetworkPolicy', mode: 'enforce', file: 'web.yaml', selectedWorkloads: 2, rules: 1 },
      { name: 'client', namespace: 'prod', kind: 'NetworkPolicy', mode: 'enforce', file: 'web.yaml', selectedWorkloads: 1, rules: 1 },
    ]);
  });

  it('names the policy that made a direction default-deny (enforce, and audit-mode ones for AUDIT)', () => {
    const { m } = manager();
    m.add(WEB, 'web.yaml');
    const web = m.state.cgroups.find((c) => c.cgroupId === 10n)!.identity;
    const client = m.state.cgroups.find((c) => c.cgroupId === 30n)!.identity;
    expect(m.defaultDenyBy(web, 'ingress', false)).toMatchObject({ name: 'web', kind: 'CiliumNetworkPolicy' });
    expect(m.defaultDenyBy(web, 'egress', false)).toBeUndefined();
    // NetworkPolicy without policyTypes: Ingress always, Egress because egress has rules
    expect(m.defaultDenyBy(client, 'ingress', false)).toMatchObject({ name: 'client', kind: 'NetworkPolicy' });
    expect(m.defaultDenyBy(client, 'egress', false)).toMatchObject({ name: 'client' });
    expect(m.defaultDenyBy(web, 'ingress', true), 'no audit-mode policy').toBeUndefined();
    m.add(WEB.split('---')[0]!.replace('name: web,', 'name: web-audit,'), 'audit.yaml', 'audit');
    expect(m.defaultDenyBy(web, 'ingress', true)).toMatchObject({ name: 'web-audit', mode: 'audit' });
    expect(m.defaultDenyBy(web, 'ingress', false)).toMatchObject({ name: 'web' });
  });

  it('a bad file changes nothing, and its errors name file, line and field', () => {
    const { maps, m } = manager();
    m.add(WEB, 'web.yaml');
    const calls = maps.calls.length;
    const bad = `${WEB}---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: other, namespace: prod}
spec:
  endpointSelector: {}
  egress: [{toPorts: [{ports: [{port: "53", protocol: UPD}]}]}]
`;
    const r = m.add(bad, 'bad.yaml');
    expect(r.added).toEqual([]);
    expect(r.errors.map(formatPolicyError)).toEqual(['bad.yaml:22:55 spec.egress[0].toPorts[0].ports[0].protocol: unknown protocol "UPD" (did you mean "UDP"?)']);
    expect(maps.calls.length).toBe(calls);
    expect(m.list().map((p) => p.name)).toEqual(['web', 'client']);
  });

  it('add in audit mode, replace, delete', () => {
    const { maps, m } = manager();
    m.add(WEB, 'web.yaml', 'audit');
    expect(m.list().every((p) => p.mode === 'audit')).toBe(true);
    expect(m.list().map((p) => p.mode)).toEqual(['audit', 'audit']);
    // audit: nothing enforced in the datapath, the would-be verdicts all in the all-policies half
    expect(maps.last!.policy.every((e) => !e.enf.allow && !e.enf.deny)).toBe(true);
    expect(maps.last!.policy.some((e) => e.all.allow)).toBe(true);
    expect(maps.last!.defaults.some((d) => d.ingressEnf || d.egressEnf)).toBe(false);
    m.add(WEB, 'web.yaml');
    expect(m.list().map((p) => p.mode)).toEqual(['enforce', 'enforce']);
    expect(m.delete('web', 'prod')).toEqual(['CiliumNetworkPolicy/prod/web']);
    expect(m.delete('client')).toEqual(['NetworkPolicy/prod/client']);
    expect(maps.last!.policy).toEqual([]);
    expect(() => m.delete('web')).toThrow(NetPolicyNotFound);
  });

  it('setWorkloads recompiles for the new identities and ipcache', () => {
    const { maps, m } = manager();
    m.add(WEB, 'web.yaml');
    m.setWorkloads([...W, wl(31, 'prod', 'client', '10.1.0.31')]);
    expect(maps.last!.cgroups).toHaveLength(4);
    expect(maps.last!.ipcache.map((e) => e.cidr)).toContain('10.1.0.31/32');
    expect(m.list()[1]!.selectedWorkloads).toBe(2);
  });

  it('rule ids name their rule, also after the policy is gone', () => {
    const { m } = manager();
    m.add(WEB, 'web.yaml');
    const id = m.rules()[0]!.id;
    m.delete('web', 'prod');
    expect(m.rule(id)).toMatchObject({ policy: 'web', path: 'spec.ingress[0]', verdict: 'allow', file: 'web.yaml', line: 7 });
  });

  it('when the maps refuse a change, the manager stays where the kernel is', () => {
    const { maps, m } = manager();
    m.add(WEB, 'web.yaml');
    const before = m.state;
    maps.fail = true;
    expect(() => m.delete('web', 'prod')).toThrow('map update failed');
    expect(m.list()).toHaveLength(2);
    expect(m.state.policy.length).toBe(before.policy.length);
  });

  it('binaries without marks: an error naming the rule, nothing changed', () => {
    const { maps, m } = manager();
    const r = m.add(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: curl, namespace: prod}
spec:
  endpointSelector: {}
  egress:
  - toEntities: [world]
    binaries: [/usr/bin/curl]
`, 'curl.yaml');
    expect(r.errors.map(formatPolicyError)).toEqual(['curl.yaml:7:1 spec.egress[0].binaries: binaries need process marks, and this compile has no mark allocator']);
    expect(maps.calls).toHaveLength(1);
  });

  it('binaries get marks from the allocator and give them back on delete', () => {
    const given: string[][] = [];
    const released: string[][] = [];
    const { maps, m } = manager({ markBits: (b: string[]) => (given.push(b), 2n), releaseMarks: (b: string[]) => released.push(b) });
    m.add(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: curl, namespace: prod}
spec:
  endpointSelector: {}
  egress: [{toEntities: [world], binaries: [/usr/bin/curl]}]
`, 'curl.yaml');
    expect(given).toEqual([['/usr/bin/curl']]);
    expect(maps.last!.policy.length).toBeGreaterThan(0);
    expect(maps.last!.policy.every((e) => e.enf.allowMarks === 2n && !e.enf.allow)).toBe(true);
    m.delete('curl', 'prod');
    expect(released).toEqual([['/usr/bin/curl']]);
  });
});
