// netpol.h and pal_net as the TypeScript encoders and decoder read them, checked against the BTF of
// build/bpf/netpol.bpf.o; and PolicyMaps.apply's order of writes.
import { describe, expect, it } from 'vitest';
import type { BpfMap } from '../../native/index.js';
import {
  addrBytes, decodeNet, encodeIpcacheKey, encodePolicyKey, encodePolicyValue, formatAddr, NET, NETPOL_LAYOUTS,
} from '../../network/datapath/layout.js';
import { PackedKeyIndex } from '../../network/datapath/key-index.js';
import { CidrIdentities } from '../../network/identity/cidrs.js';
import { BpfPolicyMaps, EMPTY_STATE, type NetpolMaps } from '../../network/datapath/maps.js';
import type { DatapathState, PolicyEntry, VerdictHalf } from '../../network/model.js';
import { btfStructs } from '../helpers/btf.js';

const half = (o: Partial<VerdictHalf> = {}): VerdictHalf => ({
  allow: false, deny: false, allowMarks: 0n, denyMarks: 0n, allowRule: 0, denyRule: 0, ...o,
});

describe('netpol layout', () => {
  it('matches the BTF of the built datapath object', () => {
    const btf = btfStructs('build/bpf/netpol.bpf.o');
    for (const [name, layout] of Object.entries(NETPOL_LAYOUTS)) expect(layout, `struct ${name}`).toEqual(btf.get(name));
  });

  it('encodes policy keys as netpol.h says: big-endian ids and port, prefix lengths 64 / 72 / 80+k', () => {
    const l3 = encodePolicyKey({ localId: 256, peerId: 0x01000003, proto: null, port: 0, portBits: 0 });
    expect(l3.toString('hex')).toBe('40000000' + '00000100' + '01000003' + '00000000');
    const anyPort = encodePolicyKey({ localId: 256, peerId: 2, proto: 6, port: 0, portBits: 0 });
    expect(anyPort.readUInt32LE(0)).toBe(80); // 64 + proto + pad: port bits 0
    const exact = encodePolicyKey({ localId: 256, peerId: 2, proto: 17, port: 53, portBits: 16 });
    expect(exact.toString('hex')).toBe('60000000' + '00000100' + '00000002' + '1100' + '0035');
    // bits below the prefix are cleared: equal ranges encode equal
    expect(encodePolicyKey({ localId: 1, peerId: 2, proto: 6, port: 9005, portBits: 13 }))
      .toEqual(encodePolicyKey({ localId: 1, peerId: 2, proto: 6, port: 9000, portBits: 13 }));
    expect(() => encodePolicyKey({ localId: 1, peerId: 2, proto: 6, port: 1, portBits: 17 })).toThrow(RangeError);
  });

  it('encodes values: two halves of marks, rules and flags', () => {
    const v = encodePolicyValue({
      enf: half({ allow: true, allowRule: 7, denyMarks: 1n << 63n }),
      all: half({ deny: true, denyRule: 9, allowMarks: 5n }),
    });
    expect(v.length).toBe(64);
    expect(v.readBigUInt64LE(8)).toBe(1n << 63n);
    expect(v.readUInt32LE(16)).toBe(7);
    expect(v[24]).toBe(1);
    expect(v.readBigUInt64LE(32)).toBe(5n);
    expect(v.readUInt32LE(32 + 20)).toBe(9);
    expect(v[32 + 25]).toBe(1);
  });

  it('encodes ipcache keys v4-mapped with host bits cleared', () => {
    expect(encodeIpcacheKey('10.1.2.3/8').toString('hex')).toBe('68000000' + '00000000000000000000ffff0a000000');
    expect(encodeIpcacheKey('fd00::1/64').toString('hex')).toBe('40000000' + 'fd000000000000000000000000000000');
    expect(encodeIpcacheKey('10.1.2.3').readUInt32LE(0)).toBe(128);
    expect(() => encodeIpcacheKey('10.1.2.3/33')).toThrow(RangeError);
    expect(() => encodeIpcacheKey('nope/8')).toThrow(RangeError);
  });

  it('formats addresses back', () => {
    for (const a of ['10.213.0.1', 'fd00:213::1', '::1', '::', '2001:db8:0:1::', 'fe80::1:2:3:4', '1:2:3:4:5:6:7:8'])
      expect(formatAddr(addrBytes(a), 0)).toBe(a);
    expect(formatAddr(addrBytes('::ffff:10.1.2.3'), 0)).toBe('10.1.2.3');
    for (const bad of ['10.1.2', '10.1.2.256', '1::2::3', '1:2:3:4:5:6:7', 'g::1', '1:2:3:4:5:6:7:8:9', 'x'])
      expect(() => addrBytes(bad), bad).toThrow(RangeError);
  });

  it('decodes a pal_net record', () => {
    const r = Buffer.alloc(NET.$size + 4);
    r.writeUInt16LE(5, 0);
    r.writeUInt32LE(NET.$size + 4, 4);
    r.writeUInt32LE(42, NET.pid);
    r.writeBigUInt64LE(99n, NET.cookie);
    addrBytes('10.0.0.1').copy(r, NET.local_addr);
    addrBytes('fd00::2').copy(r, NET.peer_addr);
    r.writeUInt16LE(8080, NET.peer_port);
    r.writeUInt32LE(17, NET.rule_id);
    r.writeUInt8(1, NET.kind);
    r.writeUInt8(10, NET.family);
    r.writeUInt8(6, NET.protocol);
    r.writeUInt8(1, NET.direction);
    r.writeUInt8(2, NET.verdict);
    r.writeUInt8(1, NET.flags);
    r.writeUInt16LE(4, NET.data_len);
    r.write('abcd', NET.data);
    expect(decodeNet(r)).toMatchObject({
      kind: 'verdict', pid: 42, cookie: 99n, localAddr: '10.0.0.1', peerAddr: 'fd00::2', peerPort: 8080, ruleId: 17,
      family: 6, protocol: 6, direction: 'egress', verdict: 'DROPPED', owner: true,
    });
    expect(decodeNet(r).data.toString()).toBe('abcd');
    expect(() => decodeNet(r.subarray(0, 50))).toThrow(RangeError);
  });
});

