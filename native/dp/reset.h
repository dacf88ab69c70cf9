/* Resets for sessions whose real server was removed with reset (reset.c). */
#ifndef FN_RESET_H
#define FN_RESET_H

#include <rte_mbuf.h>

#include "pkt.h"
#include "session.h"

struct fn_worker;

/* End s, which m (received on rx_pi from side dir) belongs to; for TCP turn m
 * into the sender's RST and a copy into the peer's. Consumes m. */
void fn_reset_session(struct fn_worker *w, struct fn_session *s, struct rte_mbuf *m, struct fn_pkt *p, unsigned rx_pi,
		      unsigned dir);

#endif
