// Public types of the libbpf facade. No policy logic lives in native/.

/** An error from libbpf or the kernel: errno plus libbpf's own message. */
export interface BpfErrorFields {
  errno: number;
  /** e.g. "EPERM" */
  code: string;
  /** What was being done: "open", "load", "attach", "map.update", ... */
  op: string;
  /** libbpf's log lines captured during the failing call (verifier log tail on load). */
  libbpfLog: string;
}

export type AttachSpec =
  | { kind: 'auto' }
  | { kind: 'tracepoint'; category: string; name: string }
  | { kind: 'raw_tp'; name: string }
  | { kind: 'tp_btf' }
  | { kind: 'uprobe'; binary: string; offset?: number; symbol?: string; pid?: number; retprobe?: boolean }
  | { kind: 'kprobe'; func: string; retprobe?: boolean }
  | { kind: 'fentry' }
  | { kind: 'lsm' }
  | { kind: 'cgroup'; cgroupPath: string }
  | { kind: 'tc'; ifindex: number; direction: 'ingress' | 'egress'; priority?: number; handle?: number };

export interface ProgramInfo {
  name: string;
  section: string;
  /** libbpf's name for the program type, e.g. "tracing", "tracepoint", "cgroup_sock_addr". */
  type: string;
  /** -1 before load, and for programs whose autoload was off. */
  fd: number;
  /** Whether load() loads it ("?" section prefix or setAutoload(false) turn it off). */
  autoload: boolean;
}

export interface MapInfo {
  name: string;
  /** libbpf's name for the map type, e.g. "hash", "percpu_array", "ringbuf". */
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  fd: number;
}

export interface FeatureReport {
  kernelRelease: string;
  btf: boolean;
  ringbuf: boolean;
  programTypes: Record<string, boolean>;
  mapTypes: Record<string, boolean>;
  helpers: Record<string, boolean>;
  attach: Record<string, { ok: boolean; reason?: string }>;
  lsms: string[];
  lockdown: string;
  /** Where cgroup v2 is mounted (e.g. /sys/fs/cgroup/unified on hybrid hosts), or null. */
  cgroup2Path: string | null;
}
