/* Per-worker load sums for connection limits (load.h). Each worker writes
 * only its own counters; these sum them with relaxed loads. */
#include "load.h"

#include "dp.h"

/* A limit check may be off by the flows other workers open at the same
 * instant: the limits are bounds on load, not exact admission counts. */
uint32_t fn_rs_load(uint32_t id)
{
	int64_t n = 0;
	for (unsigned i = 0; i < fn_dp.cfg.n_workers; i++)
		n += __atomic_load_n(&fn_dp.workers[i].rs_active[id], __ATOMIC_RELAXED);
	return n > 0 ? (uint32_t)n : 0;
}

uint32_t fn_svc_load(uint32_t id)
{
	int64_t n = 0;
	for (unsigned i = 0; i < fn_dp.cfg.n_workers; i++)
		n += __atomic_load_n(&fn_dp.workers[i].svc_active[id], __ATOMIC_RELAXED);
	return n > 0 ? (uint32_t)n : 0;
}
