// Byte offsets of the records in bpf/include/palisade/events.h.
// test/unit/layout.test.ts checks every entry against the BTF of the built objects.

export const EV_EXEC = 1;
export const EV_EXIT = 2;
export const EV_FORK = 3;
export const EV_HOOK = 4;

/** Size of the frame header the native drain writes before each record: u32 len, u32 zero. */
export const FRAME_HEADER = 8;

export const HDR = { type: 0, cpu: 2, size: 4, ktime: 8, $size: 16 } as const;

export const EXEC = {
  hdr: 0, pid: 16, tid: 20, ppid: 24, uid: 28, gid: 32, euid: 36, egid: 40, suid: 44, sgid: 48,
  fsuid: 52, fsgid: 56, auid: 60, flags: 64, start_boottime: 72, parent_start_boottime: 80,
  cgroup_id: 88, cap_permitted: 96, cap_effective: 104, cap_inheritable: 112, ns: 120,
  binary_len: 160, args_len: 162, cwd_len: 164, cgroup_len: 166, data: 168, $size: 168,
} as const;

export const EXIT = { hdr: 0, pid: 16, tid: 20, start_boottime: 24, exit_code: 32, pad: 36, $size: 40 } as const;

export const FORK = {
  hdr: 0, pid: 16, tid: 20, ppid: 24, pad: 28, start_boottime: 32, parent_start_boottime: 40, $size: 48,
} as const;

export const HOOK = {
  hdr: 0, pid: 16, tid: 20, start_boottime: 24, hook_id: 32, action: 36, nargs: 38, selector: 39,
  flags: 40, value: 44, args: 48, data: 96, $size: 96,
} as const;
export const HOOK_ARGS = 6;

/** pal_hook.flags */
export const HOOK_ENFORCED = 1 << 0;
/** args[HOOK_ARGS - 1] holds the return value (return probes). */
export const HOOK_RETURN = 1 << 1;
export const hookArgTrunc = (i: number): number => 1 << (8 + i);
export const hookArgFault = (i: number): number => 1 << (16 + i);

/** pal_exec.flags */
export const EXEC_ARGS_TRUNC = 1 << 0;
export const EXEC_BIN_TRUNC = 1 << 1;
export const EXEC_CWD_TRUNC = 1 << 2;
export const EXEC_CGRP_TRUNC = 1 << 3;
export const EXEC_ARGS_FAULT = 1 << 4;
export const EXEC_BIN_FALLBACK = 1 << 5;

/** Order of pal_exec.ns[] (enum pal_ns_index). */
export const NS_NAMES = [
  'uts', 'ipc', 'mnt', 'pid', 'pid_for_children', 'net', 'time', 'time_for_children', 'cgroup', 'user',
] as const;

/** enum pal_stat: indices into the per-CPU pal_stats array. */
export const STAT_NAMES = ['lost_exec', 'lost_exit', 'lost_fork', 'lost_hook', 'sent', 'lost_mark', 'lost_net'] as const;

export const LAYOUTS: Record<string, Record<string, number>> = {
  pal_hdr: HDR,
  pal_exec: EXEC,
  pal_exit: EXIT,
  pal_fork: FORK,
  pal_hook: HOOK,
};
