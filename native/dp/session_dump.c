/* The session-dump mailbox, worker side: the main thread posts a filter and
 * a buffer (fn_dp_sessions in dp.c), the worker fills it a slice at a time. */
#include "session_dump.h"

#include <rte_cycles.h>

#include "dp.h"

void fn_session_dump_step(struct fn_worker *w, uint64_t now)
{
	struct fn_session_table *t = &w->sess;
	uint64_t ms = rte_get_tsc_hz() / 1000;
	uint32_t end = RTE_MIN(w->dump.cursor + 4096, t->max);
	for (uint32_t i = w->dump.cursor; i < end && w->dump.n < w->dump.max; i++) {
		const struct fn_session *s = &t->s[i];
		const struct fn_session_filter *f = &w->dump.f;
		if (!s->in_use || (f->vip && f->vip != s->vip) || (f->rip && f->rip != s->rip) ||
		    (f->cip && f->cip != s->cip))
			continue;
		struct fn_session_info *o = &w->dump.out[w->dump.n++];
		o->cip = s->cip;
		o->vip = s->vip;
		o->lip = s->lip;
		o->rip = s->rip;
		o->cport = s->cport;
		o->vport = s->vport;
		o->lport = s->lport;
		o->rport = s->rport;
		o->proto = s->proto;
		o->state = s->state;
		o->worker = (uint16_t)w->idx;
		o->svc_id = s->svc_id;
		o->rs_id = s->rs_id;
		o->expires_ms = s->expire > now ? (uint32_t)RTE_MIN((s->expire - now) / ms, UINT32_MAX) : 0;
	}
	w->dump.cursor = end;
	if (end == t->max || w->dump.n == w->dump.max)
		__atomic_store_n(&w->dump.state, 2, __ATOMIC_RELEASE);
}
