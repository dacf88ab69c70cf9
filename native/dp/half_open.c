/* The half-open queue's memory: one index per session the worker can hold,
 * rounded up to a power of two. */
#include <rte_common.h>
#include <rte_malloc.h>

#include "half_open.h"

int fn_half_open_init(struct fn_half_open *h, uint32_t sessions_max, int socket)
{
	uint32_t cap = rte_align32pow2(RTE_MAX(sessions_max, 2u));
	h->q = rte_malloc_socket("fn_half_open", sizeof(uint32_t) * cap, 64, socket);
	h->mask = cap - 1;
	h->head = h->n = 0;
	return h->q ? 0 : -1;
}

void fn_half_open_fini(struct fn_half_open *h)
{
	rte_free(h->q);
	h->q = NULL;
}
