// Byte layouts of bpf/include/palisade/netpol.h (map keys and values) and of struct pal_net
// (events.h), with their encoders and decoder. test/unit/netpol-layout.test.ts checks every offset
// against the BTF of build/bpf/netpol.bpf.o.
import { ipv6Text } from '../identity/cidr.js';
import type { Direction, IdentityDefaults, PolicyEntry, Verdict, VerdictHalf } from '../model.js';

export const EV_NET = 5;

export const NP_KEY = { prefixlen: 0, local_id: 4, peer_id: 8, proto: 12, pad: 13, port: 14, $size: 16 } as const;
export const NP_HALF = {
  allow_marks: 0, deny_marks: 8, allow_rule: 16, deny_rule: 20, allow: 24, deny: 25, pad: 26, $size: 32,
} as const;
export const NP_VALUE = { enf: 0, all: 32, $size: 64 } as const;
export const NP_IDENT = { ingress_enf: 0, ingress_all: 1, egress_enf: 2, egress_all: 3, $size: 4 } as const;
export const NP_IP_KEY = { prefixlen: 0, addr: 4, $size: 20 } as const;

export const NET = {
  hdr: 0, pid: 16, tid: 20, start_boottime: 24, cgroup_id: 32, cookie: 40, bytes_acked: 48, bytes_received: 56,
  local_addr: 64, peer_addr: 80, local_id: 96, peer_id: 100, rule_id: 104, local_port: 108, peer_port: 110,
  kind: 112, family: 113, protocol: 114, direction: 115, verdict: 116, flags: 117, data_len: 118, data: 120,
  $size: 120,
} as const;

export const NETPOL_LAYOUTS: Record<string, Record<string, number>> = {
  pal_np_key: NP_KEY,
  pal_np_half: NP_HALF,
  pal_np_value: NP_VALUE,
  pal_np_ident: NP_IDENT,
  pal_np_ip_key: NP_IP_KEY,
  pal_net: NET,
};

/** pal_net.kind */
export const NET_KIND = { 1: 'verdict', 2: 'connect', 3: 'accept', 4: 'close', 5: 'dns' } as const;
export type NetKind = (typeof NET_KIND)[keyof typeof NET_KIND];

/** pal_net.flags */
export const NET_F_OWNER = 1 << 0;
export const NET_F_REPLY = 1 << 1;
export const NET_F_TRUNC = 1 << 2;
export const NET_F_CACHED = 1 << 3;

export const DNS_MAX = 512;

/** enum np_stat in netpol.bpf.c */
export const NP_STAT_NAMES = [
  'forwarded', 'dropped', 'audit', 'connectDenied', 'packetsDropped', 'replies', 'cached', 'lost', 'dns',
] as const;
export type NetpolCounters = Record<(typeof NP_STAT_NAMES)[number], number>;

const VERDICTS: Record<number, Verdict> = { 1: 'FORWARDED', 2: 'DROPPED', 3: 'AUDIT' };

// ---- map keys and values --------------------------------------------------------------------------

type PolicyKeyFields = Pick<PolicyEntry, 'localId' | 'peerId' | 'proto' | 'port' | 'portBits'>;

/** The key's prefix length: 64 (L3), 72 + 8 (proto + pad) + portBits; 96 is an exact key. */
export const policyPrefixLen = (e: PolicyKeyFields): number => (e.proto === null ? 64 : 80 + e.portBits);

// The writers take a DataView: the encoders write tens of thousands of entries, DataView stores
// compile to plain memory writes (and check bounds), Buffer's write methods check every argument.

/** A DataView over exactly a Buffer's bytes (a pooled Buffer shares its ArrayBuffer). */
export const viewOf = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Writes the key of pal_np_ingress / pal_np_egress (or of their exact maps, prefixlen 96) for one
 *  PolicyEntry at v[at] (zeroed). */
export function writePolicyKey(v: DataView, at: number, e: PolicyKeyFields): void {
  v.setUint32(at + NP_KEY.local_id, e.localId >>> 0);
  v.setUint32(at + NP_KEY.peer_id, e.peerId >>> 0);
  if (e.proto !== null) {
    if (!Number.isInteger(e.portBits) || e.portBits < 0 || e.portBits > 16)
      throw new RangeError(`policy entry: portBits ${e.portBits} is not 0..16`);
    if (!Number.isInteger(e.port) || e.port < 0 || e.port > 0xffff)
      throw new RangeError(`policy entry: port ${e.port} is not 0..65535`);
    v.setUint8(at + NP_KEY.proto, e.proto);
    // mask off the bits below the prefix so that equal entries encode the same
    const mask = e.portBits === 0 ? 0 : (0xffff << (16 - e.portBits)) & 0xffff;
    v.setUint16(at + NP_KEY.port, e.port & mask);
  }
  v.setUint32(at + NP_KEY.prefixlen, policyPrefixLen(e), true);
}

