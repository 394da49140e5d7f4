// IP prefixes as 128-bit numbers (IPv4 v4-mapped, as pal_np_ipcache stores them), with canonical text
// so that one prefix always has one spelling in IpcacheEntry.cidr.
import { isIPv4, isIPv6 } from 'node:net';

/** Read-only: parsed prefixes are shared (see the memo in parsePrefix). */
export interface Prefix {
  /** The network address, v4-mapped for IPv4, host bits zero. */
  readonly addr: bigint;
  /** Prefix length over 128 bits (an IPv4 /8 is 104). */
  readonly bits: number;
  readonly v4: boolean;
}

const V4_MAPPED = 0xffffn << 32n;
const ALL = (1n << 128n) - 1n;

/** A dotted quad already checked by isIPv4. */
function parseV4(s: string): bigint {
  let n = 0;
  let octet = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      n = n * 256 + octet;
      octet = 0;
    } else octet = octet * 10 + (c - 48);
  }
  return BigInt(n * 256 + octet);
}

function parseV6(s: string): bigint {
  let text = s;
  let tail = 0n;
  let tailGroups = 0;
  // A dotted IPv4 tail (::ffff:1.2.3.4) stands for the last two groups.
  const dot = text.lastIndexOf(':');
  if (text.includes('.')) {
    tail = parseV4(text.slice(dot + 1));
    tailGroups = 2;
    text = text.slice(0, dot + 1) + '0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const hs = head === '' ? [] : head.split(':');
  const rs = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - rs.length).fill('0'), ...rs];
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(parseInt(g, 16));
  if (tailGroups) n = (n & ~0xffffffffn) | tail;
  return n;
}

/** The address as a 128-bit number, or undefined if `ip` is not an IPv4 or IPv6 address. */
export function parseIp(ip: string): { addr: bigint; v4: boolean } | undefined {
  if (isIPv4(ip)) return { addr: V4_MAPPED | parseV4(ip), v4: true };
  if (isIPv6(ip)) return { addr: parseV6(ip), v4: false };
  return undefined;
}

/** MASKS[b]: the top b of 128 bits set. */
const MASKS: readonly bigint[] = Array.from({ length: 129 }, (_, b) => (b === 0 ? 0n : (ALL << BigInt(128 - b)) & ALL));
export const mask = (bits: number): bigint => MASKS[bits]!;

/**
 * Parsed canonical prefixes: the parser checks a CIDR and the compiler needs its numbers, so each
 * canonical text is parsed once. Bounded: cleared when it grows past MEMO_LIMIT.
 */
const memo = new Map<string, Prefix>();
const MEMO_LIMIT = 200_000;

/** What scanCanonicalV4 read: the address (32 bits) and the prefix length. One per caller, reused. */
export class V4Text {
  addr = 0;
  len = 0;
}

/**
 * Reads a canonical IPv4 prefix ("10.1.2.0/24") by hand into `out`; false for anything else (IPv6,
 * host bits, leading zeros...). No allocation: a bulk load reads one per rule.
 */
export function scanCanonicalV4(text: string, out: V4Text): boolean {
  let n = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 || c === 47) {
      if (digits === 0 || (c === 46 ? ++dots > 3 : dots !== 3)) return false;
      n = n * 256 + octet;
      octet = 0;
      digits = 0;
      if (c === 47) break;
    } else if (c >= 48 && c <= 57 && digits < 3 && !(digits === 1 && octet === 0)) {
      octet = octet * 10 + (c - 48);
      if (octet > 255) return false;
      digits++;
    } else return false;
  }
  if (i === text.length) return false;
  let len = 0;
  const lenDigits = text.length - i - 1;
  if (lenDigits < 1 || lenDigits > 2 || (lenDigits === 2 && text.charCodeAt(i + 1) === 48)) return false;
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j) - 48;
    if (c < 0 || c > 9) return false;
    len = len * 10 + c;
  }
  if (len > 32 || (len < 32 && n % 2 ** (32 - len) !== 0)) return false;
  out.addr = n;
  out.len = len;
  return true;
}

/** The v4-mapped 128-bit address of a 32-bit IPv4 address. */
export const v4Mapped = (addr: number): bigint => V4_MAPPED | BigInt(addr);

/** Why `text` is not a prefix, or the prefix. Host bits must be zero, as Kubernetes and Cilium require. */
export function parsePrefix(text: string): Prefix | string {
  const known = memo.get(text);
  if (known) return known;
  const p = parsePrefixText(text);
  if (typeof p !== 'string' && formatPrefix(p) === text) {
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(text, p);
  }
  return p;
}

function parsePrefixText(text: string): Prefix | string {
  const slash = text.indexOf('/');
  if (slash < 0) return 'expected a CIDR such as "10.0.0.0/8" or "fd00::/64" (address/prefix length)';
  const ip = parseIp(text.slice(0, slash));
  if (!ip) return `${JSON.stringify(text.slice(0, slash))} is not an IPv4 or IPv6 address`;
  const lenText = text.slice(slash + 1);
  const max = ip.v4 ? 32 : 128;
  if (!/^[0-9]{1,3}$/.test(lenText) || Number(lenText) > max) return `prefix length must be a whole number from 0 to ${max}, got ${JSON.stringify(lenText)}`;
  const bits = Number(lenText) + (ip.v4 ? 96 : 0);
  if ((ip.addr & ~mask(bits)) !== 0n) {
    const p: Prefix = { addr: ip.addr & mask(bits), bits, v4: ip.v4 };
    return `host bits are set: did you mean "${formatPrefix(p)}"?`;
  }
  return { addr: ip.addr, bits, v4: ip.v4 };
}

/** The prefix of one address: /32 for IPv4, /128 for IPv6. */
export function hostPrefix(ip: string): Prefix | undefined {
  const a = parseIp(ip);
  return a && { addr: a.addr, bits: 128, v4: a.v4 };
}

export function contains(outer: Prefix, inner: Prefix): boolean {
  return outer.bits <= inner.bits && (inner.addr & mask(outer.bits)) === outer.addr;
}

export function containsAddr(p: Prefix, addr: bigint): boolean {
  return (addr & mask(p.bits)) === p.addr;
}

function formatV6(addr: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((addr >> BigInt(i * 16)) & 0xffffn));
  return v6Text(groups);
}

/** The IPv6 address of 16 bytes at `at`, in RFC 5952 text. */
export function ipv6Text(b: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(at + 2 * i));
  return v6Text(groups);
}

/** RFC 5952: the longest run (of at least two) of zero groups becomes ::, the first one on a tie. */
function v6Text(groups: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function formatAddr(addr: bigint, v4: boolean): string {
  if (!v4) return formatV6(addr);
  const n = Number(addr & 0xffffffffn);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Canonical text: "10.0.0.0/8", "fd00::/64". Built by join, which gives a flat string: a template
 *  of 13 characters or more gives a rope, slower to read and kept as three objects by every rule. */
export function formatPrefix(p: Prefix): string {
  return [formatAddr(p.addr, p.v4), p.v4 ? p.bits - 96 : p.bits].join('/');
}
