// Vocabulary of the TracingPolicy schema: Tetragon's names (taken from its CRD) and what
// Palisade does with each. A name Tetragon knows but Palisade does not implement is listed
// with a reason, so users get "not supported: why" instead of "unknown field".
import type { ArgOperator, ArgType } from './types.js';

// ---- argument types ----------------------------------------------------------------------

/** What selectors can do with an argument: compare numbers, strings, sockets, capability masks, or nothing. */
export type ArgClass = 'int' | 'string' | 'socket' | 'capmask' | 'opaque';

export interface ArgTypeInfo {
  cls: ArgClass;
  /** Width of an integer argument. */
  bits?: 8 | 16 | 32 | 64;
  signed?: boolean;
}

const int = (bits: 8 | 16 | 32 | 64, signed: boolean): ArgTypeInfo => ({ cls: 'int', bits, signed });

export const ARG_TYPE_INFO: Readonly<Partial<Record<ArgType, ArgTypeInfo>>> = {
  int: int(32, true),
  sint8: int(8, true),
  int8: int(8, true),
  uint8: int(8, false),
  sint16: int(16, true),
  int16: int(16, true),
  uint16: int(16, false),
  sint32: int(32, true),
  int32: int(32, true),
  uint32: int(32, false),
  long: int(64, true),
  sint64: int(64, true),
  int64: int(64, true),
  ulong: int(64, false),
  uint64: int(64, false),
  size_t: int(64, false),
  syscall64: int(64, true),
  string: { cls: 'string' },
  char_buf: { cls: 'string' },
  filename: { cls: 'string' },
  fd: { cls: 'string' },
  file: { cls: 'string' },
  path: { cls: 'string' },
  dentry: { cls: 'string' },
  linux_binprm: { cls: 'string' },
  data_loc: { cls: 'string' },
  net_device: { cls: 'string' },
  sock: { cls: 'socket' },
  skb: { cls: 'socket' },
  socket: { cls: 'socket' },
  sockaddr: { cls: 'socket' },
  kernel_cap_t: { cls: 'capmask' },
  cap_inheritable: { cls: 'capmask' },
  cap_permitted: { cls: 'capmask' },
  cap_effective: { cls: 'capmask' },
  char_iovec: { cls: 'opaque' },
  cred: { cls: 'opaque' },
  capability: { cls: 'opaque' },
  nop: { cls: 'opaque' },
};

/** Tetragon argument types Palisade has no decoder for. */
export const UNSUPPORTED_ARG_TYPES: Readonly<Partial<Record<ArgType, string>>> = {
  auto: 'type "auto" needs BTF resolution of the function prototype; name the type (int, string, file, …)',
  sockaddr_un: 'the sockaddr_un decoder is not implemented; use sockaddr',
  const_buf: 'the const_buf decoder is not implemented; use char_buf with sizeArgIndex',
  bpf_attr: 'the bpf_attr decoder is not implemented',
  perf_event: 'the perf_event decoder is not implemented',
  bpf_map: 'the bpf_map decoder is not implemented',
  bpf_prog: 'the bpf_prog decoder is not implemented',
  bpf_cmd: 'the bpf_cmd decoder is not implemented',
  user_namespace: 'the user_namespace decoder is not implemented',
  kiocb: 'the kiocb decoder is not implemented',
  iov_iter: 'the iov_iter decoder is not implemented',
  load_info: 'the load_info decoder is not implemented',
  module: 'the module decoder is not implemented',
};

// ---- matchArgs operators -----------------------------------------------------------------

/** Every spelling accepted: Tetragon's CRD enum, plus NotSPortPriv as its docs and code spell it. */
export const OPERATOR_SPELLINGS: Readonly<Record<string, ArgOperator>> = {
  Equal: 'Equal', NotEqual: 'NotEqual', Prefix: 'Prefix', NotPrefix: 'NotPrefix', Postfix: 'Postfix',
  NotPostfix: 'NotPostfix', GreaterThan: 'GT', GT: 'GT', LessThan: 'LT', LT: 'LT', Mask: 'Mask',
  InRange: 'InRange', NotInRange: 'NotInRange', InMap: 'InMap', NotInMap: 'NotInMap',
  SubString: 'SubString', SubStringIgnCase: 'SubStringIgnCase', FileType: 'FileType', NotFileType: 'NotFileType',
  SPort: 'SPort', NotSPort: 'NotSPort', SPortPriv: 'SPortPriv', NotSportPriv: 'NotSPortPriv', NotSPortPriv: 'NotSPortPriv',
  DPort: 'DPort', NotDPort: 'NotDPort', DPortPriv: 'DPortPriv', NotDPortPriv: 'NotDPortPriv',
  SAddr: 'SAddr', NotSAddr: 'NotSAddr', DAddr: 'DAddr', NotDAddr: 'NotDAddr',
  Protocol: 'Protocol', Family: 'Family', State: 'State',
};

