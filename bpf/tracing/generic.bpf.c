// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The generic tracing hook: one instance of this object per hook of a TracingPolicy.
 *
 * The agent fills `cfg` (.rodata) from the compiled policy, enables the one program that fits the
 * hook kind, shares pal_events, pal_stats and the process marks with the process sensor, loads and
 * attaches. Per call: process filters first (pids, binaries, namespaces, capabilities: no argument
 * read), then the arguments, then the argument filters of the selectors still in the running. The
 * first selector that matches decides; a call no selector matches never reaches user space. */
#include "palisade/common.h"
#include "palisade/marks.h"
#include "palisade/tracing.h"
#include "palisade/path.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile struct pal_hook_cfg cfg = {};

struct scratch {
	struct pal_hook rec;
	char data[PAL_HOOK_DATA_MAX + PAL_STR_MAX]; /* follows rec.data[] directly */
	__u64 vals[PAL_TR_ARGS + 1]; /* + the return value */
	__u32 lens[PAL_TR_ARGS + 1];
	struct pal_str_buf str[PAL_TR_ARGS];
	struct pal_str_buf rev;
	struct pal_addr_key addr;
	struct pal_num_key num;
	struct pal_rate_key rate;
	const unsigned char *names[PAL_PATH_DEPTH]; /* path walks */
	char path_slack[2 * PAL_PATH_MAX]; /* path.h writes up to 2 * PAL_PATH_MAX past a str buffer */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} heap SEC(".maps");

/* Filter values. Sizes are set by the agent before load (at least 1). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__type(key, struct pal_str_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} str_match SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__type(key, struct pal_addr_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} addr_match SEC(".maps");

/* numbers: InMap values, ports, pids (matchPIDs) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct pal_num_key);
	__type(value, __u8);
} num_set SEC(".maps");

/* The workloads' cgroups a podSelector or a namespaced policy selects (kept current by the agent). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_set SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct pal_rate_key);
	__type(value, __u64);
} rate SEC(".maps");

/* Return probes: the record the entry built, per thread, until the function returns. The loader
 * sizes it (1 when the hook has no return probe). A thread re-entering the function before it
 * returns (recursion) replaces its record: the outermost call is the one reported. */
struct pending {
	struct pal_hook rec;
	char data[PAL_HOOK_DATA_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct pending);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} ret_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PAL_HS_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} hook_stats SEC(".maps");

/* Kept so the layout test finds the config struct in this object's BTF. */
const struct pal_hook_cfg *pal_unused_cfg __attribute__((unused));
const struct pal_sock_arg *pal_unused_sock __attribute__((unused));
const struct pal_cred_arg *pal_unused_cred __attribute__((unused));

static __always_inline void hook_count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&hook_stats, &stat);
	if (v)
		*v += 1;
}

/* ---- arguments ---- */

/* Narrows a 64-bit register or slot to the declared type. */
static __always_inline __u64 narrow(__u64 v, __u8 size, __u8 is_signed)
{
	if (size == 1)
		return is_signed ? (__u64)(__s64)(__s8)v : (__u8)v;
	if (size == 2)
		return is_signed ? (__u64)(__s64)(__s16)v : (__u16)v;
	if (size == 4)
		return is_signed ? (__u64)(__s64)(__s32)v : (__u32)v;
	return v;
}