/** A map that records the order of writes. */
function fakeMap(name: string, log: string[], opts: { batch: boolean; failAt?: number }): BpfMap {
  const data = new Map<string, Buffer>();
  let writes = 0;
  const put = (k: Buffer, v: Buffer): void => {
    if (opts.failAt !== undefined && ++writes === opts.failAt) throw Object.assign(new Error('full'), { code: 'E2BIG' });
    data.set(k.toString('hex'), Buffer.from(v));
  };
  const m = {
    info: { name },
    data,
    update(k: Buffer, v: Buffer) {
      put(k, v);
      log.push(`${name} put ${k.toString('hex')}`);
    },
    delete(k: Buffer) {
      log.push(`${name} del ${k.toString('hex')}`);
      return data.delete(k.toString('hex'));
    },
    updateBatchFlat(ks: Buffer, vs: Buffer) {
      if (!opts.batch) throw Object.assign(new Error('no batch'), { code: 'EINVAL' });
      const kl = name.startsWith('ip') ? 20 : name === 'cgroups' ? 8 : name === 'idents' ? 4 : 16;
      const n = ks.length / kl;
      const vl = vs.length / n;
      for (let i = 0; i < n; i++) put(ks.subarray(i * kl, (i + 1) * kl), vs.subarray(i * vl, (i + 1) * vl));
      log.push(`${name} batch ${n}`);
    },
  };
  return m as unknown as BpfMap;
}

