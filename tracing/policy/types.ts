// The parsed, validated model of a TracingPolicy (Tetragon's cilium.io/v1alpha1 schema).
// Everything here has passed parse.ts: values are normalized (canonical operator names,
// numbers parsed, macros expanded), so the selector compiler never re-checks them.

export const API_VERSION = 'cilium.io/v1alpha1';
export type PolicyKind = 'TracingPolicy' | 'TracingPolicyNamespaced';

/** Tetragon sets the mode with `spec.options: [{name: policy-mode, value: enforce|monitor}]`. */
export type PolicyMode = 'enforce' | 'monitor';

export interface PolicyError {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Field path, e.g. `spec.kprobes[0].selectors[1].matchArgs[0].operator`; '' for YAML syntax errors. */
  path: string;
  message: string;
}

export interface TracingPolicy {
  kind: PolicyKind;
  metadata: PolicyMetadata;
  spec: PolicySpec;
  /** File and line of the document, for messages about the policy as a whole. */
  /** positions: where each field path of the document starts (for errors found after parsing). */
  source: { file: string; line: number; positions?: ReadonlyMap<string, { line: number; column: number }> };
}

export interface PolicyMetadata {
  name: string;
  /** Set for TracingPolicyNamespaced only. */
  namespace?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface PolicySpec {
  kprobes: KprobeSpec[];
  tracepoints: TracepointSpec[];
  uprobes: UprobeSpec[];
  lsmhooks: LsmHookSpec[];
  lists: ListSpec[];
  /** As written, in order. Known names are checked; `mode` is derived from `policy-mode`. */
  options: OptionSpec[];
  mode: PolicyMode;
  podSelector?: LabelSelector;
  containerSelector?: LabelSelector;
  /** Only `{}` (all hosts) is accepted, as in Tetragon. */
  hostSelector?: LabelSelector;
  // spec.selectorsMacros is not kept: each macro is expanded into the selectors that name it.
}

export interface OptionSpec {
  name: string;
  value: string;
}

export type ListType = 'syscalls';
export interface ListSpec {
  name: string;
  type: ListType;
  values: string[];
}

export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: LabelSelectorRequirement[];
}
export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

// ---- hooks -------------------------------------------------------------------------------

export type HookKind = 'kprobe' | 'tracepoint' | 'uprobe' | 'lsmhook';

interface HookBase {
  args: ArgSpec[];
  selectors: Selector[];
  message?: string;
  tags: string[];
}

export interface KprobeSpec extends HookBase {
  hook: 'kprobe';
  /** A function name, or `list:NAME` naming a list of type syscalls. */
  call: string;
  /** Tetragon's default is true: the call is a syscall and gets the arch prefix. */
  syscall: boolean;
  return: boolean;
  returnArg?: ArgSpec;
  /** ignore.callNotFound: skip this kprobe when the function does not exist. */
  ignoreCallNotFound: boolean;
}

export interface TracepointSpec extends HookBase {
  hook: 'tracepoint';
  subsystem: string;
  event: string;
  raw: boolean;
}

export interface UprobeSpec extends HookBase {
  hook: 'uprobe';
  path: string;
  symbols: string[];
  /** File offsets to attach at, beside the symbols. */
  offsets: number[];
  return: boolean;
  returnArg?: ArgSpec;
}

export interface LsmHookSpec extends HookBase {
  hook: 'lsmhook';
  /** LSM hook name without the `security_` prefix, e.g. `file_open`. */
  lsmHook: string;
}

export type HookSpec = KprobeSpec | TracepointSpec | UprobeSpec | LsmHookSpec;

/** Every argument type Tetragon's CRD knows; schema.ts says which ones Palisade decodes. */
export const ARG_TYPES = [
  'auto', 'int', 'sint8', 'int8', 'uint8', 'sint16', 'int16', 'uint16', 'uint32', 'sint32', 'int32',
  'ulong', 'uint64', 'size_t', 'long', 'sint64', 'int64', 'char_buf', 'char_iovec', 'skb', 'sock',
  'sockaddr', 'socket', 'sockaddr_un', 'string', 'fd', 'file', 'filename', 'path', 'nop', 'bpf_attr',
  'perf_event', 'bpf_map', 'user_namespace', 'capability', 'kiocb', 'iov_iter', 'cred', 'const_buf',
  'load_info', 'module', 'syscall64', 'kernel_cap_t', 'cap_inheritable', 'cap_permitted',
  'cap_effective', 'linux_binprm', 'data_loc', 'net_device', 'bpf_cmd', 'dentry', 'bpf_prog',
] as const;
export type ArgType = (typeof ARG_TYPES)[number];

