/* A frame's way through the worker once its burst is prefetched: sorted by
 * kind, looked up, admitted if new (admission.c), translated and queued. */
#include "forward.h"

#include <netinet/in.h>

#include "admission.h"
#include "dp.h"
#include "icmp_error.h"
#include "icmp_relay.h"
#include "icmp_reply.h"
#include "nat.h"
#include "neigh.h"
#include "plan.h"
#include "reset.h"
#include "synproxy.h"
#include "tcp_state.h"
#include "verbs.h"

/* Full TCP checksum check (pseudo-header + segment) for the rare segments
 * whose state effect must not be forged by corruption. */
static inline int tcp_cksum_ok(const struct rte_ipv4_hdr *ip, const struct fn_pkt *p)
{
	uint32_t l4len = rte_be_to_cpu_16(ip->total_length) - p->l3_len;
	uint32_t sum = rte_ipv4_phdr_cksum(ip, 0) + rte_raw_cksum(p->l4, l4len);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* TTL <= 1 on a packet the gateway would forward: dropped, and answered
 * with ICMP time exceeded (rate-limited) so traceroute shows the gateway. */
static void ttl_expired(struct fn_worker *w, const struct fn_plan *plan, struct rte_mbuf *m, const struct fn_pkt *p,
			unsigned rx_pi, uint64_t now)
{
	struct rte_mbuf *r = fn_icmp_time_exceeded(&w->icmp_bucket, plan, m, p, rx_pi, &fn_dp.ports[rx_pi].mac, now, w->ctr);
	if (r)
		tx(w, rx_pi, r);
	FN_COUNT(w->ctr, drop_ttl);
	rte_pktmbuf_free(m);
}

/* IPv4 without a TCP/UDP header: an ICMP error about a session is relayed;
 * ICMP echo for any of our addresses, anything else for the kernel's own
 * addresses goes to the control thread, which sorts it out. */
static void not_l4(struct fn_worker *w, const struct fn_plan *plan, struct rte_mbuf *m, struct fn_pkt *p,
		   unsigned rx_pi, uint64_t now)
{
	struct rte_ipv4_hdr *ip = p->ip;
	const struct fn_local *l = fn_plan_local(plan, ip->dst_addr);
	/* The type byte is read only if the datagram has an ICMP header. */
	if (ip->next_proto_id == IPPROTO_ICMP &&
	    rte_be_to_cpu_16(ip->total_length) >= p->l3_len + sizeof(struct rte_icmp_hdr)) {
		uint8_t type = *((uint8_t *)ip + p->l3_len);
		if (fn_icmp_is_error(type) && fn_icmp_relay(w, plan, l, m, p, rx_pi, now) == 0)
			return;
	}
	if (l && (ip->next_proto_id == IPPROTO_ICMP || (l->flags & FN_LOCAL_KERNEL))) {
		to_ctl(w, plan, m, now);
		return;
	}
	DROP(w, m, drop_unsupported);
}

/* A TCP segment not to act on: flags no TCP stack sends (SYN with FIN or RST,
 * or none of SYN/ACK/RST: null, FIN-only, XMAS scans); or a RST or FIN (which
 * move the session to a short timeout) the endpoint would not accept either.
 * Data segments are not verified (the endpoints do it); RSTs and FINs are
 * rare. Returns the counter to drop it under, or 0. */
static inline unsigned tcp_refused(const struct fn_pkt *p)
{
	uint8_t f = p->tcp_flags;
	if (unlikely(((f & RTE_TCP_SYN_FLAG) && (f & (RTE_TCP_FIN_FLAG | RTE_TCP_RST_FLAG))) ||
		     !(f & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG))))
		return FN_C_drop_bad_tcp_flags;
	if (unlikely((f & (RTE_TCP_RST_FLAG | RTE_TCP_FIN_FLAG)) && !tcp_cksum_ok(p->ip, p)))
		return FN_C_drop_bad_checksum;
	return 0;
}

/* No session and no service: a reply for another worker, the gateway's own
 * traffic, a NAT-mode reply to hand on, or a drop. */
