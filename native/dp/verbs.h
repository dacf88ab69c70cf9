/* What a worker does with a frame once it knows where it goes: send it,
 * pass it to the control thread, hand it to another worker, or drop it. */
#ifndef FN_VERBS_H
#define FN_VERBS_H

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "dp.h"

/* Everything queued for port pi leaves in one burst. */
static inline void tx_flush(struct fn_worker *w, unsigned pi)
{
	uint16_t n = w->txb[pi].n;
	if (n == 0)
		return;
	uint16_t sent = rte_eth_tx_burst(fn_dp.ports[pi].port_id, w->idx, w->txb[pi].m, n);
	FN_COUNT_N(w->ctr, tx_packets, sent);
	if (unlikely(sent < n)) {
		FN_COUNT_N(w->ctr, tx_dropped, n - sent);
		rte_pktmbuf_free_bulk(&w->txb[pi].m[sent], n - sent);
	}
	w->txb[pi].n = 0;
}

static inline void tx(struct fn_worker *w, unsigned pi, struct rte_mbuf *m)
{
	w->txb[pi].m[w->txb[pi].n++] = m;
	if (unlikely(w->txb[pi].n == FN_BURST))
		tx_flush(w, pi);
}

/* Token bucket in TSC units (as icmp_reply.c's): a frame costs hz / rate,
 * credit is capped at a tenth of a second's worth so a burst cannot fill
 * to_ctl at once. rate 0: no limit. Returns 0 when the frame may pass. */
static inline int ctl_bucket_take(struct fn_icmp_bucket *b, uint32_t rate, uint64_t now)
{
	if (rate == 0)
		return 0;
	return fn_bucket_take(b, rate, 10, now);
}

/* ICMP echo for our addresses and the kernel's own traffic: rate-limited
 * here, so a flood costs the worker one bucket check per frame and never
 * reaches the control thread (review M1). */
static inline void to_ctl(struct fn_worker *w, const struct fn_plan *plan, struct rte_mbuf *m, uint64_t now)
{
	if (unlikely(ctl_bucket_take(&w->ctl_bucket, plan->ctl_rate, now) != 0)) {
		FN_COUNT(w->ctr, drop_control_rate);
		rte_pktmbuf_free(m);
		return;
	}
	if (unlikely(rte_ring_sp_enqueue(w->to_ctl, m) != 0)) {
		FN_COUNT(w->ctr, drop_control_full);
		rte_pktmbuf_free(m);
		return;
	}
	FN_COUNT(w->ctr, to_control);
}

/* ARP: a ring of its own, drained first by the control thread. */
static inline void to_ctl_arp(struct fn_worker *w, struct rte_mbuf *m)
{
	if (unlikely(rte_ring_sp_enqueue(w->to_ctl_arp, m) != 0)) {
		FN_COUNT(w->ctr, drop_control_full);
		rte_pktmbuf_free(m);
		return;
	}
	FN_COUNT(w->ctr, to_control);
}

static inline void redirect(struct fn_worker *w, unsigned owner, struct rte_mbuf *m, uint8_t hops)
{
	*RTE_MBUF_DYNFIELD(m, fn_dp.hops_off, uint8_t *) = hops;
	if (unlikely(rte_ring_mp_enqueue(fn_dp.workers[owner].redirect, m) != 0)) {
		FN_COUNT(w->ctr, drop_redirect_full);
		rte_pktmbuf_free(m);
		return;
	}
	FN_COUNT(w->ctr, redirected);
}

/* A frame that names no worker (a client-side ICMP error, a NAT-mode reply
 * to a client address): pass it to the next worker, each looking once, on
 * the hand-on ring (not the redirect ring: a flood of such frames must not
 * crowd out replies on their way to their owner). Returns 0 when it was
 * handed on (or dropped because that ring was full), -1 when every worker
 * has seen it. */
static inline int hand_on(struct fn_worker *w, struct rte_mbuf *m)
{
	const unsigned n = fn_dp.cfg.n_workers;
	if (n < 2 || w->rx_hops >= n - 1)
		return -1;
	*RTE_MBUF_DYNFIELD(m, fn_dp.hops_off, uint8_t *) = (uint8_t)(w->rx_hops + 1);
	if (unlikely(rte_ring_mp_enqueue(fn_dp.workers[(w->idx + 1) % n].hand_on, m) != 0)) {
		FN_COUNT(w->ctr, drop_hand_on_full);
		rte_pktmbuf_free(m);
		return 0;
	}
	FN_COUNT(w->ctr, redirected);
	return 0;
}

/* Count the reason, free the frame, return from the (void) handler. */
#define DROP(w, m, reason)                   \
	do {                                 \
		FN_COUNT((w)->ctr, reason);  \
		rte_pktmbuf_free(m);         \
		return;                      \
	} while (0)

#endif
