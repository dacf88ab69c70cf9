/* The ICMP-error relay (icmp_relay.c): errors about sessions, passed on to
 * the other side so path-MTU discovery and error reporting work. */
#ifndef FN_ICMP_RELAY_H
#define FN_ICMP_RELAY_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "fn_plan.h"
#include "pkt.h"

struct fn_worker;

/* An ICMP error about a session: to a VIP or LIP (FullNAT), or in NAT mode to
 * the client's own address (l == NULL), received on port rx_pi. Hand it to
 * the session's other side. Returns -1 when the quote names no session (the
 * kernel may own the flow: the caller goes on), 0 when handled (sent, handed
 * on, dropped). */
int fn_icmp_relay(struct fn_worker *w, const struct fn_plan *plan, const struct fn_local *l, struct rte_mbuf *m,
		  struct fn_pkt *p, unsigned rx_pi, uint64_t now);

#endif
