// SPDX-License-Identifier: Apache-2.0
/*
 * mspic_steer: the XDP half of mspic's two-stage steering.
 *
 * For every frame on a PIC port it computes the shard that owns the frame's session
 * (the owner function of crates/flow/src/owner.rs, ported constant for constant),
 * writes a struct steer_meta just before the frame, and redirects the frame to the
 * AF_XDP socket of (port, receive queue). The worker of that queue reads the metadata
 * and hands the frame to the owner if that is another shard.
 *
 * The parser follows crates/wire/src/parse.rs check for check, so that a frame the
 * userspace parser accepts gets the same owner here and a frame it rejects carries
 * STEER_F_PARSE_ERROR:
 *   Ethernet (+ one 802.1Q tag) -> IPv4 (header checksum, options, fragments) or IPv6
 *   (hop-by-hop, routing, fragment, destination options and AH headers; at most 16)
 *   -> TCP / UDP / ICMP / ICMPv6 / GRE / SCTP. ICMP errors are parsed down to the ports
 *   of the quoted packet.
 *
 * Frame kinds:
 *   IPv4/IPv6     owner computed; redirected.
 *   later frag    owner = receiving queue, STEER_F_LATER_FRAG (userspace tracks ids).
 *   ARP           owner = receiving queue, STEER_F_ARP; redirected (userspace owns L2).
 *   ND, MLD       ICMPv6 like any other: owner computed, redirected; the receiving worker
 *                 keeps them for its L2 whatever the owner (crates/wire/src/nd.rs), so no
 *                 flag is needed.
 *   malformed IP  owner = receiving queue, STEER_F_PARSE_ERROR; redirected (counted there).
 *   anything else XDP_PASS (the PIC's netdevs carry no kernel addresses).
 * When no socket is registered for (port, queue), or the ifindex is not a registered
 * port, the frame is passed to the kernel (harmless, see above) and counted.
 *
 * Packet bytes are read with bpf_xdp_load_bytes, which bounds-checks against the whole
 * frame and keeps the verifier out of variable-offset packet pointers.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "steer.h"

#define ETH_HLEN_ 14
#define VLAN_HLEN_ 18
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_IPV6 0x86dd

#define PROTO_HOPOPT 0
#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ROUTE 43
#define PROTO_FRAG 44
#define PROTO_GRE 47
#define PROTO_AH 51
#define PROTO_ICMPV6 58
#define PROTO_OPTS 60
#define PROTO_SCTP 132

#define MAX_EXT_HEADERS 16

#define FNV_OFFSET 0x811c9dc5u
#define FNV_PRIME 0x01000193u

#define GRE_FLAG_C 0x8000
#define GRE_FLAG_R 0x4000
#define GRE_FLAG_K 0x2000
#define GRE_FLAG_S 0x1000
#define GRE_FLAG_A 0x0080
#define GRE_VERSION_MASK 0x0007

/* ----------------------------------------------------------------------------------- */
/* Maps (filled by the daemon, crates/dataplane/src/xdp.rs)                             */

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, STEER_MAX_PORTS * STEER_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* ifindex -> port index */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_MAX_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct steer_config);
} config SEC(".maps");

/* source-NAT pool address (network byte order) -> pool facts */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_MAX_POOL_ADDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct steer_pool);
} pool_addrs SEC(".maps");

/* basic-nat44: pool address -> internal address (StaticMap::backward of static_src) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_MAX_STATIC);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u32);
} static_src SEC(".maps");

/* dnat-44: internal address -> public address (StaticMap::backward of static_dst) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_MAX_STATIC);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u32);
} static_dst SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, STEER_MAX_PINNED);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct steer_lpm_v4);
	__type(value, __u8);
} pinned_v4 SEC(".maps");

/* deterministic-napt44 source prefixes (NatPolicy::det_owner) */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, STEER_MAX_DET);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct steer_lpm_v4);
	__type(value, struct steer_det);
} det_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, STEER_MAX_PINNED);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct steer_lpm_v6);
	__type(value, __u8);
} pinned_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct steer_counters);
} counters SEC(".maps");

