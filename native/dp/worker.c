/* The worker lcore: poll every port's queue, translate, transmit. Touches
 * only its own session table, port slices, cursors and counters. */
#include <netinet/in.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "dp.h"
#include "icmp_error.h"
#include "icmp_reply.h"
#include "load.h"
#include "nat.h"
#include "neigh.h"
#include "pkt.h"
#include "persist.h"
#include "plan.h"
#include "scheduler.h"
#include "synproxy.h"
#include "tcp_state.h"
#include "verbs.h"

/* What the burst pre-pass learned of one received frame. */
struct fn_rx {
	struct fn_pkt p;
	int parsed;              /* enum fn_parse */
	uint32_t hash;           /* of k; set only for FN_P_IPV4 with an L4 header */
	uint32_t svc_slot;       /* likely new flow: its service's hash slot, then index; else FN_NIL */
	struct fn_tuple k;
};

static void session_free(struct fn_worker *w, struct fn_session *s)
{
	if (!s->nat)
		fn_lport_put(&w->lports, s->lip_slot, s->lport);
	if (unlikely(s->synproxy))
		fn_sp_release(w, s);
	w->rs_active[s->rs_id]--;
	w->svc_active[s->svc_id]--;
	if (!fn_tcp_closed(s->state))
		w->rs_live[s->rs_id]--;
	if (s->state == FN_TCP_SYN_SENT || s->state == FN_TCP_SYN_RECV)
		w->half_open--;
	fn_sess_remove(&w->sess, s);
	FN_COUNT(w->ctr, sessions_expired);
	w->ctr->v[FN_C_sessions_active]--;
}

/* Allow/deny lists: the first matching rule decides, else the default. */
static inline int acl_allows(const struct fn_plan *plan, const struct fn_service *svc, uint32_t cip)
{
	for (uint32_t i = 0; i < svc->acl_count; i++) {
		const struct fn_acl *a = &plan->acl[svc->acl_first + i];
		if ((cip & a->mask) == a->net)
			return a->allow;
	}
	return svc->acl_default;
}

/* A new flow to a VIP: pick a real server and a LIP:lport, create the session.
 * Returns NULL after counting the reason when the flow cannot be created. */
