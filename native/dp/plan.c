/* Plan allocation and derivation. The control plane fills the arrays; this
 * file adds what the workers look things up with. */
#include "plan.h"

#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include "fn_dp.h"
#include "lport.h"
#include "neigh.h"

struct fn_plan *fn_plan_alloc(uint32_t n_services, uint32_t n_rs, uint32_t n_sched, uint32_t n_lips,
			      uint32_t n_pools, uint32_t n_pool_lips, uint32_t n_locals)
{
	struct fn_plan *p = rte_zmalloc("fn_plan", sizeof(*p), 64);
	if (!p)
		return NULL;
	p->n_services = n_services;
	p->n_rs = n_rs;
	p->n_sched = n_sched;
	p->n_lips = n_lips;
	p->n_pools = n_pools;
	p->n_pool_lips = n_pool_lips;
	p->n_locals = n_locals;
	/* +1 so zero-length arrays are still valid pointers. */
	p->services = rte_zmalloc("fn_plan", sizeof(*p->services) * (n_services + 1), 64);
	p->rs = rte_zmalloc("fn_plan", sizeof(*p->rs) * (n_rs + 1), 64);
	p->sched = rte_zmalloc("fn_plan", sizeof(*p->sched) * (n_sched + 1), 64);
	p->lips = rte_zmalloc("fn_plan", sizeof(*p->lips) * (n_lips + 1), 64);
	p->pools = rte_zmalloc("fn_plan", sizeof(*p->pools) * (n_pools + 1), 64);
	p->pool_lips = rte_zmalloc("fn_plan", sizeof(*p->pool_lips) * (n_pool_lips + 1), 64);
	p->locals = rte_zmalloc("fn_plan", sizeof(*p->locals) * (n_locals + 1), 64);
	if (!p->services || !p->rs || !p->sched || !p->lips || !p->pools || !p->pool_lips || !p->locals) {
		fn_plan_free(p);
		return NULL;
	}
	return p;
}

void fn_plan_free(struct fn_plan *p)
{
	if (!p)
		return;
	rte_free(p->services);
	rte_free(p->rs);
	rte_free(p->sched);
	rte_free(p->lips);
	rte_free(p->pools);
	rte_free(p->pool_lips);
	rte_free(p->locals);
	rte_free(p->svc_ht);
	rte_free(p->local_ht);
	rte_free(p->cursors);
	rte_free(p->reset_rs);
	rte_free(p->acl);
	rte_free(p);
}

#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		return -1;                          \
	} while (0)

/* The lookup tables and cursor stripes, zeroed. */
static int plan_alloc_lookups(struct fn_plan *p, unsigned n_workers)
{
	uint32_t ns = fn_pow2_at_least(p->n_services * 2 + 2);
	uint32_t nl = fn_pow2_at_least(p->n_locals * 2 + 2);
	p->svc_ht = rte_zmalloc("fn_plan", sizeof(uint32_t) * ns, 64);
	p->local_ht = rte_zmalloc("fn_plan", sizeof(uint32_t) * nl, 64);
	p->svc_mask = ns - 1;
	p->local_mask = nl - 1;
	/* Cursor stripes rounded to a cache line so workers never share one. */
	p->n_workers = n_workers;
	p->cursor_stride = RTE_ALIGN_CEIL(p->n_services + p->n_pools, 16);
	p->cursors = rte_zmalloc("fn_plan", sizeof(uint32_t) * p->cursor_stride * n_workers + 64, 64);
	return p->svc_ht && p->local_ht && p->cursors ? 0 : -1;
}

/* Every index the control plane wrote stays inside its array; port indices
 * name a configured port (a frame queued for another would never be flushed). */
