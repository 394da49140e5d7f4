/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-process marks for matchBinaries and matchPIDs followForks.
 *
 * Each loaded binary filter (and each followForks pid filter) owns one bit. The process sensor sets
 * a process' bits at exec from the binary path (pal_bin_names), copies them to a child at fork, keeps
 * the bits in keep_on_exec across a later exec (followChildren, followForks) and drops the entry at
 * exit. Tracing programs then test one bit instead of walking a path. The agent seeds the entries of
 * processes that already run when a policy loads. Entries exist only for processes with a bit set. */
#ifndef __PALISADE_MARKS_H
#define __PALISADE_MARKS_H

/* bytes of a binary path in pal_bin_names keys (NUL included): an LPM key holds at most 256 data
 * bytes, 4 of them the kind */
#define PAL_BIN_PATH 252

/* pal_bin_key.kind, stored big-endian so it is part of the LPM prefix */
#define PAL_BIN_EXACT   1 /* path + NUL: only the full path matches */
#define PAL_BIN_PREFIX  2
#define PAL_BIN_POSTFIX 3 /* path reversed */

struct pal_bin_key {
	__u32 prefixlen; /* 32 (kind) + 8 * bytes */
	__u32 kind;
	char path[PAL_BIN_PATH];
};

struct pal_marks_cfg {
	__u64 keep_on_exec; /* bits a process keeps when it execs something else */
	__u32 active;       /* 0: no filter loaded, exec skips the lookups */
	__u32 pad;
};

/* value: the OR of the bits of every filter this entry (or, for prefixes, a shorter entry) satisfies */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__type(key, struct pal_bin_key);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} pal_bin_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pal_marks_cfg);
} pal_marks_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);   /* tgid */
	__type(value, __u64); /* bits */
} pal_proc_marks SEC(".maps");

static __always_inline __u64 pal_marks_of(__u32 tgid)
{
	__u64 *m = bpf_map_lookup_elem(&pal_proc_marks, &tgid);
	return m ? *m : 0;
}

#endif