static __always_inline __u64 read_value(void *ctx, __u8 src, __u16 at, __u8 size, __u8 is_signed)
{
	__u64 v = 0;

	if (src == PAL_SRC_TP) {
		if (size == 1) {
			__u8 x = 0;
			bpf_probe_read_kernel(&x, 1, ctx + at);
			v = is_signed ? (__u64)(__s64)(__s8)x : x;
		} else if (size == 2) {
			__u16 x = 0;
			bpf_probe_read_kernel(&x, 2, ctx + at);
			v = is_signed ? (__u64)(__s64)(__s16)x : x;
		} else if (size == 4) {
			__u32 x = 0;
			bpf_probe_read_kernel(&x, 4, ctx + at);
			v = is_signed ? (__u64)(__s64)(__s32)x : x;
		} else {
			bpf_probe_read_kernel(&v, 8, ctx + at);
		}
		return v;
	}
	if (src == PAL_SRC_CTX64)
		bpf_probe_read_kernel(&v, 8, (__u64 *)ctx + at);
	else if (src == PAL_SRC_REG) {
		struct pt_regs *regs = ctx;

		switch (at) {
		case 0: v = PT_REGS_PARM1(regs); break;
		case 1: v = PT_REGS_PARM2(regs); break;
		case 2: v = PT_REGS_PARM3(regs); break;
		case 3: v = PT_REGS_PARM4(regs); break;
		case 4: v = PT_REGS_PARM5(regs); break;
#if defined(__TARGET_ARCH_x86)
		default: v = regs->r9; break; /* libbpf 1.1 has no PT_REGS_PARM6 */
#endif
		}
	}
#if defined(__TARGET_ARCH_x86)
	else if (src == PAL_SRC_SYSREG) {
		/* __x64_sys_*(const struct pt_regs *regs): the syscall ABI's registers */
		struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1((struct pt_regs *)ctx);

		switch (at) {
		case 0: v = BPF_CORE_READ(regs, di); break;
		case 1: v = BPF_CORE_READ(regs, si); break;
		case 2: v = BPF_CORE_READ(regs, dx); break;
		case 3: v = BPF_CORE_READ(regs, r10); break;
		case 4: v = BPF_CORE_READ(regs, r8); break;
		default: v = BPF_CORE_READ(regs, r9); break;
		}
	}
#endif
	return narrow(v, size, is_signed);
}

