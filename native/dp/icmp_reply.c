/* ICMP time exceeded for TTL <= 1: built in a fresh mbuf (the rare path), from
 * the receiving port's address, quoting as much of the packet as fits in 576
 * bytes (RFC 1812 4.3.2.3), at most icmp_rate per second per worker. */
#include <netinet/in.h>

#include <rte_cycles.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "fn_common.h"
#include "fn_dp.h"
#include "icmp_reply.h"

_Static_assert(sizeof(((struct fn_plan *)0)->port_addr) / sizeof(uint32_t) >= FN_MAX_PORTS,
	       "fn_plan.port_addr must hold every port");

#define ICMP_MAX_DATAGRAM 576 /* RFC 1812 4.3.2.3 */
#define ICMP_QUOTE_MAX (ICMP_MAX_DATAGRAM - sizeof(struct rte_ipv4_hdr) - sizeof(struct rte_icmp_hdr))

/* Addresses an ICMP error is never sent to (RFC 1812 4.3.2.7): unspecified,
 * loopback, multicast, class E and limited broadcast. */
static int bad_source(uint32_t be)
{
	uint32_t a = rte_be_to_cpu_32(be);
	return a == 0 || (a >> 24) == 127 || (a >> 28) >= 0xe;
}

struct rte_mbuf *fn_icmp_time_exceeded(struct fn_icmp_bucket *b, const struct fn_plan *plan,
				       const struct rte_mbuf *m, const struct fn_pkt *p, unsigned rx_pi,
				       const struct rte_ether_addr *port_mac, uint64_t now, struct fn_counters *ctr)
{
	const struct rte_ipv4_hdr *oip = p->ip;
	uint32_t src = rx_pi < FN_MAX_PORTS ? plan->port_addr[rx_pi] : 0;
	/* Never about a frame sent to a group, nor to an address that cannot be
	 * answered, nor about an ICMP error (no errors about errors). */
	if (plan->icmp_rate == 0 || src == 0 || !rte_is_unicast_ether_addr(&p->eth->dst_addr) ||
	    bad_source(oip->src_addr) || (rte_be_to_cpu_32(oip->dst_addr) >> 28) >= 0xe)
		return NULL;
	if (oip->next_proto_id == IPPROTO_ICMP)
		return NULL;
	if (fn_icmp_bucket_take(b, plan->icmp_rate, now) != 0) {
		FN_COUNT(ctr, icmp_rate_limited);
		return NULL;
	}
	uint16_t qlen = RTE_MIN(rte_be_to_cpu_16(oip->total_length), (uint16_t)ICMP_QUOTE_MAX);
	struct rte_mbuf *r = rte_pktmbuf_alloc(m->pool);
	if (r == NULL)
		return NULL;
	const uint16_t hdrs = sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_icmp_hdr);
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(r, hdrs + qlen);
	if (d == NULL) {
		rte_pktmbuf_free(r);
		return NULL;
	}
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)d;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)(ip + 1);
	/* The quote: the offending datagram from its IPv4 header on, as received
	 * (TTL and checksums untouched: the sender matches it to what it sent). */
	const void *q = rte_pktmbuf_read(m, sizeof(struct rte_ether_hdr), qlen, ic + 1);
	if (q == NULL) {
		rte_pktmbuf_free(r);
		return NULL;
	}
	if (q != (const void *)(ic + 1))
		memcpy(ic + 1, q, qlen);

	rte_ether_addr_copy(&p->eth->src_addr, &eth->dst_addr); /* back to the station that sent it */
	rte_ether_addr_copy(port_mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = 0x45;
	ip->type_of_service = 0xc0; /* internetwork control, as routers send their errors */
	ip->total_length = rte_cpu_to_be_16(sizeof(*ip) + sizeof(*ic) + qlen);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = src;
	ip->dst_addr = oip->src_addr;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	ic->icmp_type = 11; /* time exceeded */
	ic->icmp_code = 0;  /* in transit */
	ic->icmp_ident = 0; /* "unused", must be zero */
	ic->icmp_seq_nb = 0;
	ic->icmp_cksum = 0;
	ic->icmp_cksum = (uint16_t)~rte_raw_cksum(ic, sizeof(*ic) + qlen);
	FN_COUNT(ctr, icmp_time_exceeded);
	return r;
}
