/* The incremental rewrite (nat.h) against checksums recomputed from scratch
 * over random headers: any error in the RFC 1624 arithmetic shows up here. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nat.h"

/* Plain RFC 1071 sum, written independently of the code under test. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* L4 checksum over pseudo-header + segment, in host order. */
static uint16_t l4_sum(const struct rte_ipv4_hdr *ip, const uint8_t *l4, uint16_t len)
{
	uint32_t s = sum16((const uint8_t *)&ip->src_addr, 8, 0);
	s += ip->next_proto_id + len;
	return fold(sum16(l4, len, s));
}

static uint32_t rnd32(void)
{
	return ((uint32_t)rand() << 16) ^ (uint32_t)rand();
}

static void one(uint8_t proto, int zero_udp, uint16_t paylen)
{
	uint8_t buf[14 + 20 + 20 + 64];
	memset(buf, 0, sizeof(buf));
	struct fn_pkt p;
	p.eth = (struct rte_ether_hdr *)buf;
	p.ip = (struct rte_ipv4_hdr *)(buf + 14);
	p.l4 = buf + 34;
	uint16_t l4len = (uint16_t)((proto == IPPROTO_TCP ? 20 : 8) + paylen);
	for (uint16_t i = 0; i < l4len; i++)
		buf[34 + i] = (uint8_t)rand();
	p.ip->version_ihl = 0x45;
	p.ip->total_length = htons((uint16_t)(20 + l4len));
	p.ip->time_to_live = (uint8_t)(2 + rand() % 250);
	p.ip->next_proto_id = proto;
	p.ip->src_addr = rnd32();
	p.ip->dst_addr = rnd32();
	p.ip->hdr_checksum = 0;
	p.ip->hdr_checksum = htons((uint16_t)~fold(sum16((uint8_t *)p.ip, 20, 0)));
	if (proto == IPPROTO_TCP) {
		struct rte_tcp_hdr *t = p.l4;
		t->data_off = 0x50;
		t->cksum = 0;
		t->cksum = htons((uint16_t)~l4_sum(p.ip, p.l4, l4len));
		p.sport = t->src_port;
		p.dport = t->dst_port;
	} else {
		struct rte_udp_hdr *u = p.l4;
		u->dgram_len = htons(l4len);
		u->dgram_cksum = 0;
		if (!zero_udp) {
			uint16_t c = (uint16_t)~l4_sum(p.ip, p.l4, l4len);
			u->dgram_cksum = htons(c ? c : 0xffff);
		}
		p.sport = u->src_port;
		p.dport = u->dst_port;
	}
	uint8_t ttl = p.ip->time_to_live;

	fn_nat_rewrite(&p, rnd32(), rnd32(), (uint16_t)rand(), (uint16_t)rand());

	CHECK(p.ip->time_to_live == ttl - 1, "ttl %u -> %u", ttl, p.ip->time_to_live);
	CHECK(fold(sum16((uint8_t *)p.ip, 20, 0)) == 0xffff, "IPv4 header checksum wrong after rewrite");
	if (proto == IPPROTO_TCP) {
		CHECK(l4_sum(p.ip, p.l4, l4len) == 0xffff, "TCP checksum wrong after rewrite (len %u)", l4len);
	} else if (zero_udp) {
		CHECK(((struct rte_udp_hdr *)p.l4)->dgram_cksum == 0, "UDP checksum 0 must stay 0");
	} else {
		uint16_t field = ((struct rte_udp_hdr *)p.l4)->dgram_cksum;
		CHECK(field != 0, "UDP checksum must never become 0 (RFC 768: send 0xffff)");
		CHECK(l4_sum(p.ip, p.l4, l4len) == 0xffff, "UDP checksum wrong after rewrite (len %u)", l4len);
	}
}

void test_nat_checksums(void)
{
	srand(1624);
	for (int i = 0; i < 20000; i++) {
		one(IPPROTO_TCP, 0, (uint16_t)(rand() % 64));
		one(IPPROTO_UDP, 0, (uint16_t)(rand() % 64));
		one(IPPROTO_UDP, 1, (uint16_t)(rand() % 64));
	}
}
