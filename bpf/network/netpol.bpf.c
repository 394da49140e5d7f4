// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Network policy datapath: decides connections of workloads (cgroups in pal_np_cgroups) by the
 * lookup of netpol.h, and reports verdicts, TCP flows and DNS messages.
 *
 *   egress   cgroup/connect4|6, sendmsg4|6   TCP connect and UDP send: return 0 = EPERM to the
 *                                            caller before any packet leaves
 *            cgroup_skb/egress               ICMP echo requests (ping), DNS query copies
 *   ingress  cgroup_skb/ingress              packets delivered to a workload's sockets
 *   flows    tp_btf/inet_sock_set_state      TCP connect / accept / close
 *   owner    cgroup/sock_create              who owns a socket (skb and tracepoint contexts run
 *                                            in softirq, where "current" is whoever was running)
 *
 * A verdict is made when a connection starts and kept for its life, like connection tracking:
 * TCP at connect (egress) or at the SYN and the accept (ingress); UDP per (socket, peer), cached in
 * pal_np_udp; ICMP echo per (socket, peer). Policy changes apply to new connections. Replies of an
 * allowed connection pass both ways. Drops are not cached: each attempt is decided again. */
#include "palisade/common.h"
#include "palisade/marks.h"
#include "palisade/np_eval.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Kept so the structs appear in this object's BTF: the layout test reads them from there. */
const struct pal_net *pal_unused_net __attribute__((unused));
const struct pal_np_key *pal_unused_np_key __attribute__((unused));
const struct pal_np_value *pal_unused_np_value __attribute__((unused));
const struct pal_np_ident *pal_unused_np_ident __attribute__((unused));
const struct pal_np_ip_key *pal_unused_np_ip_key __attribute__((unused));

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_ICMPV6 58
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7

/* Set by the loader before load. */
const volatile __u32 np_flows_all = 0; /* 1: connect/accept/close records for every TCP socket */
const volatile __u32 np_dns = 1;       /* 0: no DNS copies */

/* Datapath counters (enum np_stat), read by network/datapath/datapath.ts. */
enum np_stat {
	NP_S_FORWARDED,   /* verdicts made */
	NP_S_DROPPED,
	NP_S_AUDIT,
	NP_S_CONNECT_DENIED, /* connect()/sendmsg() refused with EPERM */
	NP_S_PKT_DROPPED,    /* packets dropped by cgroup_skb (ingress, ICMP egress) */
	NP_S_REPLY,          /* packets passed as replies of an allowed flow */
	NP_S_CACHED,         /* packets decided by a cached verdict */
	NP_S_LOST,           /* records lost (ring buffer full); also in pal_stats */
	NP_S_DNS,            /* DNS copies sent */
	NP_S_COUNT
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NP_S_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} np_stats SEC(".maps");

/* np_sk.flags */
#define NP_SK_OWNER 1  /* owner_* recorded in process context */
#define NP_SK_OUT   2  /* an egress connect (or ICMP echo) was allowed: its replies pass */
#define NP_SK_IN    4  /* inbound verdict cached (accepted socket) */
#define NP_SK_FLOW  8  /* a connect/accept record was sent: close sends one too */
#define NP_SK_ICMP  16 /* icmp_peer holds the peer of the cached ICMP echo verdict */

struct np_sk {
	__u64 owner_start;
	__u32 owner_tgid;
	__u32 owner_tid;
	__u32 rule;
	__u8 flags;
	__u8 verdict;
	__u16 pad;
	__u32 icmp_peer[4];
};

/* BPF_F_CLONE: an accepted socket inherits its listener's owner. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct np_sk);
} np_sk SEC(".maps");

/* UDP "connections": (socket, peer) → the verdict made at the first datagram either way. */
struct np_udp_key {
	__u64 cookie;
	__u32 peer[4];
	__u16 peer_port;
	__u16 pad;
	__u32 pad2;
};

struct np_udp_val {
	__u32 rule;
	__u8 verdict;
	__u8 dir;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct np_udp_key);
	__type(value, struct np_udp_val);
} pal_np_udp SEC(".maps");

