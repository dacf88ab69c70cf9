/* Small helpers shared by every data-plane file. */
#ifndef FN_COMMON_H
#define FN_COMMON_H

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <stdint.h>

#define FN_BURST 32

/* Counters have one writer (their thread) and are read by others with
 * relaxed loads: the writer stores atomically (relaxed) so the read is no
 * data race; its own plain load is safe, nobody else writes. On x86-64 this
 * compiles to the same load, add, store as ++. */
static inline void fn_ctr_add(uint64_t *v, uint64_t n)
{
	__atomic_store_n(v, *v + n, __ATOMIC_RELAXED);
}

#define FN_COUNT(c, name) fn_ctr_add(&(c)->v[FN_C_##name], 1)
#define FN_COUNT_N(c, name, n) fn_ctr_add(&(c)->v[FN_C_##name], (n))
/* By index (enum fn_counter), for reasons returned by a check. */
#define FN_COUNT_IDX(c, idx) fn_ctr_add(&(c)->v[(idx)], 1)

static inline uint32_t fn_pow2_at_least(uint32_t n)
{
	uint32_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

#endif
