/* The worker lcore's poll loop: receive a burst, prefetch it in stages, hand
 * it to forward.c, transmit, expire. Touches only this worker's state. */
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "admission.h"
#include "dp.h"
#include "forward.h"
#include "plan.h"
#include "session_dump.h"
#include "verbs.h"

/* Likely new flows (rx[].svc_slot holds their service hash slot): two more
 * steps of what admission (fn_admit) will read, a loop over the burst each so the
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
 *   4. forward each packet (forward.c, one call for the burst; the lookup
 *      itself is done there, against the table as the earlier packets of
 *      the burst left it: stages 2-3 are only hints).
 * rx_pi is the port the burst came in on, or FN_RX_PORT_OF_MBUF when each
 * packet carries it (the redirect ring). */
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
		uint32_t e = fn_sess_first(t, r->hash);
		if (e != FN_SESS_END) {
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
	fn_forward_burst(w, plan, pkts, rx, n, rx_pi, now);
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
			fn_session_end(w, s);
		t->sweep = t->sweep + 1 == t->max ? 0 : t->sweep + 1;
	}
	w->sweep_last += due * w->sweep_tsc_per_entry;
	if (now - w->sweep_last > rte_get_tsc_hz())  /* fell far behind: don't try to catch up */
		w->sweep_last = now - rte_get_tsc_hz();
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
		fn_session_dump_step(w, now);
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
	/* Frames going round the workers (client-side ICMP errors, NAT-mode
	 * replies), after the replies: their own ring, drained second. */
	unsigned nh = rte_ring_sc_dequeue_burst(w->hand_on, (void **)pkts, FN_BURST, NULL);
	if (nh)
		handle_burst(w, plan, pkts, nh, FN_RX_PORT_OF_MBUF, now);
	got += nh;
	/* Frames the control thread built (ARP, ICMP), port index in m->port. */
	unsigned nc = rte_ring_sc_dequeue_burst(w->from_ctl, (void **)pkts, FN_BURST, NULL);
	for (unsigned i = 0; i < nc; i++)
		tx(w, pkts[i]->port, pkts[i]);
	for (unsigned pi = 0; pi < nports; pi++)
		tx_flush(w, pi);

	if (got)
		FN_COUNT_N(w->ctr, busy_cycles, rte_rdtsc() - now);
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
		fn_worker_l2fwd(w);
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
