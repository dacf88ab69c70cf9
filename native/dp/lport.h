/* Local-port (lport) pools: each worker owns a disjoint slice of every LIP's
 * port range and hands ports out FIFO, so a freed port rests as long as
 * possible before reuse (the real server may still hold it in TIME_WAIT). */
#ifndef FN_LPORT_H
#define FN_LPORT_H

#include <stdint.h>

#include <rte_byteorder.h>

#include "fn_plan.h"

/* Which worker owns local port `port` (host order). The reply from a real
 * server arrives for LIP:lport, so this is also where a reply must be steered.
 * Modulo (not a mask) so any worker count gets slices within one port. */
static inline unsigned fn_lport_owner(uint16_t port, unsigned n_workers)
{
	return port % n_workers;
}

struct fn_lport_fifo {
	uint16_t *ports;   /* host order */
	uint32_t cap, head, count;
};

struct fn_lports {
	uint32_t n_lips;
	struct fn_lport_fifo *fifo;  /* one per plan LIP */
};

int fn_lports_init(struct fn_lports *l, const struct fn_plan *p, unsigned worker, unsigned n_workers,
		   int socket);
void fn_lports_fini(struct fn_lports *l);

/* Returns 0 and a port in network order, or -1 when the LIP's slice is empty. */
static inline int fn_lport_get(struct fn_lports *l, uint32_t lip, uint16_t *port_be)
{
	struct fn_lport_fifo *f = &l->fifo[lip];
	if (f->count == 0)
		return -1;
	uint16_t p = f->ports[f->head];
	f->head = f->head + 1 == f->cap ? 0 : f->head + 1;
	f->count--;
	*port_be = rte_cpu_to_be_16(p);
	return 0;
}

static inline void fn_lport_put(struct fn_lports *l, uint32_t lip, uint16_t port_be)
{
	struct fn_lport_fifo *f = &l->fifo[lip];
	uint32_t tail = f->head + f->count;
	if (tail >= f->cap)
		tail -= f->cap;
	f->ports[tail] = rte_be_to_cpu_16(port_be);
	f->count++;
}

#endif
