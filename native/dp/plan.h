/* Plan building (main thread) and the O(1) lookups workers make in it. */
#ifndef FN_PLAN_INTERNAL_H
#define FN_PLAN_INTERNAL_H

#include "fn_common.h"
#include "fn_plan.h"
#include "hashkey.h"

/* Derive hash tables, TSC timeouts, neighbour indices and cursors, after
 * checking every index (port indices against n_ports). Returns 0, or -1
 * with err set. */
int fn_plan_build(struct fn_plan *p, unsigned n_workers, unsigned n_ports, char *err, size_t errlen);

/* Keyed (hashkey.h) like every hash a packet feeds, although these tables'
 * contents come from config: at most half full, their probes stay short
 * whatever a packet asks for. */
static inline uint32_t fn_svc_hash(uint32_t vip, uint16_t vport, uint8_t proto)
{
	return fn_mshift2(fn_hkeys.svc, vip, (uint32_t)vport | (uint32_t)proto << 16);
}

static inline uint32_t fn_local_hash(uint32_t ip)
{
	return fn_mshift1(fn_hkeys.local, ip);
}

static inline const struct fn_service *fn_plan_service(const struct fn_plan *p, uint32_t vip,
							uint16_t vport, uint8_t proto)
{
	for (uint32_t i = fn_svc_hash(vip, vport, proto) & p->svc_mask;; i = (i + 1) & p->svc_mask) {
		uint32_t slot = p->svc_ht[i];
		if (slot == 0)
			return NULL;
		const struct fn_service *s = &p->services[slot - 1];
		if (s->vip == vip && s->vport == vport && s->proto == proto)
			return s;
	}
}

static inline const struct fn_local *fn_plan_local(const struct fn_plan *p, uint32_t ip)
{
	for (uint32_t i = fn_local_hash(ip) & p->local_mask;; i = (i + 1) & p->local_mask) {
		uint32_t slot = p->local_ht[i];
		if (slot == 0)
			return NULL;
		if (p->locals[slot - 1].ip == ip)
			return &p->locals[slot - 1];
	}
}

static inline uint32_t *fn_plan_cursors(const struct fn_plan *p, unsigned worker)
{
	return &p->cursors[(size_t)worker * p->cursor_stride];
}

#endif
