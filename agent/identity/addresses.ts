// The addresses a workload answers on: the local addresses of the network namespace its processes
// run in, read from /proc/PID/net (which shows the namespace of PID, not the reader's).
import { readFileSync } from 'node:fs';

/**
 * The IPv4 addresses of the namespace's interfaces: the `/32 host LOCAL` leaves of
 * /proc/PID/net/fib_trie, loopback (127.0.0.0/8) left out. Each appears once, in trie order.
 */
export function parseFibTrieLocal(text: string): string[] {
  const out = new Set<string>();
  let leaf = '';
  for (const line of text.split('\n')) {
    const t = line.trimStart();
    if (t.startsWith('|-- ')) leaf = t.slice(4).trim();
    else if (t.startsWith('/32 host LOCAL') && leaf !== '' && !leaf.startsWith('127.')) out.add(leaf);
  }
  return [...out];
}

/** if_inet6 scope values (include/net/ipv6.h IFA_HOST, IFA_LINK) and the flag of a failed DAD. */
const SCOPE_HOST = 0x10;
const SCOPE_LINK = 0x20;
const IFA_F_DADFAILED = 0x08;

/**
 * The IPv6 addresses of /proc/PID/net/if_inet6 ("fd00…0002 04 40 00 82 eth0": address, ifindex,
 * prefix length, scope, flags, name) in canonical form; loopback, link-local and addresses that
 * failed duplicate detection left out.
 */
export function parseIfInet6(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-f]{32}$/.test(f[0]!)) continue;
    const scope = parseInt(f[3]!, 16);
    const flags = parseInt(f[4]!, 16);
    if (scope === SCOPE_HOST || scope === SCOPE_LINK || flags & IFA_F_DADFAILED) continue;
    out.add(canonicalIpv6(f[0]!.replace(/(.{4})(?!$)/g, '$1:')));
  }
  return [...out];
}

/** RFC 5952 text of an IPv6 address (the WHATWG URL parser writes hosts that way). */
export function canonicalIpv6(addr: string): string {
  return new URL(`http://[${addr}]/`).hostname.slice(1, -1);
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

/** The local addresses of the network namespace `pid` runs in, IPv4 first. Empty when pid is gone. */
export function readNetnsAddresses(pid: number): string[] {
  return [...parseFibTrieLocal(readOr(`/proc/${pid}/net/fib_trie`)), ...parseIfInet6(readOr(`/proc/${pid}/net/if_inet6`))];
}
