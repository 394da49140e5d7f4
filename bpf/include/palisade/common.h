/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maps and helpers shared by every Palisade program: the event ring buffer, drop counters,
 * and CO-RE readers for paths, cgroups and namespaces. */
#ifndef __PALISADE_COMMON_H
#define __PALISADE_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "palisade/events.h"

/* Size is set by the agent before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} pal_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PAL_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} pal_stats SEC(".maps");

static __always_inline void pal_count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&pal_stats, &stat);
	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

/* The agent drains on a timer, so no record wakes it up. */
#define PAL_RB_FLAGS BPF_RB_NO_WAKEUP

static __always_inline void pal_hdr_init(struct pal_hdr *h, __u16 type, __u32 size)
{
	h->type = type;
	h->cpu = bpf_get_smp_processor_id();
	h->size = size;
	h->ktime = bpf_ktime_get_boot_ns();
}

/* Kernels before 6.15 call it `parent`. */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *pal_kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___old, parent))
		return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
	return BPF_CORE_READ(kn, __parent);
}

/* Kernels before 6.3 keep capabilities as __u32 cap[2]; the bytes are the same little-endian u64. */
/* uid, gid, euid, egid, suid, sgid, fsuid, fsgid: eight consecutive __u32 at ids (the order of
 * pal_exec and pal_cred_arg). */
static __always_inline void pal_read_ids(const struct cred *c, __u32 *ids)
{
	ids[0] = BPF_CORE_READ(c, uid.val);
	ids[1] = BPF_CORE_READ(c, gid.val);
	ids[2] = BPF_CORE_READ(c, euid.val);
	ids[3] = BPF_CORE_READ(c, egid.val);
	ids[4] = BPF_CORE_READ(c, suid.val);
	ids[5] = BPF_CORE_READ(c, sgid.val);
	ids[6] = BPF_CORE_READ(c, fsuid.val);
	ids[7] = BPF_CORE_READ(c, fsgid.val);
}

static __always_inline __u64 pal_read_cap(const kernel_cap_t *cap)
{
	__u64 v = 0;
	bpf_core_read(&v, sizeof(v), cap);
	return v;
}

#endif