/* ----------------------------------------------------------------------------------- */
/* Flow key (crates/wire/src/key.rs)                                                    */

struct fkey {
	__u8 src[16]; /* IPv4 as ::ffff:a.b.c.d */
	__u8 dst[16];
	__u16 sport;  /* host byte order */
	__u16 dport;
	__u8 proto;
	__u8 v4;
};

enum frag { FRAG_NONE = 0, FRAG_FIRST = 1, FRAG_LATER = 2 };

/* What parse_frame found: everything the owner function and the metadata need. */
struct parsed {
	struct fkey key;  /* the key the owner hashes (reversed inner key for ICMP errors) */
	__u32 l3_off;
	__u32 l4_off;
	__u32 ip_end;
	__u16 flags;
};

static __always_inline __u16 be16_at(const __u8 *p)
{
	return ((__u16)p[0] << 8) | p[1];
}

static __always_inline void set_v4(__u8 *dst, const __u8 *a)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	dst[12] = a[0];
	dst[13] = a[1];
	dst[14] = a[2];
	dst[15] = a[3];
}

/* Reads len bytes at off; nonzero when they are not all in the frame. */
static __always_inline int load(struct xdp_md *ctx, __u32 off, void *buf, __u32 len)
{
	return bpf_xdp_load_bytes(ctx, off, buf, len);
}

/* ----------------------------------------------------------------------------------- */
/* ICMP classification (crates/wire/src/icmp.rs)                                        */

enum icmp_class { ICMP_REQUEST, ICMP_REPLY, ICMP_ERROR, ICMP_OTHER };

static __always_inline int classify(int v4, __u8 t)
{
	if (v4) {
		switch (t) {
		case 8: case 13: case 15: case 17:
			return ICMP_REQUEST;
		case 0: case 14: case 16: case 18:
			return ICMP_REPLY;
		case 3: case 4: case 5: case 11: case 12:
			return ICMP_ERROR;
		default:
			return ICMP_OTHER;
		}
	}
	switch (t) {
	case 128:
		return ICMP_REQUEST;
	case 129:
		return ICMP_REPLY;
	case 1: case 2: case 3: case 4:
		return ICMP_ERROR;
	default:
		return ICMP_OTHER;
	}
}

static __always_inline int is_icmp(int v4, __u8 proto)
{
	return v4 ? proto == PROTO_ICMP : proto == PROTO_ICMPV6;
}

/* ----------------------------------------------------------------------------------- */
/* IPv6 extension headers (crates/wire/src/ipv6.rs walk_ext_headers)                   */

struct ext_walk {
	__u32 offset; /* from the start of the IPv6 payload */
	__u8 upper;
	__u8 frag;    /* enum frag */
};

/*
 * Walks the chain starting with next header nh over the payload at base, plen bytes
 * long. Returns 0 and fills w, or -1 (malformed chain).
 */
static __always_inline int walk_ext(struct xdp_md *ctx, __u32 base, __u32 plen, __u8 nh,
				    struct ext_walk *w)
{
	__u32 off = 0;
	int frag_seen = 0, frag_later = 0, frag_more = 0;

	w->frag = FRAG_NONE;
	for (int i = 0; i <= MAX_EXT_HEADERS; i++) {
		__u32 len;
		__u8 h[8];

		if (nh == PROTO_HOPOPT && i > 0)
			return -1;
		if (nh == PROTO_HOPOPT || nh == PROTO_ROUTE || nh == PROTO_OPTS ||
		    nh == PROTO_AH) {
			__u8 l;

			if (off + 1 >= plen)
				return -1;
			if (load(ctx, base + off + 1, &l, 1))
				return -1;
			len = nh == PROTO_AH ? ((__u32)l + 2) * 4 : ((__u32)l + 1) * 8;
		} else if (nh == PROTO_FRAG) {
			len = 8;
		} else {
			break;
		}
		if (i == MAX_EXT_HEADERS)
			return -1;
		if (off + len > plen)
			return -1;
		if (load(ctx, base + off, h, 8))
			return -1;
		__u8 this = nh;
		nh = h[0];
		off += len;
		if (this == PROTO_FRAG) {
			__u16 ow = be16_at(&h[2]);

			frag_seen = 1;
			frag_more = ow & 1;
			frag_later = (ow & 0xfff8) != 0;
			if (frag_later)
				break;
		}
	}
	w->offset = off;
	w->upper = nh;
	if (frag_seen)
		w->frag = frag_later ? FRAG_LATER : (frag_more ? FRAG_FIRST : FRAG_NONE);
	return 0;
}