export interface ArgSpec {
  index: number;
  type: ArgType;
  /** Tetragon's convention: the size argument's index + 1 (3 means the argument at index 2). */
  sizeArgIndex?: number;
  returnCopy: boolean;
  maxData: boolean;
  label?: string;
}

// ---- selectors ---------------------------------------------------------------------------

export interface Selector {
  label?: string;
  matchArgs: ArgFilter[];
  matchReturnArgs: ArgFilter[];
  matchPIDs: PidFilter[];
  matchBinaries: BinaryFilter[];
  matchNamespaces: NamespaceFilter[];
  matchNamespaceChanges: NamespaceChangeFilter[];
  matchCapabilities: CapabilityFilter[];
  matchCapabilityChanges: CapabilityFilter[];
  matchActions: Action[];
  matchReturnActions: Action[];
}

/** Canonical operator names: GreaterThan/LessThan become GT/LT, NotSportPriv becomes NotSPortPriv. */
export const ARG_OPERATORS = [
  'Equal', 'NotEqual', 'Prefix', 'NotPrefix', 'Postfix', 'NotPostfix', 'GT', 'LT', 'Mask',
  'InRange', 'NotInRange', 'InMap', 'NotInMap', 'SubString', 'SubStringIgnCase', 'FileType', 'NotFileType',
  'SPort', 'NotSPort', 'SPortPriv', 'NotSPortPriv', 'DPort', 'NotDPort', 'DPortPriv', 'NotDPortPriv',
  'SAddr', 'NotSAddr', 'DAddr', 'NotDAddr', 'Protocol', 'Family', 'State',
] as const;
export type ArgOperator = (typeof ARG_OPERATORS)[number];

export interface Cidr {
  family: 4 | 6;
  address: string;
  prefixLen: number;
}

/** Values of an argument filter, parsed for the selector compiler. */
export type FilterValues =
  /** Equal/NotEqual/Prefix/Postfix/SubString on string-like arguments. */
  | { kind: 'strings'; values: string[] }
  /** Numeric compare (Equal, GT, Mask, …), capability masks, FileType mode bits. */
  | { kind: 'ints'; values: bigint[] }
  /** Inclusive ranges: InRange, InMap (a value v is [v, v]), ports, Protocol/Family/State. `lists` are list:NAME references. */
  | { kind: 'ranges'; values: Array<[bigint, bigint]>; lists: string[] }
  | { kind: 'cidrs'; values: Cidr[] }
  /** SPortPriv and friends take no values. */
  | { kind: 'none' };

export interface ArgFilter {
  index: number;
  operator: ArgOperator;
  /** As written in the policy. */
  values: string[];
  parsed: FilterValues;
}

export interface PidFilter {
  operator: 'In' | 'NotIn';
  values: number[];
  isNamespacePID: boolean;
  followForks: boolean;
}

export type BinaryOperator = 'In' | 'NotIn' | 'Prefix' | 'NotPrefix' | 'Postfix' | 'NotPostfix';
export interface BinaryFilter {
  operator: BinaryOperator;
  values: string[];
  followChildren: boolean;
}

export const NAMESPACE_TYPES = [
  'Uts', 'Ipc', 'Mnt', 'Pid', 'PidForChildren', 'Net', 'Time', 'TimeForChildren', 'Cgroup', 'User',
] as const;
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

export interface NamespaceFilter {
  namespace: NamespaceType;
  operator: 'In' | 'NotIn';
  /** Namespace inode numbers, or host_ns (resolved by the agent at load time). */
  values: Array<number | 'host_ns'>;
}

export interface NamespaceChangeFilter {
  operator: 'In' | 'NotIn';
  values: NamespaceType[];
}

export type CapabilitySet = 'Effective' | 'Inheritable' | 'Permitted';
export interface CapabilityFilter {
  type: CapabilitySet;
  operator: 'In' | 'NotIn';
  isNamespaceCapability: boolean;
  /** Upper-case names, e.g. CAP_SYS_ADMIN. */
  values: string[];
}

export type RateLimitScope = 'thread' | 'process' | 'global';

/** Only actions Palisade carries out appear here; the others are errors at parse time. */
export type Action =
  | { action: 'Post'; rateLimit?: { text: string; ms: number; scope: RateLimitScope } }
  | { action: 'NoPost' }
  | { action: 'Sigkill' }
  | { action: 'Signal'; argSig: number }
  | { action: 'Override'; argError: number };