export function encodePolicyKey(e: PolicyKeyFields): Buffer {
  const b = Buffer.alloc(NP_KEY.$size);
  writePolicyKey(viewOf(b), 0, e);
  return b;
}

function writeHalf(v: DataView, at: number, h: VerdictHalf): void {
  if (h.allowMarks !== 0n) v.setBigUint64(at + NP_HALF.allow_marks, BigInt.asUintN(64, h.allowMarks), true);
  if (h.denyMarks !== 0n) v.setBigUint64(at + NP_HALF.deny_marks, BigInt.asUintN(64, h.denyMarks), true);
  v.setUint32(at + NP_HALF.allow_rule, h.allowRule >>> 0, true);
  v.setUint32(at + NP_HALF.deny_rule, h.denyRule >>> 0, true);
  v.setUint8(at + NP_HALF.allow, h.allow ? 1 : 0);
  v.setUint8(at + NP_HALF.deny, h.deny ? 1 : 0);
}

/** Writes a pal_np_value at v[at] (zeroed). */
export function writePolicyValue(v: DataView, at: number, e: Pick<PolicyEntry, 'enf' | 'all'>): void {
  writeHalf(v, at + NP_VALUE.enf, e.enf);
  writeHalf(v, at + NP_VALUE.all, e.all);
}

export function encodePolicyValue(e: Pick<PolicyEntry, 'enf' | 'all'>): Buffer {
  const b = Buffer.alloc(NP_VALUE.$size);
  writePolicyValue(viewOf(b), 0, e);
  return b;
}

/** pal_np_ident at `at`. */
export function writeIdent(v: DataView, at: number, d: IdentityDefaults): void {
  v.setUint8(at + NP_IDENT.ingress_enf, d.ingressEnf ? 1 : 0);
  v.setUint8(at + NP_IDENT.ingress_all, d.ingressAll ? 1 : 0);
  v.setUint8(at + NP_IDENT.egress_enf, d.egressEnf ? 1 : 0);
  v.setUint8(at + NP_IDENT.egress_all, d.egressAll ? 1 : 0);
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** 16 address bytes; IPv4 as ::ffff:a.b.c.d. Throws on what is not an address. */
export function addrBytes(ip: string): Buffer {
  const b = Buffer.alloc(16);
  if (!ip.includes(':')) {
    const m = V4.exec(ip);
    if (!m || m.slice(1).some((x) => Number(x) > 255)) throw new RangeError(`not an IP address: '${ip}'`);
    b.writeUInt16BE(0xffff, 10);
    for (let i = 0; i < 4; i++) b[12 + i] = Number(m[i + 1]);
    return b;
  }
  let s = ip;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4tail) {
    const t = addrBytes(v4tail[1]!);
    s = s.slice(0, -v4tail[1]!.length) + `${t.readUInt16BE(12).toString(16)}:${t.readUInt16BE(14).toString(16)}`;
  }
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) throw new RangeError(`not an IP address: '${ip}'`);
  const head = dbl < 0 ? s : s.slice(0, dbl);
  const tail = dbl < 0 ? '' : s.slice(dbl + 2);
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  if (dbl < 0 ? h.length !== 8 : h.length + t.length > 7) throw new RangeError(`not an IP address: '${ip}'`);
  const put = (g: string, i: number): void => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new RangeError(`not an IP address: '${ip}'`);
    b.writeUInt16BE(parseInt(g, 16), i * 2);
  };
  h.forEach((g, i) => put(g, i));
  t.forEach((g, i) => put(g, 8 - t.length + i));
  return b;
}

/** The decimal number in s[from..] (at most 3 digits), or -1. Number(s.slice()) costs ten times as much. */
function digits(s: string, from: number): number {
  let n = 0;
  if (from >= s.length || s.length - from > 3) return -1;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** The dotted quad in ip[0..end) as a number, or -1: the ipcache's common case, without a regex,
 *  a slice or a Buffer. */
function v4Number(ip: string, end: number): number {
  let n = 0;
  let octet = 0;
  let count = 0;
  let dots = 0;
  for (let i = 0; i < end; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (count === 0 || ++dots > 3) return -1;
      n = n * 256 + octet;
      octet = 0;
      count = 0;
    } else if (c >= 48 && c <= 57 && count < 3) {
      octet = octet * 10 + (c - 48);
      count++;
      if (octet > 255) return -1;
    } else return -1;
  }
  return dots === 3 && count > 0 ? n * 256 + octet : -1;
}

/** Writes the key of pal_np_ipcache (or pal_np_ip_exact, prefixlen 128) for an IPv4 prefix given as
 *  numbers (address, length 0..32) at v[at] (zeroed); host bits are zeroed, so that equal prefixes
 *  encode the same. */
export function writeIpcacheKeyV4(v: DataView, at: number, addr: number, len: number): void {
  v.setUint16(at + NP_IP_KEY.addr + 10, 0xffff);
  v.setUint32(at + NP_IP_KEY.addr + 12, len === 0 ? 0 : (addr & (0xffffffff << (32 - len))) >>> 0);
  v.setUint32(at + NP_IP_KEY.prefixlen, 96 + len, true);
}

