// L4 keys of one (direction, local, peer) group, as single numbers so the hot loops build no strings:
// 0 is the L3 key (every protocol and port); otherwise (proto + 1) * 2^22 + portBits * 2^16 + port.
import type { IcmpMatch, PortMatch } from '../policy/types.js';
import type { OneOrMany } from '../util/one-or-many.js';

export const PROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;
export const L3_KEY = 0;

const PROTO_UNIT = 1 << 22;
const BITS_UNIT = 1 << 16;

export function l4Key(proto: number, port: number, bits: number): number {
  return (proto + 1) * PROTO_UNIT + bits * BITS_UNIT + port;
}

export function keyProto(key: number): number | null {
  return key === L3_KEY ? null : Math.floor(key / PROTO_UNIT) - 1;
}
export const keyBits = (key: number): number => Math.floor((key % PROTO_UNIT) / BITS_UNIT);
export const keyPort = (key: number): number => key % BITS_UNIT;

/** Port bits kept by a prefix of `bits` bits. */
export const portMask = (bits: number): number => (bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff);

/** Calls fn(port, bits) for the fewest prefixes that cover [from, to] exactly. */
export function forEachPortPrefix(from: number, to: number, fn: (port: number, bits: number) => void): void {
  let p = from;
  while (p <= to) {
    let size = 1;
    let bits = 16;
    // Grow the block while it stays aligned and inside the range.
    while (bits > 0 && p % (size * 2) === 0 && p + size * 2 - 1 <= to) {
      size *= 2;
      bits--;
    }
    fn(p, bits);
    p += size;
  }
}

/**
 * The keys of a rule's L4 part; null = the L3 key. Protocol ANY means TCP and UDP (Palisade's datapath
 * reads no SCTP ports). An ICMP rule puts the ICMP type in the port field, exactly (16 bits). One key
 * is a number, not a list: most rules have one, and a bulk load holds one per rule.
 */
export function l4Keys(l4: { ports: readonly PortMatch[]; icmps: readonly IcmpMatch[] } | null): L4Keys {
  if (l4 === null) return L3_KEY;
  // The common case, one port of one protocol, without building a set.
  if (l4.icmps.length === 0 && l4.ports.length === 1) {
    const p = l4.ports[0]!;
    if (p.protocol !== 'ANY' && p.port !== 0 && p.port === p.endPort) return l4Key(p.protocol === 'TCP' ? PROTO.TCP : PROTO.UDP, p.port, 16);
  }
  const keys = new Set<number>();
  for (const p of l4.ports) {
    const protos = p.protocol === 'ANY' ? [PROTO.TCP, PROTO.UDP] : [p.protocol === 'TCP' ? PROTO.TCP : PROTO.UDP];
    for (const proto of protos) {
      if (p.port === 0) keys.add(l4Key(proto, 0, 0));
      else forEachPortPrefix(p.port, p.endPort, (port, bits) => keys.add(l4Key(proto, port, bits)));
    }
  }
  for (const i of l4.icmps) keys.add(l4Key(i.family === 'IPv4' ? PROTO.ICMP : PROTO.ICMPV6, i.type, 16));
  return keys.size === 1 ? keys.values().next().value! : [...keys];
}

/** An atom's L4 keys: one, or several. */
export type L4Keys = OneOrMany<number>;
