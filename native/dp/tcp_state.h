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

/* Sequence tracking, so that a segment from off the path cannot close a
 * session (RFC 5961's threat; DESIGN.md §9). Per side the session keeps bits
 * 16-31 of the sequence number the side is expected to send next: what the
 * other side last acknowledged (moved by every ACK, forward only and by no
 * more than the acknowledging side's largest window: a forged ACK cannot
 * drag it where a later forged RST would fit without first hitting the
 * window itself). The window is not tracked per segment: it is bounded by
 * the largest the receiver can announce, 65535 << its window scale (RFC
 * 7323, from the SYNs); there is no room in the session's cache line for
 * more, and 64 KiB blocks cost at most one block either side.
 *
 * Accepted, as Linux conntrack does loosely (tcp_in_window), rather than
 * RFC 5961's exact rcv_nxt: the gateway does not see the receiver's rcv_nxt,
 * only the ACKs that left it, and a RST it drops is one the endpoint would
 * have believed (an abort with unacknowledged data in flight). In-window but
 * not exact, the endpoint answers with a challenge ACK and the peer's next
 * RST is exact: the gateway passes both.
 *   RST from a side: seq in [expected, expected + receiver's window].
 *   FIN: seq within a window either side (a FIN is retransmitted with data
 *   the receiver already acknowledged).
 *   Before the server has sent its SYN its sequence space is unknown: its
 *   RST or SYN-ACK must acknowledge the client's SYN (RFC 793 SYN-SENT). */
#define FN_WS_NONE 15 /* no window scale option (scales go up to 14) */

/* The TCP option of this kind and length, or NULL. Options are walked
 * within the header, which fn_parse checked lies within the segment; a
 * truncated option or a zero length ends the walk. */
static inline const uint8_t *fn_tcp_option(const struct rte_tcp_hdr *t, uint8_t kind, uint8_t len)
{
	const uint8_t *o = (const uint8_t *)(t + 1), *end = (const uint8_t *)t + (t->data_off >> 4) * 4;
	while (o < end) {
		if (*o == 0)
			break;
		if (*o == 1) {
			o++;
			continue;
		}
		if (o + 1 >= end || o[1] < 2 || o + o[1] > end)
			break;
		if (*o == kind && o[1] == len)
			return o;
		o += o[1];
	}
	return NULL;
}

/* The window scale option of a SYN (RFC 7323: above 14 means 14), or
 * FN_WS_NONE. */
static inline uint8_t fn_tcp_wscale_opt(const struct rte_tcp_hdr *t)
{
	const uint8_t *o = fn_tcp_option(t, 3, 3);
	return o == NULL ? FN_WS_NONE : o[2] > 14 ? 14 : o[2];
}

/* The window scale of a side's announcements (0 until both SYNs offered one). */
static inline unsigned fn_tcp_scale(const struct fn_session *s, unsigned side)
{
	return (s->wscale >> (side * 4)) & 15;
}

/* Whether v (host order) lies in [hi << 16, (hi + 1 + 2^scale) << 16): from
 * the expected block up to a window of 65535 << scale beyond it. */
static inline int fn_seq_fits(uint16_t hi, uint32_t v, unsigned scale)
{
	return (uint16_t)((uint16_t)(v >> 16) - hi) <= (1u << scale);
}

/* A SYN from side dir while the session is in SYN_SENT (the client's first,
 * or again with a new ISN; the server's): its ISN; the scales are settled
 * by the server's SYN, both or neither (RFC 7323). */
static inline void fn_tcp_syn(struct fn_session *s, unsigned dir, uint32_t seq, uint8_t ws)
{
	s->seq_hi[dir] = (uint16_t)((seq + 1) >> 16);
	if (dir == FN_DIR_CLIENT) {
		s->ws_offer = ws & 15;
		return;
	}
	s->wscale = s->ws_offer == FN_WS_NONE || ws == FN_WS_NONE ? 0 : (uint8_t)(s->ws_offer | ws << 4);
}

/* Every ACK (the established path): the other side is now expected from
 * ack on, if that is forward of what it was by at most the acknowledging
 * side's window. */
static inline void fn_tcp_acked(struct fn_session *s, unsigned dir, uint32_t ack)
{
	uint16_t *hi = &s->seq_hi[dir ^ 1];
	if (fn_seq_fits(*hi, ack, fn_tcp_scale(s, dir)))
		*hi = (uint16_t)(ack >> 16);
}

/* Whether a segment with RST, FIN or SYN from side dir may act on the
 * session; seq in the client's view (a proxied server's shifted back). */
static inline int fn_tcp_acceptable(const struct fn_session *s, unsigned dir, uint8_t f, uint32_t seq, uint32_t ack)
{
	if (s->state == FN_TCP_SYN_SENT && dir == FN_DIR_SERVER) {
		if ((f & RTE_TCP_RST_FLAG) || (f & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) ==
						       (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG))
			return (f & RTE_TCP_ACK_FLAG) && (uint16_t)(ack >> 16) == s->seq_hi[FN_DIR_CLIENT];
		return 1; /* a bare SYN (simultaneous open); a FIN moves nothing yet */
	}
	unsigned scale = fn_tcp_scale(s, dir ^ 1);
	uint16_t hi = s->seq_hi[dir];
	if (f & RTE_TCP_RST_FLAG)
		return fn_seq_fits(hi, seq, scale);
	if (f & RTE_TCP_FIN_FLAG)
		return fn_seq_fits(hi, seq, scale) || fn_seq_fits((uint16_t)(seq >> 16), (uint32_t)hi << 16, scale);
	return 1;
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
