// The network-policy datapath against the real kernel: two network namespaces, workloads in their
// own cgroups, real processes (test/helpers/netpeer.mjs), hand-built DatapathState (the compiler
// lands separately). Needs root, cgroup v2 and build/bpf/netpol.bpf.o.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { STAT_NAMES } from '../../agent/pipeline/layout.js';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { BpfObject, forEachFrame, packageRoot, probeFeatures, RingBuffer } from '../../native/index.js';
import { NetworkDatapath } from '../../network/datapath/datapath.js';
import { parseDns } from '../../network/datapath/dns.js';
import { decodeNet, encodeIpcacheKey, encodePolicyKey, EV_NET, type NetRecord } from '../../network/datapath/layout.js';
import { PolicyCompiler, RuleIds, StateEvaluator } from '../../network/compile/index.js';
import { parseNetworkPolicies } from '../../network/policy/index.js';
import type { DatapathState, IdentityDefaults, PolicyEntry, VerdictHalf } from '../../network/model.js';
import { TestNet, type Peer, type Workload } from '../helpers/netns.js';

const TCP = 6, UDP = 17, ICMP = 1;
const C = 256; // client workload identity (namespace a)
const S = 257; // server workload identity (namespace b)
const D = 258; // DNS server workload (namespace b), no policy
const CIDR3 = (1 << 24) | 3; // 10.213.x.3: a CIDR identity
const CIDR11 = (1 << 24) | 11; // 10.213.x.11: a second client address, its own CIDR identity

const half = (o: Partial<VerdictHalf> = {}): VerdictHalf => ({
  allow: false, deny: false, allowMarks: 0n, denyMarks: 0n, allowRule: 0, denyRule: 0, ...o,
});
const allow = (rule: number): VerdictHalf => half({ allow: true, allowRule: rule });
const deny = (rule: number): VerdictHalf => half({ deny: true, denyRule: rule });

function entry(
  dir: 'ingress' | 'egress', localId: number, peerId: number, proto: number | null, port: number, portBits: number,
  enf: VerdictHalf, all: VerdictHalf = enf,
): PolicyEntry {
  return { dir, localId, peerId, proto, port, portBits, enf, all };
}

const features = probeFeatures();
const root = features.cgroup2Path;
const skip = root === null || !features.programTypes['cgroup_sock_addr'] || !features.programTypes['cgroup_skb'];
if (skip) console.warn(`netpol-datapath: skipped: cgroup v2 root ${root ?? 'missing'}, cgroup_sock_addr/cgroup_skb programs unsupported`);

