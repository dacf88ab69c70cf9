/* The last stage of a worker's burst (forward.c): each frame to its end.
 * What the earlier stages (worker.c) learned of each frame is handed over. */
#ifndef FN_FORWARD_H
#define FN_FORWARD_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "fn_plan.h"
#include "pkt.h"
#include "session.h"

struct fn_worker;

/* What the burst pre-pass learned of one received frame. */
struct fn_rx {
	struct fn_pkt p;
	int parsed;              /* enum fn_parse */
	uint32_t hash;           /* of k; set only for FN_P_IPV4 with an L4 header */
	uint32_t svc_slot;       /* likely new flow: its service's hash slot, then index; else FN_NIL */
	struct fn_tuple k;
};

/* rx_pi of a burst whose frames each carry their port (the redirect ring). */
#define FN_RX_PORT_OF_MBUF UINT32_MAX

/* Forward n frames (rx[i] describes pkts[i]) received on rx_pi: drop, to the
 * control thread, to another worker, or translated through a session (new
 * flows admitted first). One call per burst: the per-frame work is inline. */
void fn_forward_burst(struct fn_worker *w, const struct fn_plan *plan, struct rte_mbuf **pkts, struct fn_rx *rx,
		      unsigned n, unsigned rx_pi, uint64_t now);

#endif
