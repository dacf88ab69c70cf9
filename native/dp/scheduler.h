/* Picking a real server for a new flow: one precomputed table per service,
 * indexed by a per-worker cursor (rr, wrr), a hash of the client (sh, mh),
 * or scanned for the least loaded server (lc, wlc). */
#ifndef FN_SCHEDULER_H
#define FN_SCHEDULER_H

#include <rte_hash_crc.h>

#include "fn_plan.h"
#include "load.h"
#include "session.h"

static inline int fn_rs_full(const struct fn_rs *rs)
{
	return rs->max_conn && fn_rs_load(rs->id) >= rs->max_conn;
}

/* cursor: this worker's cursor for the service, advanced by the caller once
 * the pick is final; offset: the caller's retry when the pick was at its
 * connection limit (the next table entry). active: this worker's open (not yet closed)
 * sessions per server id. */
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
			if (rs->weight && (!best || a * bw < ba * rs->weight) && !fn_rs_full(rs)) {
				best = rs;
				ba = a;
				bw = rs->weight;
			}
		}
		return best ? best : &plan->rs[t[cursor]];
	}
	default:
		return &plan->rs[t[(cursor + offset) % svc->sched_len]];
	}
}

#endif
