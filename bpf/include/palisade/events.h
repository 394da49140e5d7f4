/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Records every Palisade BPF program writes to the ring buffer.
 * The TypeScript decoders (agent/pipeline/layout.ts) read these by offset; a test checks those
 * offsets against the BTF of the built objects, so change a struct here and the test tells you. */
#ifndef __PALISADE_EVENTS_H
#define __PALISADE_EVENTS_H

#define PAL_EV_EXEC 1
#define PAL_EV_EXIT 2
#define PAL_EV_FORK 3
#define PAL_EV_HOOK 4 /* a tracing hook fired: the agent's hook registry says which and how to decode */
#define PAL_EV_NET  5 /* network policy: a verdict, a TCP flow edge, or a DNS message (struct pal_net) */

/* Bounds on the variable part of an exec record. Powers of two: the verifier needs masks. */
#define PAL_PATH_MAX 1024  /* binary, cwd: bytes including NUL */
#define PAL_ARGS_MAX 1024  /* argv bytes, NUL separated */
#define PAL_CGRP_MAX 512   /* cgroup path */
#define PAL_PATH_DEPTH 32  /* path components kept (power of two) */
#define PAL_CGRP_DEPTH 16  /* kernfs nodes walked for the cgroup path */

/* pal_exec.flags */
#define PAL_EXEC_ARGS_TRUNC   (1u << 0)
#define PAL_EXEC_BIN_TRUNC    (1u << 1)
#define PAL_EXEC_CWD_TRUNC    (1u << 2)
#define PAL_EXEC_CGRP_TRUNC   (1u << 3)
#define PAL_EXEC_ARGS_FAULT   (1u << 4) /* argv pages were not readable */
#define PAL_EXEC_BIN_FALLBACK (1u << 5) /* path walk failed: binary is bprm->filename */

/* Namespace inode numbers, in this order, in pal_exec.ns[]. */
enum pal_ns_index {
	PAL_NS_UTS, PAL_NS_IPC, PAL_NS_MNT, PAL_NS_PID, PAL_NS_PID_CHILD, PAL_NS_NET,
	PAL_NS_TIME, PAL_NS_TIME_CHILD, PAL_NS_CGROUP, PAL_NS_USER, PAL_NS_COUNT
};

/* Every record starts with this. ktime is CLOCK_BOOTTIME ns at the time of the event. */
struct pal_hdr {
	__u16 type;
	__u16 cpu;
	__u32 size; /* whole record, header included */
	__u64 ktime;
};

struct pal_exec {
	struct pal_hdr hdr;
	__u32 pid;  /* thread group id, init pid namespace */
	__u32 tid;
	__u32 ppid; /* real parent's tgid */
	__u32 uid, gid, euid, egid, suid, sgid, fsuid, fsgid;
	__u32 auid; /* login uid, 4294967295 when unset */
	__u32 flags;
	__u64 start_boottime;        /* of this task (fork time) */
	__u64 parent_start_boottime; /* of the real parent: tells pid reuse apart */
	__u64 cgroup_id;
	__u64 cap_permitted, cap_effective, cap_inheritable;
	__u32 ns[PAL_NS_COUNT];
	__u16 binary_len; /* bytes in data[], without NUL */
	__u16 args_len;
	__u16 cwd_len;
	__u16 cgroup_len;
	/* data: binary, args (NUL separated), cwd, cgroup path; each without a trailing NUL */
	char data[];
};

struct pal_exit {
	struct pal_hdr hdr;
	__u32 pid;
	__u32 tid;
	__u64 start_boottime;
	__u32 exit_code; /* status as wait(2) encodes it: (code << 8) | signal */
	__u32 pad;
};

struct pal_fork {
	struct pal_hdr hdr;
	__u32 pid;  /* the child */
	__u32 tid;
	__u32 ppid;
	__u32 pad;
	__u64 start_boottime;
	__u64 parent_start_boottime;
};

#define PAL_HOOK_ARGS 6

/* pal_hook.action: the strongest action of the selector that matched */
#define PAL_ACTION_POST    0
#define PAL_ACTION_SIGKILL 1
#define PAL_ACTION_SIGNAL  2
#define PAL_ACTION_OVERRIDE 3