describe.skipIf(skip)('network policy datapath', () => {
  let net: TestNet;
  let dp: NetworkDatapath;
  let client: Peer, client2: Peer, server: Peer, dnsd: Peer;
  let clientPid: number, client2Pid: number, serverPid: number;
  let wc: Workload, ws: Workload, wd: Workload;
  const records: NetRecord[] = [];

  const drain = (): NetRecord[] => {
    dp.drain((r) => records.push({ ...r, data: Buffer.from(r.data) }));
    return records;
  };
  const find = (pred: (r: NetRecord) => boolean): NetRecord[] => drain().filter(pred);

  /** The common part: who is who. Policy entries and defaults vary per test. */
  function state(policy: PolicyEntry[], defaults: IdentityDefaults[]): DatapathState {
    return {
      policy,
      defaults,
      ipcache: [
        { cidr: `${net.v4(1)}/32`, identity: C },
        { cidr: `${net.v4(2)}/32`, identity: S },
        { cidr: `${net.v4(5)}/32`, identity: D },
        { cidr: `${net.v4(3)}/32`, identity: CIDR3 },
        { cidr: `${net.v4(11)}/32`, identity: CIDR11 },
        { cidr: `${net.v6(1)}/128`, identity: C },
        { cidr: `${net.v6(2)}/128`, identity: S },
      ],
      cgroups: [
        { cgroupId: wc.id, identity: C },
        { cgroupId: ws.id, identity: S },
        { cgroupId: wd.id, identity: D },
      ],
    };
  }
  const defaults = (localId: number, o: Partial<IdentityDefaults>): IdentityDefaults => ({
    localId, ingressEnf: false, ingressAll: false, egressEnf: false, egressAll: false, ...o,
  });
  const denyAll = (localId: number): IdentityDefaults =>
    defaults(localId, { ingressEnf: true, ingressAll: true, egressEnf: true, egressAll: true });

  beforeAll(async () => {
    net = TestNet.create(root!);
    try {
      dp = NetworkDatapath.load({ maxPolicyEntries: 1024 });
      dp.attach(root!);
      wc = net.workload('client');
      ws = net.workload('server');
      wd = net.workload('dns');
      // workloads before their processes start: sockets get their owner recorded at creation
      dp.apply(state([], []));
      ({ peer: client, pid: clientPid } = await net.spawn('a', wc));
      ({ peer: client2, pid: client2Pid } = await net.spawn('a', wc));
      ({ peer: server, pid: serverPid } = await net.spawn('b', ws));
      ({ peer: dnsd } = await net.spawn('b', wd));
      for (const port of [8080, 8081, 7070, 9000, 9010, 9090])
        expect((await server.call('listen', { proto: 'tcp', port })).ok).toBe(true);
      expect((await server.call('listen', { proto: 'udp', port: 5353 })).ok).toBe(true);
      // replies of an unbound UDP socket leave from the primary address (.2): bind one to .3
      expect((await server.call('listen', { proto: 'udp', port: 5354, host: net.v4(3) })).ok).toBe(true);
      const table = { [`A svc.palisade.test`]: ['10.213.0.77'], [`CNAME www.palisade.test`]: 'svc.palisade.test' };
      expect((await dnsd.call('listen', { proto: 'udp', port: 53, host: net.v4(5), dns: table })).ok).toBe(true);
    } catch (e) {
      dp?.close();
      await net.destroy();
      throw e;
    }
  });

  afterAll(async () => {
    dp?.close();
    await net?.destroy();
  });

  beforeEach(() => {
    drain();
    records.length = 0;
  });

  it('egress: an allowed connect works, a denied one fails with EPERM before any packet leaves', async () => {
    dp.apply(state([entry('egress', C, S, TCP, 8080, 16, allow(11))], [denyAll(C)]));
    const ok = await client.call('connect', { host: net.v4(2), port: 8080, data: 'hello' });
    expect(ok).toMatchObject({ ok: true, reply: 'hello' });

    const opens = net.snmp('a', 'Tcp', 'ActiveOpens');
    // IPv4 packets sent by namespace a (the link's tx count would also see IPv6 router solicitations)
    const out = net.snmp('a', 'Ip', 'OutRequests');
    const denied = await client.call('connect', { host: net.v4(2), port: 8081 });
    expect(denied).toMatchObject({ ok: false, code: 'EPERM' });
    expect(net.snmp('a', 'Tcp', 'ActiveOpens'), 'no SYN was sent').toBe(opens);
    expect(net.snmp('a', 'Ip', 'OutRequests'), 'no IPv4 packet left namespace a').toBe(out);
    // another peer the state says nothing about: default deny
    expect(await client.call('connect', { host: net.v4(4), port: 8080 })).toMatchObject({ ok: false, code: 'EPERM' });

    const v = find((r) => r.kind === 'verdict' && r.direction === 'egress' && r.pid === clientPid);
    const fwd = v.find((r) => r.peerPort === 8080 && r.peerAddr === net.v4(2))!;
    expect(fwd).toMatchObject({
      verdict: 'FORWARDED', ruleId: 11, localId: C, peerId: S, protocol: TCP, family: 4, cgroupId: wc.id, owner: true,
      tid: clientPid,
    });
    expect(fwd.startBoottime).toBeGreaterThan(0);
    expect(fwd.cookie).not.toBe(0n);
    expect(v.find((r) => r.peerPort === 8081)).toMatchObject({ verdict: 'DROPPED', ruleId: 0, peerId: S });
    expect(v.find((r) => r.peerAddr === net.v4(4))).toMatchObject({ verdict: 'DROPPED', ruleId: 0, peerId: 2 });
    expect(dp.counters().connectDenied).toBeGreaterThanOrEqual(2);
  });

  it('ingress: a SYN from a peer the policy does not allow is dropped; replies of allowed connections pass', async () => {
    dp.apply(state([
      // client: may connect to the server, has default-deny ingress (replies must still pass)
      entry('egress', C, S, TCP, 8080, 16, allow(21)),
      entry('egress', C, S, UDP, 5353, 16, allow(22)),
      // server: accepts 8080 from the client identity only; its egress is default-deny too
      entry('ingress', S, C, TCP, 8080, 16, allow(23)),
      entry('ingress', S, C, UDP, 5353, 16, allow(24)),
    ], [denyAll(C), denyAll(S)]));
    expect(await client.call('connect', { host: net.v4(2), port: 8080, data: 'ping-pong' })).toMatchObject({ ok: true, reply: 'ping-pong' });
    expect(await client.call('udp', { host: net.v4(2), port: 5353, data: 'dgram' })).toMatchObject({ ok: true, reply: 'dgram' });

    // from 10.213.x.11 (a CIDR identity): the client's egress allows it, the server's ingress not
    const before = (await server.call('stats')).accepted as number;
    const r = await client.call('connect', { host: net.v4(2), port: 8080, localAddress: net.v4(11), timeoutMs: 1500 });
    expect(r).toMatchObject({ ok: false, code: 'TIMEOUT' });
    expect((await server.call('stats')).accepted).toBe(before);

    const ing = find((x) => x.kind === 'verdict' && x.direction === 'ingress' && x.cgroupId === ws.id);
    expect(ing.find((x) => x.peerAddr === net.v4(1) && x.protocol === TCP)).toMatchObject({
      verdict: 'FORWARDED', ruleId: 23, localId: S, peerId: C, localPort: 8080, localAddr: net.v4(2), pid: serverPid, owner: true,
    });
    expect(ing.find((x) => x.peerAddr === net.v4(11))).toMatchObject({ verdict: 'DROPPED', ruleId: 0, peerId: CIDR11, localPort: 8080 });
    expect(ing.find((x) => x.protocol === UDP)).toMatchObject({ verdict: 'FORWARDED', ruleId: 24, localPort: 5353 });
    // the client's replies made no verdict of their own
    expect(find((x) => x.kind === 'verdict' && x.direction === 'ingress' && x.cgroupId === wc.id)).toEqual([]);
    expect(dp.counters().replies).toBeGreaterThan(0);
  });

  it('L3-only entries allow every protocol and port; port prefixes cover their range only', async () => {
    dp.apply(state([
      entry('egress', C, CIDR3, null, 0, 0, allow(31)),
      entry('egress', C, S, TCP, 8992, 13, allow(32)), // 8992..8999
      entry('egress', C, S, TCP, 9008, 13, allow(33)), // 9008..9015: 9010 in, 9000 out
    ], [denyAll(C)]));
    for (const port of [8080, 9090]) expect(await client.call('connect', { host: net.v4(3), port }), `.3:${port}`).toMatchObject({ ok: true });
    expect(await client.call('udp', { host: net.v4(3), port: 5354, data: 'x' })).toMatchObject({ ok: true });
    expect(await client.call('connect', { host: net.v4(2), port: 9010 })).toMatchObject({ ok: true });
    expect(await client.call('connect', { host: net.v4(2), port: 9000 })).toMatchObject({ ok: false, code: 'EPERM' });
    expect(await client.call('connect', { host: net.v4(2), port: 8080 })).toMatchObject({ ok: false, code: 'EPERM' });
    const v = find((r) => r.kind === 'verdict' && r.pid === clientPid);
    expect(v.find((r) => r.peerPort === 9010)?.ruleId).toBe(33);
    expect(v.find((r) => r.peerAddr === net.v4(3) && r.peerPort === 9090)).toMatchObject({ ruleId: 31, peerId: CIDR3 });
  });

  it('compiled policy: exact /32 entries (hash map) and broader CIDR and port-range entries (trie) of one peer give the folded answer', async () => {
    const sub = net.v4(0).replace(/\.0$/, '');
    const text = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: exact-and-range, namespace: t}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toCIDR: [${sub}.3/32]
    toPorts: [{ports: [{port: "9010", protocol: TCP}]}]
  - toCIDR: [${sub}.3/32]
    toPorts: [{ports: [{port: "9090", protocol: TCP}]}]
  - toCIDRSet: [{cidr: ${sub}.0/24}]
    toPorts: [{ports: [{port: "9000", endPort: 9015, protocol: TCP}]}]
  egressDeny:
  - toCIDR: [${sub}.3/32]
    toPorts: [{ports: [{port: "9008", endPort: 9015, protocol: TCP}]}]
`;
    const parsed = parseNetworkPolicies(text, 'exact.yaml');
    expect(parsed.errors).toEqual([]);
    const compiler = new PolicyCompiler({ ruleIds: new RuleIds() });
    const compiled = compiler.update({
      upsert: parsed.policies,
      workloads: [
        { cgroupId: wc.id, cgroupPath: wc.path, namespace: 't', labels: { app: 'client' }, ips: [net.v4(1), net.v4(11), net.v6(1)] },
        { cgroupId: ws.id, cgroupPath: ws.path, namespace: 't', labels: { app: 'server' }, ips: [net.v4(2), net.v6(2)] },
      ],
    });
    dp.apply(compiled);
    const rule = (path: string): number => compiler.rules().find((r) => r.path === path)!.id;
    const local = compiled.cgroups.find((c) => c.cgroupId === wc.id)!.identity;
    const peer = compiled.ipcache.find((e) => e.cidr === `${sub}.3/32`)!.identity;
    // where the entries went: exact keys in the hash map only, the port prefixes in the trie only
    const key = (port: number, portBits: number): Buffer => encodePolicyKey({ localId: local, peerId: peer, proto: TCP, port, portBits });
    expect(dp.maps.egressExact.lookup(key(9010, 16))).not.toBeNull();
    expect(dp.maps.egress.lookup(key(9010, 16)), 'the trie answers 9010 with the 9008/13 entry, not an exact one').not.toBeNull();
    expect(dp.maps.egress.lookup(key(9008, 13))!.equals(dp.maps.egress.lookup(key(9010, 16))!)).toBe(true);
    expect(dp.maps.egressExact.lookup(key(9008, 13))).toBeNull();
    expect(dp.maps.ipcacheExact.lookup(encodeIpcacheKey(`${sub}.3/32`))).not.toBeNull();
    expect(dp.maps.ipcache.lookup(encodeIpcacheKey(`${sub}.3/32`))!.readUInt32LE(0), 'the trie gives the /24').not.toBe(peer);

    const cases: Array<[number, 'FORWARDED' | 'DROPPED', number]> = [
      [9010, 'DROPPED', rule('spec.egressDeny[0]')], // exact allow, folded with the broader deny: deny wins
      [9090, 'FORWARDED', rule('spec.egress[1]')], // exact allow, nothing broader
      [9000, 'FORWARDED', rule('spec.egress[2]')], // the /24's port range, from the trie
      [8080, 'DROPPED', 0], // default deny
    ];
    const ref = new StateEvaluator(compiled);
    for (const [port, verdict, ruleId] of cases) {
      expect(ref.decide('egress', local, peer, TCP, port), `reference ${port}`).toMatchObject({ verdict, ruleId });
      const r = await client.call('connect', { host: net.v4(3), port });
      expect(r, `connect ${port}`).toMatchObject(verdict === 'FORWARDED' ? { ok: true } : { ok: false, code: 'EPERM' });
    }
    const v = find((r) => r.kind === 'verdict' && r.pid === clientPid && r.peerAddr === net.v4(3));
    for (const [port, verdict, ruleId] of cases) expect(v.find((r) => r.peerPort === port), `record ${port}`).toMatchObject({ verdict, ruleId, peerId: peer });
  });

  it('deny wins across the two lookups (peer entry and peer=ANY entry)', async () => {
    dp.apply(state([
      entry('egress', C, S, TCP, 8080, 16, allow(41)),
      entry('egress', C, 0, TCP, 8080, 16, deny(42)), // every peer: denied
      entry('egress', C, S, TCP, 7070, 16, deny(43)),
      entry('egress', C, 0, TCP, 7070, 16, allow(44)),
      entry('egress', C, 0, TCP, 9090, 16, allow(45)),
    ], [denyAll(C)]));
    expect(await client.call('connect', { host: net.v4(2), port: 8080 })).toMatchObject({ ok: false, code: 'EPERM' });
    expect(await client.call('connect', { host: net.v4(2), port: 7070 })).toMatchObject({ ok: false, code: 'EPERM' });
    expect(await client.call('connect', { host: net.v4(2), port: 9090 })).toMatchObject({ ok: true });
    const v = find((r) => r.kind === 'verdict' && r.pid === clientPid);
    expect(v.find((r) => r.peerPort === 8080)).toMatchObject({ verdict: 'DROPPED', ruleId: 42 });
    expect(v.find((r) => r.peerPort === 7070)).toMatchObject({ verdict: 'DROPPED', ruleId: 43 });
    expect(v.find((r) => r.peerPort === 9090)).toMatchObject({ verdict: 'FORWARDED', ruleId: 45 });
  });

  it('binary-aware rules: a process mark bit allows or denies, other processes of the workload differ', async () => {
    const BIT = 1n << 5n;
    dp.apply(state([
      entry('egress', C, S, TCP, 7070, 16, half({ allowMarks: BIT, allowRule: 51 })),
      entry('egress', C, S, TCP, 8080, 16, half({ allow: true, allowRule: 52, denyMarks: BIT, denyRule: 53 })),
    ], [denyAll(C)]));
    dp.setProcessMarks(clientPid, BIT);
    try {
      expect(await client.call('connect', { host: net.v4(2), port: 7070 })).toMatchObject({ ok: true });
      expect(await client2.call('connect', { host: net.v4(2), port: 7070 })).toMatchObject({ ok: false, code: 'EPERM' });
      expect(await client.call('connect', { host: net.v4(2), port: 8080 })).toMatchObject({ ok: false, code: 'EPERM' });
      expect(await client2.call('connect', { host: net.v4(2), port: 8080 })).toMatchObject({ ok: true });
    } finally {
      dp.setProcessMarks(clientPid, 0n);
    }
    const v = find((r) => r.kind === 'verdict' && r.direction === 'egress');
    expect(v.find((r) => r.pid === clientPid && r.peerPort === 7070)).toMatchObject({ verdict: 'FORWARDED', ruleId: 51 });
    expect(v.find((r) => r.pid === client2Pid && r.peerPort === 7070)).toMatchObject({ verdict: 'DROPPED', ruleId: 0 });
    expect(v.find((r) => r.pid === clientPid && r.peerPort === 8080)).toMatchObject({ verdict: 'DROPPED', ruleId: 53 });
    expect(v.find((r) => r.pid === client2Pid && r.peerPort === 8080)).toMatchObject({ verdict: 'FORWARDED', ruleId: 52 });
  });

  it('audit: a policy in audit mode lets traffic through and reports AUDIT', async () => {
    // enforce half: no enforce-mode policy selects C (allow); all half: an audit policy, default deny
    dp.apply(state([entry('egress', C, S, TCP, 9090, 16, half(), allow(61))], [defaults(C, { egressAll: true })]));
    expect(await client.call('connect', { host: net.v4(2), port: 8080 })).toMatchObject({ ok: true });
    expect(await client.call('connect', { host: net.v4(2), port: 9090 })).toMatchObject({ ok: true });
    const v = find((r) => r.kind === 'verdict' && r.pid === clientPid);
    expect(v.find((r) => r.peerPort === 8080)).toMatchObject({ verdict: 'AUDIT', ruleId: 0 });
    expect(v.find((r) => r.peerPort === 9090)).toMatchObject({ verdict: 'FORWARDED', ruleId: 61 });
    expect(dp.counters().audit).toBeGreaterThan(0);
  });

  it('a state change keeps open connections working; new connections follow the new state', async () => {
    const allowBoth = state([
      entry('egress', C, S, TCP, 8080, 16, allow(71)),
      entry('ingress', S, C, TCP, 8080, 16, allow(72)),
    ], [denyAll(C), denyAll(S)]);
    dp.apply(allowBoth);
    const open = await client.call('connect', { host: net.v4(2), port: 8080, keep: true, data: 'a' });
    expect(open).toMatchObject({ ok: true });
    // deny both directions now
    const stats = dp.apply(state([], [denyAll(C), denyAll(S)]));
    expect(stats.deletes).toBe(2);
    expect(await client.call('send', { handle: open.handle, data: 'still-here' })).toMatchObject({ ok: true, reply: 'still-here' });
    expect(await client.call('connect', { host: net.v4(2), port: 8080 })).toMatchObject({ ok: false, code: 'EPERM' });
    // back: a new connection works again, the old one too
    dp.apply(allowBoth);
    expect(await client.call('connect', { host: net.v4(2), port: 8080, data: 'b' })).toMatchObject({ ok: true, reply: 'b' });
    expect(await client.call('send', { handle: open.handle, data: 'again' })).toMatchObject({ ok: true, reply: 'again' });
    await client.call('close', { handle: open.handle });
  });

  it('flows: connect, accept and close records with byte counts, joined by socket cookie', async () => {
    dp.apply(state([
      entry('egress', C, S, TCP, 8080, 16, allow(81)),
      entry('ingress', S, C, TCP, 8080, 16, allow(82)),
    ], [denyAll(C), denyAll(S)]));
    const payload = 'z'.repeat(1000);
    const r = await client.call('connect', { host: net.v4(2), port: 8080, keep: true, data: payload });
    expect(r).toMatchObject({ ok: true });
    await client.call('close', { handle: r.handle });
    await new Promise((res) => setTimeout(res, 200));
    const connect = find((x) => x.kind === 'connect' && x.cgroupId === wc.id && x.localPort === r.localPort)[0]!;
    // at connect() the socket has no local port yet: the verdict joins by cookie
    const verdict = find((x) => x.kind === 'verdict' && x.cookie === connect.cookie)[0]!;
    const close = find((x) => x.kind === 'close' && x.cookie === connect.cookie)[0]!;
    expect(verdict).toMatchObject({ direction: 'egress', localPort: 0, peerPort: 8080, verdict: 'FORWARDED' });
    expect(connect).toMatchObject({ direction: 'egress', peerAddr: net.v4(2), peerPort: 8080, verdict: 'FORWARDED', ruleId: 81, localId: C, peerId: S });
    expect(connect.cookie).toBe(verdict.cookie);
    expect(close.cookie).toBe(verdict.cookie);
    expect(close.bytesAcked).toBeGreaterThanOrEqual(1000);
    expect(close.bytesReceived).toBeGreaterThanOrEqual(1000);
    expect(connect.owner && close.owner).toBe(true);
    expect(close.pid).toBe(clientPid);
    const accept = find((x) => x.kind === 'accept' && x.cgroupId === ws.id && x.peerPort === r.localPort)[0]!;
    expect(accept).toMatchObject({ direction: 'ingress', localPort: 8080, verdict: 'FORWARDED', ruleId: 82, pid: serverPid, owner: true });
    const sclose = find((x) => x.kind === 'close' && x.cookie === accept.cookie)[0]!;
    expect(sclose.bytesReceived).toBeGreaterThanOrEqual(1000);
  });

  it('DNS: the query and the answer of a workload are copied and parse', async () => {
    dp.apply(state([entry('egress', C, D, UDP, 53, 16, allow(91))], [denyAll(C)]));
    const r = await client.call('resolve', { server: net.v4(5), name: 'www.palisade.test' });
    expect(r).toMatchObject({ ok: true, addrs: ['10.213.0.77'] });
    const dns = find((x) => x.kind === 'dns' && x.cgroupId === wc.id);
    const q = dns.find((x) => x.direction === 'egress')!;
    const a = dns.find((x) => x.direction === 'ingress')!;
    expect(q).toMatchObject({ peerAddr: net.v4(5), peerPort: 53, protocol: UDP, localId: C });
    expect(parseDns(q.data)).toMatchObject({ response: false, name: 'www.palisade.test', qtypeName: 'A' });
    const ans = parseDns(a.data);
    expect(ans).toMatchObject({ response: true, rcodeName: 'NOERROR', name: 'www.palisade.test', qtype: 1 });
    expect(ans.answers).toEqual([
      { name: 'www.palisade.test', type: 'CNAME', ttl: 60, data: 'svc.palisade.test' },
      { name: 'svc.palisade.test', type: 'A', ttl: 60, data: '10.213.0.77' },
    ]);
    // a name the responder does not know
    expect(await client.call('resolve', { server: net.v4(5), name: 'nope.palisade.test' })).toMatchObject({ ok: false });
    const nx = find((x) => x.kind === 'dns' && x.direction === 'ingress').map((x) => parseDns(x.data)).find((m) => m.name === 'nope.palisade.test');
    expect(nx?.rcodeName).toBe('NXDOMAIN');
    // port 53 elsewhere is denied: no query leaves
    expect(await client.call('resolve', { server: net.v4(3), name: 'www.palisade.test' })).toMatchObject({ ok: false });
    // (nothing listens there either: what shows the policy refused it is the verdict, and no copy)
    expect(find((x) => x.kind === 'dns' && x.peerAddr === net.v4(3))).toEqual([]);
    expect(find((x) => x.kind === 'verdict' && x.direction === 'egress' && x.peerAddr === net.v4(3) && x.peerPort === 53)[0])
      .toMatchObject({ verdict: 'DROPPED', protocol: UDP });
  });

  it('IPv6 extension headers do not carry a packet past ingress policy', async () => {
    // a UDP receiver in the server workload, and a sender outside any workload in the client's namespace
    // whose datagram carries a hop-by-hop options header (8 bytes: next header, length 0, PadN)
    const port = 5360;
    const recv = spawn('sh', ['-c', `echo $$ > '${ws.path}/cgroup.procs' && exec ip netns exec '${net.nsB}' python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(('::', ${port})); print('ready', flush=True); s.settimeout(1.5)
try: print('got', s.recvfrom(64)[0].decode(), flush=True)
except socket.timeout: print('nothing', flush=True)"`]);
    const out: string[] = [];
    recv.stdout.on('data', (d: Buffer) => out.push(String(d)));
    await new Promise<void>((res) => { const t = setInterval(() => { if (out.join('').includes('ready')) { clearInterval(t); res(); } }, 20); });
    const send = (): void => void execFileSync('ip', ['netns', 'exec', net.nsA, 'python3', '-c',
      `import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, bytes([0, 0, 1, 4, 0, 0, 0, 0])); s.sendto(b'hbh', ('${net.v6(2)}', ${port}))`]);
    dp.apply(state([], [denyAll(S)])); // server: ingress default deny
    send();
    await new Promise<void>((res) => recv.on('exit', () => res()));
    expect(out.join('')).toContain('nothing');
    expect(find((r) => r.kind === 'verdict' && r.direction === 'ingress' && r.protocol === UDP && r.localPort === port)[0])
      .toMatchObject({ verdict: 'DROPPED', localId: S, peerAddr: net.v6(1) });
  });

  it('ICMP echo: allowed by type in the port field, denied elsewhere', async () => {
    dp.apply(state([entry('egress', C, S, ICMP, 8, 16, allow(95)), entry('egress', C, S, 58, 128, 16, allow(96))], [denyAll(C)]));
    expect(await client.call('ping', { host: net.v4(2) })).toMatchObject({ ok: true, replies: 1 });
    expect(await client.call('ping', { host: net.v6(2) })).toMatchObject({ ok: true, replies: 1 });
    expect(await client.call('ping', { host: net.v4(3) })).toMatchObject({ ok: false, code: 'EPERM' });
    const v = find((r) => r.kind === 'verdict' && r.protocol === ICMP);
    expect(v.find((r) => r.peerAddr === net.v4(2))).toMatchObject({ verdict: 'FORWARDED', ruleId: 95, peerPort: 8, direction: 'egress' });
    expect(v.find((r) => r.peerAddr === net.v4(3))).toMatchObject({ verdict: 'DROPPED', peerId: CIDR3 });
    expect(find((r) => r.kind === 'verdict' && r.protocol === 58)[0]).toMatchObject({
      verdict: 'FORWARDED', ruleId: 96, peerPort: 128, family: 6, peerAddr: net.v6(2),
    });
    // one echo request, one record: its reply passed without one
    expect(v.filter((r) => r.peerAddr === net.v4(2))).toHaveLength(1);
  });

  it('IPv6, and v4-mapped addresses on IPv6 sockets are decided as IPv4', async () => {
    dp.apply(state([
      entry('egress', C, S, TCP, 8080, 16, allow(101)),
      entry('ingress', S, C, TCP, 8080, 16, allow(102)),
    ], [denyAll(C), denyAll(S)]));
    expect(await client.call('connect', { host: net.v6(2), port: 8080, data: 'six' })).toMatchObject({ ok: true, reply: 'six' });
    expect(await client.call('connect', { host: net.v6(2), port: 8081 })).toMatchObject({ ok: false, code: 'EPERM' });
    expect(await client.call('connect', { host: `::ffff:${net.v4(2)}`, port: 8080 })).toMatchObject({ ok: true });
    expect(await client.call('connect', { host: `::ffff:${net.v4(2)}`, port: 8081 })).toMatchObject({ ok: false, code: 'EPERM' });
    const v = find((r) => r.kind === 'verdict' && r.pid === clientPid);
    expect(v.find((r) => r.peerAddr === net.v6(2) && r.peerPort === 8080)).toMatchObject({ family: 6, verdict: 'FORWARDED', ruleId: 101, peerId: S });
    expect(v.find((r) => r.peerAddr === net.v4(2) && r.peerPort === 8080)).toMatchObject({ family: 4, verdict: 'FORWARDED', peerId: S });
    const sv = find((r) => r.kind === 'verdict' && r.cgroupId === ws.id && r.family === 6);
    expect(sv[0]).toMatchObject({ verdict: 'FORWARDED', ruleId: 102, peerAddr: net.v6(1), peerId: C });
  });

  it('a state too big for the maps: apply throws, and the kernel keeps the previous state', () => {
    const small = NetworkDatapath.load({ maxPolicyEntries: 64 });
    try {
      const before = state([entry('egress', C, S, TCP, 8080, 16, allow(131))], [denyAll(C)]);
      small.apply(before);
      const key = (port: number): Buffer => encodePolicyKey({ localId: C, peerId: S, proto: TCP, port, portBits: 16 });
      const held = small.maps.egressExact.lookup(key(8080));
      expect(held).not.toBeNull();
      // 100 exact entries into a preallocated hash map of 64
      const big = state(Array.from({ length: 100 }, (_, i) => entry('egress', C, S, TCP, 1 + i, 16, allow(132))), [denyAll(C)]);
      expect(() => small.apply(big)).toThrow();
      expect(small.maps.egressExact.lookup(key(8080)), 'the old entry is back').toEqual(held);
      for (const port of [1, 50, 100]) expect(small.maps.egressExact.lookup(key(port)), `port ${port} undone`).toBeNull();
      expect(small.state).toBe(before);
    } finally {
      small.close();
    }
  });

  it('a full ring buffer loses records only with a count (np_stats and pal_stats lost_net)', async () => {
    const st = state([entry('egress', C, S, TCP, 8080, 16, allow(111))], [denyAll(C)]);
    dp.apply(st);
    const small = NetworkDatapath.load({ ringBytes: 4096, maxPolicyEntries: 64 });
    try {
      small.apply(st);
      small.attach(root!);
      for (let i = 0; i < 40; i++) expect(await client.call('connect', { host: net.v4(2), port: 8080 })).toMatchObject({ ok: true });
      // client: 40 verdicts + 40 connects + 40 closes; server (a workload, no policy): 40 SYN verdicts,
      // 40 accepts, 40 closes (once its sockets are closed)
      let got = 0;
      for (let i = 0; i < 40 && got + small.counters().lost < 240; i++) {
        await new Promise((res) => setTimeout(res, 50));
        small.drain(() => got++);
      }
      const c = small.counters();
      expect(c.forwarded).toBe(80);
      expect(c.lost).toBeGreaterThan(0);
      expect(got + c.lost).toBe(240);
      const key = Buffer.alloc(4);
      key.writeUInt32LE(STAT_NAMES.indexOf('lost_net'));
      expect(Number(small.sharedStats().sumPerCpuU64(key))).toBe(c.lost);
    } finally {
      small.close();
    }
  });

  it('inside the agent: records go to the process sensor\'s ring, marks are its pal_proc_marks', async () => {
    const proc = BpfObject.open(join(packageRoot(), 'build', 'bpf', 'process.bpf.o'));
    proc.setMapMaxEntries('pal_events', 1 << 20);
    proc.load(); // not attached: only its maps are used
    const shared = { pal_events: proc.map('pal_events'), pal_stats: proc.map('pal_stats'), pal_proc_marks: proc.map('pal_proc_marks') };
    const inAgent = NetworkDatapath.load({ shared, maxPolicyEntries: 64 });
    const ring = new RingBuffer(shared.pal_events);
    try {
      const BIT = 1n << 9n;
      const st = state([entry('egress', C, S, TCP, 7070, 16, half({ allowMarks: BIT, allowRule: 121 }))], [denyAll(C)]);
      dp.apply(st); // the test's own datapath must let it through too
      dp.setProcessMarks(clientPid, BIT);
      inAgent.apply(st);
      inAgent.attach(root!);
      // marks seeded in the process sensor's map decide for the datapath that shares it
      const k = Buffer.alloc(4);
      k.writeUInt32LE(clientPid);
      const v = Buffer.alloc(8);
      v.writeBigUInt64LE(BIT);
      shared.pal_proc_marks.update(k, v);
      expect(await client.call('connect', { host: net.v4(2), port: 7070 })).toMatchObject({ ok: true });
      expect(() => inAgent.drain(() => {})).toThrow(/shared ring/);
      const buf = Buffer.alloc(1 << 20);
      const recs: NetRecord[] = [];
      forEachFrame(buf, ring.drain(buf), (r) => {
        if (r.readUInt16LE(0) === EV_NET) recs.push(decodeNet(r));
      });
      expect(recs.find((r) => r.kind === 'verdict' && r.pid === clientPid)).toMatchObject({ verdict: 'FORWARDED', ruleId: 121 });
    } finally {
      dp.setProcessMarks(clientPid, 0n);
      ring.close();
      inAgent.close();
      proc.close();
    }
  });

  it('flowsAll: connect/accept/close records for sockets of any cgroup', async () => {
    dp.apply(state([], []));
    const all = NetworkDatapath.load({ flowsAll: true, maxPolicyEntries: 64 });
    try {
      all.attach(root!);
      const { createServer, connect } = await import('node:net');
      const srv = createServer((s) => s.end());
      await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
      const port = (srv.address() as { port: number }).port;
      await new Promise<void>((res, rej) => {
        const c = connect(port, '127.0.0.1');
        c.once('error', rej);
        c.once('close', () => res());
        c.resume();
      });
      srv.close();
      await new Promise((res) => setTimeout(res, 100));
      const recs: NetRecord[] = [];
      all.drain((r) => recs.push(r));
      const mine = recs.filter((r) => r.peerPort === port || r.localPort === port);
      expect(mine.map((r) => r.kind).sort()).toEqual(expect.arrayContaining(['accept', 'connect', 'close']));
      expect(mine.every((r) => r.localId === 0 && r.verdict === null)).toBe(true);
      expect(mine.find((r) => r.kind === 'connect')).toMatchObject({ peerAddr: '127.0.0.1', peerPort: port, direction: 'egress' });
    } finally {
      all.close();
    }
  });

  it('processes outside any workload cgroup are not policed and make no records', async () => {
    dp.apply(state([], [denyAll(C), denyAll(S)]));
    // the test runner itself: connect to a loopback listener of this process
    const { createServer, connect } = await import('node:net');
    const srv = createServer((s) => s.end());
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((res, rej) => connect(port, '127.0.0.1').once('connect', res).once('error', rej));
    srv.close();
    // the same state does police a workload: records are being made and read
    expect(await client.call('connect', { host: net.v4(2), port: 8099 })).toMatchObject({ ok: false, code: 'EPERM' });
    expect(find((r) => r.kind === 'verdict' && r.pid === clientPid && r.peerPort === 8099)).toHaveLength(1);
    expect(find((r) => r.pid === process.pid)).toEqual([]);
    expect(dp.counters().lost).toBe(0);
  });
});
