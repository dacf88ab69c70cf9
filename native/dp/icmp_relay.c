/* The ICMP-error relay: an error about a session, found by the packet it
 * quotes, goes on to the session's other side (icmp_error.h rewrites it). */
#include "icmp_relay.h"

#include <netinet/in.h>

#include "dp.h"
#include "icmp_error.h"
#include "icmp_reply.h"
#include "lport.h"
#include "nat.h"
#include "neigh.h"
#include "plan.h"
#include "synproxy.h"
#include "verbs.h"

/* An error whose quote names no session on this worker. About a LIP port:
 * the port names the owner. Otherwise (client side, NAT mode) nothing names
 * it, so the error goes round the workers, each looking once: only if it
 * can be about a session at all (the quote is from a VIP:vport, or NAT
 * services exist), and within the worker's hand-on rate, so that strangers'
 * errors cost one lookup, not N-1 hops. Returns as fn_icmp_relay. */
static int no_session(struct fn_worker *w, const struct fn_plan *plan, const struct fn_local *l,
		      struct rte_mbuf *m, const struct fn_tuple *k, uint64_t now)
{
	const unsigned n = fn_dp.cfg.n_workers;
	if (l && (l->flags & FN_LOCAL_LIP)) {
		unsigned owner = fn_lport_owner(rte_be_to_cpu_16(k->dport), n);
		if (n > 1 && owner != w->idx && w->rx_hops == 0) {
			redirect(w, owner, m, 1);
			return 0;
		}
	} else if (l ? fn_plan_service(plan, k->daddr, k->dport, k->proto) == NULL : plan->n_nat_services == 0) {
		/* The quoted packet was not sent from a VIP:vport (nor, to a client
		 * address, by a NAT service): no worker has its session. */
		if (l == NULL || (l->flags & FN_LOCAL_KERNEL))
			return -1;
		FN_COUNT(w->ctr, drop_icmp_not_service);
		rte_pktmbuf_free(m);
		return 0;
	} else if (n > 1 && w->rx_hops < n - 1) {
		/* Rate-limited where the round starts; later hops only go on. */
		if (w->rx_hops == 0 && (plan->icmp_hand_on_rate == 0 ||
					fn_icmp_bucket_take(&w->hand_on_bucket, plan->icmp_hand_on_rate, now) != 0)) {
			FN_COUNT(w->ctr, drop_icmp_hand_on_limit);
			rte_pktmbuf_free(m);
			return 0;
		}
		hand_on(w, m);
		FN_COUNT(w->ctr, icmp_handed_on);
		return 0;
	}
	if (l == NULL || (l->flags & FN_LOCAL_KERNEL))
		return -1;
	FN_COUNT(w->ctr, drop_icmp_no_session);
	rte_pktmbuf_free(m);
	return 0;
}

int fn_icmp_relay(struct fn_worker *w, const struct fn_plan *plan, const struct fn_local *l, struct rte_mbuf *m,
		  struct fn_pkt *p, unsigned rx_pi, uint64_t now)
{
	struct fn_icmp_quote q;
	if (fn_icmp_quote(p, &q) != 0 ||
	    (q.ip->next_proto_id != IPPROTO_TCP && q.ip->next_proto_id != IPPROTO_UDP))
		return -1;
	/* Not to one of our addresses: only an error sent where errors go, to
	 * the source of the packet it quotes (NAT mode: the client). */
	if (l == NULL && q.ip->src_addr != p->ip->dst_addr)
		return -1;
	/* Forwarded errors get a fresh checksum: never launder a corrupt one.
	 * Verified once, by the worker that received it: a frame another worker
	 * handed over (rx_hops > 0) passed this check there. */
	if (w->rx_hops == 0 && rte_raw_cksum(q.icmp, q.icmp_len) != 0xffff) {
		FN_COUNT(w->ctr, drop_bad_checksum);
		rte_pktmbuf_free(m);
		return 0;
	}
	struct fn_tuple k;
	fn_icmp_quote_tuple(&q, &k);
	uint32_t e = fn_sess_lookup(&w->sess, &k, fn_sess_hash(&k));
	if (e == FN_NIL || now >= w->sess.s[e >> 1].expire)
		return no_session(w, plan, l, m, &k, now);
	const struct fn_session *s = &w->sess.s[e >> 1];
	const unsigned dir = e & 1;
	/* Errors about the server side come from the server's port, about the
	 * client side from the client's: never injected from the other. */
	if (unlikely(rx_pi != (dir == FN_DIR_SERVER ? s->server_port : s->client_port))) {
		FN_COUNT(w->ctr, drop_wrong_port);
		rte_pktmbuf_free(m);
		return 0;
	}
	if (unlikely(p->ip->time_to_live <= 1)) {
		FN_COUNT(w->ctr, drop_ttl);
		rte_pktmbuf_free(m);
		return 0;
	}
	/* Fragmentation needed from the client side below the floor: the server
	 * keeps path MTU per destination, the LIP many clients share, so one
	 * client's (or an attacker's) tiny MTU would shrink them all. Dropped,
	 * not raised to the floor: the server is told nothing false. */
	if (dir == FN_DIR_CLIENT && q.icmp->icmp_type == 3 && q.icmp->icmp_code == 4 &&
	    rte_be_to_cpu_16(q.icmp->icmp_seq_nb) < plan->icmp_min_path_mtu) {
		FN_COUNT(w->ctr, drop_icmp_mtu_floor);
		rte_pktmbuf_free(m);
		return 0;
	}
	if (unlikely(s->synproxy))
		fn_sp_icmp_quote(&q, &w->sp[e >> 1], dir);
	if (dir == FN_DIR_SERVER) {
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
