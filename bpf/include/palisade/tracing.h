/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A compiled TracingPolicy hook, as the generic tracing program reads it from .rodata.
 * tracing/compile/ writes this struct byte for byte; a test checks its offsets against the BTF of
 * the built object. The verifier sees the values as constants, so loops over unused selectors,
 * filters and arguments cost nothing at run time. */
#ifndef __PALISADE_TRACING_H
#define __PALISADE_TRACING_H

#define PAL_TR_ARGS 5        /* captured arguments per hook */
#define PAL_TR_SELECTORS 5
#define PAL_TR_MATCH_ARGS 5  /* matchArgs per selector */
#define PAL_TR_VALUES 4      /* inline values of a numeric filter */
#define PAL_TR_PIDS 4        /* matchPIDs per selector */
#define PAL_TR_NS 10         /* matchNamespaces per selector */
#define PAL_TR_CAPS 3        /* matchCapabilities per selector */
#define PAL_TR_ACTIONS 3
#define PAL_TR_RET_ARGS 2    /* matchReturnArgs per selector */
#define PAL_TR_RET PAL_TR_ARGS /* the slot of the return value (returnArg) in args[] and values */
#define PAL_STR_MAX 256      /* bytes kept of a string or buffer argument (power of two) */
#define PAL_SOCKADDR_LEN 28  /* sizeof(struct sockaddr_in6) */

/* where an argument's raw 64-bit value comes from */
enum pal_arg_src {
	PAL_SRC_TP = 1,   /* byte offset in the tracepoint record */
	PAL_SRC_CTX64,    /* u64 slot of the context: raw_tp, fentry, lsm */
	PAL_SRC_REG,      /* parameter register: kprobe, uprobe */
	PAL_SRC_RET,      /* the return value: kretprobe, uretprobe, fexit */
	PAL_SRC_SYSREG,   /* syscall kprobe: the syscall's own registers, in the pt_regs the wrapper gets */
};

/* what the value is */
enum pal_arg_kind {
	PAL_ARG_INT = 1,   /* the number itself */
	PAL_ARG_USTR,      /* user pointer to a NUL-terminated string */
	PAL_ARG_KSTR,      /* kernel pointer to a NUL-terminated string */
	PAL_ARG_UBUF,      /* user pointer to bytes; the length is another value */
	PAL_ARG_USOCKADDR, /* user pointer to a struct sockaddr */
	PAL_ARG_KFILE,     /* struct file *: its path */
	PAL_ARG_KPATH,     /* struct path *: the path */
	PAL_ARG_FD,        /* a file descriptor of the current task: its file's path */
	PAL_ARG_KFILENAME, /* struct filename *: its name */
	PAL_ARG_KSOCK,     /* struct sock *: a struct pal_sock_arg */
	PAL_ARG_KCRED,     /* struct cred *: a struct pal_cred_arg */
	PAL_ARG_DATALOC,   /* a tracepoint's __data_loc string: (len << 16 | offset) into the record */
};

/* A cred argument as the event carries it. */
struct pal_cred_arg {
	__u32 uid, gid, euid, egid, suid, sgid, fsuid, fsgid; /* pal_read_ids' order */
	__u32 securebits;
	__u32 pad;
	__u64 cap_inheritable, cap_permitted, cap_effective;
};

/* A sock argument as the event carries it. */
struct pal_sock_arg {
	__u16 family;
	__u16 type;
	__u16 protocol;
	__u8 state;
	__u8 pad;
	__u16 sport; /* host order */
	__u16 dport;
	__u8 saddr[16]; /* IPv4: the first 4 bytes */
	__u8 daddr[16];
};

struct pal_arg_cfg {
	__u8 src;        /* enum pal_arg_src */
	__u8 kind;       /* enum pal_arg_kind */
	__u8 size;       /* bytes of the raw value: 1, 2, 4, 8 */
	__u8 is_signed;
	__u16 at;        /* offset (PAL_SRC_TP) or index */
	__u16 max;       /* USTR/KSTR/UBUF: bytes kept, <= PAL_STR_MAX */
	/* UBUF: where the length comes from (same encoding); len_src 0 = always max bytes */
	__u8 len_src;
	__u8 len_size;
	__u16 len_at;
};

/* filter operators; the Not forms negate the result */
enum pal_op {
	PAL_OP_EQ = 1, PAL_OP_NE, PAL_OP_GT, PAL_OP_LT, PAL_OP_MASK, PAL_OP_INRANGE, PAL_OP_NOTINRANGE,
	PAL_OP_INMAP, PAL_OP_NOTINMAP,
	PAL_OP_STR_EQ, PAL_OP_STR_NE, PAL_OP_PREFIX, PAL_OP_NOTPREFIX, PAL_OP_POSTFIX, PAL_OP_NOTPOSTFIX,
	PAL_OP_FAMILY, PAL_OP_PORT, PAL_OP_NOTPORT, PAL_OP_PORTPRIV, PAL_OP_NOTPORTPRIV,
	PAL_OP_ADDR, PAL_OP_NOTADDR, PAL_OP_PROTOCOL,
};