describe('PolicyMaps.apply', () => {
  const e = (dir: 'ingress' | 'egress', peerId: number, proto: number | null, port: number, portBits: number, rule: number): PolicyEntry => ({
    dir, localId: 256, peerId, proto, port, portBits, enf: half({ allow: true, allowRule: rule }), all: half({ allow: true, allowRule: rule }),
  });
  const A: DatapathState = {
    policy: [e('egress', 2, null, 0, 0, 1), e('egress', 2, 6, 80, 16, 2), e('ingress', 300, 6, 0, 0, 3), e('egress', 2, 6, 443, 16, 4)],
    defaults: [{ localId: 256, ingressEnf: true, ingressAll: true, egressEnf: true, egressAll: true }],
    ipcache: [{ cidr: '10.0.0.0/8', identity: 2 }],
    cgroups: [{ cgroupId: 5n, identity: 256 }],
  };

  function setup(batch: boolean, failAt?: number) {
    const log: string[] = [];
    const fake = (role: keyof NetpolMaps, failAt?: number): BpfMap => fakeMap(role, log, { batch, failAt });
    const maps: NetpolMaps = {
      ingress: fake('ingress'), ingressExact: fake('ingressExact'), egress: fake('egress'), egressExact: fake('egressExact', failAt),
      ipcache: fake('ipcache'), ipcacheExact: fake('ipcacheExact'), cgroups: fake('cgroups'), idents: fake('idents'),
    };
    return { log, maps, pm: new BpfPolicyMaps(maps) };
  }

  it('writes policy most specific first (exact keys in the hash maps), then defaults, ipcache, cgroups; deletes in reverse', () => {
    const { log, maps, pm } = setup(false);
    pm.apply(EMPTY_STATE, { ...A, ipcache: [...A.ipcache, { cidr: '10.1.2.3/32', identity: 300 }] });
    // the exact entries are not next to each other in the state (its 2nd and 4th): each key keeps its own value
    const exact = (maps.egressExact as unknown as { data: Map<string, Buffer> }).data;
    for (const x of [A.policy[1]!, A.policy[3]!]) expect(exact.get(encodePolicyKey(x).toString('hex'))).toEqual(encodePolicyValue(x));
    const kinds = log.map((l) => l.split(' ')[0]);
    expect(kinds).toEqual(['ingress', 'egressExact', 'egressExact', 'egress', 'idents', 'ipcacheExact', 'ipcache', 'cgroups']);
    expect(log[1]).toContain('egressExact put 60000000'); // /96 before /64
    expect(log[3]).toContain('egress put 40000000');
    expect(log[5]).toContain('ipcacheExact put 80000000'); // /128 before /104
    log.length = 0;
    pm.apply({ ...A, ipcache: [...A.ipcache, { cidr: '10.1.2.3/32', identity: 300 }] }, EMPTY_STATE);
    expect(log.map((l) => l.split(' ')[0])).toEqual(['cgroups', 'ipcache', 'ipcacheExact', 'idents', 'egress', 'egressExact', 'egressExact', 'ingress']);
    expect(log[4]).toContain('del 40000000'); // least specific goes first
  });

  it('an ipcache entry that carries its IPv4 prefix as numbers encodes as its text does', () => {
    const cidrs = new CidrIdentities();
    const texts = ['10.0.0.0/8', '10.1.2.3/32', '0.0.0.0/0', '255.255.255.255/32', '192.168.128.0/17', 'fd00::/64'];
    const identities = texts.map((t) => cidrs.acquire(t));
    expect(identities.map((i) => i.v4Len)).toEqual([8, 32, 0, 32, 17, -1]);
    const keys = (ipcache: DatapathState['ipcache']): string[] => {
      const { maps, pm } = setup(false);
      pm.apply(EMPTY_STATE, { ...EMPTY_STATE, ipcache });
      return (['ipcache', 'ipcacheExact'] as const).flatMap((r) => [...(maps[r] as unknown as { data: Map<string, Buffer> }).data].map(([k, v]) => `${k}=${v.toString('hex')}`)).sort();
    };
    const fromText = keys(identities.map((i) => ({ cidr: i.cidr, identity: i.identity })));
    expect(fromText).toHaveLength(texts.length);
    expect(keys(identities)).toEqual(fromText);
  });

  it('writes only the difference, in batches where the map takes them', () => {
    const { log, pm } = setup(true);
    pm.apply(EMPTY_STATE, A);
    expect(log).toContain('egressExact batch 2');
    log.length = 0;
    const B: DatapathState = { ...A, policy: [A.policy[0]!, { ...A.policy[1]!, enf: half({ deny: true, denyRule: 9 }) }, A.policy[2]!, A.policy[3]!] };
    pm.apply(A, B);
    expect(log).toEqual([`egressExact put ${encodePolicyKey(A.policy[1]!).toString('hex')}`]);
    expect(pm.last).toMatchObject({ upserts: 1, deletes: 0, syscalls: 1 });
  });

  it('undoes what it wrote when the kernel refuses a write', () => {
    const { maps, pm } = setup(false, 2);
    expect(() => pm.apply(EMPTY_STATE, A)).toThrow('full');
    for (const m of Object.values(maps)) expect((m as unknown as { data: Map<string, Buffer> }).data.size, m.info.name).toBe(0);
  });

  it('refuses two different values for one key', () => {
    const { pm } = setup(false);
    expect(() => pm.apply(EMPTY_STATE, { ...A, policy: [A.policy[0]!, { ...A.policy[0]!, enf: half() }] })).toThrow(/two different values for one egress key/);
    expect(() => pm.apply(EMPTY_STATE, { ...A, policy: [A.policy[0]!, A.policy[0]!] })).toThrow(/two entries for one egress key/);
    // with entries to remove too
    const C: DatapathState = { ...A, policy: [A.policy[2]!] };
    pm.apply(EMPTY_STATE, C);
    expect(() => pm.apply(C, { ...A, policy: [A.policy[0]!, { ...A.policy[0]!, enf: half() }] })).toThrow(/two different values/);
  });

  it('finds keys packed in one buffer (the duplicate check and the replacement match)', () => {
    const n = 5000;
    const keys = Buffer.alloc(n * 16);
    for (let i = 0; i < n; i++) keys.writeUInt32BE(i * 7919, i * 16 + 8);
    const index = new PackedKeyIndex(keys, 16, n);
    for (let i = 0; i < n; i++) expect(index.add(i)).toBe(-1);
    const probe = Buffer.alloc(16);
    probe.writeUInt32BE(1234 * 7919, 8);
    expect(index.find(probe)).toBe(1234);
    probe.writeUInt32BE(1, 8);
    expect(index.find(probe)).toBe(-1);
    keys.copy(keys, 4999 * 16, 17 * 16, 18 * 16);
    expect(new PackedKeyIndex(keys, 16, n).add(17)).toBe(-1);
    const again = new PackedKeyIndex(keys, 16, n);
    for (let i = 0; i < n - 1; i++) again.add(i);
    expect(again.add(4999)).toBe(17);
  });

  it('writes nothing when a bulk load has a duplicate key', () => {
    const { maps, pm } = setup(true);
    expect(() => pm.apply(EMPTY_STATE, { ...A, policy: [...A.policy, { ...A.policy[3]!, enf: half() }] })).toThrow(/two different values for one egressExact key/);
    for (const m of Object.values(maps)) expect((m as unknown as { data: Map<string, Buffer> }).data.size, m.info.name).toBe(0);
  });
});
