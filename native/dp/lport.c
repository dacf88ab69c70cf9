/* LIP slots (main thread) and each worker's port FIFOs (worker thread). */
#include "lport.h"

#include <string.h>

#include <rte_malloc.h>

/* Main thread only: slot addresses, never reused while the process lives. */
static uint32_t slot_ip[FN_MAX_LIPS];
static uint32_t n_slots;

uint32_t fn_lip_slot_intern(uint32_t ip)
{
	for (uint32_t i = 0; i < n_slots; i++)
		if (slot_ip[i] == ip)
			return i;
	if (n_slots == FN_MAX_LIPS)
		return UINT32_MAX;
	slot_ip[n_slots] = ip;
	return n_slots++;
}

void fn_lip_slots_reset(void)
{
	n_slots = 0;
}

int fn_lports_init(struct fn_lports *l, unsigned worker, unsigned n_workers, int socket)
{
	memset(l, 0, sizeof(*l));
	l->worker = worker;
	l->n_workers = n_workers;
	l->socket = socket;
	l->slot = rte_zmalloc_socket("fn_lip_rt", sizeof(*l->slot) * FN_MAX_LIPS, 64, socket);
	return l->slot ? 0 : -1;
}

void fn_lports_fini(struct fn_lports *l)
{
	for (uint32_t i = 0; l->slot && i < FN_MAX_LIPS; i++) {
		rte_free(l->slot[i].fifo);
		rte_free(l->slot[i].inuse);
	}
	rte_free(l->slot);
	memset(l, 0, sizeof(*l));
}

/* Rebuild one slot's FIFO for [lo, hi]: owned ports not held by a session. */
static void rebuild(struct fn_lports *l, struct fn_lip_rt *r, uint16_t lo, uint16_t hi)
{
	if (!r->inuse) {
		r->inuse = rte_zmalloc_socket("fn_lport_inuse", 65536 / 8, 64, l->socket);
		if (!r->inuse)
			return; /* stays unbuilt: new flows on it count as lport exhausted */
	}
	uint32_t cap = 0;
	for (uint32_t p = lo; p <= hi; p++)
		cap += fn_lport_owner((uint16_t)p, l->n_workers) == l->worker;
	uint16_t *fifo = rte_malloc_socket("fn_lport_fifo", sizeof(uint16_t) * (cap ? cap : 1), 64, l->socket);
	if (!fifo)
		return;
	rte_free(r->fifo);
	r->fifo = fifo;
	r->cap = cap ? cap : 1;
	r->head = r->count = 0;
	for (uint32_t p = lo; p <= hi; p++)
		if (fn_lport_owner((uint16_t)p, l->n_workers) == l->worker &&
		    !(r->inuse[p >> 6] & (1ULL << (p & 63))))
			r->fifo[r->count++] = (uint16_t)p;
	r->lo = lo;
	r->hi = hi;
}

void fn_lports_sync(struct fn_lports *l, const struct fn_plan *p)
{
	for (uint32_t i = 0; i < p->n_lips; i++) {
		const struct fn_lip *lip = &p->lips[i];
		struct fn_lip_rt *r = &l->slot[lip->slot];
		if (r->lo != lip->lo || r->hi != lip->hi || !r->fifo)
			rebuild(l, r, lip->lo, lip->hi);
	}
}
