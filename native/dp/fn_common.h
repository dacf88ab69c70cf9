/* Small helpers shared by every data-plane file. */
#ifndef FN_COMMON_H
#define FN_COMMON_H

#include <rte_branch_prediction.h>
#include <rte_common.h>

#define FN_BURST 32

#define FN_COUNT(c, name) ((c)->v[FN_C_##name]++)
#define FN_COUNT_N(c, name, n) ((c)->v[FN_C_##name] += (n))

static inline uint32_t fn_pow2_at_least(uint32_t n)
{
	uint32_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

#endif