static void no_service(struct fn_worker *w, const struct fn_plan *plan, struct rte_mbuf *m, const struct fn_pkt *p,
		       uint64_t now)
{
	const struct fn_local *l = fn_plan_local(plan, p->ip->dst_addr);
	/* A reply to a LIP:lport another worker handed out (the port's RSS or
	 * fanout cannot know): its owner is in the port. */
	if (l && (l->flags & FN_LOCAL_LIP) && fn_dp.cfg.n_workers > 1) {
		unsigned owner = fn_lport_owner(rte_be_to_cpu_16(p->dport), fn_dp.cfg.n_workers);
		if (owner != w->idx) {
			redirect(w, owner, m, 1);
			return;
		}
	}
	/* The gateway's own traffic (health checks, management). */
	if (l && (l->flags & FN_LOCAL_KERNEL)) {
		to_ctl(w, plan, m, now);
		return;
	}
	/* NAT mode: a server's reply is addressed to the client, which names no
	 * worker (RSS hashed the server's side of the flow): it goes round the
	 * workers, each looking once, as client-side ICMP errors do. Only while
	 * the plan has NAT services, so a FullNAT gateway never relays strangers'
	 * traffic. */
	if (l == NULL && plan->n_nat_services && hand_on(w, m) == 0) {
		FN_COUNT(w->ctr, nat_handed_on);
		return;
	}
	DROP(w, m, drop_no_service);
}

/* A frame to a service with no session: admitted into a new one. SYN proxy: a
 * SYN is answered with a cookie and leaves no state (once admission's check
 * passes); an ACK with a valid cookie becomes the SYN that opens the session
 * (*mp and p then describe that SYN). Returns NULL when *mp was consumed. */
