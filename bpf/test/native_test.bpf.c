// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Test object for the native layer (test/e2e/native.test.ts). It exercises every map kind the
 * addon handles, a ring buffer producer driven by real syscalls of the test process, and one
 * program per attach kind. Programs whose hook this kernel lacks are "?" (autoload off). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader through BpfObject.setConst before load. */
const volatile __u32 cfg_magic = 0;
const volatile __u32 cfg_target_tgid = 0;

/* Record written to the ring buffer. Its length varies (NT_REC_MIN..NT_REC_MAX) so the consumer's
 * framing and padding get tested; fill[i] == (idx + i) & 0xff. */
struct nt_rec {
	__u32 magic;
	__u32 tgid;
	__u64 seq; /* per-hit sequence number, from 0 */
	__u32 idx; /* record index within the hit */
	__u32 len; /* length of this record in bytes */
	__u8 fill[40];
};
#define NT_REC_MIN 24
#define NT_REC_MAX 64
#define NT_MAX_PER_HIT 64

/* Indexes of the per-CPU hit counters. */
enum { NT_HIT_TP, NT_HIT_RAW_TP, NT_HIT_UPROBE, NT_HIT_FORK, NT_HIT_TC, NT_HIT_MAX };

/* Left to user space: the tests exercise lookup/update/delete/batch on it (8,192: room for a batch
 * large enough that the addon writes it from two threads). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

/* Key 0: records to write per getppid() call (0 means 1, capped at NT_MAX_PER_HIT). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} nrecords SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

__u64 seq_next = 0;
__u64 reserve_failures = 0;

static __always_inline void count_hit(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &idx);

	if (v)
		*v += 1;
}

static __always_inline bool is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == cfg_target_tgid;
}

SEC("tp/syscalls/sys_enter_getppid")
int produce(void *ctx)
{
	struct nt_rec rec = {};
	__u32 zero = 0, n = 1, *np, tgid;
	__u64 seq;

	if (!is_target())
		return 0;
	count_hit(NT_HIT_TP);
	np = bpf_map_lookup_elem(&nrecords, &zero);
	if (np && *np)
		n = *np;
	tgid = bpf_get_current_pid_tgid() >> 32;
	seq = __sync_fetch_and_add(&seq_next, 1);

	for (__u32 i = 0; i < NT_MAX_PER_HIT && i < n; i++) {
		if (i % 4 == 3) {
			/* Reserved then discarded: the consumer must skip it and lose nothing else. */
			struct nt_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);

			if (!r) {
				__sync_fetch_and_add(&reserve_failures, 1);
				continue;
			}
			r->magic = 0xdead;
			bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
			continue;
		}
		__u64 len = NT_REC_MIN + ((__u32)seq * 7 + i * 13) % (NT_REC_MAX - NT_REC_MIN + 1);

		rec.magic = cfg_magic;
		rec.tgid = tgid;
		rec.seq = seq;
		rec.idx = i;
		rec.len = len;
		for (int j = 0; j < sizeof(rec.fill); j++)
			rec.fill[j] = (i + j) & 0xff;
		/* clang knows len <= 64 and drops a plain clamp; the verifier does not track '%'. */
		asm volatile("" : "+r"(len));
		if (len > sizeof(rec))
			len = sizeof(rec);
		if (bpf_ringbuf_output(&events, &rec, len, BPF_RB_NO_WAKEUP))
			__sync_fetch_and_add(&reserve_failures, 1);
	}
	return 0;
}

/* Explicit attach with { kind: 'raw_tp', name: 'sys_enter' }. */
SEC("raw_tp")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if (is_target())
		count_hit(NT_HIT_RAW_TP);
	return 0;
}

/* Explicit attach to libc's getppid with { kind: 'uprobe', symbol: 'getppid' }. */
SEC("uprobe")
int uprobe_hit(struct pt_regs *ctx)
{
	if (is_target())
		count_hit(NT_HIT_UPROBE);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	if (parent->tgid == cfg_target_tgid)
		count_hit(NT_HIT_FORK);
	return 0;
}

SEC("cgroup/connect4")
int allow_connect4(struct bpf_sock_addr *ctx)
{
	return 1; /* allow */
}

SEC("tc")
int tc_pass(struct __sk_buff *skb)
{
	count_hit(NT_HIT_TC);
	return 0; /* TC_ACT_OK */
}

/* Hooks this kernel lacks: off by default; the tests turn them on to check the error messages. */
SEC("?kprobe/do_unlinkat")
int kprobe_unlink(struct pt_regs *ctx)
{
	return 0;
}

SEC("?fentry/do_unlinkat")
int BPF_PROG(fentry_unlink)
{
	return 0;
}

SEC("?lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file)
{
	return 0;
}
