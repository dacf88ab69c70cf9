/* Local-port (lport) pools: each worker owns a disjoint slice of every LIP's
 * port range and hands ports out FIFO, so a freed port rests as long as
 * possible before reuse (the real server may still hold it in TIME_WAIT).
 *
 * LIPs live in runtime slots keyed by address (fn_lip_slot_intern), so a
 * reload that adds, removes or re-ranges LIPs never loses track of a port a
 * live session holds: each worker keeps an in-use bitmap per slot and
 * rebuilds its FIFO itself when it first sees a plan with a new range. */
#ifndef FN_LPORT_H
#define FN_LPORT_H

#include <stdint.h>

#include <rte_byteorder.h>

#include "fn_plan.h"

#define FN_MAX_LIPS 4096

/* Which worker owns local port `port` (host order). The reply from a real
 * server arrives for LIP:lport, so this is also where a reply must be steered.
 * Modulo (not a mask) so any worker count gets slices within one port; for a
 * power-of-two count it equals the mask rte_flow rules use. */
static inline unsigned fn_lport_owner(uint16_t port, unsigned n_workers)
{
	return port % n_workers;
}

/* One LIP slot as one worker sees it. Worker only. */
struct fn_lip_rt {
	uint16_t lo, hi;       /* range the FIFO was built for; 0/0: not built */
	uint32_t cap, head, count;
	uint16_t *fifo;        /* host order */
	uint64_t *inuse;       /* bitmap over all 65536 ports, held by sessions */
};

struct fn_lports {
	unsigned worker, n_workers;
	int socket;
	struct fn_lip_rt *slot; /* FN_MAX_LIPS entries */
};

/* Main thread: slot for a LIP address (stable for the process). UINT32_MAX if full. */
uint32_t fn_lip_slot_intern(uint32_t ip);
void fn_lip_slots_reset(void);

int fn_lports_init(struct fn_lports *l, unsigned worker, unsigned n_workers, int socket);
void fn_lports_fini(struct fn_lports *l);
/* Worker: make its FIFOs match the plan's LIP ranges (after a publish). */
void fn_lports_sync(struct fn_lports *l, const struct fn_plan *p);

/* Returns 0 and a port in network order, or -1 when the slice is empty. */
static inline int fn_lport_get(struct fn_lports *l, uint32_t slot, uint16_t *port_be)
{
	struct fn_lip_rt *r = &l->slot[slot];
	if (r->count == 0)
		return -1;
	uint16_t p = r->fifo[r->head];
	r->head = r->head + 1 == r->cap ? 0 : r->head + 1;
	r->count--;
	r->inuse[p >> 6] |= 1ULL << (p & 63);
	*port_be = rte_cpu_to_be_16(p);
	return 0;
}

static inline void fn_lport_put(struct fn_lports *l, uint32_t slot, uint16_t port_be)
{
	struct fn_lip_rt *r = &l->slot[slot];
	uint16_t p = rte_be_to_cpu_16(port_be);
	r->inuse[p >> 6] &= ~(1ULL << (p & 63));
	if (p < r->lo || p > r->hi)
		return; /* the range shrank while the session lived: retire the port */
	uint32_t tail = r->head + r->count;
	if (tail >= r->cap)
		tail -= r->cap;
	r->fifo[tail] = p;
	r->count++;
}

#endif
