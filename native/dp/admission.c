/* New-flow admission (admission.h): one path for every new session, the SYN
 * proxy's included; and fn_session_end, its mirror, kept beside it so the
 * accounting one adds and the other removes stay in step. */
#include "admission.h"

#include <netinet/in.h>
#include <string.h>

#include <rte_cycles.h>

#include "clients.h"
#include "dp.h"
#include "half_open.h"
#include "load.h"
#include "neigh.h"
#include "persist.h"
#include "plan.h"
#include "scheduler.h"
#include "synproxy.h"
#include "tcp_state.h"

void fn_session_end(struct fn_worker *w, struct fn_session *s)
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
	if (unlikely(s->client_counted))
		fn_clients_del(&w->clients, s->cip);
	fn_sess_remove(&w->sess, s);
	FN_COUNT(w->ctr, sessions_expired);
	FN_COUNT_N(w->ctr, sessions_active, (uint64_t)-1); /* a gauge: -1 */
}

/* This worker's part of sessions.max_per_client, rounded up: RSS spreads one
 * client's flows over the workers, and with one worker it is the setting. */
static inline uint32_t client_share(const struct fn_plan *plan)
{
	unsigned n = fn_dp.cfg.n_workers;
	return (plan->client_max + n - 1) / n;
}

/* What refuses the flow before a server is picked. *at_bound: the worker is
 * at its half-open bound (the oldest handshake gives way if all else admits). */
static unsigned admit_limits(const struct fn_worker *w, const struct fn_plan *plan, const struct fn_service *svc,
			     const struct fn_tuple *k, const struct fn_pkt *p, int *at_bound)
{
	if (k->proto == IPPROTO_TCP &&
	    (p->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG | RTE_TCP_FIN_FLAG)) !=
		    RTE_TCP_SYN_FLAG)
		return FN_C_drop_no_session;
	unsigned reason = fn_admit_check(plan, svc, k->saddr);
	if (reason)
		return reason;
	/* SYN floods: half-open sessions are bounded (each worker its share) and
	 * age out on tcp_syn; established sessions are never disturbed. */
	*at_bound = k->proto == IPPROTO_TCP && plan->half_open_max &&
		    w->half_open >= RTE_MAX(plan->half_open_max / fn_dp.cfg.n_workers, 1u);
	if (*at_bound && plan->half_open_drop_new)
		return FN_C_drop_half_open_limit;
	if (svc->max_conn && fn_svc_load(svc->id) >= svc->max_conn)
		return FN_C_drop_max_conn;
	if (unlikely(plan->client_max) && fn_clients_count(&w->clients, k->saddr) >= client_share(plan))
		return FN_C_drop_client_limit;
	return 0;
}

/* The server this client network had (persistence), if it still takes new
 * flows; else NULL. */
static const struct fn_rs *persisted(const struct fn_plan *plan, const struct fn_service *svc, uint32_t masked,
				     uint32_t now_s)
{
	const struct fn_rs *rs = NULL;
	int32_t id = fn_persist_get(svc->id, masked, now_s);
	for (uint32_t i = 0; id >= 0 && i < svc->rs_count; i++)
		if (plan->rs[svc->rs_first + i].id == (uint32_t)id && plan->rs[svc->rs_first + i].weight &&
		    !fn_rs_full(&plan->rs[svc->rs_first + i]))
			rs = &plan->rs[svc->rs_first + i];
	return rs;
}

/* LIP:lport: round-robin over the pool's LIPs, skipping exhausted ones.
 * Returns the LIP's index in plan->lips, or FN_NIL. */
static uint32_t take_lport(struct fn_worker *w, const struct fn_plan *plan, const struct fn_service *svc,
			   uint32_t *cur, uint16_t *lport)
{
	const struct fn_pool *pool = &plan->pools[svc->pool];
	uint32_t *pc = &cur[plan->n_services + svc->pool];
	for (uint32_t i = 0; i < pool->count; i++) {
		uint32_t slot = (*pc + i) % pool->count;
		uint32_t cand = plan->pool_lips[pool->first + slot];
		if (fn_lport_get(&w->lports, plan->lips[cand].slot, lport) == 0) {
			*pc = (slot + 1) % pool->count;
			return cand;
		}
	}
	return FN_NIL;
}

