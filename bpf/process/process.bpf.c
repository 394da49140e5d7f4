// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Process lifecycle sensor: exec, fork and exit of every process on the host. */
#include "palisade/common.h"
#include "palisade/marks.h"
#include "palisade/path.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Kept so the records appear in this object's BTF: the layout test reads them from there. */
const struct pal_exec *pal_unused_exec __attribute__((unused));
const struct pal_exit *pal_unused_exit __attribute__((unused));
const struct pal_fork *pal_unused_fork __attribute__((unused));
const struct pal_hook *pal_unused_hook __attribute__((unused));

/* Strings are packed one after another into data[]. Every write lands at (pos & PAL_DATA_MASK) and
 * is at most PAL_PATH_MAX long, so the verifier can bound it inside PAL_DATA_SIZE. */
#define PAL_DATA_MASK 4095
#define PAL_DATA_SIZE 8192 /* also bounds the whole record by a mask, see the end of pal_exec */

struct exec_scratch {
	struct pal_exec ev;
	char data[PAL_DATA_SIZE];
	const unsigned char *names[PAL_PATH_DEPTH];
	struct pal_bin_key bkey;
	char bkey_pad[256 - PAL_BIN_PATH]; /* lets writes at (i & 255) stay inside */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_scratch);
} exec_heap SEC(".maps");

static __always_inline __u32 read_path(struct exec_scratch *s, __u32 pos, const struct path *path, bool *trunc)
{
	return pal_read_path(&s->data[pos & PAL_DATA_MASK], s->names, path, PAL_PATH_MAX, trunc);
}

struct cgrp_ctx {
	struct exec_scratch *s;
	struct kernfs_node *kn;
	int n;
};

static long cgrp_step(__u32 i, void *data)
{
	struct cgrp_ctx *c = data;
	struct kernfs_node *kn = c->kn, *parent;

	if (!kn)
		return 1;
	parent = pal_kn_parent(kn);
	if (!parent)
		return 1; /* the root node's name is not part of the path */
	c->s->names[c->n & (PAL_PATH_DEPTH - 1)] = (const unsigned char *)BPF_CORE_READ(kn, name);
	c->n++;
	c->kn = parent;
	return 0;
}

static __always_inline __u32 read_cgroup_path(struct exec_scratch *s, __u32 pos, struct task_struct *task, bool *trunc)
{
	struct cgrp_ctx c = { .s = s, .kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn) };

	bpf_loop(PAL_CGRP_DEPTH, cgrp_step, &c, 0);
	if (c.kn && pal_kn_parent(c.kn))
		*trunc = true;
	return pal_emit_names(&s->data[pos & PAL_DATA_MASK], s->names, c.n, PAL_PATH_MAX, trunc);
}

static __always_inline __u32 ns_inum(struct ns_common *ns)
{
	return ns ? BPF_CORE_READ(ns, inum) : 0;
}

static __always_inline void read_namespaces(struct pal_exec *ev, struct task_struct *task)
{
	struct nsproxy *nsp = BPF_CORE_READ(task, nsproxy);
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up = {};

	bpf_core_read(&up, sizeof(up), &pid->numbers[level & 31]);
	ev->ns[PAL_NS_PID] = up.ns ? BPF_CORE_READ(up.ns, ns.inum) : 0;
	ev->ns[PAL_NS_USER] = BPF_CORE_READ(task, cred, user_ns, ns.inum);
	if (!nsp)
		return;
	ev->ns[PAL_NS_UTS] = BPF_CORE_READ(nsp, uts_ns, ns.inum);
	ev->ns[PAL_NS_IPC] = BPF_CORE_READ(nsp, ipc_ns, ns.inum);
	ev->ns[PAL_NS_MNT] = BPF_CORE_READ(nsp, mnt_ns, ns.inum);
	ev->ns[PAL_NS_PID_CHILD] = BPF_CORE_READ(nsp, pid_ns_for_children, ns.inum);
	ev->ns[PAL_NS_NET] = BPF_CORE_READ(nsp, net_ns, ns.inum);
	ev->ns[PAL_NS_CGROUP] = BPF_CORE_READ(nsp, cgroup_ns, ns.inum);
	if (bpf_core_field_exists(nsp->time_ns)) {
		ev->ns[PAL_NS_TIME] = BPF_CORE_READ(nsp, time_ns, ns.inum);
		ev->ns[PAL_NS_TIME_CHILD] = BPF_CORE_READ(nsp, time_ns_for_children, ns.inum);
	}
}

/* ---- matchBinaries marks (palisade/marks.h) ---- */

struct rev_ctx {
	struct exec_scratch *s;
	__u32 len;
};

static long rev_step(__u32 i, void *data)
{
	struct rev_ctx *c = data;

	if (i >= c->len)
		return 1;
	c->s->bkey.path[i & 255] = c->s->data[(c->len - 1 - i) & PAL_DATA_MASK];
	return 0;
}

