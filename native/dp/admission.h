/* New-flow admission: whether a flow to a service may open, and the session
 * it opens with (server, LIP:lport, accounting); and the end of a session. */
#ifndef FN_ADMISSION_H
#define FN_ADMISSION_H

#include <stdint.h>

#include "fn_common.h"
#include "fn_dp.h"
#include "fn_plan.h"
#include "pkt.h"
#include "session.h"

struct fn_worker;

/* Allow/deny lists: the first matching rule decides, else the default. */
static inline int fn_acl_allows(const struct fn_plan *plan, const struct fn_service *svc, uint32_t cip)
{
	for (uint32_t i = 0; i < svc->acl_count; i++) {
		const struct fn_acl *a = &plan->acl[svc->acl_first + i];
		if ((cip & a->mask) == a->net)
			return a->allow;
	}
	return svc->acl_default;
}

/* The first step of admission, alone: what refuses a flow before anything is
 * spent on it. The SYN proxy runs it before it answers a SYN with a cookie;
 * fn_admit runs it again when the cookie comes back. Returns 0 or the counter
 * (FN_C_*) the flow is refused under. */
static inline unsigned fn_admit_check(const struct fn_plan *plan, const struct fn_service *svc, uint32_t cip)
{
	/* rs_usable: sh keeps down servers in its table, so a table is not enough. */
	if (unlikely(svc->sched_len == 0 || svc->rs_usable == 0))
		return FN_C_drop_no_real_server;
	if (svc->acl_count && !fn_acl_allows(plan, svc, cip))
		return FN_C_drop_acl;
	return 0;
}

/* A new flow to a service (k, received on rx_pi; for TCP a bare SYN): ACL,
 * connection limits, the half-open bound, persistence, the scheduler's pick,
 * the server's neighbour, a LIP:lport; then the session, inserted. Returns
 * NULL with *reason set to the counter (FN_C_*) the caller counts it under. */
struct fn_session *fn_admit(struct fn_worker *w, const struct fn_plan *plan, const struct fn_service *svc,
			    const struct fn_tuple *k, const struct fn_pkt *p, unsigned rx_pi, uint64_t now,
			    unsigned *reason);

/* End a session (expired, reset, evicted, reused): undo what fn_admit
 * accounted, return its lport, free it. Counted as sessions_expired. */
void fn_session_end(struct fn_worker *w, struct fn_session *s);

#endif