/* ----------------------------------------------------------------------------------- */
/* ICMP error: the quoted packet (crates/wire/src/parse.rs parse_inner, inner_ports)     */

/*
 * Parses the packet quoted at [start, end) and stores its key, reversed, in p->key.
 * Returns 0, or -1 when the quote is malformed.
 */
static __always_inline int parse_inner(struct xdp_md *ctx, __u32 start, __u32 end, int v4,
				       struct parsed *p)
{
	__u32 qlen = end - start; /* end >= start + 0: the ICMP header is in the packet */
	__u32 rel, iend, dlen;
	__u8 proto;
	int frag;
	struct fkey *k = &p->key;

	if (v4) {
		__u8 h[20];
		__u32 hl, total;
		__u16 fo;

		if (qlen < 20 || load(ctx, start, h, 20))
			return -1;
		if ((h[0] >> 4) != 4)
			return -1;
		hl = (__u32)(h[0] & 0x0f) * 4;
		if (hl < 20 || hl > qlen)
			return -1;
		total = be16_at(&h[2]);
		if (total < hl)
			return -1;
		iend = total < qlen ? total : qlen;
		fo = be16_at(&h[6]);
		frag = (fo & 0x1fff) ? FRAG_LATER : ((fo & 0x2000) ? FRAG_FIRST : FRAG_NONE);
		proto = h[9];
		/* reversed: the owner hashes the quoted packet's reply direction */
		set_v4(k->dst, &h[12]);
		set_v4(k->src, &h[16]);
		rel = hl;
	} else {
		__u8 h[40];
		__u32 plen, pend;
		struct ext_walk w;

		if (qlen < 40 || load(ctx, start, h, 40))
			return -1;
		if ((h[0] >> 4) != 6)
			return -1;
		plen = be16_at(&h[4]);
		pend = 40 + plen < qlen ? 40 + plen : qlen;
		if (walk_ext(ctx, start + 40, pend - 40, h[6], &w))
			return -1;
		iend = pend;
		frag = w.frag;
		proto = w.upper;
		__builtin_memcpy(k->dst, &h[8], 16);
		__builtin_memcpy(k->src, &h[24], 16);
		rel = 40 + w.offset;
	}
	k->proto = proto;
	k->v4 = v4;
	k->sport = 0;
	k->dport = 0;
	if (frag == FRAG_LATER)
		return 0;
	int needs_ports = proto == PROTO_TCP || proto == PROTO_UDP || proto == PROTO_SCTP;
	int icmp = is_icmp(v4, proto);
	if (!needs_ports && !icmp)
		return 0;
	dlen = iend > rel ? iend - rel : 0;
	if (dlen < 8)
		return -1;
	__u8 l4[8];
	if (load(ctx, start + rel, l4, 8))
		return -1;
	if (needs_ports) {
		/* quoted (sport, dport) reversed */
		k->dport = be16_at(&l4[0]);
		k->sport = be16_at(&l4[2]);
		return 0;
	}
	__u16 id = be16_at(&l4[4]);
	switch (classify(v4, l4[0])) {
	case ICMP_REQUEST: /* quoted (id, 0) reversed */
		k->dport = id;
		break;
	case ICMP_REPLY: /* quoted (0, id) reversed */
		k->sport = id;
		break;
	default:
		break;
	}
	return 0;
}

/* ----------------------------------------------------------------------------------- */
/* L4 (crates/wire/src/parse.rs parse_l4)                                               */