static __always_inline __u64 bin_lookup(struct pal_bin_key *k, __u32 kind, __u32 bytes)
{
	__u64 *v;

	k->kind = bpf_htonl(kind);
	k->prefixlen = 32 + 8 * bytes;
	v = bpf_map_lookup_elem(&pal_bin_names, k);
	return v ? *v : 0;
}

/* Binary at s->data[0, blen): the new bits are what this path matches plus the inherited bits a
 * filter keeps across exec (followChildren, followForks). */
static __always_inline void exec_marks(struct exec_scratch *s, __u32 tgid, __u32 blen)
{
	__u32 zero = 0;
	struct pal_marks_cfg *cfg = bpf_map_lookup_elem(&pal_marks_cfg, &zero);
	struct rev_ctx rc = { .s = s };
	__u64 bits;
	__u32 n;

	if (!cfg || !cfg->active)
		return;
	bits = pal_marks_of(tgid) & cfg->keep_on_exec;
	n = blen < PAL_BIN_PATH - 1 ? blen : PAL_BIN_PATH - 1;
	asm volatile("%[n] &= %[m]" : [n] "+r"(n) : [m] "i"(255)); /* the bound, where the verifier sees it */
	if (n > 0 && n < PAL_BIN_PATH && bpf_probe_read_kernel(s->bkey.path, n, s->data) == 0) {
		bits |= bin_lookup(&s->bkey, PAL_BIN_PREFIX, n);
		if (blen <= PAL_BIN_PATH - 1) { /* the whole path and its NUL fit an exact key */
			s->bkey.path[n] = 0;
			bits |= bin_lookup(&s->bkey, PAL_BIN_EXACT, n + 1);
		}
		/* the last n bytes, last byte first */
		rc.len = blen;
		bpf_loop(n, rev_step, &rc, 0);
		bits |= bin_lookup(&s->bkey, PAL_BIN_POSTFIX, n);
	}
	if (bits == 0)
		bpf_map_delete_elem(&pal_proc_marks, &tgid);
	else if (bpf_map_update_elem(&pal_proc_marks, &tgid, &bits, BPF_ANY))
		pal_count(PAL_STAT_LOST_MARK);
}