/* The file behind descriptor fd of the current task, or NULL. */
static __always_inline struct file *fd_file(__u64 fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;

	if (fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline void read_sock(struct pal_sock_arg *out, struct sock *sk)
{
	__builtin_memset(out, 0, sizeof(*out));
	out->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	out->type = BPF_CORE_READ(sk, sk_type);
	out->protocol = BPF_CORE_READ(sk, sk_protocol);
	out->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	out->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	out->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (out->family == 10 /* AF_INET6 */) {
		BPF_CORE_READ_INTO(&out->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&out->daddr, sk, __sk_common.skc_v6_daddr);
	} else {
		BPF_CORE_READ_INTO((__u32 *)out->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)out->daddr, sk, __sk_common.skc_daddr);
	}
}

/* Reads argument i: its number, or its bytes into s->str[i].data. Returns the flags to set. */
/* Not inlined: five inlined copies of every argument kind overflow the 16-bit jump offsets. */
static __noinline __u32 read_arg(void *ctx, struct scratch *s, int i)
{
	const volatile struct pal_arg_cfg *a = &cfg.args[i];
	__u8 kind = a->kind;
	__u64 v = read_value(ctx, a->src, a->at, a->size, a->is_signed);
	char *buf = s->str[i].data;
	long n;
	__u32 len = 0, flags = 0;

	s->vals[i] = v;
	if (kind == PAL_ARG_INT) {
		s->lens[i] = 0;
		return 0;
	}
	if (kind == PAL_ARG_KFILENAME) {
		/* struct filename: its name is a kernel string */
		v = (__u64)BPF_CORE_READ((struct filename *)v, name);
		kind = PAL_ARG_KSTR;
	} else if (kind == PAL_ARG_DATALOC) {
		/* the string sits in the record itself, at the offset the field's low half gives */
		v = (__u64)ctx + (v & 0xffff);
		kind = PAL_ARG_KSTR;
	}
	if (kind == PAL_ARG_USTR || kind == PAL_ARG_KSTR) {
		if (kind == PAL_ARG_USTR)
			n = bpf_probe_read_user_str(buf, a->max, (void *)v);
		else
			n = bpf_probe_read_kernel_str(buf, a->max, (void *)v);
		if (n <= 0) {
			flags |= PAL_HOOK_ARG_FAULT(i);
			buf[0] = 0;
		} else {
			len = n - 1;
			if (n == a->max)
				flags |= PAL_HOOK_ARG_TRUNC(i); /* may have been cut */
		}
	} else if (kind == PAL_ARG_UBUF) {
		__u64 want = a->max;

		if (a->len_src) {
			want = read_value(ctx, a->len_src, a->len_at, a->len_size, 0);
			if (want > a->max) {
				want = a->max;
				flags |= PAL_HOOK_ARG_TRUNC(i);
			}
		}
		len = want;
		asm volatile("%[n] &= %[m]" : [n] "+r"(len) : [m] "i"(2 * PAL_STR_MAX - 1));
		if (len > PAL_STR_MAX)
			len = PAL_STR_MAX;
		if (len > 0 && bpf_probe_read_user(buf, len, (void *)v) < 0) {
			flags |= PAL_HOOK_ARG_FAULT(i);
			len = 0;
		}
		if (len < PAL_STR_MAX)
			buf[len & (PAL_STR_MAX - 1)] = 0;
	} else if (kind == PAL_ARG_KFILE || kind == PAL_ARG_KPATH || kind == PAL_ARG_FD) {
		const struct path *p = (const struct path *)v;
		bool trunc = false;

		if (kind != PAL_ARG_KPATH) {
			struct file *f = kind == PAL_ARG_FD ? fd_file(v) : (struct file *)v;

			p = f ? __builtin_preserve_access_index(&f->f_path) : NULL;
		}
		if (!p) {
			flags |= PAL_HOOK_ARG_FAULT(i);
			buf[0] = 0;
		} else {
			len = pal_read_path(buf, s->names, p, a->max, &trunc);
			if (trunc)
				flags |= PAL_HOOK_ARG_TRUNC(i);
			buf[len & (PAL_STR_MAX - 1)] = 0;
		}
	} else if (kind == PAL_ARG_KCRED) {
		struct pal_cred_arg *out = (void *)buf;
		const struct cred *c = (const struct cred *)v;

		pal_read_ids(c, &out->uid);
		out->securebits = BPF_CORE_READ(c, securebits);
		out->pad = 0;
		out->cap_inheritable = pal_read_cap(&c->cap_inheritable);
		out->cap_permitted = pal_read_cap(&c->cap_permitted);
		out->cap_effective = pal_read_cap(&c->cap_effective);
		len = sizeof(*out);
	} else if (kind == PAL_ARG_KSOCK) {
		read_sock((struct pal_sock_arg *)buf, (struct sock *)v);
		len = sizeof(struct pal_sock_arg);
	} else if (kind == PAL_ARG_USOCKADDR) {
		__builtin_memset(buf, 0, PAL_SOCKADDR_LEN);
		/* a sockaddr_in is 16 bytes: try the full sockaddr_in6 size, then that */
		if (bpf_probe_read_user(buf, PAL_SOCKADDR_LEN, (void *)v) < 0 &&
		    bpf_probe_read_user(buf, 16, (void *)v) < 0)
			flags |= PAL_HOOK_ARG_FAULT(i);
		len = PAL_SOCKADDR_LEN;
	}
	s->lens[i] = len;
	return flags;
}

/* ---- filters ---- */

static __always_inline bool str_lookup(struct pal_str_buf *k, __u32 map_id, __u32 bytes)
{
	if (bytes > PAL_MATCH_MAX)
		bytes = PAL_MATCH_MAX;
	k->map_id = bpf_htonl(map_id);
	k->prefixlen = 32 + 8 * bytes;
	return bpf_map_lookup_elem(&str_match, k) != NULL;
}

struct rev_ctx {
	const char *from;
	char *to;
	__u32 len;
};

static long rev_step(__u32 i, void *data)
{
	struct rev_ctx *c = data;

	if (i >= c->len)
		return 1;
	c->to[i & (PAL_STR_MAX - 1)] = c->from[(c->len - 1 - i) & (PAL_STR_MAX - 1)];
	return 0;
}

static __always_inline bool num_lookup(struct scratch *s, __u32 map_id, __u64 v)
{
	s->num.map_id = map_id;
	s->num.pad = 0;
	s->num.value = v;
	return bpf_map_lookup_elem(&num_set, &s->num) != NULL;
}

static __always_inline bool in_values(const volatile struct pal_arg_filter *f, __u64 v)
{
	bool hit = false;
	int k;

#pragma unroll
	for (k = 0; k < PAL_TR_VALUES; k++)
		if (k < f->nvalues && f->values[k] == v)
			hit = true;
	return hit;
}

/* Socket fields of argument a: a user sockaddr (source only) or a kernel sock. */
static __always_inline __u16 arg_port(struct scratch *s, __u8 a, __u8 dst)
{
	if (cfg.args[a].kind == PAL_ARG_KSOCK) {
		struct pal_sock_arg *sk = (void *)s->str[a].data;

		return dst ? sk->dport : sk->sport;
	}
	return bpf_ntohs(*(__u16 *)&s->str[a].data[2]);
}

static __always_inline const __u8 *arg_addr(struct scratch *s, __u8 a, __u8 dst, __u16 fam)
{
	if (cfg.args[a].kind == PAL_ARG_KSOCK) {
		struct pal_sock_arg *sk = (void *)s->str[a].data;

		return dst ? sk->daddr : sk->saddr;
	}
	return (const __u8 *)&s->str[a].data[fam == 2 ? 4 : 8];
}

static __always_inline bool arg_filter(struct scratch *s, const volatile struct pal_arg_filter *f)
{
	__u8 a = f->arg, op = f->op;
	__u64 v;
	__u32 len;
	bool sgn, hit = false;
	int k;

	if (a > PAL_TR_RET)
		return false;
	v = s->vals[a];
	len = s->lens[a];
	sgn = cfg.args[a].is_signed;

	switch (op) {
	case PAL_OP_EQ:
		return in_values(f, v);
	case PAL_OP_NE:
		return !in_values(f, v);
	case PAL_OP_GT:
		return sgn ? (__s64)v > (__s64)f->values[0] : v > f->values[0];
	case PAL_OP_LT:
		return sgn ? (__s64)v < (__s64)f->values[0] : v < f->values[0];
	case PAL_OP_MASK:
#pragma unroll
		for (k = 0; k < PAL_TR_VALUES; k++)
			if (k < f->nvalues && (v & f->values[k]))
				hit = true;
		return hit;
	case PAL_OP_INRANGE:
	case PAL_OP_NOTINRANGE:
#pragma unroll
		for (k = 0; k + 1 < PAL_TR_VALUES; k += 2) {
			if (k >= f->nvalues)
				break;
			if (sgn ? ((__s64)v >= (__s64)f->values[k] && (__s64)v <= (__s64)f->values[k + 1])
				: (v >= f->values[k] && v <= f->values[k + 1]))
				hit = true;
		}
		return op == PAL_OP_INRANGE ? hit : !hit;
	case PAL_OP_INMAP:
		return num_lookup(s, f->map_id, v);
	case PAL_OP_NOTINMAP:
		return !num_lookup(s, f->map_id, v);
	case PAL_OP_STR_EQ:
	case PAL_OP_STR_NE:
		/* the NUL is part of an Equal entry; a longer string equals no value */
		hit = len < PAL_MATCH_MAX && str_lookup(&s->str[a], f->map_id, len + 1);
		return op == PAL_OP_STR_EQ ? hit : !hit;
	case PAL_OP_PREFIX:
	case PAL_OP_NOTPREFIX:
		hit = str_lookup(&s->str[a], f->map_id, len);
		return op == PAL_OP_PREFIX ? hit : !hit;
	case PAL_OP_POSTFIX:
	case PAL_OP_NOTPOSTFIX: {
		/* the last PAL_MATCH_MAX bytes, last first */
		struct rev_ctx rc = { .from = s->str[a].data, .to = s->rev.data, .len = len };

		bpf_loop(PAL_STR_MAX, rev_step, &rc, 0);
		hit = str_lookup(&s->rev, f->map_id, len);
		return op == PAL_OP_POSTFIX ? hit : !hit;
	}
	case PAL_OP_FAMILY:
		return num_lookup(s, f->map_id, *(__u16 *)s->str[a].data);
	case PAL_OP_PORT:
	case PAL_OP_NOTPORT:
		hit = num_lookup(s, f->map_id, arg_port(s, a, f->dst));
		return op == PAL_OP_PORT ? hit : !hit;
	case PAL_OP_PORTPRIV:
	case PAL_OP_NOTPORTPRIV:
		hit = arg_port(s, a, f->dst) < 1024;
		return op == PAL_OP_PORTPRIV ? hit : !hit;
	case PAL_OP_PROTOCOL:
		return num_lookup(s, f->map_id, ((struct pal_sock_arg *)s->str[a].data)->protocol);
	case PAL_OP_ADDR:
	case PAL_OP_NOTADDR: {
		__u16 fam = *(__u16 *)s->str[a].data;

		if (fam == 2 /* AF_INET */) {
			__builtin_memcpy(s->addr.addr, arg_addr(s, a, f->dst, fam), 4);
			s->addr.prefixlen = 32 + 32;
			s->addr.map_id = bpf_htonl(f->map_id);
		} else if (fam == 10 /* AF_INET6 */) {
			__builtin_memcpy(s->addr.addr, arg_addr(s, a, f->dst, fam), 16);
			s->addr.prefixlen = 32 + 128;
			s->addr.map_id = bpf_htonl(f->map_id | 1);
		} else {
			return op == PAL_OP_NOTADDR;
		}
		hit = bpf_map_lookup_elem(&addr_match, &s->addr) != NULL;
		return op == PAL_OP_ADDR ? hit : !hit;
	}
	}
	return false;
}

static __always_inline __u32 ns_inum(struct task_struct *t, __u8 which)
{
	struct nsproxy *p = BPF_CORE_READ(t, nsproxy);

	switch (which) {
	case PAL_NS_UTS: return BPF_CORE_READ(p, uts_ns, ns.inum);
	case PAL_NS_IPC: return BPF_CORE_READ(p, ipc_ns, ns.inum);
	case PAL_NS_MNT: return BPF_CORE_READ(p, mnt_ns, ns.inum);
	case PAL_NS_PID: {
		struct pid *pid = BPF_CORE_READ(t, thread_pid);
		unsigned int level = BPF_CORE_READ(pid, level);
		struct upid up = {};

		bpf_core_read(&up, sizeof(up), &pid->numbers[level & 31]);
		return BPF_CORE_READ(up.ns, ns.inum);
	}
	case PAL_NS_PID_CHILD: return BPF_CORE_READ(p, pid_ns_for_children, ns.inum);
	case PAL_NS_NET: return BPF_CORE_READ(p, net_ns, ns.inum);
	case PAL_NS_TIME: return BPF_CORE_READ(p, time_ns, ns.inum);
	case PAL_NS_TIME_CHILD: return BPF_CORE_READ(p, time_ns_for_children, ns.inum);
	case PAL_NS_CGROUP: return BPF_CORE_READ(p, cgroup_ns, ns.inum);
	default: return BPF_CORE_READ(t, cred, user_ns, ns.inum);
	}
}

/* The pid as the process' own pid namespace numbers it. */
static __always_inline __u32 ns_tgid(struct task_struct *t)
{
	struct pid *pid = BPF_CORE_READ(t, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up = {};

	bpf_core_read(&up, sizeof(up), &pid->numbers[level & 31]);
	return up.nr;
}

/* Filters that need no argument: pids, binaries, namespaces, capabilities. */
static __always_inline bool proc_filter(struct scratch *s, const volatile struct pal_selector_cfg *sel,
					struct task_struct *t, __u32 tgid, __u64 marks)
{
	int k, j;

#pragma unroll
	for (k = 0; k < PAL_TR_PIDS; k++) {
		const volatile struct pal_pid_filter *p = &sel->pids[k];
		bool hit;

		if (k >= sel->npids)
			break;
		hit = num_lookup(s, p->map_id, p->ns_pid ? ns_tgid(t) : tgid) || (p->follow && (marks & p->mark));
		if (hit == (bool)p->not_in)
			return false;
	}
	if (sel->bin_op == 1 && !(marks & sel->bin_mark))
		return false;
	if (sel->bin_op == 2 && (marks & sel->bin_mark))
		return false;
#pragma unroll
	for (k = 0; k < PAL_TR_NS; k++) {
		const volatile struct pal_ns_filter *n = &sel->ns[k];
		__u32 inum;
		bool hit = false;

		if (k >= sel->nns)
			break;
		inum = ns_inum(t, n->ns);
#pragma unroll
		for (j = 0; j < 4; j++)
			if (j < n->nvalues && n->values[j] == inum)
				hit = true;
		if (hit == (bool)n->not_in)
			return false;
	}
#pragma unroll
	for (k = 0; k < PAL_TR_CAPS; k++) {
		const volatile struct pal_cap_filter *c = &sel->caps[k];
		const struct cred *cred;
		__u64 caps;
		bool hit;

		if (k >= sel->ncaps)
			break;
		cred = BPF_CORE_READ(t, cred);
		caps = c->set == 0 ? pal_read_cap(&cred->cap_effective)
		     : c->set == 1 ? pal_read_cap(&cred->cap_inheritable)
				   : pal_read_cap(&cred->cap_permitted);
		hit = (caps & c->mask) != 0;
		if (hit == (bool)c->not_in)
			return false;
	}
	return true;
}

static __always_inline bool args_filter(struct scratch *s, const volatile struct pal_selector_cfg *sel)
{
	int k;

#pragma unroll
	for (k = 0; k < PAL_TR_MATCH_ARGS; k++) {
		if (k >= sel->nargs)
			break;
		if (!arg_filter(s, &sel->args[k]))
			return false;
	}
	return true;
}

#define FNV_PRIME 1099511628211ULL

struct hash_ctx {
	const char *p;
	__u32 len;
	__u64 h;
};

/* One 8-byte word of an argument's bytes; bytes past len are stale, so they are masked off. */
static long hash_step(__u32 i, void *data)
{
	struct hash_ctx *c = data;
	__u32 off = i * 8;
	__u64 w = 0;

	if (off >= c->len || off > PAL_STR_MAX - 8)
		return 1;
	bpf_probe_read_kernel(&w, 8, c->p + (off & (PAL_STR_MAX - 8)));
	if (c->len - off < 8)
		w &= (1ULL << ((c->len - off) * 8)) - 1;
	c->h = (c->h ^ w) * FNV_PRIME;
	return 0;
}

/* Identical events (same hook, selector, scope and argument values, strings by content) within
 * rate_ms are posted once. */
static __always_inline bool rate_limited(struct scratch *s, int sel, __u32 rate_ms, __u8 scope, __u32 tgid, __u32 tid)
{
	__u64 now = bpf_ktime_get_boot_ns(), *last;
	struct hash_ctx hc = { .h = 14695981039346656037ULL };
	int i;

#pragma unroll
	for (i = 0; i < PAL_TR_ARGS; i++) {
		if (i >= cfg.nargs)
			break;
		if (cfg.args[i].kind == PAL_ARG_INT) {
			hc.h = (hc.h ^ s->vals[i]) * FNV_PRIME;
			continue;
		}
		hc.p = s->str[i].data;
		hc.len = s->lens[i];
		hc.h = (hc.h ^ hc.len) * FNV_PRIME;
		bpf_loop(PAL_STR_MAX / 8, hash_step, &hc, 0);
	}
	s->rate.hook_id = cfg.hook_id | ((__u32)sel << 24);
	s->rate.scope_id = scope == 0 ? tid : scope == 1 ? tgid : 0;
	s->rate.args_hash = hc.h;
	last = bpf_map_lookup_elem(&rate, &s->rate);
	if (last && now - *last < (__u64)rate_ms * 1000000ULL)
		return true;
	bpf_map_update_elem(&rate, &s->rate, &now, BPF_ANY);
	return false;
}

struct action_result {
	__u16 action;   /* the strongest: PAL_ACTION_* */
	bool post;
	__u8 rate_scope;
	__s32 value;
	__s32 override; /* the error an LSM program returns */
	__u32 rate_ms;
};

/* Runs a selector's actions (matchActions or matchReturnActions); monitor mode only records them. */
static __always_inline void run_actions(const volatile struct pal_action_cfg *acts, __u8 n, struct action_result *r)
{
	int i;

#pragma unroll
	for (i = 0; i < PAL_TR_ACTIONS; i++) {
		const volatile struct pal_action_cfg *act = &acts[i];

		if (i >= n)
			break;
		switch (act->kind) {
		case PAL_ACT_NOPOST:
			r->post = false;
			break;
		case PAL_ACT_POST:
			r->rate_ms = act->rate_ms;
			r->rate_scope = act->rate_scope;
			break;
		case PAL_ACT_SIGKILL:
			r->action = PAL_ACTION_SIGKILL;
			r->value = 9;
			if (!cfg.monitor)
				bpf_send_signal(9);
			break;
		case PAL_ACT_SIGNAL:
			if (r->action == PAL_ACTION_POST) {
				r->action = PAL_ACTION_SIGNAL;
				r->value = act->value;
			}
			if (!cfg.monitor)
				bpf_send_signal(act->value);
			break;
		case PAL_ACT_OVERRIDE:
			r->action = PAL_ACTION_OVERRIDE;
			r->value = act->value;
			if (!cfg.monitor)
				r->override = act->value;
			break;
		}
	}
}

static __always_inline void post_record(struct pal_hook *rec, __u32 size)
{
	if (bpf_ringbuf_output(&pal_events, rec, size, PAL_RB_FLAGS)) {
		pal_count(PAL_STAT_LOST_HOOK);
		hook_count(PAL_HS_LOST);
	} else {
		hook_count(PAL_HS_POSTED);
	}
}

/* Returns the error an LSM program returns: the Override value, or 0. */
static __always_inline int pal_generic(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid, zero = 0, flags = 0, pos = 0;
	struct task_struct *t = bpf_get_current_task_btf();
	struct scratch *s = bpf_map_lookup_elem(&heap, &zero);
	__u32 candidates = 0, size;
	__u64 marks = 0;
	int i, matched = -1;
	struct action_result ar = { .action = PAL_ACTION_POST, .post = true };

	if (!s)
		return 0;
	if (cfg.cgroup_filter) {
		__u64 cgid = bpf_get_current_cgroup_id();

		if (!bpf_map_lookup_elem(&cgroup_set, &cgid))
			return 0;
	}
	if (cfg.nselectors == 0) {
		candidates = 1;
	} else {
		if (cfg.needs_marks)
			marks = pal_marks_of(tgid);
#pragma unroll
		for (i = 0; i < PAL_TR_SELECTORS; i++) {
			if (i >= cfg.nselectors)
				break;
			if (proc_filter(s, &cfg.sel[i], t, tgid, marks))
				candidates |= 1u << i;
		}
		if (!candidates)
			return 0;
	}

#pragma unroll
	for (i = 0; i < PAL_TR_ARGS; i++) {
		if (i >= cfg.nargs)
			break;
		flags |= read_arg(ctx, s, i);
	}

	if (cfg.nselectors == 0) {
		matched = 0;
	} else {
#pragma unroll
		for (i = 0; i < PAL_TR_SELECTORS; i++) {
			if (i >= cfg.nselectors)
				break;
			if ((candidates & (1u << i)) && args_filter(s, &cfg.sel[i])) {
				matched = i;
				break;
			}
		}
	}
	if (matched < 0)
		return 0;

	if (cfg.nselectors > 0) {
		if (matched >= PAL_TR_SELECTORS)
			return 0;
		run_actions(cfg.sel[matched].actions, cfg.sel[matched].nactions, &ar);
	}
	if (ar.action != PAL_ACTION_POST && !cfg.monitor) {
		flags |= PAL_HOOK_ENFORCED;
		hook_count(PAL_HS_ENFORCED);
	}
	if (!ar.post)
		return ar.override;
	if (ar.rate_ms && rate_limited(s, matched, ar.rate_ms, ar.rate_scope, tgid, tid)) {
		hook_count(PAL_HS_RATE_LIMITED);
		return ar.override;
	}

	s->rec.pid = tgid;
	s->rec.tid = tid;
	s->rec.start_boottime = BPF_CORE_READ(t, group_leader, start_boottime);
	s->rec.hook_id = cfg.hook_id;
	s->rec.action = ar.action;
	s->rec.nargs = cfg.nargs;
	s->rec.selector = matched;
	s->rec.flags = flags;
	s->rec.value = ar.value;
#pragma unroll
	for (i = 0; i < PAL_HOOK_ARGS; i++) {
		__u32 len;

		if (i >= PAL_TR_ARGS || i >= cfg.nargs) {
			s->rec.args[i] = 0;
			continue;
		}
		if (cfg.args[i].kind == PAL_ARG_INT) {
			s->rec.args[i] = s->vals[i];
			continue;
		}
		len = s->lens[i];
		if (len > PAL_STR_MAX)
			len = PAL_STR_MAX;
		pos &= PAL_HOOK_DATA_MAX - 1;
		if (len > 0)
			bpf_probe_read_kernel(&s->data[pos], len, s->str[i].data);
		s->rec.args[i] = ((__u64)len << 32) | pos;
		pos += len;
	}
	size = sizeof(s->rec) + pos;
	if (size > sizeof(s->rec) + PAL_HOOK_DATA_MAX)
		size = sizeof(s->rec) + PAL_HOOK_DATA_MAX;
	pal_hdr_init(&s->rec.hdr, PAL_EV_HOOK, size);
	if (cfg.has_return) {
		/* posted, or not, when the function returns (pal_generic_ret) */
		if (bpf_map_update_elem(&ret_pending, &pid_tgid, &s->rec, BPF_ANY))
			hook_count(PAL_HS_LOST);
		return ar.override;
	}
	post_record(&s->rec, size);
	return ar.override;
}

/* Return probes: the record parked at entry gets the return value, matchReturnArgs decide, and
 * matchReturnActions run. A thread with no parked record matched nothing at entry. */
static __always_inline void pal_generic_ret(__u64 ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&ret_pending, &pid_tgid);
	const volatile struct pal_selector_cfg *sel;
	struct action_result ar = { .action = PAL_ACTION_POST, .post = true };
	struct scratch *s;
	__u32 zero = 0, size;
	__u8 matched;
	int k;

	if (!p)
		return;
	s = bpf_map_lookup_elem(&heap, &zero);
	if (!s)
		goto out;
	ret = narrow(ret, cfg.args[PAL_TR_RET].size, cfg.args[PAL_TR_RET].is_signed);
	s->vals[PAL_TR_RET] = ret;
	s->lens[PAL_TR_RET] = 0;
	matched = p->rec.selector;
	if (cfg.nselectors > 0) {
		if (matched >= PAL_TR_SELECTORS)
			goto out;
		sel = &cfg.sel[matched];
#pragma unroll
		for (k = 0; k < PAL_TR_RET_ARGS; k++) {
			if (k >= sel->nret_args)
				break;
			if (!arg_filter(s, &sel->ret_args[k]))
				goto out;
		}
		run_actions(sel->ret_actions, sel->nret_actions, &ar);
		if (ar.action != PAL_ACTION_POST) {
			p->rec.action = ar.action;
			p->rec.value = ar.value;
			if (!cfg.monitor) {
				p->rec.flags |= PAL_HOOK_ENFORCED;
				hook_count(PAL_HS_ENFORCED);
			}
		}
		if (!ar.post)
			goto out;
	}
	p->rec.args[PAL_TR_RET] = ret;
	p->rec.flags |= PAL_HOOK_RETURN;
	size = p->rec.hdr.size;
	if (size > sizeof(*p))
		size = sizeof(*p);
	post_record(&p->rec, size);
out:
	bpf_map_delete_elem(&ret_pending, &pid_tgid);
}

/* Each program is built into the object of its family only (bpf/Makefile: generic-<family>.bpf.o):
 * libbpf keeps the instructions of every program of an open object, loaded or not, for as long as
 * the hook stays loaded. A return program sits with its entry program: they share ret_pending. */
#ifdef PAL_FAMILY_tracepoint
SEC("?tracepoint")
int pal_tp(void *ctx)
{
	pal_generic(ctx);
	return 0;
}
#endif

#ifdef PAL_FAMILY_raw_tp
SEC("?raw_tp")
int pal_raw_tp(void *ctx)
{
	pal_generic(ctx);
	return 0;
}
#endif

#ifdef PAL_FAMILY_uprobe
SEC("?uprobe")
int pal_uprobe(struct pt_regs *ctx)
{
	pal_generic(ctx);
	return 0;
}

SEC("?uretprobe")
int pal_uretprobe(struct pt_regs *ctx)
{
	pal_generic_ret(PT_REGS_RC(ctx));
	return 0;
}
#endif

#ifdef PAL_FAMILY_kprobe
SEC("?kprobe")
int pal_kprobe(struct pt_regs *ctx)
{
	pal_generic(ctx);
	return 0;
}

SEC("?kretprobe")
int pal_kretprobe(struct pt_regs *ctx)
{
	pal_generic_ret(PT_REGS_RC(ctx));
	return 0;
}
#endif

#ifdef PAL_FAMILY_fentry
SEC("?fentry")
int pal_fentry(void *ctx)
{
	pal_generic(ctx);
	return 0;
}

SEC("?fexit")
int pal_fexit(void *ctx)
{
	__u64 ret = 0;

	bpf_get_func_ret(ctx, &ret);
	pal_generic_ret(ret);
	return 0;
}
#endif

#ifdef PAL_FAMILY_lsm
/* LSM hooks return the error that denies the operation: this is where Override is real. */
SEC("?lsm")
int pal_lsm(void *ctx)
{
	return pal_generic(ctx);
}
#endif
