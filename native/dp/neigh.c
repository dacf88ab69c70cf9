/* Neighbour table storage and interning (main thread). */
#include "neigh.h"

struct fn_neigh_table fn_neighs;

uint32_t fn_neigh_intern(uint32_t ip, uint16_t port_idx)
{
	uint32_t n = __atomic_load_n(&fn_neighs.n, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n; i++)
		if (fn_neighs.e[i].ip == ip && fn_neighs.e[i].port_idx == port_idx)
			return i;
	if (n == FN_MAX_NEIGH)
		return UINT32_MAX;
	struct fn_neigh *e = &fn_neighs.e[n];
	e->ip = ip;
	e->port_idx = port_idx;
	e->mac = 0;
	e->next_probe = 0;
	e->probed = 0;
	__atomic_store_n(&fn_neighs.n, n + 1, __ATOMIC_RELEASE);
	return n;
}
