/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Network policy maps: the contract between the policy compiler (network/compile) and the datapath
 * (bpf/network). The TypeScript encoders read these by offset; a test checks them against BTF.
 *
 * Lookup per connection or packet, whatever the number of rules:
 *   local identity  = pal_np_cgroups[cgroup id]            (no entry: not a workload, not policed)
 *   peer identity   = pal_np_ip_exact[ip/128], else pal_np_ipcache[longest prefix of ip]
 *                     (no entry: PAL_ID_WORLD)
 *   a = pal_np_{in,eg}_exact[local, peer, proto, port], else pal_np_<dir>[same] (LPM: the most specific
 *       entry for that peer)
 *   b = the same for [local, ANY, proto, port]  (rules whose peer is "all")
 *   per half (enf, all): deny if a or b denies (deny_any, or deny_marks & process marks), else allow
 *   if a or b allows, else the direction's default from pal_np_idents (default-deny or not).
 *   verdict: enf says deny -> DROPPED; enf allows but all says deny -> AUDIT; else FORWARDED.
 * The compiler folds every less specific entry of the same (local, peer) into the more specific
 * ones, so the one LPM answer per peer key is complete.
 * Full-length keys (policy prefixlen 96: one protocol and one port; ipcache prefixlen 128) live in the
 * hash maps (pal_np_in_exact, pal_np_eg_exact, pal_np_ip_exact; same key and value structs) and never
 * in the tries: a full-length key is the most specific answer the trie could give, and, folded, it
 * already holds what every covering entry says. Hash inserts cost about half a trie insert. */
#ifndef __PALISADE_NETPOL_H
#define __PALISADE_NETPOL_H

/* Reserved identities. Workload identities start at PAL_ID_FIRST_WORKLOAD; identities the compiler
 * allocates for CIDRs have PAL_ID_CIDR_SCOPE set (like Cilium's local scope). */
#define PAL_ID_ANY   0 /* key wildcard: rules whose peer is every identity */
#define PAL_ID_HOST  1
#define PAL_ID_WORLD 2
#define PAL_ID_FIRST_WORKLOAD 256
#define PAL_ID_CIDR_SCOPE (1u << 24)

#define PAL_NP_INGRESS 0
#define PAL_NP_EGRESS  1

#define PAL_VERDICT_FORWARDED 1
#define PAL_VERDICT_DROPPED   2
#define PAL_VERDICT_AUDIT     3

/* Multi-byte fields are big-endian: the LPM trie compares bytes from the first one.
 * prefixlen counts bits after itself:
 *   64            local + peer: every protocol and port (an L3 rule)
 *   72            + proto: every port of that protocol
 *   80 + k        + the top k bits of the port (k = 0..16; a port range is split into such prefixes)
 * pad is always 0. */
struct pal_np_key {
	__u32 prefixlen;
	__be32 local_id;
	__be32 peer_id;
	__u8 proto; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 */
	__u8 pad;
	__be16 port; /* the workload's peer port for egress, its own port for ingress */
};

/* One half per evaluation: enf counts enforce-mode policies only, all counts every policy (enforce and
 * audit). A rule restricted to binaries contributes its process-mark bit instead of allow/deny. */
struct pal_np_half {
	__u64 allow_marks;
	__u64 deny_marks;
	__u32 allow_rule; /* rule id reported for an allow (0: none), see network/compile RuleInfo */
	__u32 deny_rule;
	__u8 allow;
	__u8 deny;
	__u8 pad[6];
};

struct pal_np_value {
	struct pal_np_half enf;
	struct pal_np_half all;
};

/* pal_np_idents: per local identity, whether a direction is default-deny (some policy selecting it
 * has rules in that direction), for enforce-mode policies (enf) and for every policy (all). */
struct pal_np_ident {
	__u8 ingress_enf;
	__u8 ingress_all;
	__u8 egress_enf;
	__u8 egress_all;
};

/* IPv4 addresses are stored v4-mapped (::ffff:a.b.c.d), prefixlen 96 + the v4 prefix length. */
struct pal_np_ip_key {
	__u32 prefixlen;
	__u8 addr[16];
};

#endif
