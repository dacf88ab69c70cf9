/* The FullNAT rewrite itself: addresses, ports, TTL, checksums, L2. */
#ifndef FN_NAT_H
#define FN_NAT_H

#include <string.h>

#include "csum.h"
#include "pkt.h"

/* Rewrite L3/L4 to (src, dst, sport, dport), all network order, and
 * decrement TTL. The address delta is computed once and applied to both
 * the IPv4 header and the L4 pseudo-header checksum. */
static inline void fn_nat_rewrite(struct fn_pkt *p, uint32_t src, uint32_t dst, uint16_t sport,
				  uint16_t dport)
{
	struct rte_ipv4_hdr *ip = p->ip;
	uint32_t d_addr = fn_csum_delta32(fn_csum_delta32(0, ip->src_addr, src), ip->dst_addr, dst);

	/* TTL shares a 16-bit word with the protocol: account the whole word. */
	uint16_t w_old, w_new;
	memcpy(&w_old, &ip->time_to_live, 2);
	ip->time_to_live--;
	memcpy(&w_new, &ip->time_to_live, 2);
	ip->hdr_checksum = fn_csum_apply(ip->hdr_checksum, fn_csum_delta16(d_addr, w_old, w_new));
	ip->src_addr = src;
	ip->dst_addr = dst;

	uint32_t d_l4 = fn_csum_delta16(fn_csum_delta16(d_addr, p->sport, sport), p->dport, dport);
	if (ip->next_proto_id == IPPROTO_TCP) {
		struct rte_tcp_hdr *t = p->l4;
		t->cksum = fn_csum_apply(t->cksum, d_l4);
		t->src_port = sport;
		t->dst_port = dport;
	} else {
		struct rte_udp_hdr *u = p->l4;
		/* UDP checksum 0 means "none" and stays 0; a computed 0 is sent as
		 * 0xffff (RFC 768), which is the same value in one's complement. */
		if (u->dgram_cksum) {
			uint16_t c = fn_csum_apply(u->dgram_cksum, d_l4);
			u->dgram_cksum = c ? c : 0xffff;
		}
		u->src_port = sport;
		u->dst_port = dport;
	}
}

static inline void fn_nat_l2(struct fn_pkt *p, const uint8_t dst[6], const struct rte_ether_addr *src)
{
	memcpy(&p->eth->dst_addr, dst, 6);
	rte_ether_addr_copy(src, &p->eth->src_addr);
}

#endif