/* One side of a connection or packet, from the workload's point of view. */
struct np_flow {
	__u32 local[4];
	__u32 peer[4];
	__u16 lport;
	__u16 pport;
	__u8 family;
	__u8 proto;
	__u8 dir;
	__u8 tcp_flags;
	__u32 l4_off; /* packets: offset of the transport header */
};

static __always_inline void np_count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&np_stats, &stat);
	if (v)
		*v += 1;
}

static __always_inline void np_count_verdict(__u8 verdict)
{
	np_count(verdict == PAL_VERDICT_DROPPED ? NP_S_DROPPED :
		 verdict == PAL_VERDICT_AUDIT ? NP_S_AUDIT : NP_S_FORWARDED);
}

static __always_inline void np_set_v4(__u32 a[4], __u32 v4)
{
	a[0] = 0;
	a[1] = 0;
	a[2] = bpf_htonl(0xffff);
	a[3] = v4;
}

static __always_inline void np_current(__u32 *tgid, __u32 *tid, __u64 *start)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();

	*tgid = id >> 32;
	*tid = (__u32)id;
	*start = BPF_CORE_READ(t, group_leader, start_boottime);
}

/* Caches a socket's verdict: verdict and rule first, the flag that makes readers trust them last
 * (a reader on another CPU that sees the flag sees the verdict). */
static __always_inline void np_sk_cache(struct np_sk *s, __u8 flag, const struct np_query *q)
{
	s->verdict = q->verdict;
	s->rule = q->rule;
	asm volatile("" ::: "memory");
	s->flags |= flag;
}

static __always_inline void np_set_owner(struct np_sk *s)
{
	np_current(&s->owner_tgid, &s->owner_tid, &s->owner_start);
	s->flags |= NP_SK_OWNER;
}

/* Process marks of the socket's owner where known (ingress runs in softirq). */
static __always_inline __u64 np_owner_marks(const struct np_sk *s)
{
	return s && (s->flags & NP_SK_OWNER) ? pal_marks_of(s->owner_tgid) : 0;
}

/* Reserves and fills the common part of a record; the caller sets the rest and submits.
 * in_task: the program runs in the context of the process that acts (sock_addr). */
static __always_inline struct pal_net *np_reserve(__u32 size, __u8 kind, const struct np_flow *f, __u64 cgid,
						  __u64 cookie, const struct np_sk *s, bool in_task)
{
	struct pal_net *e = bpf_ringbuf_reserve(&pal_events, size, 0);

	if (!e) {
		pal_count(PAL_STAT_LOST_NET);
		np_count(NP_S_LOST);
		return NULL;
	}
	pal_hdr_init(&e->hdr, PAL_EV_NET, sizeof(*e));
	e->flags = 0;
	if (!in_task && s && (s->flags & NP_SK_OWNER)) {
		e->pid = s->owner_tgid;
		e->tid = s->owner_tid;
		e->start_boottime = s->owner_start;
		e->flags = PAL_NET_F_OWNER;
	} else if (in_task) {
		np_current(&e->pid, &e->tid, &e->start_boottime);
		e->flags = PAL_NET_F_OWNER;
	} else {
		/* packet programs: no task to name (and before 6.4 no helper to ask: a cgroup_skb
		 * program may not call bpf_get_current_pid_tgid) */
		e->pid = 0;
		e->tid = 0;
		e->start_boottime = 0;
	}
	e->cgroup_id = cgid;
	e->cookie = cookie;
	e->bytes_acked = 0;
	e->bytes_received = 0;
	__builtin_memcpy(e->local_addr, f->local, 16);
	__builtin_memcpy(e->peer_addr, f->peer, 16);
	e->local_port = f->lport;
	e->peer_port = f->pport;
	e->kind = kind;
	e->family = f->family;
	e->protocol = f->proto;
	e->direction = f->dir;
	e->local_id = 0;
	e->peer_id = 0;
	e->rule_id = 0;
	e->verdict = 0;
	e->data_len = 0;
	return e;
}

static __always_inline void np_submit(struct pal_net *e)
{
	bpf_ringbuf_submit(e, PAL_RB_FLAGS);
	pal_count(PAL_STAT_SENT);
}

