/* Persistence table storage (see persist.h). */
#include "persist.h"

#include <rte_malloc.h>

#include "fn_common.h"

struct fn_persist fn_persist;

int fn_persist_init(uint32_t sessions)
{
	uint32_t n = fn_pow2_at_least(sessions / 2 > 1024 ? sessions / 2 : 1024); /* a multiple of the ways */
	fn_persist.slot = rte_zmalloc("fn_persist", sizeof(*fn_persist.slot) * n, 64);
	fn_persist.mask = n - 1;
	return fn_persist.slot ? 0 : -1;
}

void fn_persist_fini(void)
{
	rte_free(fn_persist.slot);
	fn_persist.slot = NULL;
}