/* Whether ending s returns a port take_lport can hand out for this pool: one
 * of the pool's LIPs, within its current range (fn_lport_put retires others). */
struct pool_fit {
	const struct fn_plan *plan;
	const struct fn_pool *pool;
};

static int port_fits_pool(const struct fn_session *s, const void *arg)
{
	const struct pool_fit *f = arg;
	if (s->nat)
		return 0;
	uint16_t port = rte_be_to_cpu_16(s->lport);
	for (uint32_t i = 0; i < f->pool->count; i++) {
		const struct fn_lip *l = &f->plan->lips[f->plan->pool_lips[f->pool->first + i]];
		if (l->slot == s->lip_slot && port >= l->lo && port <= l->hi)
			return 1;
	}
	return 0;
}

/* The pool has no free port: the oldest half-open session holding one of its
 * ports gives way, and the new flow takes the port (evict_oldest). Without
 * this a SYN flood that empties the pool before the half-open bound locks
 * every service on the pool out until tcp_syn; established sessions are
 * never touched. Returns the LIP's index or FN_NIL. */
static uint32_t reclaim_lport(struct fn_worker *w, const struct fn_plan *plan, const struct fn_service *svc,
			      uint32_t *cur, uint16_t *lport)
{
	if (plan->half_open_drop_new || w->half_open == 0)
		return FN_NIL;
	const struct pool_fit f = {plan, &plan->pools[svc->pool]};
	uint32_t old = fn_half_open_take(&w->half_open_q, &w->sess, 64, port_fits_pool, &f);
	if (old == FN_NIL)
		return FN_NIL;
	fn_session_end(w, &w->sess.s[old]);
	FN_COUNT(w->ctr, half_open_evicted);
	FN_COUNT(w->ctr, lport_reclaimed);
	return take_lport(w, plan, svc, cur, lport);
}

/* A session slot for the flow, once nothing else refuses it. At the half-open
 * bound the oldest handshake gives way (half_open.h), so a flood cannot lock
 * real clients out for tcp_syn seconds. Returns NULL with *reason set. */
static struct fn_session *take_session(struct fn_worker *w, int at_bound, unsigned *reason)
{
	if (unlikely(at_bound)) {
		uint32_t old = fn_half_open_oldest(&w->half_open_q, &w->sess, 64);
		if (old == FN_NIL) {
			*reason = FN_C_drop_half_open_limit;
			return NULL;
		}
		fn_session_end(w, &w->sess.s[old]);
		FN_COUNT(w->ctr, half_open_evicted);
	}
	struct fn_session *s = fn_sess_alloc(&w->sess);
	if (unlikely(s == NULL))
		*reason = FN_C_drop_session_full;
	return s;
}

/* Everything both directions need, copied in: the session never reads the
 * plan again. NAT mode keeps the client's address and port as lip:lport. */
static void session_fill(struct fn_session *s, const struct fn_plan *plan, const struct fn_service *svc,
			 const struct fn_rs *rs, const struct fn_tuple *k, const struct fn_pkt *p, unsigned rx_pi,
			 uint32_t lip_idx, uint16_t lport, uint64_t now)
{
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
	if (k->proto == IPPROTO_TCP) {
		const struct rte_tcp_hdr *t = p->l4;
		fn_tcp_syn(s, FN_DIR_CLIENT, rte_be_to_cpu_32(t->sent_seq), fn_tcp_wscale_opt(t));
	}
	s->client_port = (uint8_t)rx_pi;
	s->server_port = (uint8_t)rs->port_idx;
	memcpy(s->client_mac, &p->eth->src_addr, 6);
	s->neigh = rs->neigh;
	s->svc_id = svc->id;
	s->rs_id = rs->id;
	s->expire = now + plan->timeout_tsc[fn_state_timeout(s->state)];
}

