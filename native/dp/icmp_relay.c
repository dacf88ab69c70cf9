/* The ICMP-error relay: an error about a session, found by the packet it
 * quotes, goes on to the session's other side (icmp_error.h rewrites it). */
#include "icmp_relay.h"

#include <netinet/in.h>

#include "dp.h"
#include "icmp_error.h"
#include "lport.h"
#include "nat.h"
#include "neigh.h"
#include "synproxy.h"
#include "verbs.h"

int fn_icmp_relay(struct fn_worker *w, const struct fn_local *l, struct rte_mbuf *m, struct fn_pkt *p, uint64_t now)
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