/* pal_hook.flags */
#define PAL_HOOK_ENFORCED (1u << 0) /* the action was carried out (clear in monitor mode) */
#define PAL_HOOK_RETURN   (1u << 1) /* args[PAL_HOOK_ARGS - 1] holds the function's return value */
#define PAL_HOOK_ARG_TRUNC(i) (1u << (8 + (i))) /* argument i was cut to its bound */
#define PAL_HOOK_ARG_FAULT(i) (1u << (16 + (i))) /* argument i could not be read */

/* A string, buffer or socket address argument: its slot holds (len << 32) | offset into data[]. */
#define PAL_HOOK_DATA_MAX 2048

struct pal_hook {
	struct pal_hdr hdr;
	__u32 pid;
	__u32 tid;
	__u64 start_boottime; /* of the thread group leader: matches the process cache entry */
	__u32 hook_id;        /* index into the agent's hook registry */
	__u16 action;
	__u8 nargs;
	__u8 selector;        /* index of the selector that matched */
	__u32 flags;
	__s32 value;          /* Signal: the signal; Override: the error returned */
	__u64 args[PAL_HOOK_ARGS]; /* numbers raw; the registry gives their types */
	char data[];          /* strings, buffers, socket addresses */
};

/* pal_net.kind */
#define PAL_NET_VERDICT 1 /* a policy decision on a workload (once per connection / UDP peer / SYN) */
#define PAL_NET_CONNECT 2 /* TCP SYN_SENT -> ESTABLISHED */
#define PAL_NET_ACCEPT  3 /* TCP SYN_RECV -> ESTABLISHED (passive side) */
#define PAL_NET_CLOSE   4 /* TCP -> CLOSE, with byte counts */
#define PAL_NET_DNS     5 /* a UDP port 53 message: data[] holds up to PAL_NET_DNS_MAX payload bytes */

#define PAL_NET_DNS_MAX 512

/* pal_net.flags */
#define PAL_NET_F_OWNER   (1u << 0) /* pid/start_boottime are the socket owner's (recorded in process
				     * context); otherwise the task that happened to run (softirq) */
#define PAL_NET_F_REPLY   (1u << 1) /* passed as a reply of a flow allowed earlier */
#define PAL_NET_F_TRUNC   (1u << 2) /* data[] was cut to PAL_NET_DNS_MAX */
#define PAL_NET_F_CACHED  (1u << 3) /* verdict/rule_id are the ones cached when the flow started */

/* Addresses are 16 bytes, IPv4 stored v4-mapped (::ffff:a.b.c.d); ports in host byte order
 * (for ICMP: peer_port = local_port = the ICMP type). direction is PAL_NP_INGRESS / PAL_NP_EGRESS. */
struct pal_net {
	struct pal_hdr hdr;
	__u32 pid;
	__u32 tid;
	__u64 start_boottime; /* of the thread group leader: joins the process cache */
	__u64 cgroup_id;
	__u64 cookie;         /* socket cookie: joins verdict, connect/accept and close of one socket */
	__u64 bytes_acked;    /* close: tcp_sock.bytes_acked (sent and acknowledged) */
	__u64 bytes_received; /* close: tcp_sock.bytes_received */
	__u8 local_addr[16];
	__u8 peer_addr[16];
	__u32 local_id;
	__u32 peer_id;
	__u32 rule_id;        /* rule that decided; 0 = default (deny, or allow when no policy applies) */
	__u16 local_port;
	__u16 peer_port;
	__u8 kind;            /* PAL_NET_* */
	__u8 family;          /* AF_INET, AF_INET6 */
	__u8 protocol;        /* IPPROTO_* */
	__u8 direction;
	__u8 verdict;         /* PAL_VERDICT_*; 0 on records of sockets no verdict was made for */
	__u8 flags;           /* PAL_NET_F_* */
	__u16 data_len;       /* bytes in data[] */
	char data[];
};

/* Indices into the per-CPU counter array every program shares. */
enum pal_stat {
	PAL_STAT_LOST_EXEC,  /* ring buffer full: an exec record was dropped */
	PAL_STAT_LOST_EXIT,
	PAL_STAT_LOST_FORK,
	PAL_STAT_LOST_HOOK,
	PAL_STAT_SENT,
	PAL_STAT_LOST_MARK,   /* pal_proc_marks full: a process' matchBinaries bits were not recorded */
	PAL_STAT_LOST_NET,    /* ring buffer full: a network record (verdict, flow, dns) was dropped */
	PAL_STAT_COUNT
};

#endif