/* The session is in: the worker's load and half-open accounting (undone by
 * fn_session_end). */
static void session_count(struct fn_worker *w, struct fn_session *s, uint32_t plan_client_max)
{
	w->rs_active[s->rs_id]++;
	w->rs_live[s->rs_id]++;
	w->rs_created[s->rs_id]++;
	w->svc_active[s->svc_id]++;
	if (unlikely(plan_client_max)) {
		if (fn_clients_add(&w->clients, s->cip) == 0)
			s->client_counted = 1;
		else
			FN_COUNT(w->ctr, client_untracked);
	}
	if (s->state == FN_TCP_SYN_SENT) {
		w->half_open++;
		fn_half_open_push(&w->half_open_q, fn_sess_index(&w->sess, s));
	}
	FN_COUNT(w->ctr, sessions_created);
	FN_COUNT(w->ctr, sessions_active);
}

struct fn_session *fn_admit(struct fn_worker *w, const struct fn_plan *plan, const struct fn_service *svc,
			    const struct fn_tuple *k, const struct fn_pkt *p, unsigned rx_pi, uint64_t now,
			    unsigned *reason)
{
	int at_bound = 0;
	if ((*reason = admit_limits(w, plan, svc, k, p, &at_bound)) != 0)
		return NULL;
	uint32_t svc_idx = (uint32_t)(svc - plan->services);
	uint32_t *cur = fn_plan_cursors(plan, w->idx);
	uint32_t c = cur[svc_idx];
	const struct fn_rs *rs = NULL;
	uint32_t now_s = 0, masked = 0;
	if (svc->persist_s) {
		now_s = (uint32_t)(now / rte_get_tsc_hz());
		masked = k->saddr & svc->persist_mask;
		rs = persisted(plan, svc, masked, now_s);
	}
	if (rs == NULL && (rs = fn_sched_choose(plan, svc, c, k, w->rs_live, reason)) == NULL)
		return NULL;
	uint8_t mac[6];
	if (unlikely(fn_neigh_mac(rs->neigh, mac) != 0)) {
		*reason = FN_C_drop_neigh_unresolved;
		return NULL;
	}
	uint32_t lip_idx = FN_NIL;
	uint16_t lport = 0;
	if (!svc->nat && unlikely((lip_idx = take_lport(w, plan, svc, cur, &lport)) == FN_NIL)) {
		if ((lip_idx = reclaim_lport(w, plan, svc, cur, &lport)) == FN_NIL) {
			w->svc_lport_exhausted[svc->id]++;
			*reason = FN_C_drop_lport_exhausted;
			return NULL;
		}
		at_bound = 0; /* a half-open session just gave way */
	}
	struct fn_session *s = take_session(w, at_bound, reason);
	if (unlikely(s == NULL)) {
		if (!svc->nat)
			fn_lport_put(&w->lports, plan->lips[lip_idx].slot, lport);
		return NULL;
	}
	session_fill(s, plan, svc, rs, k, p, rx_pi, lip_idx, lport, now);
	/* A bucket of either tuple at its chain limit (session.h): refused
	 * before anything is counted; the session and the port go back. */
	if (unlikely(fn_sess_insert(&w->sess, s) != 0)) {
		fn_sess_unalloc(&w->sess, s);
		if (!svc->nat)
			fn_lport_put(&w->lports, plan->lips[lip_idx].slot, lport);
		*reason = FN_C_drop_bucket_full;
		return NULL;
	}
	/* Only now is the pick final: advance the scheduler. */
	cur[svc_idx] = c + 1 == svc->sched_len ? 0 : c + 1;
	if (svc->persist_s)
		fn_persist_put(svc->id, masked, rs->id, now_s + svc->persist_s);
	session_count(w, s, plan->client_max);
	return s;
}