static __always_inline void np_emit_verdict(const struct np_flow *f, __u64 cgid, __u64 cookie, const struct np_sk *s,
					    bool in_task, const struct np_query *q)
{
	struct pal_net *e = np_reserve(sizeof(struct pal_net), PAL_NET_VERDICT, f, cgid, cookie, s, in_task);

	if (!e)
		return;
	e->local_id = q->local_id;
	e->peer_id = q->peer_id;
	e->rule_id = q->rule;
	e->verdict = q->verdict;
	np_submit(e);
}

/* ---- egress: connect and sendmsg -------------------------------------------------------------- */

static __always_inline int np_sock_addr(struct bpf_sock_addr *ctx, bool v6)
{
	__u64 cgid = bpf_get_current_cgroup_id();
	__u32 *lid = bpf_map_lookup_elem(&pal_np_cgroups, &cgid);
	struct np_flow f = { .dir = PAL_NP_EGRESS };
	struct np_query q = { .dir = PAL_NP_EGRESS };
	struct np_udp_key uk = {};
	struct np_udp_val uv = {};
	struct bpf_sock *sk;
	struct np_sk *s;
	__u64 cookie;

	if (!lid)
		return 1; /* not a workload */
	f.proto = ctx->protocol;
	if (f.proto != IPPROTO_TCP && f.proto != IPPROTO_UDP)
		return 1; /* ping sockets: their echo requests are decided in cgroup_skb/egress */
	sk = ctx->sk;
	if (!sk)
		return 1;
	if (v6) {
		f.peer[0] = ctx->user_ip6[0];
		f.peer[1] = ctx->user_ip6[1];
		f.peer[2] = ctx->user_ip6[2];
		f.peer[3] = ctx->user_ip6[3];
		f.family = np_is_v4mapped(f.peer) ? AF_INET : AF_INET6;
		f.local[0] = sk->src_ip6[0];
		f.local[1] = sk->src_ip6[1];
		f.local[2] = sk->src_ip6[2];
		f.local[3] = sk->src_ip6[3];
	} else {
		np_set_v4(f.peer, ctx->user_ip4);
		np_set_v4(f.local, sk->src_ip4);
		f.family = AF_INET;
	}
	f.pport = bpf_ntohs((__u16)ctx->user_port);
	f.lport = sk->src_port;
	cookie = bpf_get_socket_cookie(ctx);

	if (f.proto == IPPROTO_UDP) {
		struct np_udp_val *hit;

		uk.cookie = cookie;
		__builtin_memcpy(uk.peer, f.peer, 16);
		uk.peer_port = f.pport;
		hit = bpf_map_lookup_elem(&pal_np_udp, &uk);
		if (hit && hit->verdict != PAL_VERDICT_DROPPED) {
			np_count(hit->dir == PAL_NP_INGRESS ? NP_S_REPLY : NP_S_CACHED);
			return 1;
		}
	}

	q.local_id = *lid;
	q.peer_id = np_identity_of(f.peer);
	q.proto = f.proto;
	q.port = f.pport;
	q.marks = pal_marks_of(bpf_get_current_pid_tgid() >> 32);
	np_evaluate(&q);
	np_count_verdict(q.verdict);

	s = bpf_sk_storage_get(&np_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (s && !(s->flags & NP_SK_OWNER))
		np_set_owner(s);
	np_emit_verdict(&f, cgid, cookie, s, true, &q);
	if (q.verdict == PAL_VERDICT_DROPPED) {
		np_count(NP_S_CONNECT_DENIED);
		return 0;
	}
	if (f.proto == IPPROTO_UDP) {
		uv.verdict = q.verdict;
		uv.rule = q.rule;
		uv.dir = PAL_NP_EGRESS;
		bpf_map_update_elem(&pal_np_udp, &uk, &uv, BPF_ANY);
	} else if (s) {
		np_sk_cache(s, NP_SK_OUT, &q);
	}
	return 1;
}

SEC("cgroup/connect4")
int np_connect4(struct bpf_sock_addr *ctx)
{
	return np_sock_addr(ctx, false);
}

SEC("cgroup/connect6")
int np_connect6(struct bpf_sock_addr *ctx)
{
	return np_sock_addr(ctx, true);
}

SEC("cgroup/sendmsg4")
int np_sendmsg4(struct bpf_sock_addr *ctx)
{
	return np_sock_addr(ctx, false);
}

SEC("cgroup/sendmsg6")
int np_sendmsg6(struct bpf_sock_addr *ctx)
{
	return np_sock_addr(ctx, true);
}

/* Records the owner of every workload socket while we still run in its process. */
SEC("cgroup/sock_create")
int np_sock_create(struct bpf_sock *ctx)
{
	__u64 cgid = bpf_get_current_cgroup_id();
	struct np_sk *s;

	if (!bpf_map_lookup_elem(&pal_np_cgroups, &cgid))
		return 1;
	s = bpf_sk_storage_get(&np_sk, ctx, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (s)
		np_set_owner(s);
	return 1;
}

/* ---- packets ------------------------------------------------------------------------------------ */

struct np_ip6 {
	__u32 vtcfl;
	__u16 len;
	__u8 nexthdr;
	__u8 hop;
	__u32 saddr[4];
	__u32 daddr[4];
};

/* Steps over IPv6 extension headers (hop-by-hop, routing, destination options, AH, a first
 * fragment) so that a TCP or UDP packet behind them is decided like any other. False for what it
 * cannot read: a non-first fragment, or more headers than it walks. */
static __always_inline bool np_skip_ext6(struct __sk_buff *skb, struct np_flow *f)
{
	int i;

#pragma unroll
	for (i = 0; i < 4; i++) {
		__u8 eh[4];

		if (f->proto != 0 && f->proto != 43 && f->proto != 60 && f->proto != 51 && f->proto != 44)
			return true;
		if (bpf_skb_load_bytes(skb, f->l4_off, eh, sizeof(eh)))
			return false;
		if (f->proto == 44) {
			if (((eh[2] << 8) | eh[3]) & 0xfff8)
				return false; /* a later fragment: no transport header */
			f->l4_off += 8;
		} else if (f->proto == 51) {
			f->l4_off += (eh[1] + 2) * 4;
		} else {
			f->l4_off += (eh[1] + 1) * 8;
		}
		f->proto = eh[0];
	}
	return f->proto != 0 && f->proto != 43 && f->proto != 60 && f->proto != 51 && f->proto != 44;
}

/* Reads addresses, protocol and ports; src/dst as on the wire (the caller orients them).
 * Returns false for what policy does not look at (non-first fragments, unreadable headers). */
static __always_inline bool np_parse(struct __sk_buff *skb, struct np_flow *f, __u32 src[4], __u32 dst[4],
				     __u16 *sport, __u16 *dport)
{
	__u16 ports[2];

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return false;
		if (ip.frag_off & bpf_htons(0x1fff))
			return false;
		f->family = AF_INET;
		f->proto = ip.protocol;
		f->l4_off = ip.ihl * 4;
		np_set_v4(src, ip.saddr);
		np_set_v4(dst, ip.daddr);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct np_ip6 ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return false;
		f->family = AF_INET6;
		f->proto = ip.nexthdr;
		f->l4_off = sizeof(ip);
		__builtin_memcpy(src, ip.saddr, 16);
		__builtin_memcpy(dst, ip.daddr, 16);
		if (!np_skip_ext6(skb, f))
			return false;
	} else {
		return false;
	}
	if (f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP) {
		if (bpf_skb_load_bytes(skb, f->l4_off, ports, sizeof(ports)))
			return false;
		*sport = bpf_ntohs(ports[0]);
		*dport = bpf_ntohs(ports[1]);
		if (f->proto == IPPROTO_TCP) {
			__u8 fl;

			if (bpf_skb_load_bytes(skb, f->l4_off + 13, &fl, 1))
				return false;
			f->tcp_flags = fl;
		}
		return true;
	}
	if (f->proto == IPPROTO_ICMP || f->proto == IPPROTO_ICMPV6) {
		__u8 type;

		if (bpf_skb_load_bytes(skb, f->l4_off, &type, 1))
			return false;
		*sport = type; /* netpol.h: the ICMP type is the port */
		*dport = type;
		return true;
	}
	return false;
}

#define TCP_FL_SYN 0x02
#define TCP_FL_ACK 0x10

/* An ICMP echo already allowed for this socket and this peer: its replies pass, its repeats too. */
static __always_inline bool np_icmp_cached(const struct np_sk *s, const __u32 peer[4])
{
	return s && (s->flags & NP_SK_ICMP) && s->icmp_peer[0] == peer[0] && s->icmp_peer[1] == peer[1] &&
	       s->icmp_peer[2] == peer[2] && s->icmp_peer[3] == peer[3];
}

static __always_inline bool np_icmp_echo_request(const struct np_flow *f, __u16 type)
{
	return f->proto == IPPROTO_ICMP ? type == 8 : type == 128;
}

static __always_inline bool np_icmp_echo_reply(const struct np_flow *f, __u16 type)
{
	return f->proto == IPPROTO_ICMP ? type == 0 : type == 129;
}

/* Copies a DNS message (the UDP payload) into a kind=dns record. */
static __always_inline void np_dns_copy(struct __sk_buff *skb, const struct np_flow *f, __u64 cgid, __u64 cookie,
					const struct np_sk *s, __u32 lid)
{
	struct pal_net *e;
	__u32 off = f->l4_off + 8, n;
	__u64 len;

	if (skb->len <= off)
		return;
	n = skb->len - off;
	e = np_reserve(sizeof(struct pal_net) + PAL_NET_DNS_MAX, PAL_NET_DNS, f, cgid, cookie, s, false);
	if (!e)
		return;
	if (n > PAL_NET_DNS_MAX) {
		n = PAL_NET_DNS_MAX;
		e->flags |= PAL_NET_F_TRUNC;
	}
	len = n;
	/* a mask on the register the call gets: clang would otherwise pass the unclamped copy */
	asm volatile("%[len] &= 1023" : [len] "+r"(len));
	if (len == 0 || len > PAL_NET_DNS_MAX || bpf_skb_load_bytes(skb, off, e->data, len)) {
		bpf_ringbuf_discard(e, 0);
		return;
	}
	e->local_id = lid;
	e->data_len = n;
	e->hdr.size = sizeof(struct pal_net) + n;
	np_submit(e);
	np_count(NP_S_DNS);
}

/* A packet whose flow has no cached verdict: evaluates it from the socket owner's marks and, when
 * `record`, counts and records the verdict. True when the packet is to be dropped (counted). */
static __always_inline bool np_decide_packet(const struct np_flow *f, struct np_query *q, const struct np_sk *s,
					     __u64 cgid, __u64 cookie, bool record)
{
	q->peer_id = np_identity_of(f->peer);
	q->marks = np_owner_marks(s);
	np_evaluate(q);
	if (record) {
		np_count_verdict(q->verdict);
		np_emit_verdict(f, cgid, cookie, s, false, q);
	}
	if (q->verdict != PAL_VERDICT_DROPPED)
		return false;
	np_count(NP_S_PKT_DROPPED);
	return true;
}

SEC("cgroup_skb/ingress")
int np_ingress(struct __sk_buff *skb)
{
	struct np_flow f = { .dir = PAL_NP_INGRESS };
	struct np_query q = { .dir = PAL_NP_INGRESS };
	struct bpf_sock *sk;
	struct np_sk *s;
	__u64 cgid, cookie;
	__u32 *lid;
	__u16 type;
	bool dropped;

	/* not a workload's socket: the cheapest test first */
	cgid = bpf_skb_cgroup_id(skb);
	lid = bpf_map_lookup_elem(&pal_np_cgroups, &cgid);
	if (!lid)
		return 1;
	if (!np_parse(skb, &f, f.peer, f.local, &f.pport, &f.lport))
		return 1;
	sk = skb->sk;
	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	cookie = bpf_get_socket_cookie(skb);
	s = bpf_sk_storage_get(&np_sk, sk, 0, 0);
	q.local_id = *lid;
	q.proto = f.proto;
	q.port = f.lport;

	if (f.proto == IPPROTO_TCP) {
		if (s && (s->flags & NP_SK_OUT)) {
			np_count(NP_S_REPLY);
			return 1;
		}
		if (s && (s->flags & NP_SK_IN)) {
			np_count(NP_S_CACHED);
			if (s->verdict != PAL_VERDICT_DROPPED)
				return 1;
			np_count(NP_S_PKT_DROPPED);
			return 0;
		}
		if (sk->state == BPF_TCP_LISTEN) {
			/* the SYN is the decision; a later handshake packet repeats it silently */
			return !np_decide_packet(&f, &q, s, cgid, cookie,
						 (f.tcp_flags & (TCP_FL_SYN | TCP_FL_ACK)) == TCP_FL_SYN);
		}
		/* an established socket whose accept we did not see (e.g. older than the agent) */
		dropped = np_decide_packet(&f, &q, s, cgid, cookie, true);
		s = bpf_sk_storage_get(&np_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (s)
			np_sk_cache(s, NP_SK_IN, &q);
		return !dropped;
	}

	if (f.proto == IPPROTO_UDP) {
		struct np_udp_key uk = { .cookie = cookie, .peer_port = f.pport };
		struct np_udp_val uv = { .dir = PAL_NP_INGRESS }, *hit;

		__builtin_memcpy(uk.peer, f.peer, 16);
		hit = bpf_map_lookup_elem(&pal_np_udp, &uk);
		if (hit && hit->verdict != PAL_VERDICT_DROPPED) {
			np_count(hit->dir == PAL_NP_EGRESS ? NP_S_REPLY : NP_S_CACHED);
		} else {
			if (np_decide_packet(&f, &q, s, cgid, cookie, true))
				return 0;
			uv.verdict = q.verdict;
			uv.rule = q.rule;
			bpf_map_update_elem(&pal_np_udp, &uk, &uv, BPF_ANY);
		}
		if (np_dns && f.pport == 53)
			np_dns_copy(skb, &f, cgid, cookie, s, q.local_id);
		return 1;
	}

	/* ICMP delivered to a socket (ping and raw sockets). Echo requests the kernel answers itself
	 * reach no socket, so this hook never sees them (see docs). */
	type = f.lport;
	if (f.proto == IPPROTO_ICMPV6 && type >= 133 && type <= 137)
		return 1; /* neighbour discovery: raw sockets get copies; never policed */
	if (np_icmp_echo_reply(&f, type) && np_icmp_cached(s, f.peer)) {
		np_count(NP_S_REPLY);
		return 1;
	}
	return !np_decide_packet(&f, &q, s, cgid, cookie, true);
}

/* Egress packets: ICMP echo requests are decided here (ping has no connect hook for raw sockets);
 * DNS queries are copied. Everything else was decided at connect/sendmsg and passes. */
SEC("cgroup_skb/egress")
int np_egress(struct __sk_buff *skb)
{
	struct np_flow f = { .dir = PAL_NP_EGRESS };
	struct np_query q = { .dir = PAL_NP_EGRESS };
	struct bpf_sock *sk;
	struct np_sk *s;
	__u64 cgid, cookie;
	__u32 *lid;
	__u8 proto;

	/* every packet of the host comes here: TCP (most of them) leaves after one byte */
	if (bpf_skb_load_bytes(skb, skb->protocol == bpf_htons(ETH_P_IP) ? 9 : 6, &proto, 1) ||
	    proto == IPPROTO_TCP)
		return 1;
	if (!np_parse(skb, &f, f.local, f.peer, &f.lport, &f.pport))
		return 1;
	if (f.proto == IPPROTO_UDP) {
		if (!np_dns || f.pport != 53)
			return 1;
	} else if (f.proto != IPPROTO_ICMP && f.proto != IPPROTO_ICMPV6) {
		return 1;
	}
	cgid = bpf_skb_cgroup_id(skb);
	lid = bpf_map_lookup_elem(&pal_np_cgroups, &cgid);
	if (!lid)
		return 1;
	cookie = bpf_get_socket_cookie(skb);
	sk = skb->sk;
	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	if (f.proto == IPPROTO_UDP) {
		/* a DNS query only reads the owner: no storage for every resolver socket */
		s = bpf_sk_storage_get(&np_sk, sk, 0, 0);
		np_dns_copy(skb, &f, cgid, cookie, s, *lid);
		return 1;
	}
	s = bpf_sk_storage_get(&np_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!np_icmp_echo_request(&f, f.pport))
		return 1; /* errors and neighbour discovery are the kernel's own */
	if (np_icmp_cached(s, f.peer)) {
		np_count(NP_S_CACHED);
		return 1;
	}
	q.local_id = *lid;
	q.proto = f.proto;
	q.port = f.pport;
	/* marks from the socket's owner: a cgroup_skb program may not ask for the current task before 6.4 */
	if (np_decide_packet(&f, &q, s, cgid, cookie, true))
		return 0;
	if (s) {
		__builtin_memcpy(s->icmp_peer, f.peer, 16);
		np_sk_cache(s, NP_SK_ICMP | NP_SK_OUT, &q);
	}
	return 1;
}

/* ---- flows -------------------------------------------------------------------------------------- */

/* Runs in whatever context changed the state (often softirq): pid/tid come from the socket's owner
 * as recorded at sock_create or connect; flags say when they are only the current task. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(np_state, struct sock *sk, int oldstate, int newstate)
{
	struct np_flow f = { .proto = IPPROTO_TCP };
	struct np_query q = { .dir = PAL_NP_INGRESS, .proto = IPPROTO_TCP };
	struct pal_net *e;
	struct np_sk *s;
	__u64 cgid;
	__u32 *lid;
	__u8 kind;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_SENT)
		kind = PAL_NET_CONNECT;
	else if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV)
		kind = PAL_NET_ACCEPT;
	else if (newstate == TCP_CLOSE)
		kind = PAL_NET_CLOSE;
	else
		return 0;
	cgid = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
	lid = bpf_map_lookup_elem(&pal_np_cgroups, &cgid);
	if (!lid && !np_flows_all)
		return 0;
	s = bpf_sk_storage_get(&np_sk, sk, 0, kind == PAL_NET_CLOSE ? 0 : BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return 0;
	if (kind == PAL_NET_CLOSE && !(s->flags & NP_SK_FLOW))
		return 0; /* never established, or opened before we looked */

	f.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (f.family == AF_INET) {
		np_set_v4(f.local, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		np_set_v4(f.peer, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else {
		BPF_CORE_READ_INTO(&f.local, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32);
		BPF_CORE_READ_INTO(&f.peer, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
		if (np_is_v4mapped(f.peer))
			f.family = AF_INET;
	}
	f.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	f.pport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	f.dir = kind == PAL_NET_CONNECT || (kind == PAL_NET_CLOSE && (s->flags & NP_SK_OUT)) ? PAL_NP_EGRESS
											   : PAL_NP_INGRESS;

	if (kind == PAL_NET_ACCEPT && lid) {
		/* the accepted socket keeps this verdict for its life (the SYN had the verdict record) */
		q.local_id = *lid;
		q.peer_id = np_identity_of(f.peer);
		q.port = f.lport;
		q.marks = np_owner_marks(s);
		np_evaluate(&q);
		np_sk_cache(s, NP_SK_IN, &q);
	}
	s->flags |= NP_SK_FLOW;

	e = np_reserve(sizeof(struct pal_net), kind, &f, cgid, bpf_get_socket_cookie(sk), s, false);
	if (!e)
		return 0;
	e->local_id = lid ? *lid : 0;
	e->peer_id = lid ? np_identity_of(f.peer) : 0;
	e->verdict = s->verdict;
	e->rule_id = s->rule;
	if (s->verdict)
		e->flags |= PAL_NET_F_CACHED;
	if (kind == PAL_NET_CLOSE) {
		struct tcp_sock *tp = (struct tcp_sock *)sk;

		e->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
		e->bytes_received = BPF_CORE_READ(tp, bytes_received);
	}
	np_submit(e);
	return 0;
}