static __always_inline int parse_l4(struct xdp_md *ctx, struct parsed *p, int frag)
{
	struct fkey *k = &p->key;
	__u32 dlen = p->ip_end - p->l4_off;
	int v4 = k->v4;
	__u8 h[20];

	if (frag == FRAG_LATER) {
		p->flags |= STEER_F_LATER_FRAG;
		return 0;
	}
	p->flags |= STEER_F_L4;
	switch (k->proto) {
	case PROTO_TCP: {
		__u32 hl;

		if (dlen < 20 || load(ctx, p->l4_off, h, 20))
			return -1;
		hl = (__u32)(h[12] >> 4) * 4;
		if (hl < 20 || hl > dlen)
			return -1;
		k->sport = be16_at(&h[0]);
		k->dport = be16_at(&h[2]);
		if (!k->sport || !k->dport)
			return -1;
		return 0;
	}
	case PROTO_UDP: {
		__u32 ulen;

		if (dlen < 8 || load(ctx, p->l4_off, h, 8))
			return -1;
		ulen = be16_at(&h[4]);
		if (ulen < 8)
			return -1;
		/* a first fragment carries only part of the datagram its length describes */
		if (frag == FRAG_NONE && ulen > dlen)
			return -1;
		k->sport = be16_at(&h[0]);
		k->dport = be16_at(&h[2]);
		if (!k->sport || !k->dport)
			return -1;
		return 0;
	}
	case PROTO_GRE: {
		__u16 f;
		__u32 hl;

		if (dlen < 4 || load(ctx, p->l4_off, h, 4))
			return -1;
		f = be16_at(&h[0]);
		if ((f & GRE_VERSION_MASK) > 1)
			return -1;
		hl = 4 + 4 * !!(f & (GRE_FLAG_C | GRE_FLAG_R)) + 4 * !!(f & GRE_FLAG_K) +
		     4 * !!(f & GRE_FLAG_S) + 4 * ((f & GRE_VERSION_MASK) == 1 && (f & GRE_FLAG_A));
		if (hl > dlen)
			return -1;
		return 0;
	}
	case PROTO_SCTP:
		if (dlen < 12 || load(ctx, p->l4_off, h, 4))
			return -1;
		k->sport = be16_at(&h[0]);
		k->dport = be16_at(&h[2]);
		return 0;
	default:
		break;
	}
	if (!is_icmp(v4, k->proto))
		return 0;
	if (dlen < 8 || load(ctx, p->l4_off, h, 8))
		return -1;
	switch (classify(v4, h[0])) {
	case ICMP_REQUEST:
		k->sport = be16_at(&h[4]);
		return 0;
	case ICMP_REPLY:
		k->dport = be16_at(&h[4]);
		return 0;
	case ICMP_ERROR:
		p->flags |= STEER_F_ICMP_ERROR;
		return parse_inner(ctx, p->l4_off + 8, p->ip_end, v4, p);
	default:
		return 0;
	}
}

/* ----------------------------------------------------------------------------------- */
/* L3 (crates/wire/src/parse.rs parse_v4, parse_v6)                                     */

static __always_inline int parse_v4(struct xdp_md *ctx, __u32 flen, struct parsed *p)
{
	__u32 avail = flen - p->l3_off;
	__u8 h[60] = {};
	__u32 hl, total, sum = 0;
	__u16 fo;
	int frag;

	if (avail < 20 || load(ctx, p->l3_off, h, 20))
		return -1;
	if ((h[0] >> 4) != 4)
		return -1;
	hl = (__u32)(h[0] & 0x0f) * 4;
	if (hl < 20 || hl > avail)
		return -1;
	total = be16_at(&h[2]);
	if (total < hl || total > avail)
		return -1;
	if (hl > 20 && load(ctx, p->l3_off + 20, &h[20], hl - 20))
		return -1;
	/* RFC 791 header checksum: the one's complement sum over the header is 0xffff */
#pragma unroll
	for (int i = 0; i < 30; i++)
		if ((__u32)i * 2 < hl)
			sum += be16_at(&h[i * 2]);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	if (sum != 0xffff)
		return -1;
	fo = be16_at(&h[6]);
	frag = (fo & 0x1fff) ? FRAG_LATER : ((fo & 0x2000) ? FRAG_FIRST : FRAG_NONE);
	p->key.v4 = 1;
	p->key.proto = h[9];
	set_v4(p->key.src, &h[12]);
	set_v4(p->key.dst, &h[16]);
	p->l4_off = p->l3_off + hl;
	p->ip_end = p->l3_off + total;
	if (frag == FRAG_FIRST)
		p->flags |= STEER_F_FIRST_FRAG;
	return parse_l4(ctx, p, frag);
}

