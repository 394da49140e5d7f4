// The network-policy model shared by the parser (network/policy), the compiler (network/compile) and
// the datapath (network/datapath). Byte layouts of the maps are in bpf/include/palisade/netpol.h;
// only network/datapath encodes them.

export type Direction = 'ingress' | 'egress';
export type PolicyMode = 'enforce' | 'audit';
export type Verdict = 'FORWARDED' | 'DROPPED' | 'AUDIT';

/** Reserved identities (netpol.h). */
export const ID = { ANY: 0, HOST: 1, WORLD: 2, FIRST_WORKLOAD: 256, CIDR_SCOPE: 1 << 24 } as const;

/** A workload: one cgroup (v2) with a namespace and labels, and the addresses it answers on. */
export interface Workload {
  cgroupId: bigint;
  cgroupPath: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** Canonical addresses ("10.1.0.2", "fd00::2"); may be empty (a host service shares host addresses). */
  ips: readonly string[];
}

/** What one verdict half says for a key (netpol.h pal_np_half). Marks select binaries (process-aware rules). */
export interface VerdictHalf {
  allow: boolean;
  deny: boolean;
  allowMarks: bigint;
  denyMarks: bigint;
  /** Rule ids for the verdict event; 0 = none. */
  allowRule: number;
  denyRule: number;
}

/** One entry of pal_np_ingress / pal_np_egress. */
export interface PolicyEntry {
  dir: Direction;
  localId: number;
  /** ID.ANY for rules whose peer is every identity. */
  peerId: number;
  /** null: every protocol and port (an L3 rule). */
  proto: number | null;
  /** With proto: ports [port, port + 2^(16 - portBits)); portBits 0 = every port of proto. */
  port: number;
  portBits: number;
  enf: VerdictHalf;
  all: VerdictHalf;
}

/** pal_np_idents: default-deny per direction, from enforce-mode policies and from every policy. */
export interface IdentityDefaults {
  localId: number;
  ingressEnf: boolean;
  ingressAll: boolean;
  egressEnf: boolean;
  egressAll: boolean;
}

/** pal_np_ipcache: prefix → identity. cidr is canonical ("10.0.0.0/8", "10.1.0.2/32", "fd00::/64"). */
export interface IpcacheEntry {
  cidr: string;
  identity: number;
  /** An IPv4 entry may also carry its prefix as numbers (32-bit address, length 0..32; -1 otherwise):
   *  then it is encoded without reading its text. */
  readonly v4Len?: number;
  readonly v4Addr?: number;
}

/** pal_np_cgroups: which workload identity a cgroup has. */
export interface CgroupEntry {
  cgroupId: bigint;
  identity: number;
}

/** Everything the datapath holds; the compiler produces it whole, the datapath applies the difference. */
export interface DatapathState {
  policy: PolicyEntry[];
  defaults: IdentityDefaults[];
  ipcache: IpcacheEntry[];
  cgroups: CgroupEntry[];
  /** How `policy` differs from the policy of `base` (when the compiler knows): lets the datapath
   *  write a change without comparing tens of thousands of entries. Weak: states do not chain. */
  policyDelta?: PolicyDelta;
  /** The same for `ipcache`, when only CIDRs came or went (not the workloads). */
  ipcacheDelta?: StateDelta<IpcacheEntry>;
}

export interface StateDelta<T> {
  base: WeakRef<DatapathState>;
  added: readonly T[];
  removed: readonly T[];
}

export type PolicyDelta = StateDelta<PolicyEntry>;

/** What a rule id in a verdict event stands for. Rule ids are never reused while the agent runs. */
export interface RuleInfo {
  id: number;
  policy: string;
  /** null for cluster-wide policies. */
  namespace: string | null;
  kind: string;
  /** Field path of the rule in its document, e.g. "spec.egress[0]". */
  path: string;
  verdict: 'allow' | 'deny';
  mode: PolicyMode;
  file?: string;
  line?: number;
}

/** The datapath as the compiler's manager sees it (implemented over BPF maps in network/datapath). */
export interface PolicyMaps {
  /** Moves the kernel from `from` to `to` with no moment where a packet gets a verdict neither state
   *  would give: upserts most specific entries first, then identity defaults, then deletes. */
  apply(from: DatapathState, to: DatapathState): void;
}