export const UNSUPPORTED_OPERATORS: Readonly<Record<string, string>> = {
  CapabilitiesGained: 'CapabilitiesGained compares two capability arguments (matchArgs.args), which is not implemented',
  CelExpr: 'CEL expressions are not implemented (Tetragon deprecates CelExpr too)',
};

const INT_OPS: readonly ArgOperator[] = ['Equal', 'NotEqual', 'GT', 'LT', 'Mask', 'InRange', 'NotInRange', 'InMap', 'NotInMap'];
const STRING_OPS: readonly ArgOperator[] = ['Equal', 'NotEqual', 'Prefix', 'NotPrefix', 'Postfix', 'NotPostfix'];
const SOCKET_OPS: readonly ArgOperator[] = [
  'SPort', 'NotSPort', 'SPortPriv', 'NotSPortPriv', 'DPort', 'NotDPort', 'DPortPriv', 'NotDPortPriv',
  'SAddr', 'NotSAddr', 'DAddr', 'NotDAddr', 'Protocol', 'Family', 'State',
];
/** struct sockaddr has a source address, port and family only (Tetragon's rule too). */
const SOCKADDR_OPS: readonly ArgOperator[] = ['SPort', 'NotSPort', 'SPortPriv', 'NotSPortPriv', 'SAddr', 'NotSAddr', 'Family'];

/** Operators a filter may use on an argument of this type. */
export function operatorsFor(type: ArgType): readonly ArgOperator[] {
  const info = ARG_TYPE_INFO[type];
  switch (info?.cls) {
    case 'int':
      return INT_OPS;
    case 'string': {
      const extra: ArgOperator[] = [];
      if (type === 'string' || type === 'char_buf') extra.push('SubString', 'SubStringIgnCase');
      if (type === 'file' || type === 'path') extra.push('FileType', 'NotFileType');
      return [...STRING_OPS, ...extra];
    }
    case 'socket':
      return type === 'sockaddr' ? SOCKADDR_OPS : SOCKET_OPS;
    case 'capmask':
      return ['Equal', 'NotEqual', 'Mask'];
    default:
      return [];
  }
}

// ---- actions -----------------------------------------------------------------------------

export const SUPPORTED_ACTIONS = ['Post', 'NoPost', 'Sigkill', 'Signal', 'Override'] as const;
export type SupportedAction = (typeof SUPPORTED_ACTIONS)[number];

const FD_TRACKING = 'deprecated by Tetragon (removed in 1.5) and not implemented: declare the argument as type "fd" or "file", which resolve the path in the kernel';
export const UNSUPPORTED_ACTIONS: Readonly<Record<string, string>> = {
  FollowFD: FD_TRACKING,
  UnfollowFD: FD_TRACKING,
  CopyFD: FD_TRACKING,
  GetUrl: 'the agent makes no network requests on a match; send the event to an exporter instead',
  DnsLookup: 'the agent makes no network requests on a match; send the event to an exporter instead',
  TrackSock: 'socket tracking is not implemented',
  UntrackSock: 'socket tracking is not implemented',
  NotifyEnforcer: 'enforcer programs are not implemented; use Sigkill, Signal or Override in the selector',
  CleanupEnforcerNotification: 'enforcer programs are not implemented',
  Set: 'the Set action (USDT arguments) is not implemented',
  UpdateState: 'state objects are not implemented',
};

/** Every field an action may carry in Tetragon's CRD, and which supported action uses it. */
export const ACTION_FIELDS: Readonly<Record<string, SupportedAction | 'unsupported'>> = {
  argSig: 'Signal',
  argError: 'Override',
  rateLimit: 'Post',
  rateLimitScope: 'Post',
  kernelStackTrace: 'Post',
  userStackTrace: 'Post',
  imaHash: 'Post',
  argFd: 'unsupported',
  argName: 'unsupported',
  argUrl: 'unsupported',
  argFqdn: 'unsupported',
  argSock: 'unsupported',
  argIndex: 'unsupported',
  argValue: 'unsupported',
  argRegs: 'unsupported',
  argNewSymbol: 'unsupported',
  argNewAddr: 'unsupported',
  argNewOffset: 'unsupported',
  stateName: 'unsupported',
  stateNewValue: 'unsupported',
  stateUpdateOperator: 'unsupported',
};

