/* Resets: a session whose real server was removed with reset ends at its
 * next packet, and both ends get a RST they will accept. A rare path. */
#include "reset.h"

#include <netinet/in.h>
#include <string.h>

#include "admission.h"
#include "dp.h"
#include "neigh.h"
#include "synproxy.h"
#include "verbs.h"

/* Turn a TCP frame into a bare RST (20-byte IPv4 + 20-byte TCP, no options,
 * no payload) from src:sport to dst:dport with the given seq/ack and flags,
 * addressed to dst_mac out of port pi. Checksums recomputed: a rare path. */
static void send_rst(struct fn_worker *w, struct rte_mbuf *m, unsigned pi, const uint8_t dst_mac[6], uint32_t src,
		     uint32_t dst, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)(ip + 1);
	memcpy(&eth->dst_addr, dst_mac, 6);
	rte_ether_addr_copy(&fn_dp.ports[pi].mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip) + sizeof(*t));
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(sizeof(*ip) + sizeof(*t));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = src;
	ip->dst_addr = dst;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	t->src_port = sport;
	t->dst_port = dport;
	t->sent_seq = seq;
	t->recv_ack = ack;
	t->data_off = 0x50;
	t->tcp_flags = flags;
	t->cksum = rte_ipv4_udptcp_cksum(ip, t);
	rte_pktmbuf_trim(m, rte_pktmbuf_pkt_len(m) - (sizeof(*eth) + sizeof(*ip) + sizeof(*t)));
	tx(w, pi, m);
}

/* The session's real server was removed with reset: end the session and, for
 * TCP, reset both ends now, whichever spoke: the sender gets a RST in answer
 * (seq = its ack), the peer a RST carrying the sender's sequence number,
 * translated as the packet would have been, which is exactly what the peer
 * expects next, so it is accepted. */
void fn_reset_session(struct fn_worker *w, struct fn_session *s, struct rte_mbuf *m, struct fn_pkt *p, unsigned rx_pi,
		      unsigned dir)
{
	const struct fn_session c = *s; /* the session is gone after this line */
	const uint32_t sp_delta = c.synproxy ? w->sp[fn_sess_index(&w->sess, s)].delta : 0;
	fn_session_end(w, s);
	FN_COUNT(w->ctr, sessions_reset);
	if (p->ip->next_proto_id != IPPROTO_TCP || (p->tcp_flags & RTE_TCP_RST_FLAG)) {
		rte_pktmbuf_free(m);
		return;
	}
	struct rte_tcp_hdr *t = p->l4;
	uint32_t paylen = rte_be_to_cpu_16(p->ip->total_length) - p->l3_len - (t->data_off >> 4) * 4;
	paylen += !!(p->tcp_flags & RTE_TCP_SYN_FLAG) + !!(p->tcp_flags & RTE_TCP_FIN_FLAG);
	uint32_t seq = t->sent_seq, ack = t->recv_ack;
	uint32_t next = rte_cpu_to_be_32(rte_be_to_cpu_32(seq) + paylen);
	/* The peer's RST must be in its window: a (retransmitted) SYN's sequence
	 * number is one below what the peer expects next; and a peer still in
	 * SYN-SENT only accepts a RST that acknowledges its SYN. */
	uint32_t peer_seq = p->tcp_flags & RTE_TCP_SYN_FLAG ? rte_cpu_to_be_32(rte_be_to_cpu_32(seq) + 1) : seq;
	uint32_t peer_ack = p->tcp_flags & RTE_TCP_ACK_FLAG ? ack : 0;
	uint8_t peer_flags = RTE_TCP_RST_FLAG | (p->tcp_flags & RTE_TCP_ACK_FLAG);
	/* SYN proxy: the peer counts the server's sequence numbers its own way. */
	if (dir == FN_DIR_CLIENT)
		peer_ack = rte_cpu_to_be_32(rte_be_to_cpu_32(peer_ack) + ((p->tcp_flags & RTE_TCP_ACK_FLAG) ? sp_delta : 0));
	else
		peer_seq = rte_cpu_to_be_32(rte_be_to_cpu_32(peer_seq) - sp_delta);
	uint8_t sender_mac[6];
	memcpy(sender_mac, &p->eth->src_addr, 6);

	struct rte_mbuf *peer = rte_pktmbuf_copy(m, fn_dp.pool, 0, UINT32_MAX);
	if (dir == FN_DIR_CLIENT) {
		send_rst(w, m, rx_pi, sender_mac, c.vip, c.cip, c.vport, c.cport, ack, next,
			 RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG);
		uint8_t mac[6];
		if (peer && fn_neigh_mac(c.neigh, mac) == 0)
			send_rst(w, peer, c.server_port, mac, c.lip, c.rip, c.lport, c.rport, peer_seq, peer_ack, peer_flags);
		else
			rte_pktmbuf_free(peer);
	} else {
		send_rst(w, m, rx_pi, sender_mac, c.lip, c.rip, c.lport, c.rport, ack, next,
			 RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG);
		if (peer)
			send_rst(w, peer, c.client_port, c.client_mac, c.vip, c.cip, c.vport, c.cport, peer_seq, peer_ack,
				 peer_flags);
	}
}