static __always_inline bool marks_active(void)
{
	__u32 zero = 0;
	struct pal_marks_cfg *cfg = bpf_map_lookup_elem(&pal_marks_cfg, &zero);

	return cfg && cfg->active;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(pal_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 zero = 0;
	struct exec_scratch *s = bpf_map_lookup_elem(&exec_heap, &zero);
	struct pal_exec *ev;
	const struct cred *cred;
	struct task_struct *parent;
	__u32 pos = 0, len;
	bool trunc;

	if (!s)
		return 0;
	ev = &s->ev;
	ev->flags = 0;

	ev->pid = BPF_CORE_READ(task, tgid);
	ev->tid = BPF_CORE_READ(task, pid);
	parent = BPF_CORE_READ(task, real_parent);
	ev->ppid = BPF_CORE_READ(parent, tgid);
	ev->start_boottime = BPF_CORE_READ(task, start_boottime);
	ev->parent_start_boottime = BPF_CORE_READ(parent, start_boottime);
	ev->cgroup_id = bpf_get_current_cgroup_id();

	cred = BPF_CORE_READ(task, cred);
	pal_read_ids(cred, &ev->uid);
	ev->cap_permitted = pal_read_cap(&cred->cap_permitted);
	ev->cap_effective = pal_read_cap(&cred->cap_effective);
	ev->cap_inheritable = pal_read_cap(&cred->cap_inheritable);
	ev->auid = bpf_core_field_exists(task->loginuid) ? BPF_CORE_READ(task, loginuid.val) : (__u32)-1;
	read_namespaces(ev, task);

	/* binary: the file being executed, as a full path */
	trunc = false;
	len = read_path(s, pos, &bprm->file->f_path, &trunc);
	if (len <= 1) {
		long n = bpf_probe_read_kernel_str(&s->data[pos & PAL_DATA_MASK], PAL_PATH_MAX,
						   BPF_CORE_READ(bprm, filename));
		len = n > 1 ? n - 1 : 0;
		ev->flags |= PAL_EXEC_BIN_FALLBACK;
	}
	if (trunc)
		ev->flags |= PAL_EXEC_BIN_TRUNC;
	ev->binary_len = len;
	pos += len;
	exec_marks(s, ev->pid, len);

	/* argv, NUL separated, straight from the new image's stack */
	{
		unsigned long start = BPF_CORE_READ(task, mm, arg_start);
		unsigned long end = BPF_CORE_READ(task, mm, arg_end);
		__u32 alen = end > start ? end - start : 0;

		if (alen > PAL_ARGS_MAX) {
			alen = PAL_ARGS_MAX;
			ev->flags |= PAL_EXEC_ARGS_TRUNC;
		}
		/* restate alen <= PAL_ARGS_MAX where the verifier sees it; clang would drop a plain mask */
		asm volatile("%[n] &= %[m]" : [n] "+r"(alen) : [m] "i"(2 * PAL_ARGS_MAX - 1));
		if (alen > 0 && bpf_probe_read_user(&s->data[pos & PAL_DATA_MASK], alen,
						    (void *)start) < 0) {
			alen = 0;
			ev->flags |= PAL_EXEC_ARGS_FAULT;
		}
		ev->args_len = alen;
		pos += alen;
	}

	trunc = false;
	{
		struct path pwd;

		bpf_core_read(&pwd, sizeof(pwd), &task->fs->pwd);
		len = read_path(s, pos, &pwd, &trunc);
	}
	if (trunc)
		ev->flags |= PAL_EXEC_CWD_TRUNC;
	ev->cwd_len = len;
	pos += len;

	trunc = false;
	len = read_cgroup_path(s, pos, task, &trunc);
	if (len > PAL_CGRP_MAX) {
		len = PAL_CGRP_MAX;
		trunc = true;
	}
	if (trunc)
		ev->flags |= PAL_EXEC_CGRP_TRUNC;
	ev->cgroup_len = len;
	pos += len;

	/* pos stays far below PAL_DATA_SIZE; the mask only proves it to the verifier. */
	len = (sizeof(*ev) + pos) & (PAL_DATA_SIZE - 1);
	pal_hdr_init(&ev->hdr, PAL_EV_EXEC, len);
	if (bpf_ringbuf_output(&pal_events, ev, len, PAL_RB_FLAGS))
		pal_count(PAL_STAT_LOST_EXEC);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(pal_fork, struct task_struct *parent_task, struct task_struct *child)
{
	struct pal_fork *ev;
	struct task_struct *parent;

	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0; /* a new thread, not a new process */
	if (marks_active()) {
		__u32 ptgid = BPF_CORE_READ(parent_task, tgid), ctgid = BPF_CORE_READ(child, tgid);
		__u64 bits = pal_marks_of(ptgid);

		/* no bits: an entry left under this (reused) tgid must not mark the new process */
		if (!bits)
			bpf_map_delete_elem(&pal_proc_marks, &ctgid);
		else if (bpf_map_update_elem(&pal_proc_marks, &ctgid, &bits, BPF_ANY))
			pal_count(PAL_STAT_LOST_MARK);
	}
	ev = bpf_ringbuf_reserve(&pal_events, sizeof(*ev), 0);
	if (!ev) {
		pal_count(PAL_STAT_LOST_FORK);
		return 0;
	}
	pal_hdr_init(&ev->hdr, PAL_EV_FORK, sizeof(*ev));
	parent = BPF_CORE_READ(child, real_parent);
	ev->pid = BPF_CORE_READ(child, tgid);
	ev->tid = BPF_CORE_READ(child, pid);
	ev->ppid = BPF_CORE_READ(parent, tgid);
	ev->pad = 0;
	ev->start_boottime = BPF_CORE_READ(child, start_boottime);
	ev->parent_start_boottime = BPF_CORE_READ(parent, start_boottime);
	bpf_ringbuf_submit(ev, PAL_RB_FLAGS);
	return 0;
}

#define PAL_SIGNAL_GROUP_EXIT 0x00000004

SEC("tp_btf/sched_process_exit")
int BPF_PROG(pal_exit, struct task_struct *task)
{
	struct pal_exit *ev;
	struct signal_struct *sig = BPF_CORE_READ(task, signal);
	__u32 code;

	/* Only the last thread of a process reports the process' exit. */
	if (BPF_CORE_READ(sig, live.counter) != 0)
		return 0;
	if (marks_active()) {
		__u32 tgid = BPF_CORE_READ(task, tgid);

		bpf_map_delete_elem(&pal_proc_marks, &tgid);
	}
	if (BPF_CORE_READ(sig, flags) & PAL_SIGNAL_GROUP_EXIT)
		code = BPF_CORE_READ(sig, group_exit_code);
	else
		code = BPF_CORE_READ(task, exit_code);

	ev = bpf_ringbuf_reserve(&pal_events, sizeof(*ev), 0);
	if (!ev) {
		pal_count(PAL_STAT_LOST_EXIT);
		return 0;
	}
	pal_hdr_init(&ev->hdr, PAL_EV_EXIT, sizeof(*ev));
	ev->pid = BPF_CORE_READ(task, tgid);
	ev->tid = BPF_CORE_READ(task, pid);
	ev->start_boottime = BPF_CORE_READ(task, group_leader, start_boottime);
	ev->exit_code = code;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, PAL_RB_FLAGS);
	return 0;
}
