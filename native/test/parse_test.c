/* fn_parse (pkt.h) on chained mbufs: a frame in two segments is refused as
 * FN_P_MULTI_SEGMENT before any header is read (the rewrites that trim or
 * append assume one segment); the same frame in one segment parses. Needs
 * EAL (a mempool). */
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "check.h"
#include "pkt.h"

/* Ethernet + IPv4 + UDP (8 bytes of payload), checksums valid. */
static uint16_t udp_frame(uint8_t *f)
{
	memset(f, 0, 64);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(20 + 8 + 8);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(0xc6120001); /* 198.18.0.1 */
	ip->dst_addr = rte_cpu_to_be_32(0xc6120064); /* 198.18.0.100 */
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);
	u->src_port = rte_cpu_to_be_16(5000);
	u->dst_port = rte_cpu_to_be_16(53);
	u->dgram_len = rte_cpu_to_be_16(16);
	return 14 + 20 + 8 + 8;
}

void test_parse_segments(void)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create("fn_t_parse", 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	CHECK(mp != NULL, "mempool");
	if (!mp)
		return;
	uint8_t f[64];
	uint16_t len = udp_frame(f);
	struct fn_pkt p;

	struct rte_mbuf *one = rte_pktmbuf_alloc(mp);
	memcpy(rte_pktmbuf_append(one, len), f, len);
	CHECK(fn_parse(one, &p) == FN_P_IPV4, "one segment: %d", fn_parse(one, &p));

	/* The whole frame in the head (every header bound would pass), one more
	 * byte in a second segment. */
	struct rte_mbuf *head = rte_pktmbuf_alloc(mp), *tail = rte_pktmbuf_alloc(mp);
	memcpy(rte_pktmbuf_append(head, len), f, len);
	*(uint8_t *)rte_pktmbuf_append(tail, 1) = 0;
	CHECK(rte_pktmbuf_chain(head, tail) == 0, "chain");
	CHECK(head->nb_segs == 2, "nb_segs %u", head->nb_segs);
	CHECK(fn_parse(head, &p) == FN_P_MULTI_SEGMENT, "two segments: %d", fn_parse(head, &p));

	rte_pktmbuf_free(one);
	rte_pktmbuf_free(head);
	rte_mempool_free(mp);
}
