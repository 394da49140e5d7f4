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
 * When two owners claim one address the first keeps it (host addresses come first, then workloads in
 * the order given); a CIDR equal to a workload address does not replace it: CIDR rules never select
 * workloads, as in Cilium.
 */
export function buildIpcache(hostIps: readonly string[], owners: Iterable<AddressOwner>, cidrs: CidrIdentities): IpcacheEntry[] {
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
  for (const c of cidrs.all()) {
    if (taken.has(c.cidr)) continue;
    out.push({ cidr: c.cidr, identity: c.id });
  }
  return out;
}
