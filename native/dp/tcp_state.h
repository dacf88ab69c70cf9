/* TCP connection tracking close to IPVS's: enough to pick the right timeout
 * for each phase of a connection, not a full protocol validator. */
#ifndef FN_TCP_STATE_H
#define FN_TCP_STATE_H

#include <rte_tcp.h>

#include "fn_consts.h" /* enum fn_tcp_state */
#include "fn_plan.h"
#include "session.h"

#define FN_UDP_STATE 0xff /* a UDP session's state: outside enum fn_tcp_state */

static inline uint8_t fn_tcp_next(uint8_t st, unsigned dir, uint8_t f)
{
	const uint8_t fin = f & RTE_TCP_FIN_FLAG, ack = f & RTE_TCP_ACK_FLAG, syn = f & RTE_TCP_SYN_FLAG;

	if (f & RTE_TCP_RST_FLAG)
		return FN_TCP_CLOSE;
	switch (st) {
	case FN_TCP_SYN_SENT:
		return dir == FN_DIR_SERVER && syn && ack ? FN_TCP_SYN_RECV : st;
	case FN_TCP_SYN_RECV:
		if (dir == FN_DIR_CLIENT && ack && !syn)
			return fin ? FN_TCP_FIN_WAIT : FN_TCP_ESTABLISHED;
		return st;
	case FN_TCP_ESTABLISHED:
		if (fin)
			return dir == FN_DIR_CLIENT ? FN_TCP_FIN_WAIT : FN_TCP_CLOSE_WAIT;
		return st;
	case FN_TCP_FIN_WAIT:
		return dir == FN_DIR_SERVER && fin ? FN_TCP_LAST_ACK : st;
	case FN_TCP_CLOSE_WAIT:
		return dir == FN_DIR_CLIENT && fin ? FN_TCP_LAST_ACK : st;
	case FN_TCP_LAST_ACK:
		return ack && !fin ? FN_TCP_TIME_WAIT : st;
	default:
		return st;
	}
}

/* Closed connections (TIME_WAIT, CLOSE) still hold a session until they
 * expire, but no longer load their server: lc/wlc count only the rest. */
static inline int fn_tcp_closed(uint8_t st)
{
	return st == FN_TCP_TIME_WAIT || st == FN_TCP_CLOSE;
}

static inline unsigned fn_state_timeout(uint8_t st)
{
	switch (st) {
	case FN_UDP_STATE:
		return FN_TO_UDP;
	case FN_TCP_SYN_SENT:
	case FN_TCP_SYN_RECV:
		return FN_TO_TCP_SYN;
	case FN_TCP_ESTABLISHED:
		return FN_TO_TCP_ESTABLISHED;
	case FN_TCP_TIME_WAIT:
		return FN_TO_TCP_TIME_WAIT;
	case FN_TCP_CLOSE:
		return FN_TO_TCP_CLOSE;
	default:
		return FN_TO_TCP_FIN;
	}
}

#endif
