/* SYN floods: when half-open TCP sessions are at their bound, the oldest one
 * gives way to the new SYN (like conntrack's early drop), so a flood cycles
 * through the bound instead of locking real clients out until tcp_syn. */
#ifndef FN_HALF_OPEN_H
#define FN_HALF_OPEN_H

#include <stdint.h>

#include "fn_plan.h"
#include "session.h"
#include "tcp_state.h"

/* Session indices in the order their SYN created them (oldest at head).
 * Entries go stale when a session completes its handshake or ends; they are
 * skipped when popped. When full the oldest entry is forgotten. Worker only. */
struct fn_half_open {
	uint32_t *q;
	uint32_t mask, head, n;
};

int fn_half_open_init(struct fn_half_open *h, uint32_t sessions_max, int socket);
void fn_half_open_fini(struct fn_half_open *h);

static inline void fn_half_open_push(struct fn_half_open *h, uint32_t idx)
{
	if (h->n == h->mask + 1) {
		h->head = (h->head + 1) & h->mask;
		h->n--;
	}
	h->q[(h->head + h->n) & h->mask] = idx;
	h->n++;
}

/* The oldest session still in a SYN state, taken off the queue; FN_NIL if
 * none within `budget` entries (bounded work per packet). A stale entry whose
 * slot now holds a newer half-open session yields that one: still half-open,
 * still fair game. */
static inline uint32_t fn_half_open_oldest(struct fn_half_open *h, const struct fn_session_table *t,
					   unsigned budget)
{
	while (h->n > 0 && budget-- > 0) {
		uint32_t idx = h->q[h->head];
		h->head = (h->head + 1) & h->mask;
		h->n--;
		const struct fn_session *s = &t->s[idx];
		if (s->in_use && (s->state == FN_TCP_SYN_SENT || s->state == FN_TCP_SYN_RECV))
			return idx;
	}
	return FN_NIL;
}

/* The oldest half-open session (within `budget` entries) that fit(s, arg)
 * accepts, taken off the queue; FN_NIL if none. For when only some sessions
 * would help (a port of a given LIP pool). Stale entries at the head are
 * dropped as above; older live ones that do not fit keep their order (the
 * entries before the taken one move up one place: at most `budget` moves). */
static inline uint32_t fn_half_open_take(struct fn_half_open *h, const struct fn_session_table *t, unsigned budget,
					 int (*fit)(const struct fn_session *s, const void *arg), const void *arg)
{
	for (uint32_t i = 0; i < h->n && budget > 0; budget--) {
		uint32_t pos = (h->head + i) & h->mask;
		uint32_t idx = h->q[pos];
		const struct fn_session *s = &t->s[idx];
		int live = s->in_use && (s->state == FN_TCP_SYN_SENT || s->state == FN_TCP_SYN_RECV);
		if (live && fit(s, arg)) {
			for (uint32_t j = i; j > 0; j--)
				h->q[(h->head + j) & h->mask] = h->q[(h->head + j - 1) & h->mask];
		} else if (live || i > 0) {
			i++;
			continue;
		}
		h->head = (h->head + 1) & h->mask;
		h->n--;
		if (live)
			return idx;
	}
	return FN_NIL;
}

#endif
