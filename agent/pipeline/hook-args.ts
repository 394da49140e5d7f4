// How the fields of a pal_hook record read: the action's name, and arguments as Tetragon prints
// them in JSON and as plain text for compact lines.
import type { ArgDecode } from '../../tracing/compile/compile.js';
import { ipv6Text } from '../../network/identity/cidr.js';
import { CRED_ARG, SOCK_ARG } from '../../tracing/compile/layout.js';
import { CAPABILITIES } from '../../tracing/policy/schema.js';
import { capsJson } from '../process/capabilities.js';

/** Tetragon's names for the action taken, by PAL_ACTION_*; the last one for any other value. */
export const ACTION_NAMES = ['KPROBE_ACTION_POST', 'KPROBE_ACTION_SIGKILL', 'KPROBE_ACTION_SIGNAL', 'KPROBE_ACTION_OVERRIDE', 'KPROBE_ACTION_UNKNOWN'];

/** An integer argument for compact lines. */
export function intText(type: ArgDecode, lo: number, hi: number): string {
  if (type === 'capability') return CAPABILITIES[lo | 0] ?? String(lo | 0);
  return type === 'int' ? String(lo | 0) : type === 'uint' ? String(lo >>> 0) : int64Text(type === 'long', lo, hi);
}

/** 64-bit values as decimal strings (protobuf JSON does the same for 64-bit fields). */
export function int64Text(signed: boolean, lo: number, hi: number): string {
  const neg = signed && hi >= 0x80000000;
  const v = neg ? -((~hi >>> 0) * 4294967296 + (~lo >>> 0) + 1) : hi * 4294967296 + (lo >>> 0);
  if (Number.isSafeInteger(v)) return String(v);
  const u = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  return (neg ? BigInt.asIntN(64, u) : u).toString();
}

const FAMILIES: Record<number, string> = { 1: 'AF_UNIX', 2: 'AF_INET', 10: 'AF_INET6' };

/** An IPv4 (family 2) or IPv6 (10) address stored at `at`, as text; '' for other families. */
function addrText(b: Buffer, at: number, family: number): string {
  if (family === 2) return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  return family === 10 ? ipv6Text(b, at) : '';
}

const endpoint = (addr: string, port: number, family: number): string => (family === 10 ? `[${addr}]:${port}` : `${addr}:${port}`);

/** A struct sockaddr (28 bytes read from the process) as JSON members and as text. */
export function sockaddrOf(b: Buffer, at: number): { json: string; text: string } {
  const family = b.readUInt16LE(at);
  const port = b.readUInt16BE(at + 2);
  const addr = addrText(b, at + (family === 2 ? 4 : 8), family);
  const fam = FAMILIES[family] ?? String(family);
  return {
    json: `{"sockaddr_arg":{"family":"${fam}"${addr ? `,"addr":"${addr}","port":${port}` : ''}}}`,
    text: addr ? endpoint(addr, port, family) : fam,
  };
}

const SOCK_TYPES: Record<number, string> = { 1: 'SOCK_STREAM', 2: 'SOCK_DGRAM', 3: 'SOCK_RAW', 5: 'SOCK_SEQPACKET' };
const PROTOCOLS: Record<number, string> = { 1: 'IPPROTO_ICMP', 6: 'IPPROTO_TCP', 17: 'IPPROTO_UDP', 58: 'IPPROTO_ICMPV6', 132: 'IPPROTO_SCTP' };
const TCP_STATES = [
  '', 'TCP_ESTABLISHED', 'TCP_SYN_SENT', 'TCP_SYN_RECV', 'TCP_FIN_WAIT1', 'TCP_FIN_WAIT2', 'TCP_TIME_WAIT', 'TCP_CLOSE',
  'TCP_CLOSE_WAIT', 'TCP_LAST_ACK', 'TCP_LISTEN', 'TCP_CLOSING', 'TCP_NEW_SYN_RECV',
];

/** A kernel cred (struct pal_cred_arg, tracing.h) as Tetragon's process_credentials_arg. */
export function credOf(b: Buffer, at: number): { json: string; text: string } {
  const u = (f: keyof typeof CRED_ARG): number => b.readUInt32LE(at + CRED_ARG[f]);
  const caps = (f: 'cap_permitted' | 'cap_effective' | 'cap_inheritable'): string => capsJson(u(f), b.readUInt32LE(at + CRED_ARG[f] + 4));
  const json =
    `{"process_credentials_arg":{"uid":${u('uid')},"gid":${u('gid')},"euid":${u('euid')},"egid":${u('egid')},` +
    `"suid":${u('suid')},"sgid":${u('sgid')},"fsuid":${u('fsuid')},"fsgid":${u('fsgid')},"securebits":${u('securebits')},` +
    `"caps":{"permitted":${caps('cap_permitted')},"effective":${caps('cap_effective')},"inheritable":${caps('cap_inheritable')}}}}`;
  return { json, text: `uid=${u('uid')} euid=${u('euid')}` };
}

/** A capability number as Tetragon's capability_arg. */
export function capabilityJson(n: number): string {
  return `{"capability_arg":{"value":${n},"name":"${CAPABILITIES[n] ?? `CAP_${n}`}"}}`;
}

/** A kernel sock (struct pal_sock_arg, tracing.h) as Tetragon's sock_arg. */
export function sockOf(b: Buffer, at: number): { json: string; text: string } {
  const family = b.readUInt16LE(at + SOCK_ARG.family);
  const type = b.readUInt16LE(at + SOCK_ARG.type);
  const protocol = b.readUInt16LE(at + SOCK_ARG.protocol);
  const state = b[at + SOCK_ARG.state]!;
  const sport = b.readUInt16LE(at + SOCK_ARG.sport);
  const dport = b.readUInt16LE(at + SOCK_ARG.dport);
  const saddr = addrText(b, at + SOCK_ARG.saddr, family);
  const daddr = addrText(b, at + SOCK_ARG.daddr, family);
  const json =
    `{"sock_arg":{"family":"${FAMILIES[family] ?? family}","type":"${SOCK_TYPES[type] ?? type}","protocol":"${PROTOCOLS[protocol] ?? protocol}"` +
    `,"saddr":"${saddr}","daddr":"${daddr}","sport":${sport},"dport":${dport},"state":"${TCP_STATES[state] ?? state}"}}`;
  return { json, text: `${endpoint(saddr, sport, family)} → ${endpoint(daddr, dport, family)}` };
}
