/* SYN proxy handshakes: the cookie SYN-ACK, the client's ACK turned into the
 * server's SYN, the server's SYN-ACK answered by the gateway. Rare paths:
 * headers are rebuilt and checksums recomputed from scratch. */
#include "synproxy.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include "dp.h"
#include "nat.h"
#include "neigh.h"
#include "syncookie.h"
#include "tcp_state.h"

static uint64_t sp_key[2];    /* main: w at start; workers: r */
static int64_t sp_skew_s;     /* main: w (tests, relaxed atomic); workers: r */

int fn_sp_init(void)
{
	/* A fresh key per process: cookies never outlive the process that made them. */
	return getrandom(sp_key, sizeof(sp_key), 0) == sizeof(sp_key) ? 0 : -1;
}

void fn_sp_clock_skew(int64_t seconds)
{
	__atomic_store_n(&sp_skew_s, seconds, __ATOMIC_RELAXED);
}

static inline uint32_t cookie_slot(uint64_t now)
{
	int64_t s = (int64_t)(now / rte_get_tsc_hz()) + __atomic_load_n(&sp_skew_s, __ATOMIC_RELAXED);
	return (uint32_t)((uint64_t)s >> FN_COOKIE_SLOT_SHIFT);
}

int fn_sp_alloc(struct fn_worker *w, int socket)
{
	w->sp = rte_zmalloc_socket("fn_synproxy", sizeof(struct fn_sp_side) * (size_t)w->sess.max, 64, socket);
	return w->sp ? 0 : -1;
}

void fn_sp_free(struct fn_worker *w)
{
	if (w->sp)
		for (uint32_t i = 0; i < w->sess.max; i++)
			rte_pktmbuf_free(w->sp[i].held);
	rte_free(w->sp);
	w->sp = NULL;
}

/* The MSS option of a SYN, or 0 when it has none. */
static uint16_t syn_mss(const struct rte_tcp_hdr *t)
{
	const uint8_t *o = fn_tcp_option(t, 2, 4);
	return o == NULL ? 0 : (uint16_t)(o[2] << 8 | o[3]);
}

struct seg {
	uint32_t src, dst;          /* network order */
	uint16_t sport, dport;      /* network order */
	uint32_t seq, ack;          /* host order */
	uint8_t flags, ttl, tos;
	uint16_t win, mss, id;      /* host order; mss 0: no option */
};

/* Rewrite m as a bare segment (20-byte IPv4, TCP with at most the MSS
 * option, no payload), padded to the Ethernet minimum. Returns -1 if the
 * mbuf cannot hold it. */
static int build(struct rte_mbuf *m, const uint8_t dst_mac[6], const struct rte_ether_addr *src_mac,
		 const struct seg *g)
{
	uint16_t l4 = sizeof(struct rte_tcp_hdr) + (g->mss ? 4 : 0);
	uint16_t len = sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + l4;
	uint16_t frame = RTE_MAX(len, (uint16_t)(RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN));
	if (m->data_len > frame)
		rte_pktmbuf_trim(m, m->data_len - frame);
	else if (m->data_len < frame && rte_pktmbuf_append(m, frame - m->data_len) == NULL)
		return -1;
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	memset(d + len, 0, frame - len);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)d;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)(ip + 1);
	memcpy(&eth->dst_addr, dst_mac, 6);
	rte_ether_addr_copy(src_mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip) + l4);
	ip->version_ihl = 0x45;
	ip->type_of_service = g->tos;
	ip->total_length = rte_cpu_to_be_16(sizeof(*ip) + l4);
	ip->packet_id = rte_cpu_to_be_16(g->id);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = g->ttl;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = g->src;
	ip->dst_addr = g->dst;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	t->src_port = g->sport;
	t->dst_port = g->dport;
	t->sent_seq = rte_cpu_to_be_32(g->seq);
	t->recv_ack = rte_cpu_to_be_32(g->ack);
	t->data_off = (uint8_t)((l4 / 4) << 4);
	t->tcp_flags = g->flags;
	t->rx_win = rte_cpu_to_be_16(g->win);
	if (g->mss) {
		uint8_t *o = (uint8_t *)(t + 1);
		o[0] = 2;
		o[1] = 4;
		o[2] = (uint8_t)(g->mss >> 8);
		o[3] = (uint8_t)g->mss;
	}
	t->cksum = rte_ipv4_udptcp_cksum(ip, t);
	m->ol_flags = 0;
	return 0;
}