static struct fn_session *session_new(struct fn_worker *w, const struct fn_plan *plan,
				      const struct fn_service *svc, const struct fn_tuple *k,
				      const struct fn_pkt *p, unsigned rx_pi, uint64_t now, unsigned *reason)
{
	if (k->proto == IPPROTO_TCP &&
	    (p->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG | RTE_TCP_FIN_FLAG)) !=
		    RTE_TCP_SYN_FLAG) {
		*reason = FN_C_drop_no_session;
		return NULL;
	}
	if (unlikely(svc->sched_len == 0)) {
		*reason = FN_C_drop_no_real_server;
		return NULL;
	}
	if (svc->acl_count && !acl_allows(plan, svc, k->saddr)) {
		*reason = FN_C_drop_acl;
		return NULL;
	}
	/* SYN floods: half-open sessions are bounded (each worker its share) and
	 * age out on tcp_syn; established sessions are never disturbed. */
	const int at_bound = k->proto == IPPROTO_TCP && plan->half_open_max &&
			     w->half_open >= RTE_MAX(plan->half_open_max / fn_dp.cfg.n_workers, 1u);
	if (at_bound && plan->half_open_drop_new) {
		*reason = FN_C_drop_half_open_limit;
		return NULL;
	}
	if (svc->max_conn && fn_svc_load(svc->id) >= svc->max_conn) {
		*reason = FN_C_drop_max_conn;
		return NULL;
	}
	uint32_t svc_idx = (uint32_t)(svc - plan->services);
	uint32_t *cur = fn_plan_cursors(plan, w->idx);
	uint32_t c = cur[svc_idx];
	const struct fn_rs *rs = NULL;
	uint32_t now_s = 0, masked = 0;
	if (svc->persist_s) {
		/* The server this client network had, if it still takes new flows. */
		now_s = (uint32_t)(now / rte_get_tsc_hz());
		masked = k->saddr & svc->persist_mask;
		int32_t id = fn_persist_get(svc->id, masked, now_s);
		for (uint32_t i = 0; id >= 0 && i < svc->rs_count; i++)
			if (plan->rs[svc->rs_first + i].id == (uint32_t)id && plan->rs[svc->rs_first + i].weight &&
			    !fn_rs_full(&plan->rs[svc->rs_first + i]))
				rs = &plan->rs[svc->rs_first + i];
	}
	/* A server that takes no new flows (weight 0: drained or down; or at its
	 * connection limit) is passed over for the next entry: hash tables keep
	 * such servers' slots so only their own clients move. */
	unsigned why = FN_C_drop_no_real_server;
	for (uint32_t off = 0; rs == NULL; off++) {
		if (off == RTE_MIN(svc->sched_len, 1024u)) {
			*reason = why;
			return NULL;
		}
		const struct fn_rs *cand = fn_sched_pick(plan, svc, c, off, k, w->rs_live);
		if (cand->weight == 0)
			continue;
		if (fn_rs_full(cand))
			why = FN_C_drop_max_conn;
		else
			rs = cand;
	}

	uint8_t mac[6];
	if (unlikely(fn_neigh_mac(rs->neigh, mac) != 0)) {
		*reason = FN_C_drop_neigh_unresolved;
		return NULL;
	}

	/* LIP:lport: round-robin over the pool's LIPs, skipping exhausted ones.
	 * NAT mode keeps the client's address and port instead. */
	const struct fn_pool *pool = &plan->pools[svc->pool];
	uint32_t *pc = &cur[plan->n_services + svc->pool];
	uint32_t lip_idx = FN_NIL;
	uint16_t lport = 0;
	for (uint32_t i = 0; !svc->nat && i < pool->count; i++) {
		uint32_t slot = (*pc + i) % pool->count;
		uint32_t cand = plan->pool_lips[pool->first + slot];
		if (fn_lport_get(&w->lports, plan->lips[cand].slot, &lport) == 0) {
			lip_idx = cand;
			*pc = (slot + 1) % pool->count;
			break;
		}
	}
	if (unlikely(lip_idx == FN_NIL && !svc->nat)) {
		w->svc_lport_exhausted[svc->id]++;
		*reason = FN_C_drop_lport_exhausted;
		return NULL;
	}
	/* At the bound the oldest handshake gives way (half_open.h), so a flood
	 * cannot lock real clients out for tcp_syn seconds; only now, once
	 * nothing else refuses the new flow. */
	if (unlikely(at_bound)) {
		uint32_t old = fn_half_open_oldest(&w->half_open_q, &w->sess, 64);
		if (old == FN_NIL) {
			if (!svc->nat)
				fn_lport_put(&w->lports, plan->lips[lip_idx].slot, lport);
			*reason = FN_C_drop_half_open_limit;
			return NULL;
		}
		session_free(w, &w->sess.s[old]);
		FN_COUNT(w->ctr, half_open_evicted);
	}
	struct fn_session *s = fn_sess_alloc(&w->sess);
	if (unlikely(s == NULL)) {
		if (!svc->nat)
			fn_lport_put(&w->lports, plan->lips[lip_idx].slot, lport);
		*reason = FN_C_drop_session_full;
		return NULL;
	}
	/* Only now is the pick final: advance the scheduler. */
	cur[svc_idx] = c + 1 == svc->sched_len ? 0 : c + 1;

	s->cip = k->saddr;
	s->vip = k->daddr;
	s->cport = k->sport;
	s->vport = k->dport;
	s->rip = rs->ip;
	s->rport = rs->port;
	if (svc->nat) {
		s->nat = 1;
		s->lip = k->saddr;
		s->lport = k->sport;
	} else {
		s->lip = plan->lips[lip_idx].ip;
		s->lport = lport;
		s->lip_slot = (uint16_t)plan->lips[lip_idx].slot;
	}
	s->proto = k->proto;
	s->state = k->proto == IPPROTO_TCP ? FN_TCP_SYN_SENT : FN_UDP_STATE;
	s->client_port = (uint8_t)rx_pi;
	s->server_port = (uint8_t)rs->port_idx;
	memcpy(s->client_mac, &p->eth->src_addr, 6);
	s->neigh = rs->neigh;
	s->svc_id = svc->id;
	s->rs_id = rs->id;
	s->expire = now + plan->timeout_tsc[fn_state_timeout(s->state)];
	fn_sess_insert(&w->sess, s);
	if (svc->persist_s)
		fn_persist_put(svc->id, masked, rs->id, now_s + svc->persist_s);
	w->rs_active[rs->id]++;
	w->rs_live[rs->id]++;
	w->rs_created[rs->id]++;
	w->svc_active[svc->id]++;
	if (s->state == FN_TCP_SYN_SENT) {
		w->half_open++;
		fn_half_open_push(&w->half_open_q, fn_sess_index(&w->sess, s));
	}
	FN_COUNT(w->ctr, sessions_created);
	w->ctr->v[FN_C_sessions_active]++;
	return s;
}

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
static void reset_session(struct fn_worker *w, struct fn_session *s, struct rte_mbuf *m, struct fn_pkt *p,
			  unsigned rx_pi, unsigned dir)
{
	const struct fn_session c = *s; /* the session is gone after this line */
	const uint32_t sp_delta = c.synproxy ? w->sp[fn_sess_index(&w->sess, s)].delta : 0;
	session_free(w, s);
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

/* An ICMP error about a session: to a VIP or LIP (FullNAT), or in NAT mode to
 * the client's own address (l == NULL). Hand it to the session's other side.
 * Returns -1 when the quote names no session (the kernel may own the flow:
 * the caller goes on), 0 when handled (sent, handed on, dropped). */
static int icmp_error(struct fn_worker *w, const struct fn_local *l, struct rte_mbuf *m, struct fn_pkt *p,
		      uint64_t now)
{
	struct fn_icmp_quote q;
	if (fn_icmp_quote(p, &q) != 0 ||
	    (q.ip->next_proto_id != IPPROTO_TCP && q.ip->next_proto_id != IPPROTO_UDP))
		return -1;
	/* Not to one of our addresses: only an error sent where errors go, to
	 * the source of the packet it quotes (NAT mode: the client). */
	if (l == NULL && q.ip->src_addr != p->ip->dst_addr)
		return -1;
	/* Forwarded errors get a fresh checksum: never launder a corrupt one. */
	if (rte_raw_cksum(q.icmp, q.icmp_len) != 0xffff) {
		FN_COUNT(w->ctr, drop_bad_checksum);
		rte_pktmbuf_free(m);
		return 0;
	}
	struct fn_tuple k;
	fn_icmp_quote_tuple(&q, &k);
	uint32_t e = fn_sess_lookup(&w->sess, &k, fn_sess_hash(&k));
	if (e == FN_NIL || now >= w->sess.s[e >> 1].expire) {
		const unsigned n = fn_dp.cfg.n_workers;
		if (n > 1 && l && (l->flags & FN_LOCAL_LIP)) {
			/* About a LIP:lport another worker handed out: its owner is in the port. */
			unsigned owner = fn_lport_owner(rte_be_to_cpu_16(k.dport), n);
			if (owner != w->idx && w->rx_hops == 0) {
				redirect(w, owner, m, 1);
				return 0;
			}
		} else if (hand_on(w, m) == 0) {
			/* Client side (or NAT mode): nothing in the error names the
			 * worker that saw the flow (RSS hashed the router's address),
			 * so it goes round the workers, each looking once. */
			FN_COUNT(w->ctr, icmp_handed_on);
			return 0;
		}
		if (l == NULL || (l->flags & FN_LOCAL_KERNEL))
			return -1;
		FN_COUNT(w->ctr, drop_icmp_no_session);
		rte_pktmbuf_free(m);
		return 0;
	}
	if (unlikely(p->ip->time_to_live <= 1)) {
		FN_COUNT(w->ctr, drop_ttl);
		rte_pktmbuf_free(m);
		return 0;
	}
	const struct fn_session *s = &w->sess.s[e >> 1];
	if (unlikely(s->synproxy))
		fn_sp_icmp_quote(&q, &w->sp[e >> 1], e & 1);
	if ((e & 1) == FN_DIR_SERVER) {
		/* From the server side, about a packet we sent as LIP -> RS: the
		 * client gets it from the VIP, quoting its own packet to the VIP. */
		fn_icmp_rewrite(p, &q, s->vip, s->cip, s->cip, s->vip, s->cport, s->vport);
		fn_nat_l2(p, s->client_mac, &fn_dp.ports[s->client_port].mac);
		FN_COUNT(w->ctr, icmp_errors_translated);
		tx(w, s->client_port, m);
	} else {
		uint8_t mac[6];
		if (unlikely(fn_neigh_mac(s->neigh, mac) != 0)) {
			FN_COUNT(w->ctr, drop_neigh_unresolved);
			rte_pktmbuf_free(m);
			return 0;
		}
		/* From the client side, about a packet we sent as VIP -> client: the
		 * server gets it from the LIP, quoting its own packet to the LIP. */
		fn_icmp_rewrite(p, &q, s->lip, s->rip, s->rip, s->lip, s->rport, s->lport);
		fn_nat_l2(p, mac, &fn_dp.ports[s->server_port].mac);
		FN_COUNT(w->ctr, icmp_errors_translated);
		tx(w, s->server_port, m);
	}
	return 0;
}

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

static void handle_ipv4(struct fn_worker *w, const struct fn_plan *plan, struct rte_mbuf *m,
			struct fn_rx *r, unsigned rx_pi, uint64_t now)
{
	struct fn_pkt *p = &r->p;
	struct rte_ipv4_hdr *ip = p->ip;

	if (p->l4 == NULL) {
		const struct fn_local *l = fn_plan_local(plan, ip->dst_addr);
		/* The type byte is read only if the datagram has an ICMP header. */
		if (ip->next_proto_id == IPPROTO_ICMP &&
		    rte_be_to_cpu_16(ip->total_length) >= p->l3_len + sizeof(struct rte_icmp_hdr)) {
			uint8_t type = *((uint8_t *)ip + p->l3_len);
			if (fn_icmp_is_error(type) && icmp_error(w, l, m, p, now) == 0)
				return;
		}
		/* ICMP echo for any of our addresses, anything else for the kernel's
		 * own addresses: the control thread sorts it out. */
		if (l && (ip->next_proto_id == IPPROTO_ICMP || (l->flags & FN_LOCAL_KERNEL))) {
			to_ctl(w, m);
			return;
		}
		DROP(w, m, drop_unsupported);
	}

	/* Flags no TCP stack sends: SYN with FIN or RST, or none of SYN/ACK/RST
	 * (null, FIN-only, XMAS scans). */
	if (ip->next_proto_id == IPPROTO_TCP) {
		uint8_t f = p->tcp_flags;
		if (unlikely(((f & RTE_TCP_SYN_FLAG) && (f & (RTE_TCP_FIN_FLAG | RTE_TCP_RST_FLAG))) ||
			     !(f & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG))))
			DROP(w, m, drop_bad_tcp_flags);
		/* A RST or FIN moves the session to a short timeout: act only on
		 * one the endpoint would accept too. Data segments are not
		 * verified (the endpoints do it); RSTs and FINs are rare. */
		if (unlikely((f & (RTE_TCP_RST_FLAG | RTE_TCP_FIN_FLAG)) && !tcp_cksum_ok(ip, p)))
			DROP(w, m, drop_bad_checksum);
	}
	const struct fn_tuple k = r->k;
	uint32_t e = fn_sess_lookup(&w->sess, &k, r->hash);
	struct fn_session *s = NULL;
	unsigned dir = FN_DIR_CLIENT;
	if (e != FN_NIL) {
		s = &w->sess.s[e >> 1];
		dir = e & 1;
		/* Expired but not yet swept; or a client reusing its port after
		 * the old connection closed: end the old session, treat as new. */
		if (unlikely(now >= s->expire ||
			     (dir == FN_DIR_CLIENT && s->proto == IPPROTO_TCP &&
			      (s->state == FN_TCP_TIME_WAIT || s->state == FN_TCP_CLOSE) &&
			      (p->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG))) {
			session_free(w, s);
			s = NULL;
		}
	}
	if (s == NULL) {
		const struct fn_service *svc = fn_plan_service(plan, k.daddr, k.dport, k.proto);
		if (svc == NULL) {
			const struct fn_local *l = fn_plan_local(plan, ip->dst_addr);
			/* A reply to a LIP:lport another worker handed out (the port's
			 * RSS or fanout cannot know): its owner is in the port. */
			if (l && (l->flags & FN_LOCAL_LIP) && fn_dp.cfg.n_workers > 1) {
				unsigned owner = fn_lport_owner(rte_be_to_cpu_16(p->dport), fn_dp.cfg.n_workers);
				if (owner != w->idx) {
					redirect(w, owner, m, 1);
					return;
				}
			}
			/* The gateway's own traffic (health checks, management). */
			if (l && (l->flags & FN_LOCAL_KERNEL)) {
				to_ctl(w, m);
				return;
			}
			/* NAT mode: a server's reply is addressed to the client, which
			 * names no worker (RSS hashed the server's side of the flow):
			 * it goes round the workers, each looking once, as client-side
			 * ICMP errors do. Only while the plan has NAT services, so a
			 * FullNAT gateway never relays strangers' traffic. */
			if (l == NULL && plan->n_nat_services && hand_on(w, m) == 0) {
				FN_COUNT(w->ctr, nat_handed_on);
				return;
			}
			DROP(w, m, drop_no_service);
		}
		if (unlikely(ip->time_to_live <= 1)) {
			ttl_expired(w, plan, m, p, rx_pi, now);
			return;
		}
		unsigned reason;
		/* SYN proxy: a SYN is answered with a cookie and leaves no state; an
		 * ACK with a valid cookie becomes the SYN that opens the session. */
		struct fn_sp_open sp = {0};
		if (svc->syn_proxy) {
			if ((p->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG) {
				if (svc->acl_count && !acl_allows(plan, svc, k.saddr))
					DROP(w, m, drop_acl);
				if (svc->sched_len == 0)
					DROP(w, m, drop_no_real_server);
				if (fn_sp_syn_ack(w, m, p, rx_pi, now) == 0)
					tx(w, rx_pi, m);
				return;
			}
			if ((reason = fn_sp_open(w, &m, p, now, &sp)) != 0) {
				w->ctr->v[reason]++;
				rte_pktmbuf_free(m);
				return;
			}
		}
		s = session_new(w, plan, svc, &k, p, rx_pi, now, &reason);
		if (unlikely(s == NULL)) {
			w->ctr->v[reason]++;
			rte_pktmbuf_free(sp.held);
			/* fn_sp_refuse frees m itself when it cannot turn it into the RST. */
			if (!svc->syn_proxy)
				rte_pktmbuf_free(m);
			else if (fn_sp_refuse(w, m, p, rx_pi, &sp) == 0)
				tx(w, rx_pi, m);
			return;
		}
		if (svc->syn_proxy)
			fn_sp_attach(w, s, &sp);
	} else {
		if (unlikely(ip->time_to_live <= 1)) {
			ttl_expired(w, plan, m, p, rx_pi, now);
			return;
		}
		if (unlikely(plan->reset_rs && (plan->reset_rs[s->rs_id >> 6] & (1ULL << (s->rs_id & 63))))) {
			reset_session(w, s, m, p, rx_pi, dir);
			return;
		}
		if (unlikely(s->synproxy) && s->state == FN_TCP_SYN_SENT) {
			struct fn_sp_tx out;
			if (fn_sp_handshake(w, plan, s, m, p, dir, now, &out) == FN_SP_DONE) {
				for (unsigned i = 0; i < out.n; i++)
					tx(w, s->server_port, out.m[i]);
				return;
			}
		}
		if (s->proto == IPPROTO_TCP) {
			uint8_t was = s->state;
			s->state = fn_tcp_next(s->state, dir, p->tcp_flags);
			if (was <= FN_TCP_SYN_RECV && s->state > FN_TCP_SYN_RECV)
				w->half_open--;
			if (!fn_tcp_closed(was) && fn_tcp_closed(s->state))
				w->rs_live[s->rs_id]--;
		}
		s->expire = now + plan->timeout_tsc[fn_state_timeout(s->state)];
	}

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

/* Session listing for the main thread, a slice per loop so a big table
 * never stalls forwarding. */
static void dump_step(struct fn_worker *w, uint64_t now)
{
	struct fn_session_table *t = &w->sess;
	uint64_t ms = rte_get_tsc_hz() / 1000;
	uint32_t end = RTE_MIN(w->dump.cursor + 4096, t->max);
	for (uint32_t i = w->dump.cursor; i < end && w->dump.n < w->dump.max; i++) {
		const struct fn_session *s = &t->s[i];
		const struct fn_session_filter *f = &w->dump.f;
		if (!s->in_use || (f->vip && f->vip != s->vip) || (f->rip && f->rip != s->rip) ||
		    (f->cip && f->cip != s->cip))
			continue;
		struct fn_session_info *o = &w->dump.out[w->dump.n++];
		o->cip = s->cip;
		o->vip = s->vip;
		o->lip = s->lip;
		o->rip = s->rip;
		o->cport = s->cport;
		o->vport = s->vport;
		o->lport = s->lport;
		o->rport = s->rport;
		o->proto = s->proto;
		o->state = s->state;
		o->worker = (uint16_t)w->idx;
		o->svc_id = s->svc_id;
		o->rs_id = s->rs_id;
		o->expires_ms = s->expire > now ? (uint32_t)RTE_MIN((s->expire - now) / ms, UINT32_MAX) : 0;
	}
	w->dump.cursor = end;
	if (end == t->max || w->dump.n == w->dump.max)
		__atomic_store_n(&w->dump.state, 2, __ATOMIC_RELEASE);
}

static void handle(struct fn_worker *w, const struct fn_plan *plan, struct rte_mbuf *m, struct fn_rx *r,
		   unsigned rx_pi, uint64_t now)
{
	switch (r->parsed) {
	case FN_P_IPV4:
		break;
	case FN_P_ARP:
		to_ctl(w, m);
		return;
	case FN_P_NOT_IPV4:
		DROP(w, m, drop_not_ipv4);
	case FN_P_BAD_CSUM:
		DROP(w, m, drop_bad_checksum);
	case FN_P_FRAGMENT:
		DROP(w, m, drop_fragment);
	default:
		DROP(w, m, drop_malformed);
	}
	/* Unicast for another station (a bridge flooding, a promiscuous port). */
	if (unlikely(rte_is_unicast_ether_addr(&r->p.eth->dst_addr) &&
		     !rte_is_same_ether_addr(&r->p.eth->dst_addr, &fn_dp.ports[rx_pi].mac)))
		DROP(w, m, drop_other_host);
	handle_ipv4(w, plan, m, r, rx_pi, now);
}

/* Likely new flows (rx[].svc_slot holds their service hash slot): two more
 * steps of what session_new will read, a loop over the burst each so the
 * misses overlap: the service and its cursor, then (rr/wrr) the table entry
 * the cursor points at and the per-service counter, then that real server
 * and its counters. With many services these are misses of their own. */
static void prefetch_new_flows(struct fn_worker *w, const struct fn_plan *plan, struct fn_rx *rx, unsigned n)
{
	const uint32_t *cur = fn_plan_cursors(plan, w->idx);
	for (unsigned i = 0; i < n; i++) {
		if (rx[i].svc_slot == FN_NIL)
			continue;
		uint32_t slot = plan->svc_ht[rx[i].svc_slot];
		rx[i].svc_slot = slot ? slot - 1 : FN_NIL;  /* from here on: the service's index */
		if (slot != 0) {
			rte_prefetch0(&plan->services[slot - 1]);
			rte_prefetch0(&cur[slot - 1]);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (rx[i].svc_slot == FN_NIL)
			continue;
		const struct fn_service *svc = &plan->services[rx[i].svc_slot];
		rte_prefetch0(&w->svc_active[svc->id]);
		if (svc->sched_kind == FN_SCHED_CURSOR && cur[rx[i].svc_slot] < svc->sched_len)
			rte_prefetch0(&plan->sched[svc->sched_first + cur[rx[i].svc_slot]]);
	}
	for (unsigned i = 0; i < n; i++) {
		if (rx[i].svc_slot == FN_NIL)
			continue;
		const struct fn_service *svc = &plan->services[rx[i].svc_slot];
		if (svc->sched_kind != FN_SCHED_CURSOR || cur[rx[i].svc_slot] >= svc->sched_len)
			continue;
		const struct fn_rs *rs = &plan->rs[plan->sched[svc->sched_first + cur[rx[i].svc_slot]]];
		rte_prefetch0(rs);
		rte_prefetch0(&w->rs_active[rs->id]);
		rte_prefetch0(&w->rs_live[rs->id]);
		rte_prefetch0(&w->rs_created[rs->id]);
	}
}

/* A burst in stages, so that the memory each packet needs is fetched for all
 * of them before any is translated (the cache misses of a large session
 * table overlap instead of queueing one after another):
 *   1. prefetch every frame's headers;
 *   2. parse, hash the tuple, prefetch its hash bucket;
 *   3. read the bucket's first entry, prefetch that session; an empty
 *      bucket means a new flow: prefetch its service, the session it will
 *      take and (prefetch_new_flows) its scheduler state instead;
 *   4. translate each packet (the lookup itself is done here, against the
 *      table as the earlier packets of the burst left it: stages 2-3 are
 *      only hints).
 * rx_pi is the port the burst came in on, or FN_RX_PORT_OF_MBUF when each
 * packet carries it (the redirect ring). */
#define FN_RX_PORT_OF_MBUF UINT32_MAX
static void handle_burst(struct fn_worker *w, const struct fn_plan *plan, struct rte_mbuf **pkts, unsigned n,
			 unsigned rx_pi, uint64_t now)
{
	struct fn_rx rx[FN_BURST];
	const struct fn_session_table *t = &w->sess;

	for (unsigned i = 0; i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (unsigned i = 0; i < n; i++) {
		struct fn_rx *r = &rx[i];
		r->parsed = fn_parse(pkts[i], &r->p);
		if (r->parsed != FN_P_IPV4 || r->p.l4 == NULL)
			continue;
		r->k = (struct fn_tuple){r->p.ip->src_addr, r->p.ip->dst_addr, r->p.sport, r->p.dport,
					 r->p.ip->next_proto_id};
		r->hash = fn_sess_hash(&r->k);
		rte_prefetch0(&t->buckets[r->hash & t->mask]);
	}
	unsigned fresh = 0;
	for (unsigned i = 0; i < n; i++) {
		struct fn_rx *r = &rx[i];
		r->svc_slot = FN_NIL;
		if (r->parsed != FN_P_IPV4 || r->p.l4 == NULL)
			continue;
		uint32_t e = t->buckets[r->hash & t->mask];
		if (e != FN_NIL) {
			rte_prefetch0(&t->s[e >> 1]);
		} else {
			/* An empty bucket: a new flow, it will look its service up. */
			r->svc_slot = fn_svc_hash(r->k.daddr, r->k.dport, r->k.proto) & plan->svc_mask;
			rte_prefetch0(&plan->svc_ht[r->svc_slot]);
			/* ... and take the session the free list hands out next. */
			if (fresh < t->nfree)
				rte_prefetch0(&t->s[t->free[t->nfree - 1 - fresh]]);
			fresh++;
		}
	}
	if (fresh)
		prefetch_new_flows(w, plan, rx, n);
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

/* Expire sessions by sweeping the table once per second of TSC, a slice per
 * loop: bounded work per iteration, no timer structures on the packet path. */
static void sweep(struct fn_worker *w, uint64_t now)
{
	uint64_t due = (now - w->sweep_last) / w->sweep_tsc_per_entry;
	if (due < 32)
		return;
	if (due > 1024)
		due = 1024;
	struct fn_session_table *t = &w->sess;
	for (uint64_t i = 0; i < due; i++) {
		struct fn_session *s = &t->s[t->sweep];
		if (s->in_use && now >= s->expire)
			session_free(w, s);
		t->sweep = t->sweep + 1 == t->max ? 0 : t->sweep + 1;
	}
	w->sweep_last += due * w->sweep_tsc_per_entry;
	if (now - w->sweep_last > rte_get_tsc_hz())  /* fell far behind: don't try to catch up */
		w->sweep_last = now - rte_get_tsc_hz();
}

/* The bench's ceiling: receive, swap MACs, send back out the same port. No
 * parsing, no sessions: what any forwarder costs on this harness. */
static int worker_l2fwd(struct fn_worker *w)
{
	struct rte_mbuf *pkts[FN_BURST];
	const unsigned nports = fn_dp.cfg.n_ports;
	while (__atomic_load_n(&fn_dp.running, __ATOMIC_ACQUIRE)) {
		uint64_t now = rte_rdtsc();
		unsigned got = 0;
		for (unsigned pi = 0; pi < nports; pi++) {
			uint16_t n = rte_eth_rx_burst(fn_dp.ports[pi].port_id, w->idx, pkts, FN_BURST);
			for (uint16_t i = 0; i < n; i++) {
				struct rte_ether_hdr *e = rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);
				struct rte_ether_addr t = e->dst_addr;
				e->dst_addr = e->src_addr;
				e->src_addr = t;
				tx(w, pi, pkts[i]);
			}
			got += n;
			FN_COUNT_N(w->ctr, rx_packets, n);
			tx_flush(w, pi);
		}
		if (got)
			w->ctr->v[FN_C_busy_cycles] += rte_rdtsc() - now;
		rte_rcu_qsbr_quiescent(fn_dp.rcu, w->idx);
		if (!got && fn_dp.cfg.idle_sleep_us)
			rte_delay_us_sleep(fn_dp.cfg.idle_sleep_us);
	}
	return 0;
}

/* One pass of the poll loop: RX on every port, redirected replies, control
 * frames, TX flush, a slice of expiry. Returns the frames handled. */
unsigned fn_worker_iteration(struct fn_worker *w)
{
	struct rte_mbuf *pkts[FN_BURST];
	const unsigned nports = fn_dp.cfg.n_ports;
	const struct fn_plan *plan = __atomic_load_n(&fn_dp.plan, __ATOMIC_ACQUIRE);
	uint64_t now = rte_rdtsc();
	if (unlikely(plan->gen != w->plan_gen)) {
		fn_lports_sync(&w->lports, plan);
		w->plan_gen = plan->gen;
	}
	if (unlikely(__atomic_load_n(&w->dump.state, __ATOMIC_ACQUIRE) == 1))
		dump_step(w, now);
	unsigned got = 0;

	for (unsigned pi = 0; pi < nports; pi++) {
		uint16_t n = rte_eth_rx_burst(fn_dp.ports[pi].port_id, w->idx, pkts, FN_BURST);
		if (n == 0)
			continue;
		got += n;
		FN_COUNT_N(w->ctr, rx_packets, n);
		handle_burst(w, plan, pkts, n, pi, now);
	}
	/* Replies other workers received for sessions this worker owns. */
	unsigned nr = rte_ring_sc_dequeue_burst(w->redirect, (void **)pkts, FN_BURST, NULL);
	if (nr)
		handle_burst(w, plan, pkts, nr, FN_RX_PORT_OF_MBUF, now);
	got += nr;
	/* Frames the control thread built (ARP, ICMP), port index in m->port. */
	unsigned nc = rte_ring_sc_dequeue_burst(w->from_ctl, (void **)pkts, FN_BURST, NULL);
	for (unsigned i = 0; i < nc; i++)
		tx(w, pkts[i]->port, pkts[i]);
	for (unsigned pi = 0; pi < nports; pi++)
		tx_flush(w, pi);

	if (got)
		w->ctr->v[FN_C_busy_cycles] += rte_rdtsc() - now;
	sweep(w, now);
	return got + nc;
}

void fn_worker_prepare(struct fn_worker *w)
{
	w->sweep_tsc_per_entry = RTE_MAX(rte_get_tsc_hz() / w->sess.max, 1);
	w->sweep_last = rte_rdtsc();
}

int fn_worker_main(void *arg)
{
	struct fn_worker *w = arg;
	rte_rcu_qsbr_thread_online(fn_dp.rcu, w->idx);
	if (fn_dp.cfg.l2fwd) {
		worker_l2fwd(w);
	} else {
		const uint32_t idle_us = fn_dp.cfg.idle_sleep_us;
		unsigned idle = 0;
		while (__atomic_load_n(&fn_dp.running, __ATOMIC_ACQUIRE)) {
			unsigned did = fn_worker_iteration(w);
			rte_rcu_qsbr_quiescent(fn_dp.rcu, w->idx);
			if (did)
				idle = 0;
			else if (idle_us && ++idle > 256)
				rte_delay_us_sleep(idle_us);
		}
	}
	rte_rcu_qsbr_thread_offline(fn_dp.rcu, w->idx);
	return 0;
}