static __always_inline int parse_v6(struct xdp_md *ctx, __u32 flen, struct parsed *p)
{
	__u32 avail = flen - p->l3_off;
	__u8 h[40];
	__u32 plen;
	struct ext_walk w;

	if (avail < 40 || load(ctx, p->l3_off, h, 40))
		return -1;
	if ((h[0] >> 4) != 6)
		return -1;
	plen = be16_at(&h[4]);
	if (40 + plen > avail)
		return -1;
	p->key.v4 = 0;
	__builtin_memcpy(p->key.src, &h[8], 16);
	__builtin_memcpy(p->key.dst, &h[24], 16);
	p->ip_end = p->l3_off + 40 + plen;
	/* the walk sets l4_off before it can fail, as a partial answer for userspace */
	p->l4_off = p->l3_off + 40;
	if (walk_ext(ctx, p->l3_off + 40, plen, h[6], &w))
		return -1;
	p->key.proto = w.upper;
	p->l4_off = p->l3_off + 40 + w.offset;
	if (w.frag == FRAG_FIRST)
		p->flags |= STEER_F_FIRST_FRAG;
	return parse_l4(ctx, p, w.frag);
}

/* ----------------------------------------------------------------------------------- */
/* Owner function (crates/flow/src/owner.rs, crates/wire/src/key.rs)                    */

static __always_inline __u32 fmix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/*
 * FlowKey::symmetric_hash: FNV-1a 32 over lo || hi || proto, where lo and hi are the two
 * 18-byte endpoints (address, port big-endian) in memcmp order, then fmix32.
 */
static __attribute__((noinline)) __u32 symmetric_hash(const __u8 *sa, __u16 sp, const __u8 *da,
						   __u16 dp, __u8 proto)
{
	__u8 a[18], b[18];
	int a_le_b = 1;
	__u32 h = FNV_OFFSET;

	__builtin_memcpy(a, sa, 16);
	a[16] = sp >> 8;
	a[17] = sp & 0xff;
	__builtin_memcpy(b, da, 16);
	b[16] = dp >> 8;
	b[17] = dp & 0xff;
#pragma unroll
	for (int i = 0; i < 18; i++) {
		if (a[i] != b[i]) {
			a_le_b = a[i] < b[i];
			break;
		}
	}
	const __u8 *lo = a_le_b ? a : b;
	const __u8 *hi = a_le_b ? b : a;
#pragma unroll
	for (int i = 0; i < 18; i++)
		h = (h ^ lo[i]) * FNV_PRIME;
#pragma unroll
	for (int i = 0; i < 18; i++)
		h = (h ^ hi[i]) * FNV_PRIME;
	h = (h ^ proto) * FNV_PRIME;
	return fmix32(h);
}

/* NatPolicy::normalize for an IPv4 address (in place); 1 if it changed. */
static __always_inline int normalize(__u8 *a)
{
	__u32 v, *m;

	__builtin_memcpy(&v, &a[12], 4);
	m = bpf_map_lookup_elem(&static_src, &v);
	if (!m)
		m = bpf_map_lookup_elem(&static_dst, &v);
	if (!m)
		return 0;
	__builtin_memcpy(&a[12], m, 4);
	return 1;
}

static __always_inline int is_pinned(const __u8 *a, int v4)
{
	if (v4) {
		struct steer_lpm_v4 k = { .prefixlen = 32 };

		__builtin_memcpy(k.addr, &a[12], 4);
		return bpf_map_lookup_elem(&pinned_v4, &k) != 0;
	}
	struct steer_lpm_v6 k = { .prefixlen = 128 };

	__builtin_memcpy(k.addr, a, 16);
	return bpf_map_lookup_elem(&pinned_v6, &k) != 0;
}