int fn_sp_syn_ack(struct fn_worker *w, struct rte_mbuf *m, struct fn_pkt *p, unsigned rx_pi, uint64_t now)
{
	const struct rte_tcp_hdr *t = p->l4;
	unsigned idx = fn_cookie_mss_idx(syn_mss(t) ? syn_mss(t) : 536);
	uint32_t cisn = rte_be_to_cpu_32(t->sent_seq);
	uint32_t cookie = fn_cookie_make(sp_key, p->ip->src_addr, p->ip->dst_addr, p->sport, p->dport, cisn,
					 cookie_slot(now), idx);
	/* The window is one segment: the client sends at most one segment before
	 * the server's first word opens the real window, and that one the proxy
	 * holds while it opens the server connection. */
	struct seg g = {
		.src = p->ip->dst_addr, .dst = p->ip->src_addr, .sport = p->dport, .dport = p->sport,
		.seq = cookie, .ack = cisn + 1, .flags = RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG,
		.ttl = 64, .win = fn_cookie_mss[idx], .mss = fn_cookie_mss[idx],
	};
	uint8_t mac[6];
	memcpy(mac, &p->eth->src_addr, 6);
	if (build(m, mac, &fn_dp.ports[rx_pi].mac, &g) != 0) {
		FN_COUNT(w->ctr, drop_malformed);
		rte_pktmbuf_free(m);
		return -1;
	}
	FN_COUNT(w->ctr, syn_proxy_syn_ack_sent);
	return 0;
}

unsigned fn_sp_open(struct fn_worker *w, struct rte_mbuf **mp, struct fn_pkt *p, uint64_t now,
		    struct fn_sp_open *o)
{
	const uint8_t f = p->tcp_flags;
	if ((f & (RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG | RTE_TCP_SYN_FLAG)) != RTE_TCP_ACK_FLAG)
		return FN_C_drop_no_session;
	struct rte_tcp_hdr *t = p->l4;
	uint32_t cisn = rte_be_to_cpu_32(t->sent_seq) - 1;
	uint32_t cookie = rte_be_to_cpu_32(t->recv_ack) - 1;
	int idx = fn_cookie_check(sp_key, cookie, p->ip->src_addr, p->ip->dst_addr, p->sport, p->dport, cisn,
				  cookie_slot(now));
	if (idx < 0)
		return FN_C_drop_syn_proxy_bad_cookie;

	struct rte_mbuf *m = *mp;
	uint16_t paylen = rte_be_to_cpu_16(p->ip->total_length) - p->l3_len - (t->data_off >> 4) * 4;
	o->cookie = cookie;
	o->win = rte_be_to_cpu_16(t->rx_win);
	o->held = NULL;
	struct seg g = {
		.src = p->ip->src_addr, .dst = p->ip->dst_addr, .sport = p->sport, .dport = p->dport,
		.seq = cisn, .ack = 0, .flags = RTE_TCP_SYN_FLAG, .ttl = p->ip->time_to_live,
		.tos = p->ip->type_of_service, .id = rte_be_to_cpu_16(p->ip->packet_id), .win = o->win,
		.mss = fn_cookie_mss[idx],
	};
	uint8_t mac[6];
	memcpy(mac, &p->eth->dst_addr, 6);
	struct rte_ether_addr src_mac = p->eth->src_addr;
	if (paylen || (f & RTE_TCP_FIN_FLAG)) {
		/* Data (or a FIN) on the ACK: keep the segment for after the server
		 * handshake; the SYN goes in a new buffer. */
		struct rte_mbuf *syn = rte_pktmbuf_alloc(fn_dp.pool);
		if (syn == NULL)
			return FN_C_drop_syn_proxy_pending;
		o->held = m;
		m = syn;
	}
	/* The SYN is built as the client would have sent it (to the VIP), so the
	 * ordinary path translates and counts it like any first SYN. */
	if (build(m, mac, &src_mac, &g) != 0 || fn_parse(m, p) != FN_P_IPV4) {
		if (o->held) {
			rte_pktmbuf_free(m);
			*mp = o->held;
			o->held = NULL;
		}
		return FN_C_drop_malformed;
	}
	*mp = m;
	FN_COUNT(w->ctr, syn_proxy_cookie_ok);
	return 0;
}

int fn_sp_refuse(struct fn_worker *w, struct rte_mbuf *m, struct fn_pkt *p, unsigned rx_pi,
		 const struct fn_sp_open *o)
{
	/* seq = cookie + 1: exactly what the client expects next (RFC 5961). */
	struct seg g = {
		.src = p->ip->dst_addr, .dst = p->ip->src_addr, .sport = p->dport, .dport = p->sport,
		.seq = o->cookie + 1, .flags = RTE_TCP_RST_FLAG, .ttl = 64,
	};
	uint8_t mac[6];
	memcpy(mac, &p->eth->src_addr, 6);
	if (build(m, mac, &fn_dp.ports[rx_pi].mac, &g) != 0) {
		rte_pktmbuf_free(m);
		return -1;
	}
	FN_COUNT(w->ctr, syn_proxy_client_rst);
	return 0;
}