static struct fn_session *new_flow(struct fn_worker *w, const struct fn_plan *plan, const struct fn_service *svc,
				   struct rte_mbuf **mp, struct fn_pkt *p, const struct fn_tuple *k, unsigned rx_pi,
				   uint64_t now)
{
	struct rte_mbuf *m = *mp;
	unsigned reason;
	struct fn_sp_open sp = {0};
	if (svc->syn_proxy) {
		if ((p->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG) {
			if ((reason = fn_admit_check(plan, svc, k->saddr)) != 0) {
				FN_COUNT_IDX(w->ctr, reason);
				rte_pktmbuf_free(m);
			} else if (fn_sp_syn_ack(w, m, p, rx_pi, now) == 0) {
				tx(w, rx_pi, m);
			}
			return NULL;
		}
		if ((reason = fn_sp_open(w, mp, p, now, &sp)) != 0) {
			FN_COUNT_IDX(w->ctr, reason);
			rte_pktmbuf_free(*mp);
			return NULL;
		}
		m = *mp;
	}
	struct fn_session *s = fn_admit(w, plan, svc, k, p, rx_pi, now, &reason);
	if (unlikely(s == NULL)) {
		FN_COUNT_IDX(w->ctr, reason);
		rte_pktmbuf_free(sp.held);
		/* fn_sp_refuse frees m itself when it cannot turn it into the RST. */
		if (!svc->syn_proxy)
			rte_pktmbuf_free(m);
		else if (fn_sp_refuse(w, m, p, rx_pi, &sp) == 0)
			tx(w, rx_pi, m);
		return NULL;
	}
	if (svc->syn_proxy)
		fn_sp_attach(w, s, &sp);
	return s;
}

/* A RST, FIN or SYN of a live TCP session (rare): out of the window it is
 * not believed (tcp_state.h). A SYN on a session past the handshake changes
 * nothing and goes to the same server, which answers with a challenge ACK
 * (RFC 5961 §4): a client that really lost the connection then resets it
 * with an exact RST, and its next SYN finds the session closed. Returns 0
 * to go on, else the counter to drop the segment under. */
static __rte_noinline unsigned tcp_guard(struct fn_worker *w, struct fn_session *s, const struct fn_pkt *p,
					 unsigned dir)
{
	const struct rte_tcp_hdr *t = p->l4;
	uint8_t f = p->tcp_flags;
	uint32_t seq = rte_be_to_cpu_32(t->sent_seq), ack = rte_be_to_cpu_32(t->recv_ack);
	/* A proxied server numbers its bytes delta on from the client's view. */
	if (s->synproxy && dir == FN_DIR_SERVER && s->state != FN_TCP_SYN_SENT)
		seq -= w->sp[fn_sess_index(&w->sess, s)].delta;
	if (!fn_tcp_acceptable(s, dir, f, seq, ack))
		return FN_C_drop_tcp_out_of_window;
	if (f & RTE_TCP_SYN_FLAG) {
		/* A proxied session's server space is set by fn_sp_attach. */
		if (s->state == FN_TCP_SYN_SENT && !s->synproxy)
			fn_tcp_syn(s, dir, seq, fn_tcp_wscale_opt(t));
		else if (s->state >= FN_TCP_ESTABLISHED && !(f & RTE_TCP_ACK_FLAG))
			FN_COUNT(w->ctr, tcp_syn_in_session);
	}
	return 0;
}

/* A packet of a live session: its port, the client's MAC, TTL, a reset
 * server, RST/FIN/SYN against the window, the SYN proxy's handshake, the TCP
 * state and the timeout. Returns
 * 0 when m was consumed, 1 when it goes on to be translated. */
static __rte_always_inline int established(struct fn_worker *w, const struct fn_plan *plan, struct fn_session *s,
					   struct rte_mbuf *m, struct fn_pkt *p, unsigned rx_pi, unsigned dir,
					   uint64_t now)
{
	/* Each side's tuple only from that side's port: server-side tuples
	 * (RS -> LIP) injected where clients come in are not translated. Both
	 * bytes are in the session line already read; one-arm: the same port. */
	if (unlikely(rx_pi != (dir == FN_DIR_SERVER ? s->server_port : s->client_port))) {
		FN_COUNT(w->ctr, drop_wrong_port);
		rte_pktmbuf_free(m);
		return 0;
	}
	/* Replies go to the client's last hop as it is now (a failed-over
	 * router): compared first, so the line is written only on a change. */
	if (dir == FN_DIR_CLIENT && unlikely(memcmp(s->client_mac, &p->eth->src_addr, 6) != 0))
		memcpy(s->client_mac, &p->eth->src_addr, 6);
	if (unlikely(p->ip->time_to_live <= 1)) {
		ttl_expired(w, plan, m, p, rx_pi, now);
		return 0;
	}
	if (unlikely(plan->reset_rs && (plan->reset_rs[s->rs_id >> 6] & (1ULL << (s->rs_id & 63))))) {
		fn_reset_session(w, s, m, p, rx_pi, dir);
		return 0;
	}
	/* UDP's tcp_flags are 0. */
	unsigned reason;
	if (unlikely(p->tcp_flags & (RTE_TCP_RST_FLAG | RTE_TCP_FIN_FLAG | RTE_TCP_SYN_FLAG)) &&
	    (reason = tcp_guard(w, s, p, dir)) != 0) {
		FN_COUNT_IDX(w->ctr, reason);
		rte_pktmbuf_free(m);
		return 0;
	}
	if (unlikely(s->synproxy) && s->state == FN_TCP_SYN_SENT) {
		struct fn_sp_tx out;
		if (fn_sp_handshake(w, plan, s, m, p, dir, now, &out) == FN_SP_DONE) {
			for (unsigned i = 0; i < out.n; i++)
				tx(w, s->server_port, out.m[i]);
			return 0;
		}
	}
	if (s->proto == IPPROTO_TCP) {
		uint8_t was = s->state;
		s->state = fn_tcp_next(s->state, dir, p->tcp_flags);
		if (was <= FN_TCP_SYN_RECV && s->state > FN_TCP_SYN_RECV)
			w->half_open--;
		if (!fn_tcp_closed(was) && fn_tcp_closed(s->state))
			w->rs_live[s->rs_id]--;
		if (likely(p->tcp_flags & RTE_TCP_ACK_FLAG))
			fn_tcp_acked(s, dir, rte_be_to_cpu_32(((const struct rte_tcp_hdr *)p->l4)->recv_ack));
	}
	s->expire = now + plan->timeout_tsc[fn_state_timeout(s->state)];
	return 1;
}

/* Rewrite for the other side of the session and queue it on that side's port. */
static __rte_always_inline void translate(struct fn_worker *w, const struct fn_session *s, struct rte_mbuf *m,
					  struct fn_pkt *p, unsigned dir)
{
	if (unlikely(s->synproxy))
		fn_sp_translate(p, &w->sp[fn_sess_index(&w->sess, s)], dir);
	if (dir == FN_DIR_CLIENT) {
		uint8_t mac[6];
		if (unlikely(fn_neigh_mac(s->neigh, mac) != 0))
			DROP(w, m, drop_neigh_unresolved);
		fn_nat_rewrite(p, s->lip, s->rip, s->lport, s->rport);
		fn_nat_l2(p, mac, &fn_dp.ports[s->server_port].mac);
		FN_COUNT(w->ctr, fwd_to_server);
		tx(w, s->server_port, m);
	} else {
		fn_nat_rewrite(p, s->vip, s->cip, s->vport, s->cport);
		fn_nat_l2(p, s->client_mac, &fn_dp.ports[s->client_port].mac);
		FN_COUNT(w->ctr, fwd_to_client);
		tx(w, s->client_port, m);
	}
}

static inline void handle_ipv4(struct fn_worker *w, const struct fn_plan *plan, struct rte_mbuf *m, struct fn_rx *r,
			       unsigned rx_pi, uint64_t now)
{
	struct fn_pkt *p = &r->p;
	if (p->l4 == NULL) {
		not_l4(w, plan, m, p, rx_pi, now);
		return;
	}
	unsigned reason;
	if (p->ip->next_proto_id == IPPROTO_TCP && unlikely((reason = tcp_refused(p)) != 0)) {
		FN_COUNT_IDX(w->ctr, reason);
		rte_pktmbuf_free(m);
		return;
	}
	const struct fn_tuple k = r->k;
	uint32_t e = fn_sess_lookup(&w->sess, &k, r->hash);
	struct fn_session *s = NULL;
	unsigned dir = FN_DIR_CLIENT;
	if (e != FN_NIL) {
		s = &w->sess.s[e >> 1];
		dir = e & 1;
		/* Expired but not yet swept; or a client reusing its port after
		 * the old connection closed: end the old session, treat as new.
		 * Only a RST or FIN within the window (tcp_guard) reaches
		 * TIME_WAIT or CLOSE, so a forged RST cannot open the way for a
		 * forged SYN to move a live connection to another server. */
		if (unlikely(now >= s->expire ||
			     (dir == FN_DIR_CLIENT && s->proto == IPPROTO_TCP &&
			      (s->state == FN_TCP_TIME_WAIT || s->state == FN_TCP_CLOSE) &&
			      (p->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG))) {
			fn_session_end(w, s);
			s = NULL;
		}
	}
	if (s == NULL) {
		const struct fn_service *svc = fn_plan_service(plan, k.daddr, k.dport, k.proto);
		if (svc == NULL) {
			no_service(w, plan, m, p, now);
			return;
		}
		if (unlikely(p->ip->time_to_live <= 1)) {
			ttl_expired(w, plan, m, p, rx_pi, now);
			return;
		}
		if ((s = new_flow(w, plan, svc, &m, p, &k, rx_pi, now)) == NULL)
			return;
	} else if (!established(w, plan, s, m, p, rx_pi, dir, now)) {
		return;
	}
	translate(w, s, m, p, dir);
}

static inline void handle(struct fn_worker *w, const struct fn_plan *plan, struct rte_mbuf *m, struct fn_rx *r,
			  unsigned rx_pi, uint64_t now)
{
	switch (r->parsed) {
	case FN_P_IPV4:
		break;
	case FN_P_ARP:
		to_ctl_arp(w, m);
		return;
	case FN_P_NOT_IPV4:
		DROP(w, m, drop_not_ipv4);
	case FN_P_BAD_CSUM:
		DROP(w, m, drop_bad_checksum);
	case FN_P_FRAGMENT:
		DROP(w, m, drop_fragment);
	case FN_P_MULTI_SEGMENT:
		DROP(w, m, drop_multi_segment);
	default:
		DROP(w, m, drop_malformed);
	}
	/* Unicast for another station (a bridge flooding, a promiscuous port). */
	if (unlikely(rte_is_unicast_ether_addr(&r->p.eth->dst_addr) &&
		     !rte_is_same_ether_addr(&r->p.eth->dst_addr, &fn_dp.ports[rx_pi].mac)))
		DROP(w, m, drop_other_host);
	handle_ipv4(w, plan, m, r, rx_pi, now);
}

void fn_forward_burst(struct fn_worker *w, const struct fn_plan *plan, struct rte_mbuf **pkts, struct fn_rx *rx,
		      unsigned n, unsigned rx_pi, uint64_t now)
{
	if (rx_pi != FN_RX_PORT_OF_MBUF) {
		for (unsigned i = 0; i < n; i++)
			handle(w, plan, pkts[i], &rx[i], rx_pi, now);
		return;
	}
	/* Handed over by another worker: the port and the hops so far travel with each frame. */
	for (unsigned i = 0; i < n; i++) {
		w->rx_hops = *RTE_MBUF_DYNFIELD(pkts[i], fn_dp.hops_off, uint8_t *);
		handle(w, plan, pkts[i], &rx[i], fn_dp.port_idx_of[pkts[i]->port], now);
	}
	w->rx_hops = 0;
}