/* NatPolicy::det_owner: the owner of the subscriber's block, ((host - first) % per_addr)
 * % shards (owner::block_owner of its first port); -1 when `a` is no subscriber. */
static __always_inline long det_owner(const __u8 *a, __u32 shards)
{
	struct steer_lpm_v4 k = { .prefixlen = 32 };
	struct steer_det *d;
	__u32 host, off;

	__builtin_memcpy(k.addr, &a[12], 4);
	d = bpf_map_lookup_elem(&det_v4, &k);
	if (!d || !d->per_addr)
		return -1;
	__builtin_memcpy(&host, &a[12], 4);
	host = bpf_ntohl(host);
	if (host < d->first)
		return -1;
	off = host - d->first;
	if (off >= d->hosts)
		return -1;
	return (off % d->per_addr) % shards;
}

static __always_inline void count(struct steer_counters *c, int i)
{
	if (i >= 0 && i < STEER_C_COUNT)
		c->v[i]++;
}

/* owner::owner_of_key */
static __always_inline __u32 owner_of_key(struct fkey *k, __u32 shards, __u16 *flags,
					  struct steer_counters *c)
{
	if (shards <= 1) {
		count(c, STEER_C_SINGLE_SHARD);
		return 0;
	}
	if (k->v4) {
		/* NatPolicy::pool_owner */
		__u32 dst;
		struct steer_pool *pool;

		__builtin_memcpy(&dst, &k->dst[12], 4);
		pool = bpf_map_lookup_elem(&pool_addrs, &dst);
		if (pool) {
			int has_ports = k->proto == PROTO_TCP || k->proto == PROTO_UDP ||
					k->proto == PROTO_ICMP || k->proto == PROTO_SCTP;

			*flags |= STEER_F_POOL;
			count(c, STEER_C_POOL);
			if (pool->napt && has_ports && pool->block_size) {
				/* owner::block_owner: ((port - low) / block) % shards */
				__u32 port = k->dport;
				__u32 off = port > pool->block_low ? port - pool->block_low : 0;

				return (off / pool->block_size) % shards;
			}
			if (pool->napt && has_ports)
				return (__u32)k->dport % shards;
			return pool->index % shards;
		}
		/* a flow from or to one deterministic subscriber; between two: hashed */
		long ds = det_owner(k->src, shards);
		long dd = det_owner(k->dst, shards);

		if ((ds >= 0) != (dd >= 0)) {
			*flags |= STEER_F_PINNED;
			count(c, STEER_C_PINNED);
			return (__u32)(ds >= 0 ? ds : dd);
		}
		int changed = normalize(k->src);
		changed |= normalize(k->dst);
		if (changed) {
			*flags |= STEER_F_STATIC;
			count(c, STEER_C_STATIC);
		}
	}
	int ps = is_pinned(k->src, k->v4);
	int pd = is_pinned(k->dst, k->v4);
	const __u8 *ha = k->src, *hb = k->dst;
	__u16 hpa = k->sport, hpb = k->dport;
	__u8 hproto = k->proto;

	if (ps != pd) {
		/* owner::address_hash: the symmetric hash of (a, 0) with itself, proto 0 */
		ha = hb = ps ? k->src : k->dst;
		hpa = hpb = 0;
		hproto = 0;
		*flags |= STEER_F_PINNED;
		count(c, STEER_C_PINNED);
	} else {
		count(c, STEER_C_HASHED);
	}
	return symmetric_hash(ha, hpa, hb, hpb, hproto) % shards;
}

/* ----------------------------------------------------------------------------------- */