void fn_sp_attach(struct fn_worker *w, struct fn_session *s, struct fn_sp_open *o)
{
	struct fn_sp_side *sp = &w->sp[fn_sess_index(&w->sess, s)];
	s->synproxy = 1;
	sp->delta = 0;
	sp->cookie = o->cookie;
	sp->win = o->win;
	sp->held = o->held;
	o->held = NULL;
	/* The server's bytes in the client's view start after the cookie
	 * (tcp_state.h tracks both sides in that view). */
	s->seq_hi[FN_DIR_SERVER] = (uint16_t)((o->cookie + 1) >> 16);
}

void fn_sp_release(struct fn_worker *w, struct fn_session *s)
{
	struct fn_sp_side *sp = &w->sp[fn_sess_index(&w->sess, s)];
	rte_pktmbuf_free(sp->held);
	sp->held = NULL;
}

int fn_sp_handshake(struct fn_worker *w, const struct fn_plan *plan, struct fn_session *s, struct rte_mbuf *m,
		    struct fn_pkt *p, unsigned dir, uint64_t now, struct fn_sp_tx *out)
{
	struct fn_sp_side *sp = &w->sp[fn_sess_index(&w->sess, s)];
	struct rte_tcp_hdr *t = p->l4;
	const uint8_t f = p->tcp_flags;
	out->n = 0;
	if (f & RTE_TCP_RST_FLAG) {
		/* The server refused (or the client gave up): the RST goes the
		 * ordinary way. A server's RST to a SYN carries a sequence number
		 * the client never heard of: shift it onto the one the client
		 * expects (cookie + 1) so the client accepts it (RFC 5961). */
		if (dir == FN_DIR_SERVER) {
			sp->delta = rte_be_to_cpu_32(t->sent_seq) - (sp->cookie + 1);
			FN_COUNT(w->ctr, syn_proxy_server_rst);
		}
		return FN_SP_PASS;
	}
	if (dir == FN_DIR_CLIENT) {
		/* The server has not answered yet: keep the first data segment,
		 * drop the rest (the client retransmits them). */
		uint16_t paylen = rte_be_to_cpu_16(p->ip->total_length) - p->l3_len - (t->data_off >> 4) * 4;
		if ((paylen || (f & RTE_TCP_FIN_FLAG)) && sp->held == NULL && !(f & RTE_TCP_SYN_FLAG)) {
			sp->held = m;
			FN_COUNT(w->ctr, syn_proxy_held);
			return FN_SP_DONE;
		}
		FN_COUNT(w->ctr, drop_syn_proxy_pending);
		rte_pktmbuf_free(m);
		return FN_SP_DONE;
	}
	uint8_t mac[6];
	if ((f & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) != (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) {
		FN_COUNT(w->ctr, drop_syn_proxy_pending);
		rte_pktmbuf_free(m);
		return FN_SP_DONE;
	}
	if (unlikely(fn_neigh_mac(s->neigh, mac) != 0)) {
		FN_COUNT(w->ctr, drop_neigh_unresolved);
		rte_pktmbuf_free(m);
		return FN_SP_DONE;
	}
	/* The server's SYN-ACK: its ISN fixes the offset between the two halves;
	 * the gateway completes the server's handshake as the client would. */
	uint32_t sisn = rte_be_to_cpu_32(t->sent_seq);
	struct seg g = {
		.src = s->lip, .dst = s->rip, .sport = s->lport, .dport = s->rport,
		.seq = rte_be_to_cpu_32(t->recv_ack), .ack = sisn + 1, .flags = RTE_TCP_ACK_FLAG,
		.ttl = 64, .win = sp->win,
	};
	if (build(m, mac, &fn_dp.ports[s->server_port].mac, &g) != 0) {
		FN_COUNT(w->ctr, drop_malformed);
		rte_pktmbuf_free(m);
		return FN_SP_DONE;
	}
	sp->delta = sisn - sp->cookie;
	s->state = FN_TCP_ESTABLISHED;
	w->half_open--;
	s->expire = now + plan->timeout_tsc[FN_TO_TCP_ESTABLISHED];
	out->m[out->n++] = m;
	FN_COUNT(w->ctr, syn_proxy_established);

	/* Then what the client sent meanwhile, translated as any later segment. */
	struct rte_mbuf *h = sp->held;
	sp->held = NULL;
	if (h) {
		struct fn_pkt hp;
		if (fn_parse(h, &hp) != FN_P_IPV4 || hp.ip->time_to_live <= 1) {
			rte_pktmbuf_free(h);
			return FN_SP_DONE;
		}
		if (hp.tcp_flags & RTE_TCP_FIN_FLAG)
			s->state = fn_tcp_next(s->state, FN_DIR_CLIENT, hp.tcp_flags);
		fn_sp_translate(&hp, sp, FN_DIR_CLIENT);
		fn_nat_rewrite(&hp, s->lip, s->rip, s->lport, s->rport);
		fn_nat_l2(&hp, mac, &fn_dp.ports[s->server_port].mac);
		FN_COUNT(w->ctr, fwd_to_server);
		out->m[out->n++] = h;
	}
	return FN_SP_DONE;
}