export const RATE_LIMIT_SCOPES = ['thread', 'process', 'global'] as const;

// ---- policy options ----------------------------------------------------------------------

/** spec.options names Tetragon documents. Values are strings in the CRD. */
export const OPTION_NAMES = ['policy-mode', 'disable-kprobe-multi', 'disable-uprobe-multi', 'uprobe-heap-size'] as const;

// ---- names used by filter values ---------------------------------------------------------

export const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT',
  'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
]; // index = capability number (linux/capability.h)

export const IP_PROTOCOLS: Readonly<Record<string, number>> = {
  IPPROTO_IP: 0, IPPROTO_ICMP: 1, IPPROTO_IGMP: 2, IPPROTO_IPIP: 4, IPPROTO_TCP: 6, IPPROTO_EGP: 8,
  IPPROTO_PUP: 12, IPPROTO_UDP: 17, IPPROTO_IDP: 22, IPPROTO_TP: 29, IPPROTO_DCCP: 33, IPPROTO_IPV6: 41,
  IPPROTO_RSVP: 46, IPPROTO_GRE: 47, IPPROTO_ESP: 50, IPPROTO_AH: 51, IPPROTO_ICMPV6: 58, IPPROTO_MTP: 92,
  IPPROTO_BEETPH: 94, IPPROTO_ENCAP: 98, IPPROTO_PIM: 103, IPPROTO_COMP: 108, IPPROTO_L2TP: 115,
  IPPROTO_SCTP: 132, IPPROTO_UDPLITE: 136, IPPROTO_MPLS: 137, IPPROTO_ETHERNET: 143, IPPROTO_RAW: 255,
  IPPROTO_MPTCP: 262,
};

export const ADDRESS_FAMILIES: Readonly<Record<string, number>> = {
  AF_UNSPEC: 0, AF_UNIX: 1, AF_LOCAL: 1, AF_INET: 2, AF_AX25: 3, AF_IPX: 4, AF_APPLETALK: 5,
  AF_NETROM: 6, AF_BRIDGE: 7, AF_ATMPVC: 8, AF_X25: 9, AF_INET6: 10, AF_ROSE: 11, AF_DECnet: 12,
  AF_NETBEUI: 13, AF_SECURITY: 14, AF_KEY: 15, AF_NETLINK: 16, AF_ROUTE: 16, AF_PACKET: 17, AF_ASH: 18,
  AF_ECONET: 19, AF_ATMSVC: 20, AF_RDS: 21, AF_SNA: 22, AF_IRDA: 23, AF_PPPOX: 24, AF_WANPIPE: 25,
  AF_LLC: 26, AF_IB: 27, AF_MPLS: 28, AF_CAN: 29, AF_TIPC: 30, AF_BLUETOOTH: 31, AF_IUCV: 32,
  AF_RXRPC: 33, AF_ISDN: 34, AF_PHONET: 35, AF_IEEE802154: 36, AF_CAIF: 37, AF_ALG: 38, AF_NFC: 39,
  AF_VSOCK: 40, AF_KCM: 41, AF_QIPCRTR: 42, AF_SMC: 43, AF_XDP: 44, AF_MCTP: 45,
};

export const TCP_STATES: Readonly<Record<string, number>> = {
  TCP_ESTABLISHED: 1, TCP_SYN_SENT: 2, TCP_SYN_RECV: 3, TCP_FIN_WAIT1: 4, TCP_FIN_WAIT2: 5,
  TCP_TIME_WAIT: 6, TCP_CLOSE: 7, TCP_CLOSE_WAIT: 8, TCP_LAST_ACK: 9, TCP_LISTEN: 10, TCP_CLOSING: 11,
  TCP_NEW_SYN_RECV: 12,
};

/** FileType values (Tetragon's names) to S_IF* mode bits. */
export const FILE_TYPES: Readonly<Record<string, number>> = {
  sock: 0o140000, socket: 0o140000, lnk: 0o120000, link: 0o120000, reg: 0o100000, regular: 0o100000,
  blk: 0o060000, block: 0o060000, dir: 0o040000, chr: 0o020000, char: 0o020000, fifo: 0o010000, pipe: 0o010000,
};
