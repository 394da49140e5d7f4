// Byte layout of the structs in bpf/include/palisade/tracing.h and marks.h.
// test/unit/tracing-layout.test.ts checks every offset against the BTF of build/bpf/generic-kprobe.bpf.o.

export const ARG_CFG = { src: 0, kind: 1, size: 2, is_signed: 3, at: 4, max: 6, len_src: 8, len_size: 9, len_at: 10, $size: 12 } as const;
export const ARG_FILTER = { arg: 0, op: 1, nvalues: 2, dst: 3, map_id: 4, values: 8, $size: 40 } as const;
export const PID_FILTER = { not_in: 0, ns_pid: 1, follow: 2, pad: 3, map_id: 4, mark: 8, $size: 16 } as const;
export const NS_FILTER = { ns: 0, not_in: 1, nvalues: 2, pad: 3, values: 4, $size: 20 } as const;
export const CAP_FILTER = { set: 0, not_in: 1, pad: 2, mask: 8, $size: 16 } as const;
export const ACTION_CFG = { kind: 0, rate_scope: 1, pad: 2, value: 4, rate_ms: 8, pad2: 12, $size: 16 } as const;
export const SELECTOR_CFG = {
  nargs: 0, npids: 1, nns: 2, ncaps: 3, nactions: 4, bin_op: 5, nret_args: 6, nret_actions: 7, bin_mark: 8,
  args: 16, pids: 216, ns: 280, caps: 480, actions: 528, ret_args: 576, ret_actions: 656, $size: 704,
} as const;
export const HOOK_CFG = {
  hook_id: 0, nargs: 4, nselectors: 5, monitor: 6, needs_marks: 7, has_return: 8, cgroup_filter: 9, pad: 10, args: 12, sel: 88, $size: 3608,
} as const;
export const STR_KEY = { prefixlen: 0, map_id: 4, data: 8, $size: 260 } as const;
export const ADDR_KEY = { prefixlen: 0, map_id: 4, addr: 8, $size: 24 } as const;
export const NUM_KEY = { map_id: 0, pad: 4, value: 8, $size: 16 } as const;
export const BIN_KEY = { prefixlen: 0, kind: 4, path: 8, $size: 260 } as const;
export const SOCK_ARG = { family: 0, type: 2, protocol: 4, state: 6, pad: 7, sport: 8, dport: 10, saddr: 12, daddr: 28, $size: 44 } as const;
export const CRED_ARG = {
  uid: 0, gid: 4, euid: 8, egid: 12, suid: 16, sgid: 20, fsuid: 24, fsgid: 28, securebits: 32, pad: 36,
  cap_inheritable: 40, cap_permitted: 48, cap_effective: 56, $size: 64,
} as const;
export const MARKS_CFG = { keep_on_exec: 0, active: 8, pad: 12, $size: 16 } as const;

export const TRACING_LAYOUTS: Record<string, Record<string, number>> = {
  pal_arg_cfg: ARG_CFG,
  pal_arg_filter: ARG_FILTER,
  pal_pid_filter: PID_FILTER,
  pal_ns_filter: NS_FILTER,
  pal_cap_filter: CAP_FILTER,
  pal_action_cfg: ACTION_CFG,
  pal_selector_cfg: SELECTOR_CFG,
  pal_hook_cfg: HOOK_CFG,
  pal_str_key: STR_KEY,
  pal_addr_key: ADDR_KEY,
  pal_num_key: NUM_KEY,
  pal_bin_key: BIN_KEY,
  pal_marks_cfg: MARKS_CFG,
  pal_sock_arg: SOCK_ARG,
  pal_cred_arg: CRED_ARG,
};

/** Array bounds of tracing.h. */
export const TR = {
  args: 5, selectors: 5, matchArgs: 5, retArgs: 2, values: 4, pids: 4, ns: 10, caps: 3, actions: 3, strMax: 256, binPath: 256,
} as const;

export const enum ArgSrc { Tp = 1, Ctx64 = 2, Reg = 3, Ret = 4, SysReg = 5 }
export const enum ArgKind { Int = 1, UStr = 2, KStr = 3, UBuf = 4, USockaddr = 5, KFile = 6, KPath = 7, Fd = 8, KFilename = 9, KSock = 10, KCred = 11, DataLoc = 12 }
export const enum Op {
  Eq = 1, Ne, Gt, Lt, Mask, InRange, NotInRange, InMap, NotInMap,
  StrEq, StrNe, Prefix, NotPrefix, Postfix, NotPostfix,
  Family, Port, NotPort, PortPriv, NotPortPriv, Addr, NotAddr, Protocol,
}
export const enum ActKind { Post = 1, NoPost, Sigkill, Signal, Override }
export const enum BinKind { Exact = 1, Prefix = 2, Postfix = 3 }

/** enum pal_hook_stat */
export const HOOK_STAT_NAMES = ['posted', 'enforced', 'rate_limited', 'lost'] as const;
