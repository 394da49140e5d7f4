// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark producer: each getppid() of one process writes cfg_records_per_call pal_hook records.
 * Used by bench/pipeline-throughput.ts and bench/c/consumer.c to compare the agent pipeline with a
 * plain C libbpf consumer on the same kernel-side load. Not loaded by the agent. */
#include "palisade/common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 cfg_target_tgid = 0;
const volatile __u32 cfg_records_per_call = 1;

/* Sequence number of the next record: only the (single-threaded) producer's calls touch it. */
__u64 bench_seq = 0;

#define BENCH_MAX_PER_CALL 1024

struct emit_ctx {
	__u32 pid, tid;
	__u64 start;
	__u64 seq;
	__u32 cpu;
	__u32 lost;
};

static long emit_one(__u32 i, void *data)
{
	struct emit_ctx *c = data;
	struct pal_hook *h;

	h = bpf_ringbuf_reserve(&pal_events, sizeof(*h), 0);
	if (!h) {
		c->lost++;
		return 0;
	}
	pal_hdr_init(&h->hdr, PAL_EV_HOOK, sizeof(*h));
	h->pid = c->pid;
	h->tid = c->tid;
	h->start_boottime = c->start;
	h->hook_id = 0;
	h->action = PAL_ACTION_POST;
	h->nargs = 2;
	h->selector = 0;
	h->flags = 0;
	h->value = 0;
	h->args[0] = c->seq + i;
	h->args[1] = c->cpu;
	h->args[2] = 0;
	h->args[3] = 0;
	h->args[4] = 0;
	h->args[5] = 0;
	bpf_ringbuf_submit(h, PAL_RB_FLAGS);
	return 0;
}

static __always_inline void pal_count_n(__u32 stat, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&pal_stats, &stat);
	if (v)
		*v += n;
}

SEC("tp/syscalls/sys_enter_getppid")
int bench_produce(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task;
	struct emit_ctx c = {};
	__u32 n = cfg_records_per_call;

	if ((__u32)(id >> 32) != cfg_target_tgid)
		return 0;
	if (n > BENCH_MAX_PER_CALL)
		n = BENCH_MAX_PER_CALL;
	task = bpf_get_current_task_btf();
	c.pid = id >> 32;
	c.tid = (__u32)id;
	c.start = BPF_CORE_READ(task, group_leader, start_boottime);
	c.seq = bench_seq;
	c.cpu = bpf_get_smp_processor_id();
	bench_seq += n;
	bpf_loop(n, emit_one, &c, 0);
	pal_count_n(PAL_STAT_SENT, n - c.lost);
	if (c.lost)
		pal_count_n(PAL_STAT_LOST_HOOK, c.lost);
	return 0;
}
