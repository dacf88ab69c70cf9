/* Builds each worker's local-port slices from the plan's LIP ranges. */
#include "lport.h"

#include <string.h>

#include <rte_malloc.h>

int fn_lports_init(struct fn_lports *l, const struct fn_plan *p, unsigned worker, unsigned n_workers,
		   int socket)
{
	memset(l, 0, sizeof(*l));
	l->n_lips = p->n_lips;
	if (p->n_lips == 0)
		return 0;
	l->fifo = rte_zmalloc_socket("fn_lport_fifo", sizeof(*l->fifo) * p->n_lips, 64, socket);
	if (!l->fifo)
		return -1;
	for (uint32_t i = 0; i < p->n_lips; i++) {
		const struct fn_lip *lip = &p->lips[i];
		uint32_t n = 0;
		for (uint32_t port = lip->lo; port <= lip->hi; port++)
			n += fn_lport_owner(port, n_workers) == worker;
		struct fn_lport_fifo *f = &l->fifo[i];
		f->cap = n ? n : 1;
		f->ports = rte_malloc_socket("fn_lports", sizeof(uint16_t) * f->cap, 64, socket);
		if (!f->ports) {
			fn_lports_fini(l);
			return -1;
		}
		for (uint32_t port = lip->lo; port <= lip->hi; port++)
			if (fn_lport_owner(port, n_workers) == worker)
				f->ports[f->count++] = (uint16_t)port;
	}
	return 0;
}

void fn_lports_fini(struct fn_lports *l)
{
	for (uint32_t i = 0; l->fifo && i < l->n_lips; i++)
		rte_free(l->fifo[i].ports);
	rte_free(l->fifo);
	memset(l, 0, sizeof(*l));
}
