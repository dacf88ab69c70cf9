/* Packet parsing for the fast path: Ethernet, IPv4, TCP/UDP. Validates just
 * enough that every later read and write stays inside the frame. */
#ifndef FN_PKT_H
#define FN_PKT_H

#include <netinet/in.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

enum fn_parse {
	FN_P_IPV4,       /* IPv4 with a complete L4 header for TCP/UDP */
	FN_P_ARP,
	FN_P_NOT_IPV4,
	FN_P_MALFORMED,
	FN_P_BAD_CSUM,
	FN_P_FRAGMENT,
	FN_P_MULTI_SEGMENT, /* a chained mbuf: never parsed (see fn_parse) */
};

struct fn_pkt {
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	void *l4;            /* TCP or UDP header, or NULL for other protocols */
	uint16_t l3_len;     /* IPv4 header length */
	uint16_t sport, dport;  /* network order; 0 without L4 ports */
	uint8_t tcp_flags;
};

static inline int fn_parse(struct rte_mbuf *m, struct fn_pkt *p)
{
	/* Single-segment frames only: the bounds below cover the first segment,
	 * and the rewrites that trim or append (RSTs, SYN-proxy frames) assume
	 * one. nb_segs shares the cache line rx already wrote. */
	if (unlikely(m->nb_segs > 1))
		return FN_P_MULTI_SEGMENT;
	uint32_t len = rte_pktmbuf_data_len(m);  /* single-segment: the whole frame */
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);

	if (unlikely(len < sizeof(struct rte_ether_hdr)))
		return FN_P_MALFORMED;
	p->eth = (struct rte_ether_hdr *)d;
	if (p->eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		return FN_P_ARP;
	if (unlikely(p->eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)))
		return FN_P_NOT_IPV4;

	len -= sizeof(struct rte_ether_hdr);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d + sizeof(struct rte_ether_hdr));
	if (unlikely(len < sizeof(*ip) || (ip->version_ihl >> 4) != 4))
		return FN_P_MALFORMED;
	uint16_t hl = (ip->version_ihl & 0xf) * 4;
	uint16_t tot = rte_be_to_cpu_16(ip->total_length);
	/* Ethernet may pad short frames: trust total_length, but never past the frame. */
	if (unlikely(hl < sizeof(*ip) || tot < hl || tot > len))
		return FN_P_MALFORMED;
	if (unlikely(rte_raw_cksum(ip, hl) != 0xffff))
		return FN_P_BAD_CSUM;
	p->ip = ip;
	p->l3_len = hl;
	/* Any fragment (MF set or offset non-zero): stated policy is drop, as
	 * DPVS and Katran do; reassembly is out of the fast path's scope. */
	if (unlikely(ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)))
		return FN_P_FRAGMENT;

	uint16_t l4len = tot - hl;
	uint8_t *l4 = (uint8_t *)ip + hl;
	p->l4 = NULL;
	p->sport = p->dport = 0;
	p->tcp_flags = 0;
	if (ip->next_proto_id == IPPROTO_TCP) {
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)l4;
		if (unlikely(l4len < sizeof(*t) || (t->data_off >> 4) * 4 < (int)sizeof(*t) ||
			     (t->data_off >> 4) * 4 > l4len))
			return FN_P_MALFORMED;
		p->l4 = t;
		p->sport = t->src_port;
		p->dport = t->dst_port;
		p->tcp_flags = t->tcp_flags;
	} else if (ip->next_proto_id == IPPROTO_UDP) {
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)l4;
		if (unlikely(l4len < sizeof(*u) || rte_be_to_cpu_16(u->dgram_len) < sizeof(*u) ||
			     rte_be_to_cpu_16(u->dgram_len) > l4len))
			return FN_P_MALFORMED;
		p->l4 = u;
		p->sport = u->src_port;
		p->dport = u->dst_port;
	}
	return FN_P_IPV4;
}

#endif