static __always_inline int redirect(struct xdp_md *ctx, struct steer_counters *c,
				    __u32 port, __u32 queue, const struct steer_meta *m)
{
	void *data, *meta;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m))) {
		count(c, STEER_C_META_FAIL);
		return XDP_PASS;
	}
	data = (void *)(long)ctx->data;
	meta = (void *)(long)ctx->data_meta;
	if (meta + sizeof(*m) > data) {
		count(c, STEER_C_META_FAIL);
		return XDP_PASS;
	}
	__builtin_memcpy(meta, m, sizeof(*m));

	long act = bpf_redirect_map(&xsks, port * STEER_MAX_QUEUES + queue, XDP_PASS);
	count(c, act == XDP_REDIRECT ? STEER_C_REDIRECTED : STEER_C_PASS_NO_SOCKET);
	return act;
}

SEC("xdp")
int mspic_steer(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct steer_counters *c = bpf_map_lookup_elem(&counters, &zero);
	struct steer_config *cfg = bpf_map_lookup_elem(&config, &zero);
	__u32 ifindex = ctx->ingress_ifindex;
	__u32 queue = ctx->rx_queue_index;
	__u32 flen = bpf_xdp_get_buff_len(ctx);
	struct steer_meta m = {};
	struct parsed p = {};
	__u32 *port;
	__u8 eth[4];
	__u16 ethertype;
	int err;

	if (!c || !cfg)
		return XDP_PASS;
	count(c, STEER_C_RX);
	port = bpf_map_lookup_elem(&ports, &ifindex);
	if (!port) {
		count(c, STEER_C_PASS_NO_PORT);
		return XDP_PASS;
	}
	if (queue >= STEER_MAX_QUEUES || *port >= STEER_MAX_PORTS) {
		count(c, STEER_C_PASS_BAD_QUEUE);
		return XDP_PASS;
	}
	m.owner = queue;

	/* Ethernet (crates/wire/src/ethernet.rs) */
	if (flen < ETH_HLEN_ || load(ctx, 12, eth, 2)) {
		m.flags = STEER_F_PARSE_ERROR;
		count(c, STEER_C_PARSE_ERROR);
		return redirect(ctx, c, *port, queue, &m);
	}
	ethertype = be16_at(eth);
	p.l3_off = ETH_HLEN_;
	if (ethertype == ETHERTYPE_VLAN) {
		count(c, STEER_C_VLAN);
		m.flags |= STEER_F_VLAN;
		if (flen < VLAN_HLEN_ || load(ctx, 16, eth, 2)) {
			m.flags |= STEER_F_PARSE_ERROR;
			count(c, STEER_C_PARSE_ERROR);
			return redirect(ctx, c, *port, queue, &m);
		}
		ethertype = be16_at(eth);
		p.l3_off = VLAN_HLEN_;
	}
	m.l3_off = p.l3_off;
	if (ethertype == ETHERTYPE_ARP) {
		m.flags |= STEER_F_ARP;
		count(c, STEER_C_ARP);
		return redirect(ctx, c, *port, queue, &m);
	}
	if (ethertype == ETHERTYPE_IPV4) {
		count(c, STEER_C_IPV4);
		m.flags |= STEER_F_IPV4;
		err = parse_v4(ctx, flen, &p);
	} else if (ethertype == ETHERTYPE_IPV6) {
		count(c, STEER_C_IPV6);
		m.flags |= STEER_F_IPV6;
		err = parse_v6(ctx, flen, &p);
	} else {
		count(c, STEER_C_PASS_OTHER);
		return XDP_PASS;
	}
	m.l4_off = p.l4_off;
	m.flags |= p.flags;
	if (err) {
		m.flags |= STEER_F_PARSE_ERROR;
		count(c, STEER_C_PARSE_ERROR);
		return redirect(ctx, c, *port, queue, &m);
	}
	if (p.flags & STEER_F_LATER_FRAG) {
		count(c, STEER_C_LATER_FRAG);
		return redirect(ctx, c, *port, queue, &m);
	}
	if (p.flags & STEER_F_ICMP_ERROR)
		count(c, STEER_C_ICMP_ERROR);
	m.owner = owner_of_key(&p.key, cfg->shards, &m.flags, c);
	return redirect(ctx, c, *port, queue, &m);
}

/* No GPL-only helper is used, so the project's own license applies. */
char LICENSE[] SEC("license") = "Apache-2.0";
