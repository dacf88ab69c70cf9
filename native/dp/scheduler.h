/* Picking a real server for a new flow: one precomputed table per service,
 * indexed by a per-worker cursor (rr, wrr), a hash of the client (sh, mh),
 * or scanned for the least loaded server (lc, wlc). */
#ifndef FN_SCHEDULER_H
#define FN_SCHEDULER_H

#include <rte_branch_prediction.h>
#include <rte_hash_crc.h>

#include "fn_counters.h"
#include "fn_plan.h"
#include "load.h"
#include "session.h"

static inline int fn_rs_full(const struct fn_rs *rs)
{
	return rs->max_conn && fn_rs_load(rs->id) >= rs->max_conn;
}

/* The limit check the pickers below make; a test counts them through it. */
#ifndef FN_SCHED_RS_FULL
#define FN_SCHED_RS_FULL(rs) fn_rs_full(rs)
#endif

/* Table entries fn_sched_choose tries before it checks each server once. */
#define FN_SCHED_TRIES 16u

/* cursor: this worker's cursor for the service, advanced by the caller once
 * the pick is final; offset: the caller's retry when the pick was at its
 * connection limit (the next table entry). active: this worker's open (not yet closed)
 * sessions per server id. LEAST ignores offset (one scan sees every server) and
 * returns NULL when no server takes new flows. */
static inline const struct fn_rs *fn_sched_pick(const struct fn_plan *plan, const struct fn_service *svc,
						uint32_t cursor, uint32_t offset, const struct fn_tuple *k,
						const int32_t *active)
{
	const uint32_t *t = &plan->sched[svc->sched_first];
	switch (svc->sched_kind) {
	case FN_SCHED_HASH_ADDR:
		return &plan->rs[t[(rte_hash_crc_4byte(k->saddr, svc->hash_seed) + offset) % svc->sched_len]];
	case FN_SCHED_HASH_FLOW: {
		uint32_t h = rte_hash_crc_4byte(k->saddr, svc->hash_seed);
		return &plan->rs[t[(rte_hash_crc_4byte(k->sport, h) + offset) % svc->sched_len]];
	}
	case FN_SCHED_LEAST: {
		/* Fewest active/weight, compared as a_i * w_j < a_j * w_i. Starting
		 * at the cursor spreads ties instead of favouring the first server. */
		const struct fn_rs *best = NULL;
		uint64_t ba = 0, bw = 1;
		for (uint32_t n = 0, i = cursor; n < svc->sched_len; n++, i = i + 1 == svc->sched_len ? 0 : i + 1) {
			const struct fn_rs *rs = &plan->rs[t[i]];
			uint64_t a = (uint64_t)(active[rs->id] > 0 ? active[rs->id] : 0);
			if (rs->weight && (!best || a * bw < ba * rs->weight) && !FN_SCHED_RS_FULL(rs)) {
				best = rs;
				ba = a;
				bw = rs->weight;
			}
		}
		return best;
	}
	default:
		return &plan->rs[t[(cursor + offset) % svc->sched_len]];
	}
}

/* The server for a new flow from cursor c, passing over servers that take no
 * new flows (weight 0: drained or down; or at max_conn): hash tables keep
 * such servers' entries so only their own clients move. Bounded whatever the
 * load: a service without a usable server is refused at once, a LEAST pick
 * is one scan, and the other kinds try FN_SCHED_TRIES entries and then each
 * server once (a table may hold a server thousands of times, and every limit
 * check sums all workers). Returns NULL with *reason: drop_max_conn when a
 * usable server was full, else drop_no_real_server. */
static inline const struct fn_rs *fn_sched_choose(const struct fn_plan *plan, const struct fn_service *svc,
						  uint32_t c, const struct fn_tuple *k, const int32_t *active,
						  unsigned *reason)
{
	if (unlikely(svc->rs_usable == 0)) {
		*reason = FN_C_drop_no_real_server;
		return NULL;
	}
	if (svc->sched_kind == FN_SCHED_LEAST) {
		const struct fn_rs *rs = fn_sched_pick(plan, svc, c, 0, k, active);
		if (rs == NULL)
			*reason = FN_C_drop_max_conn;
		return rs;
	}
	unsigned why = FN_C_drop_no_real_server;
	uint32_t tries = svc->sched_len < FN_SCHED_TRIES ? svc->sched_len : FN_SCHED_TRIES;
	for (uint32_t off = 0; off < tries; off++) {
		const struct fn_rs *cand = fn_sched_pick(plan, svc, c, off, k, active);
		if (cand->weight == 0)
			continue;
		if (!FN_SCHED_RS_FULL(cand))
			return cand;
		why = FN_C_drop_max_conn;
	}
	if (svc->sched_len > tries && svc->rs_count) {
		/* From the next entry's server on, so a client's choice stays its own. */
		uint32_t start = (uint32_t)(fn_sched_pick(plan, svc, c, tries, k, active) - plan->rs) - svc->rs_first;
		for (uint32_t n = 0; n < svc->rs_count; n++) {
			const struct fn_rs *rs = &plan->rs[svc->rs_first + (start + n) % svc->rs_count];
			if (rs->weight == 0)
				continue;
			if (!FN_SCHED_RS_FULL(rs))
				return rs;
			why = FN_C_drop_max_conn;
		}
	}
	*reason = why;
	return NULL;
}

#endif
