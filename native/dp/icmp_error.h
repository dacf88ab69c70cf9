/* ICMP errors (unreachable, fragmentation needed, time exceeded, parameter
 * problem) about a FullNAT session, translated for the other side so that
 * path-MTU discovery and error reporting work through the gateway. */
#ifndef FN_ICMP_ERROR_H
#define FN_ICMP_ERROR_H

#include <rte_icmp.h>
#include <rte_ip.h>

#include "csum.h"
#include "pkt.h"
#include "session.h"

static inline int fn_icmp_is_error(uint8_t type)
{
	/* destination unreachable (incl. fragmentation needed), time exceeded, parameter problem */
	return type == 3 || type == 11 || type == 12;
}

/* The packet an ICMP error quotes: its header and the first L4 bytes. */
struct fn_icmp_quote {
	struct rte_icmp_hdr *icmp;
	uint16_t icmp_len;
	struct rte_ipv4_hdr *ip;   /* quoted IPv4 header */
	uint8_t *l4;               /* quoted L4 header, at least 8 bytes */
	uint16_t l4_len;           /* quoted L4 bytes present */
};

/* Returns 0 with q filled, or -1 if the error is too short to name a flow. */
static inline int fn_icmp_quote(const struct fn_pkt *p, struct fn_icmp_quote *q)
{
	uint16_t len = rte_be_to_cpu_16(p->ip->total_length) - p->l3_len;
	uint8_t *ic = (uint8_t *)p->ip + p->l3_len;
	if (len < sizeof(struct rte_icmp_hdr) + sizeof(struct rte_ipv4_hdr) + 8)
		return -1;
	struct rte_ipv4_hdr *in = (struct rte_ipv4_hdr *)(ic + sizeof(struct rte_icmp_hdr));
	uint16_t ihl = (in->version_ihl & 0xf) * 4;
	if ((in->version_ihl >> 4) != 4 || ihl < sizeof(*in) || len < sizeof(struct rte_icmp_hdr) + ihl + 8)
		return -1;
	q->icmp = (struct rte_icmp_hdr *)ic;
	q->icmp_len = len;
	q->ip = in;
	q->l4 = (uint8_t *)in + ihl;
	q->l4_len = len - sizeof(struct rte_icmp_hdr) - ihl;
	return 0;
}

/* The session tuple a reply to the quoted packet would have: the quote is a
 * packet the gateway sent, so its destination is the peer that answers. */
static inline void fn_icmp_quote_tuple(const struct fn_icmp_quote *q, struct fn_tuple *k)
{
	uint16_t sport, dport;
	memcpy(&sport, q->l4, 2);
	memcpy(&dport, q->l4 + 2, 2);
	k->saddr = q->ip->dst_addr;
	k->daddr = q->ip->src_addr;
	k->sport = dport;
	k->dport = sport;
	k->proto = q->ip->next_proto_id;
}

/* Rewrite the error for the other side: outer (src, dst) and the quote, which
 * must read as the packet that side once sent: (qsrc:qsport -> qdst:qdport).
 * Checksums: the quoted L4 checksum is updated incrementally if it was quoted
 * (UDP 0 stays 0), the quoted and outer IPv4 headers and the ICMP message are
 * recomputed (the message is short and its old sum covers the old quote). */
static inline void fn_icmp_rewrite(struct fn_pkt *p, struct fn_icmp_quote *q, uint32_t src, uint32_t dst,
				   uint32_t qsrc, uint32_t qdst, uint16_t qsport, uint16_t qdport)
{
	struct rte_ipv4_hdr *in = q->ip;
	uint16_t osport, odport;
	memcpy(&osport, q->l4, 2);
	memcpy(&odport, q->l4 + 2, 2);
	uint32_t d = fn_csum_delta32(fn_csum_delta32(0, in->src_addr, qsrc), in->dst_addr, qdst);
	d = fn_csum_delta16(fn_csum_delta16(d, osport, qsport), odport, qdport);
	if (in->next_proto_id == IPPROTO_TCP && q->l4_len >= 18) {
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)q->l4;
		t->cksum = fn_csum_apply(t->cksum, d);
	} else if (in->next_proto_id == IPPROTO_UDP) {
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)q->l4;
		if (u->dgram_cksum) {
			uint16_t c = fn_csum_apply(u->dgram_cksum, d);
			u->dgram_cksum = c ? c : 0xffff;
		}
	}
	memcpy(q->l4, &qsport, 2);
	memcpy(q->l4 + 2, &qdport, 2);
	in->src_addr = qsrc;
	in->dst_addr = qdst;
	in->hdr_checksum = 0;
	in->hdr_checksum = rte_ipv4_cksum(in);
	q->icmp->icmp_cksum = 0;
	q->icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(q->icmp, q->icmp_len);

	struct rte_ipv4_hdr *ip = p->ip;
	ip->src_addr = src;
	ip->dst_addr = dst;
	ip->time_to_live--;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

#endif