struct pal_arg_filter {
	__u8 arg;        /* index into the hook's captured arguments */
	__u8 op;         /* enum pal_op */
	__u8 nvalues;    /* inline values used (ranges use pairs) */
	__u8 dst;        /* sock ports and addresses: the destination's, not the source's */
	__u32 map_id;    /* key prefix in the string, number and address maps */
	__u64 values[PAL_TR_VALUES];
};

struct pal_pid_filter {
	__u8 not_in;
	__u8 ns_pid;     /* compare the pid as the process' own pid namespace sees it */
	__u8 follow;     /* followForks: descendants match through their marks bit */
	__u8 pad;
	__u32 map_id;    /* key prefix in pid_set */
	__u64 mark;      /* followForks: the bit in pal_proc_marks */
};

struct pal_ns_filter {
	__u8 ns;         /* enum pal_ns_index */
	__u8 not_in;
	__u8 nvalues;
	__u8 pad;
	__u32 values[4];
};

struct pal_cap_filter {
	__u8 set;        /* 0 effective, 1 inheritable, 2 permitted */
	__u8 not_in;
	__u8 pad[6];
	__u64 mask;
};

/* enum for pal_action_cfg.kind */
enum pal_action_kind { PAL_ACT_POST = 1, PAL_ACT_NOPOST, PAL_ACT_SIGKILL, PAL_ACT_SIGNAL, PAL_ACT_OVERRIDE };

struct pal_action_cfg {
	__u8 kind;
	__u8 rate_scope; /* Post rateLimit: 0 thread, 1 process, 2 global */
	__u16 pad;
	__s32 value;     /* Signal: signal number; Override: the (negative) error */
	__u32 rate_ms;   /* Post: 0 = no rate limit */
	__u32 pad2;
};

struct pal_selector_cfg {
	__u8 nargs;      /* matchArgs used */
	__u8 npids;
	__u8 nns;
	__u8 ncaps;
	__u8 nactions;
	__u8 bin_op;     /* 0 none, 1 the process has bin_mark, 2 it has not */
	__u8 nret_args;  /* matchReturnArgs used */
	__u8 nret_actions;
	__u64 bin_mark;
	struct pal_arg_filter args[PAL_TR_MATCH_ARGS];
	struct pal_pid_filter pids[PAL_TR_PIDS];
	struct pal_ns_filter ns[PAL_TR_NS];
	struct pal_cap_filter caps[PAL_TR_CAPS];
	struct pal_action_cfg actions[PAL_TR_ACTIONS];
	struct pal_arg_filter ret_args[PAL_TR_RET_ARGS]; /* arg = PAL_TR_RET */
	struct pal_action_cfg ret_actions[PAL_TR_ACTIONS];
};

struct pal_hook_cfg {
	__u32 hook_id;
	__u8 nargs;       /* captured arguments */
	__u8 nselectors;  /* 0: every call matches and is posted */
	__u8 monitor;     /* report enforcement actions without taking them */
	__u8 needs_marks; /* a selector tests pal_proc_marks bits (matchBinaries, followForks) */
	__u8 has_return;  /* return probe: the entry parks the record, the return posts it */
	__u8 cgroup_filter; /* podSelector, namespaced policy: only tasks of the cgroups in cgroup_set */
	__u8 pad[2];
	struct pal_arg_cfg args[PAL_TR_ARGS + 1]; /* the last: the return value (returnArg) */
	struct pal_selector_cfg sel[PAL_TR_SELECTORS];
};

/* LPM key for string filters: map_id then the bytes. Equal includes the NUL, Prefix does not,
 * Postfix holds the string reversed. An LPM key holds at most 256 data bytes: only the first
 * PAL_MATCH_MAX bytes of a string take part in matching. */
#define PAL_MATCH_MAX 252
struct pal_str_key {
	__u32 prefixlen;
	__u32 map_id;     /* big-endian: part of the prefix */
	char data[PAL_MATCH_MAX];
};

/* An argument's bytes as read, laid out so the start doubles as a pal_str_key for lookups. */
struct pal_str_buf {
	__u32 prefixlen;
	__u32 map_id;
	char data[PAL_STR_MAX];
};

/* LPM key for address filters: map_id, then the IPv4 (4 bytes) or IPv6 (16 bytes) address */
struct pal_addr_key {
	__u32 prefixlen;
	__u32 map_id;     /* big-endian */
	__u8 addr[16];
};

struct pal_num_key {
	__u32 map_id;
	__u32 pad;
	__u64 value;
};

/* Rate limit: one entry per (hook, selector, scope, arguments). */
struct pal_rate_key {
	__u32 hook_id;
	__u32 scope_id;   /* tid, tgid or 0 */
	__u64 args_hash;
};

/* Per-hook counters (per CPU), read by `palisade policy list`. */
enum pal_hook_stat { PAL_HS_POSTED, PAL_HS_ENFORCED, PAL_HS_RATE_LIMITED, PAL_HS_LOST, PAL_HS_COUNT };

#endif
