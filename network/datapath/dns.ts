// DNS messages as the datapath copies them (kind=dns records: the UDP payload, up to 512 bytes).
// Parses the header, the first question, and the answers of types A, AAAA and CNAME; other answer
// types are counted and skipped. Never throws: a malformed or cut message gives `error`.
import { ipv6Text } from '../identity/cidr.js';

export interface DnsAnswer {
  name: string;
  type: 'A' | 'AAAA' | 'CNAME';
  ttl: number;
  /** address (A, AAAA) or target name (CNAME) */
  data: string;
}

export interface DnsMessage {
  id: number;
  response: boolean;
  /** RCODE: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, … */
  rcode: number;
  rcodeName: string;
  name: string;
  /** numeric QTYPE and its name where known ("A", "AAAA", "CNAME", "MX", …) */
  qtype: number;
  qtypeName: string;
  answers: DnsAnswer[];
  /** answers of other types, skipped */
  otherAnswers: number;
  /** why parsing stopped early (truncated copy, bad label); what was read before stays */
  error?: string;
}

const TYPES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 65: 'HTTPS', 255: 'ANY',
};
const RCODES: Record<number, string> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED',
};

class Short extends Error {}

/** Reads a (possibly compressed) name at `off`; returns it and the offset after it in place. */
function readName(b: Buffer, off: number): { name: string; next: number } {
  const labels: string[] = [];
  let next = -1;
  let jumps = 0;
  for (;;) {
    if (off >= b.length) throw new Short('name runs past the message');
    const len = b[off]!;
    if (len === 0) {
      off++;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= b.length) throw new Short('pointer runs past the message');
      if (++jumps > 16) throw new Error('compression loop');
      if (next < 0) next = off + 2;
      off = ((len & 0x3f) << 8) | b[off + 1]!;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new Error(`bad label length 0x${len.toString(16)}`);
    if (off + 1 + len > b.length) throw new Short('label runs past the message');
    labels.push(b.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  return { name: labels.join('.'), next: next < 0 ? off : next };
}


export function parseDns(b: Buffer): DnsMessage {
  const m: DnsMessage = {
    id: 0, response: false, rcode: 0, rcodeName: 'NOERROR', name: '', qtype: 0, qtypeName: '', answers: [], otherAnswers: 0,
  };
  try {
    if (b.length < 12) throw new Short('shorter than a DNS header');
    m.id = b.readUInt16BE(0);
    const flags = b.readUInt16BE(2);
    m.response = (flags & 0x8000) !== 0;
    m.rcode = flags & 0xf;
    m.rcodeName = RCODES[m.rcode] ?? `RCODE${m.rcode}`;
    const qd = b.readUInt16BE(4);
    const an = b.readUInt16BE(6);
    let off = 12;
    for (let i = 0; i < qd; i++) {
      const q = readName(b, off);
      if (q.next + 4 > b.length) throw new Short('question runs past the message');
      if (i === 0) {
        m.name = q.name;
        m.qtype = b.readUInt16BE(q.next);
        m.qtypeName = TYPES[m.qtype] ?? `TYPE${m.qtype}`;
      }
      off = q.next + 4;
    }
    for (let i = 0; i < an; i++) {
      const r = readName(b, off);
      if (r.next + 10 > b.length) throw new Short('answer runs past the message');
      const type = b.readUInt16BE(r.next);
      const ttl = b.readUInt32BE(r.next + 4);
      const rdlen = b.readUInt16BE(r.next + 8);
      const rd = r.next + 10;
      if (rd + rdlen > b.length) throw new Short('answer data runs past the message');
      if (type === 1 && rdlen === 4) {
        m.answers.push({ name: r.name, type: 'A', ttl, data: `${b[rd]}.${b[rd + 1]}.${b[rd + 2]}.${b[rd + 3]}` });
      } else if (type === 28 && rdlen === 16) {
        m.answers.push({ name: r.name, type: 'AAAA', ttl, data: ipv6Text(b, rd) });
      } else if (type === 5) {
        m.answers.push({ name: r.name, type: 'CNAME', ttl, data: readName(b, rd).name });
      } else {
        m.otherAnswers++;
      }
      off = rd + rdlen;
    }
  } catch (e) {
    m.error = e instanceof Short ? `truncated: ${e.message}` : e instanceof Error ? e.message : String(e);
  }
  return m;
}
