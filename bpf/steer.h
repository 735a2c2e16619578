/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared definitions of the XDP steering program (steer.bpf.c) and its loader
 * (crates/dataplane/src/xdp.rs). The Rust side mirrors every constant here; a test
 * (crates/dataplane/tests/xdp_steer.rs) reads this file and checks the mirror.
 */
#ifndef MSPIC_STEER_H
#define MSPIC_STEER_H

#include <linux/types.h>

/* XSKMAP key = port_index * STEER_MAX_QUEUES + rx_queue_index. */
#define STEER_MAX_QUEUES 64
#define STEER_MAX_PORTS 64

/* Map capacities. */
#define STEER_MAX_POOL_ADDRS 1048576
#define STEER_MAX_STATIC 1048576
#define STEER_MAX_PINNED 16384
#define STEER_MAX_DET 1024

/* steer_meta.flags */
#define STEER_F_IPV4 0x0001        /* IPv4 packet (l3_off valid) */
#define STEER_F_IPV6 0x0002        /* IPv6 packet (l3_off valid) */
#define STEER_F_L4 0x0004          /* l4_off points at the L4 header */
#define STEER_F_LATER_FRAG 0x0008  /* non-first fragment: owner is the receiving queue */
#define STEER_F_ICMP_ERROR 0x0010  /* ICMP/ICMPv6 error: owner from the quoted packet */
#define STEER_F_ARP 0x0020         /* ARP: owner is the receiving queue */
#define STEER_F_PARSE_ERROR 0x0040 /* malformed: owner is the receiving queue */
#define STEER_F_VLAN 0x0080        /* one 802.1Q tag (l3_off is 18) */
#define STEER_F_FIRST_FRAG 0x0100  /* first fragment (MF set, offset 0) */
#define STEER_F_POOL 0x0200        /* owner from a source-NAT pool address */
#define STEER_F_PINNED 0x0400      /* owner from a pinned host's address */
#define STEER_F_STATIC 0x0800      /* an address was normalized by a static mapping */

/* Counter indices (struct steer_counters.v). */
#define STEER_C_RX 0             /* frames seen */
#define STEER_C_REDIRECTED 1     /* redirected into an AF_XDP socket */
#define STEER_C_PASS_NO_SOCKET 2 /* XDP_PASS: no socket for port/queue */
#define STEER_C_PASS_NO_PORT 3   /* XDP_PASS: ifindex not registered */
#define STEER_C_PASS_BAD_QUEUE 4 /* XDP_PASS: rx queue >= STEER_MAX_QUEUES */
#define STEER_C_PASS_OTHER 5     /* XDP_PASS: neither IP nor ARP */
#define STEER_C_META_FAIL 6      /* XDP_PASS: bpf_xdp_adjust_meta failed */
#define STEER_C_ARP 7
#define STEER_C_IPV4 8
#define STEER_C_IPV6 9
#define STEER_C_VLAN 10
#define STEER_C_PARSE_ERROR 11
#define STEER_C_LATER_FRAG 12
#define STEER_C_ICMP_ERROR 13
#define STEER_C_POOL 14          /* owner by pool address/port */
#define STEER_C_PINNED 15        /* owner by a pinned host */
#define STEER_C_HASHED 16        /* owner by the symmetric tuple hash */
#define STEER_C_STATIC 17        /* an address normalized by a static mapping */
#define STEER_C_SINGLE_SHARD 18  /* one shard: owner 0 without lookups */
#define STEER_C_COUNT 19

/* Written just before the frame with bpf_xdp_adjust_meta (8 bytes, host byte order). */
struct steer_meta {
	__u16 owner;  /* owner shard */
	__u16 l3_off; /* offset of the IP (or ARP) header in the frame */
	__u16 l4_off; /* offset of the L4 header (valid with STEER_F_L4) */
	__u16 flags;  /* STEER_F_* */
};

/* Value of the pool_addrs map (key: IPv4 address, network byte order). */
struct steer_pool {
	__u32 index;      /* address index in its pool */
	__u32 napt;       /* 1: the pool has ports (NAPT), 0: address-only */
	__u32 block_low;  /* port block allocation: the pool's first port */
	__u32 block_size; /* port block allocation: ports per block; 0: owner by port */
};

/* Value of the det_v4 trie (key: a deterministic-napt44 source prefix): the first
 * subscriber (host byte order), how many there are and blocks per pool address. */
struct steer_det {
	__u32 first;
	__u32 hosts;
	__u32 per_addr;
	__u32 reserved;
};

/* The one element of the config map. */
struct steer_config {
	__u32 shards;
	__u32 reserved;
};

/* LPM trie keys of the pinned maps. */
struct steer_lpm_v4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct steer_lpm_v6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Value of the per-CPU counters map (one element). */
struct steer_counters {
	__u64 v[STEER_C_COUNT];
};

#endif
