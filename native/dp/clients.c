/* The per-client session table's memory and key (clients.h). */
#include "clients.h"

#include <string.h>

#include <rte_malloc.h>
#include <rte_random.h>

int fn_clients_init(struct fn_clients *c, uint32_t sessions_max, int socket)
{
	uint32_t nb = fn_clients_buckets(sessions_max);
	unsigned bits = 0;
	while ((1u << bits) < nb)
		bits++;
	c->b = rte_zmalloc_socket("fn_clients", sizeof(*c->b) * nb, 64, socket);
	c->mul = rte_rand() | 1;
	c->add = rte_rand();
	/* A shift by 64 is undefined: one bucket takes every address. */
	c->shift = 64 - bits;
	if (bits == 0) {
		c->mul = 0;
		c->add = 0;
		c->shift = 0;
	}
	return c->b ? 0 : -1;
}

void fn_clients_fini(struct fn_clients *c)
{
	rte_free(c->b);
	memset(c, 0, sizeof(*c));
}
