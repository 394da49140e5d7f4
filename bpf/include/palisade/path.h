/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* d_path by hand, for programs that may not call bpf_d_path (tp_btf, kprobes, tracepoints).
 * The walk collects component names leaf first into a names[] array the caller owns; the emitter
 * writes them root first as "/a/b/c". Both run under bpf_loop so the verifier checks one step.
 *
 * The emitter writes each component with a constant-size read at buf + (off & (PAL_PATH_MAX - 1)):
 * the caller's buffer needs 2 * PAL_PATH_MAX bytes of map value from buf on, whatever `max` is. */
#ifndef __PALISADE_PATH_H
#define __PALISADE_PATH_H

struct pal_emit_ctx {
	char *buf;
	const unsigned char **names;
	__u32 off;
	__u32 max;
	int n;
	bool trunc;
};

/* Writes one component, root first: names[] holds them leaf first. */
static long pal_emit_step(__u32 i, void *data)
{
	struct pal_emit_ctx *c = data;
	int idx = c->n - 1 - (int)i;
	long len;

	if (idx < 0)
		return 1;
	if (c->off >= c->max - 2 || c->off >= PAL_PATH_MAX - 2) {
		c->trunc = true;
		return 1;
	}
	c->buf[c->off & (PAL_PATH_MAX - 1)] = '/';
	c->off++;
	/* a constant size keeps the verifier happy; the cap is applied after the loop */
	len = bpf_probe_read_kernel_str(&c->buf[c->off & (PAL_PATH_MAX - 1)], PAL_PATH_MAX,
					c->names[idx & (PAL_PATH_DEPTH - 1)]);
	if (len > 1)
		c->off += len - 1;
	return 0;
}

/* Writes the n names as "/a/b/c" at buf, at most max - 1 bytes; returns the length. */
static __always_inline __u32 pal_emit_names(char *buf, const unsigned char **names, int n, __u32 max, bool *trunc)
{
	struct pal_emit_ctx c = { .buf = buf, .names = names, .n = n, .max = max };

	if (n == 0) {
		buf[0] = '/';
		return 1;
	}
	bpf_loop(PAL_PATH_DEPTH, pal_emit_step, &c, 0);
	if (c.off > max - 1) {
		c.off = max - 1;
		c.trunc = true;
	}
	if (c.trunc)
		*trunc = true;
	return c.off;
}

struct pal_walk_ctx {
	const unsigned char **names;
	struct dentry *dentry;
	struct mount *mnt;
	int n;
	bool trunc;
};

/* One step towards the root; crosses mount points. */
static long pal_path_step(__u32 i, void *data)
{
	struct pal_walk_ctx *c = data;
	/* locals: CO-RE macros must not see the fields of our own ctx struct */
	struct dentry *dentry = c->dentry;
	struct mount *mnt = c->mnt;
	struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

	if (dentry == mnt_root || dentry == parent) {
		struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

		if (dentry != mnt_root || mnt_parent == mnt)
			return 1; /* the root of the root mount */
		c->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		c->mnt = mnt_parent;
		return 0;
	}
	if (c->n >= PAL_PATH_DEPTH) {
		c->trunc = true;
		return 1;
	}
	c->names[c->n & (PAL_PATH_DEPTH - 1)] = BPF_CORE_READ(dentry, d_name.name);
	c->n++;
	c->dentry = parent;
	return 0;
}

/* The path of `path` (a kernel struct path) at buf; returns its length. */
static __always_inline __u32 pal_read_path(char *buf, const unsigned char **names, const struct path *path, __u32 max,
					   bool *trunc)
{
	struct vfsmount *vfsmnt = BPF_CORE_READ(path, mnt);
	struct pal_walk_ctx c = {
		.names = names,
		.dentry = BPF_CORE_READ(path, dentry),
		.mnt = container_of(vfsmnt, struct mount, mnt),
	};

	/* mount crossings take steps too, hence the slack */
	bpf_loop(PAL_PATH_DEPTH + 16, pal_path_step, &c, 0);
	if (c.trunc)
		*trunc = true;
	return pal_emit_names(buf, names, c.n, max, trunc);
}

#endif
