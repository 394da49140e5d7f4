import { describe, expect, it } from 'vitest';
import { addressEntries, buildIpcache, CidrIdentities, formatPrefix, parsePrefix, WorkloadIdentities, type Prefix } from '../../network/identity/index.js';
import { scanCanonicalV4, V4Text, v4Mapped } from '../../network/identity/cidr.js';
import { ID } from '../../network/model.js';

const P = (s: string): Prefix => parsePrefix(s) as Prefix;

describe('workload identities', () => {
  it('one id per (namespace, labels), shared, from FIRST_WORKLOAD', () => {
    const ids = new WorkloadIdentities();
    const a = ids.acquire('prod', { app: 'web', tier: 'fe' });
    const b = ids.acquire('prod', { tier: 'fe', app: 'web' });
    const c = ids.acquire('dev', { app: 'web', tier: 'fe' });
    const d = ids.acquire('prod', { app: 'web' });
    expect(a).toBe(ID.FIRST_WORKLOAD);
    expect(b).toBe(a);
    expect(new Set([a, c, d]).size).toBe(3);
    expect(ids.size).toBe(3);
  });

  it('counts references, releases with the last one, and does not hand a released id out again', () => {
    const ids = new WorkloadIdentities();
    const a = ids.acquire('prod', { app: 'web' });
    ids.acquire('prod', { app: 'web' });
    ids.release(a);
    expect(ids.get(a)).toBeDefined();
    ids.release(a);
    expect(ids.get(a)).toBeUndefined();
    expect(ids.acquire('prod', { app: 'web' })).not.toBe(a);
  });

  it('selector labels carry the namespace and its labels', () => {
    const ids = new WorkloadIdentities((ns): Record<string, string> => (ns === 'prod' ? { team: 'core' } : {}));
    const i = ids.get(ids.acquire('prod', { app: 'web' }))!;
    expect(i.selectorLabels).toEqual({
      app: 'web',
      'io.kubernetes.pod.namespace': 'prod',
      'io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name': 'prod',
      'io.cilium.k8s.namespace.labels.team': 'core',
    });
  });
});

describe('CIDR identities', () => {
  it('ids in the CIDR scope, refcounted', () => {
    const c = new CidrIdentities();
    const a = c.acquire('10.0.0.0/8');
    expect(a).toMatchObject({ identity: (ID.CIDR_SCOPE | 1) >>> 0, refs: 1 });
    expect(c.acquire('10.0.0.0/8')).toMatchObject({ identity: a.identity, refs: 2 });
    expect(c.release('10.0.0.0/8')).toBeUndefined();
    expect(c.release('10.0.0.0/8')).toMatchObject(P('10.0.0.0/8'));
    expect(c.id('10.0.0.0/8')).toBeUndefined();
  });

  it('inside(): the named prefix, every known prefix within it, none within an except', () => {
    const c = new CidrIdentities();
    for (const s of ['10.0.0.0/8', '10.0.9.0/24', '10.0.9.128/25', '10.3.0.0/16', '11.0.0.0/8', '0.0.0.0/0', 'fd00::/64']) c.acquire(s);
    const out: number[] = [];
    c.inside(P('10.0.0.0/8'), [P('10.0.9.0/24')], out);
    expect(out.map((id) => c.all().find((x) => x.identity === id)!.cidr).sort()).toEqual(['10.0.0.0/8', '10.3.0.0/16']);
    const all: number[] = [];
    c.inside(P('0.0.0.0/0'), [], all);
    expect(all).toHaveLength(6); // every IPv4 prefix, not the IPv6 one
    const v6: number[] = [];
    c.inside(P('::/0'), [], v6);
    expect(v6).toEqual([c.id('fd00::/64')]);
  });
});

describe('prefixes', () => {
  it('canonical text, IPv4 stored v4-mapped', () => {
    expect(formatPrefix(P('10.1.0.0/16'))).toBe('10.1.0.0/16');
    expect(P('10.1.0.0/16').bits).toBe(112);
    expect(formatPrefix(P('FD00:0:0:0::/64'))).toBe('fd00::/64');
    expect(formatPrefix(P('2001:db8:0:0:1:0:0:0/128'))).toBe('2001:db8:0:0:1::/128');
    expect(parsePrefix('10.0.0.1/8')).toBe('host bits are set: did you mean "10.0.0.0/8"?');
    expect(parsePrefix('10.0.0.0/33')).toBe('prefix length must be a whole number from 0 to 32, got "33"');
  });
});

describe('scanCanonicalV4', () => {
  const canonicalV4Prefix = (text: string): Prefix | undefined => {
    const t = new V4Text();
    return scanCanonicalV4(text, t) ? { addr: v4Mapped(t.addr), bits: 96 + t.len, v4: true } : undefined;
  };
  it('parses what parsePrefix parses to the same canonical text, and nothing else', () => {
    const yes = ['10.0.0.0/8', '10.1.2.3/32', '0.0.0.0/0', '255.255.255.255/32', '192.168.0.0/16', '0.0.0.0/32', '172.16.1.0/24'];
    for (const t of yes) {
      const p = canonicalV4Prefix(t)!;
      expect(p, t).toEqual(parsePrefix(t));
      expect(formatPrefix(p)).toBe(t);
    }
    // host bits, leading zeros, not canonical, not IPv4, no length: left to parsePrefix
    for (const t of ['10.1.2.3/24', '1.2.3.4/0', '010.0.0.0/8', '10.0.0.0/08', '1.2.3/24', '1.2.3.4.5/32', '10.0.0.0/33', '256.0.0.0/8', 'fd00::/64', '10.0.0.0', '10.0.0.0/', '10..0.0/8', ' 10.0.0.0/8'])
      expect(canonicalV4Prefix(t), t).toBeUndefined();
  });
});

describe('ipcache', () => {
  it('workload addresses name their identity, host addresses HOST, every rule prefix its CIDR identity', () => {
    const c = new CidrIdentities();
    const id8 = c.acquire('10.0.0.0/8').identity;
    c.acquire('10.1.0.10/32');
    const cache = buildIpcache(addressEntries(['192.168.1.1'], [{ ips: ['10.1.0.10', 'fd00::a'], identity: 300 }]), c);
    // CIDR entries are the identities themselves: compare what the ipcache map gets
    expect(cache.map(({ cidr, identity }) => ({ cidr, identity }))).toEqual([
      { cidr: '192.168.1.1/32', identity: ID.HOST },
      { cidr: '10.1.0.10/32', identity: 300 },
      { cidr: 'fd00::a/128', identity: 300 },
      { cidr: '10.0.0.0/8', identity: id8 },
      // 10.1.0.10/32 as a CIDR does not replace the workload: CIDR rules never select workloads.
    ]);
  });
});