static int plan_check(const struct fn_plan *p, unsigned n_ports, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < p->n_rs; i++)
		if (p->rs[i].port_idx >= n_ports)
			FAIL("real server %u: port index %u, but the gateway has %u ports", i, p->rs[i].port_idx, n_ports);
	for (uint32_t i = 0; i < p->n_lips; i++)
		if (p->lips[i].port_idx >= n_ports)
			FAIL("LIP %u: port index %u, but the gateway has %u ports", i, p->lips[i].port_idx, n_ports);
	for (uint32_t i = 0; i < p->n_services; i++) {
		const struct fn_service *s = &p->services[i];
		if (s->pool >= p->n_pools)
			FAIL("service %u: pool index %u out of range", i, s->pool);
		if ((uint64_t)s->sched_first + s->sched_len > p->n_sched)
			FAIL("service %u: scheduling slice out of range", i);
		for (uint32_t j = 0; j < s->sched_len; j++)
			if (p->sched[s->sched_first + j] >= p->n_rs)
				FAIL("service %u: scheduling entry names real server %u of %u", i,
				     p->sched[s->sched_first + j], p->n_rs);
		if (p->pools[s->pool].count == 0)
			FAIL("service %u: local address pool is empty", i);
		if ((uint64_t)s->rs_first + s->rs_count > p->n_rs)
			FAIL("service %u: real-server slice out of range", i);
		if (s->id >= FN_MAX_SVC)
			FAIL("service %u: id %u beyond %u", i, s->id, FN_MAX_SVC);
		if ((uint64_t)s->acl_first + s->acl_count > p->n_acl)
			FAIL("service %u: ACL slice out of range", i);
		if (s->sched_kind > FN_SCHED_LEAST)
			FAIL("service %u: unknown scheduler kind %u", i, s->sched_kind);
	}
	for (uint32_t i = 0; i < p->n_pools; i++)
		if ((uint64_t)p->pools[i].first + p->pools[i].count > p->n_pool_lips)
			FAIL("pool %u: slice out of range", i);
	for (uint32_t i = 0; i < p->n_pool_lips; i++)
		if (p->pool_lips[i] >= p->n_lips)
			FAIL("pool entry %u names LIP %u of %u", i, p->pool_lips[i], p->n_lips);
	return 0;
}

/* LIPs and next hops get their process-wide slots (lport pools, neighbour
 * table), checked as they go. */
static int plan_intern(struct fn_plan *p, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < p->n_lips; i++) {
		if (p->lips[i].lo == 0 || p->lips[i].lo > p->lips[i].hi)
			FAIL("LIP %u: bad port range %u-%u", i, p->lips[i].lo, p->lips[i].hi);
		p->lips[i].slot = fn_lip_slot_intern(p->lips[i].ip);
		if (p->lips[i].slot == UINT32_MAX)
			FAIL("too many local addresses over the gateway's life (%u)", FN_MAX_LIPS);
	}
	for (uint32_t i = 0; i < p->n_rs; i++) {
		if (p->rs[i].id >= FN_MAX_RS)
			FAIL("real server %u: id %u beyond %u", i, p->rs[i].id, FN_MAX_RS);
		uint32_t n = fn_neigh_intern(p->rs[i].nexthop, p->rs[i].port_idx);
		if (n == UINT32_MAX)
			FAIL("neighbour table full (%u next hops)", FN_MAX_NEIGH);
		p->rs[i].neigh = (uint16_t)n;
	}
	return 0;
}

/* The open-addressing tables workers find services and local addresses in. */
static int plan_hash(struct fn_plan *p, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < p->n_services; i++) {
		const struct fn_service *s = &p->services[i];
		if (fn_plan_service(p, s->vip, s->vport, s->proto))
			FAIL("service %u duplicates another VIP:port/protocol", i);
		uint32_t h = fn_svc_hash(s->vip, s->vport, s->proto) & p->svc_mask;
		while (p->svc_ht[h])
			h = (h + 1) & p->svc_mask;
		p->svc_ht[h] = i + 1;
		p->n_nat_services += s->nat != 0;
	}
	for (uint32_t i = 0; i < p->n_locals; i++) {
		if (fn_plan_local(p, p->locals[i].ip))
			FAIL("local address %u listed twice", i);
		uint32_t h = fn_local_hash(p->locals[i].ip) & p->local_mask;
		while (p->local_ht[h])
			h = (h + 1) & p->local_mask;
		p->local_ht[h] = i + 1;
	}
	return 0;
}

int fn_plan_build(struct fn_plan *p, unsigned n_workers, unsigned n_ports, char *err, size_t errlen)
{
	/* Memory first, then every check: a plan refused for want of memory or
	 * for a bad index leaves the process-wide LIP slot and neighbour tables
	 * as they were. */
	if (plan_alloc_lookups(p, n_workers) != 0)
		FAIL("native plan: out of DPDK memory for the plan's lookup tables (raise dpdk.memory_mb)");
	if (plan_check(p, n_ports, err, errlen) != 0 || plan_intern(p, err, errlen) != 0)
		return -1;
	uint64_t hz = rte_get_tsc_hz();
	for (unsigned i = 0; i < FN_NTIMEOUTS; i++)
		p->timeout_tsc[i] = (uint64_t)p->timeouts_s[i] * hz;
	return plan_hash(p, err, errlen);
}
