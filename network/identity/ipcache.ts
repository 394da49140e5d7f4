// pal_np_ipcache: which identity an address has. Workload addresses (/32, /128) name their workload's
// identity, host addresses HOST, and every prefix a rule names its CIDR identity. Addresses with no
// entry are WORLD in the kernel.
import { ID, type IpcacheEntry } from '../model.js';
import { formatPrefix, hostPrefix } from './cidr.js';
import type { CidrIdentities } from './cidrs.js';

export interface AddressOwner {
  ips: readonly string[];
  identity: number;
}

/**
 * Host and workload entries. When two owners claim one address the first keeps it (host addresses
 * first, then workloads in the order given).
 */
export function addressEntries(hostIps: readonly string[], owners: Iterable<AddressOwner>): IpcacheEntry[] {
  const out: IpcacheEntry[] = [];
  const taken = new Set<string>();
  const add = (ip: string, identity: number): void => {
    const p = hostPrefix(ip);
    if (!p) return;
    const cidr = formatPrefix(p);
    if (taken.has(cidr)) return;
    taken.add(cidr);
    out.push({ cidr, identity });
  };
  for (const ip of hostIps) add(ip, ID.HOST);
  for (const o of owners) for (const ip of o.ips) add(ip, o.identity);
  return out;
}

/**
 * The whole ipcache: address entries, then one entry per CIDR identity. A CIDR equal to a workload
 * address does not replace it: CIDR rules never select workloads, as in Cilium.
 */
export function buildIpcache(addresses: readonly IpcacheEntry[], cidrs: CidrIdentities): IpcacheEntry[] {
  // Only a /32 or /128 rule prefix can equal an address: look the few addresses up, not every CIDR.
  let shadowed: Set<string> | null = null;
  for (const a of addresses) {
    if (cidrs.id(a.cidr) !== undefined) (shadowed ??= new Set()).add(a.cidr);
  }
  const all = cidrs.entries();
  if (shadowed === null) return addresses.concat(all);
  return addresses.concat(all.filter((e) => !shadowed.has(e.cidr)));
}