/** The same for a canonical CIDR ("10.0.0.0/8", "fd00::/64", or a bare address). */
export function writeIpcacheKey(v: DataView, at: number, cidr: string): void {
  const slash = cidr.indexOf('/');
  const end = slash < 0 ? cidr.length : slash;
  const v4 = cidr.indexOf(':') < 0;
  const bits = slash < 0 ? (v4 ? 32 : 128) : digits(cidr, slash + 1);
  if (bits < 0 || bits > (v4 ? 32 : 128)) throw new RangeError(`bad prefix length in '${cidr}'`);
  const prefix = v4 ? 96 + bits : bits;
  const n = v4 ? v4Number(cidr, end) : -1;
  if (n >= 0) return writeIpcacheKeyV4(v, at, n, bits);
  const a = addrBytes(cidr.slice(0, end));
  // zero the host bits so that equal CIDRs encode the same
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    v.setUint8(at + NP_IP_KEY.addr + i, a[i]! & ((0xff << (8 - keep)) & 0xff));
  }
  v.setUint32(at + NP_IP_KEY.prefixlen, prefix, true);
}

export function encodeIpcacheKey(cidr: string): Buffer {
  const b = Buffer.alloc(NP_IP_KEY.$size);
  writeIpcacheKey(viewOf(b), 0, cidr);
  return b;
}

// ---- the record -----------------------------------------------------------------------------------

export interface NetRecord {
  kind: NetKind;
  cpu: number;
  pid: number;
  tid: number;
  /** Boot ns of the task's group leader, as the process cache keys it (exact below 2^53: ~104 days). */
  startBoottime: number;
  cgroupId: bigint;
  cookie: bigint;
  family: 4 | 6;
  protocol: number;
  direction: Direction;
  localAddr: string;
  localPort: number;
  peerAddr: string;
  peerPort: number;
  localId: number;
  peerId: number;
  /** null on records of sockets no verdict was made for */
  verdict: Verdict | null;
  ruleId: number;
  flags: number;
  /** pid/tid/startBoottime are the socket owner's (else whoever ran when the kernel changed state) */
  owner: boolean;
  bytesAcked: number;
  bytesReceived: number;
  /** kind=dns: the UDP payload (a view into the drained buffer: copy to keep it) */
  data: Buffer;
  truncated: boolean;
}

/** "10.1.2.3" for v4-mapped bytes, else the compressed IPv6 form. */
export function formatAddr(b: Buffer, at: number): string {
  let mapped = b.readUInt16BE(at + 10) === 0xffff;
  for (let i = 0; i < 10 && mapped; i++) if (b[at + i] !== 0) mapped = false;
  if (mapped) return `${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
  return ipv6Text(b, at);
}

/** Decodes one pal_net record (without the drain frame header). Throws on a short record. */
/** A u64 field as a number, without a BigInt per field per record. */
const u64 = (r: Buffer, at: number): number => r.readUInt32LE(at + 4) * 4294967296 + r.readUInt32LE(at);

export function decodeNet(r: Buffer): NetRecord {
  if (r.length < NET.$size) throw new RangeError(`pal_net record of ${r.length} bytes (< ${NET.$size})`);
  const kindNo = r.readUInt8(NET.kind) as keyof typeof NET_KIND;
  const dataLen = Math.min(r.readUInt16LE(NET.data_len), r.length - NET.data);
  const flags = r.readUInt8(NET.flags);
  return {
    kind: NET_KIND[kindNo] ?? 'verdict',
    cpu: r.readUInt16LE(2),
    pid: r.readUInt32LE(NET.pid),
    tid: r.readUInt32LE(NET.tid),
    startBoottime: u64(r, NET.start_boottime),
    cgroupId: r.readBigUInt64LE(NET.cgroup_id),
    cookie: r.readBigUInt64LE(NET.cookie),
    family: r.readUInt8(NET.family) === 10 ? 6 : 4,
    protocol: r.readUInt8(NET.protocol),
    direction: r.readUInt8(NET.direction) === 1 ? 'egress' : 'ingress',
    localAddr: formatAddr(r, NET.local_addr),
    localPort: r.readUInt16LE(NET.local_port),
    peerAddr: formatAddr(r, NET.peer_addr),
    peerPort: r.readUInt16LE(NET.peer_port),
    localId: r.readUInt32LE(NET.local_id),
    peerId: r.readUInt32LE(NET.peer_id),
    verdict: VERDICTS[r.readUInt8(NET.verdict)] ?? null,
    ruleId: r.readUInt32LE(NET.rule_id),
    flags,
    owner: (flags & NET_F_OWNER) !== 0,
    bytesAcked: u64(r, NET.bytes_acked),
    bytesReceived: u64(r, NET.bytes_received),
    data: r.subarray(NET.data, NET.data + dataLen),
    truncated: (flags & NET_F_TRUNC) !== 0,
  };
}
