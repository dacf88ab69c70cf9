/* ICMP errors the gateway itself originates: time exceeded for a packet it
 * would forward with TTL <= 1 (RFC 792, RFC 1812 4.3.2), rate-limited. */
#ifndef FN_ICMP_REPLY_H
#define FN_ICMP_REPLY_H

#include <stdint.h>

#include <rte_mbuf.h>

#include <rte_common.h>
#include <rte_cycles.h>

#include "fn_counters.h"
#include "fn_plan.h"
#include "pkt.h"

/* Token bucket in TSC units: credit grows with time, a message costs
 * hz / rate, credit is capped at 1/burst_div of a second. Worker only. The
 * ICMP the gateway sends or relays and the frames passed to the control
 * thread (verbs.h) all meter with it. */
struct fn_icmp_bucket {
	uint64_t credit, last;
};

/* Takes one message's worth (rate > 0) at TSC now: 0, or -1 when empty. */
static inline int fn_bucket_take(struct fn_icmp_bucket *b, uint32_t rate, uint32_t burst_div, uint64_t now)
{
	uint64_t cost = RTE_MAX(rte_get_tsc_hz() / rate, 1);
	uint64_t cap = cost * RTE_MAX(rate / burst_div, 1);
	uint64_t gained = now - b->last;
	b->last = now;
	b->credit = gained >= cap - RTE_MIN(b->credit, cap) ? cap : b->credit + gained;
	if (b->credit < cost)
		return -1;
	b->credit -= cost;
	return 0;
}

/* One second of burst (ICMP messages). */
static inline int fn_icmp_bucket_take(struct fn_icmp_bucket *b, uint32_t rate, uint64_t now)
{
	return fn_bucket_take(b, rate, 1, now);
}

/* The time-exceeded message (type 11, code 0) answering the IPv4 packet p
 * (in m, received on port rx_pi), in a new mbuf from m's pool, ready to send
 * back out of rx_pi to the frame's sender; or NULL when none is due (rate
 * limit, counted as icmp_rate_limited; a source or destination that must not
 * get one; no port address; no mbuf). m is left untouched. */
struct rte_mbuf *fn_icmp_time_exceeded(struct fn_icmp_bucket *b, const struct fn_plan *plan,
				       const struct rte_mbuf *m, const struct fn_pkt *p, unsigned rx_pi,
				       const struct rte_ether_addr *port_mac, uint64_t now, struct fn_counters *ctr);

#endif
