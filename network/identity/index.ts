// Identities: workloads by (namespace, labels), CIDRs by prefix, and the ipcache that maps addresses to them.
export { WorkloadIdentities, identityKey, selectorLabels, type NamespaceLabels, type WorkloadIdentity } from './workloads.js';
export { CidrIdentities, type CidrIdentity } from './cidrs.js';
export { addressEntries, buildIpcache, type AddressOwner } from './ipcache.js';
export { contains, formatPrefix, hostPrefix, parseIp, parsePrefix, type Prefix } from './cidr.js';
