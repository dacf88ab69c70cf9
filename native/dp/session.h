/* Per-worker session table: preallocated sessions, each reachable under two
 * tuples (client side and real-server side). Owned by one worker: no locks. */
#ifndef FN_SESSION_H
#define FN_SESSION_H

#include <stdint.h>

#include "fn_plan.h"

enum fn_dir { FN_DIR_CLIENT = 0, FN_DIR_SERVER = 1 }; /* which side sent the packet */

#define FN_SESS_ID_BITS 18  /* svc_id < FN_MAX_SVC, rs_id < FN_MAX_RS */
#define FN_SESS_IDX_BITS 12 /* lip_slot < FN_MAX_LIPS, neigh < FN_MAX_NEIGH */

/* The lookup key as seen in a received packet (network order). */
struct fn_tuple {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint8_t proto;
};

/* Everything needed to translate both directions: a session never looks at
 * the plan again, so a reload cannot break it. */
struct fn_session {
	/* client side: cip:cport -> vip:vport;  server side: rip:rport -> lip:lport */
	uint32_t cip, vip, rip, lip;
	uint16_t cport, vport, rport, lport;
	uint32_t next[2];          /* hash chains, entry id = session * 2 + dir */
	uint64_t expire;           /* TSC at which the session dies */
	uint8_t proto, state, client_port, server_port;
	uint8_t client_mac[6];     /* reply to the client's last hop as it came in */
	uint8_t in_use : 1;
	uint8_t nat : 1;           /* NAT mode: lip:lport is the client's own, no port to return */
	uint8_t synproxy : 1;      /* SYN proxy: sequence offset in the worker's fn_sp_side array */
	uint8_t ws_offer : 4;      /* TCP: the client SYN's window scale offer (FN_WS_NONE: none) until the server's SYN */
	uint8_t wscale;            /* TCP: window scales in use, the client's in bits 0-3, the server's in 4-7 */
	/* Ids packed with the 12-bit indices (session.c holds the limits to
	 * these widths) so that seq_hi fits in the line. */
	uint32_t svc_id : FN_SESS_ID_BITS;
	uint32_t lip_slot : FN_SESS_IDX_BITS; /* LIP runtime slot, to return lport */
	uint32_t rs_id : FN_SESS_ID_BITS;
	uint32_t neigh : FN_SESS_IDX_BITS;    /* real server's next hop (neighbour table) */
	/* TCP: bits 16-31 of the sequence number each side (by fn_dir) is
	 * expected to send next, in the client's view of the sequence spaces
	 * (tcp_state.h): RSTs and FINs out of the window are not believed. Kept
	 * here, not in a side array: every ACK moves it. */
	uint16_t seq_hi[2];
};

/* One cache line: the packet path touches exactly one per packet. */
_Static_assert(sizeof(struct fn_session) == 64, "struct fn_session must stay one cache line");

struct fn_session_table {
	uint32_t max, used;
	uint32_t mask;             /* buckets - 1 */
	uint32_t *buckets;         /* head entry id or FN_NIL */
	uint32_t *free;            /* stack of free session indices */
	uint32_t nfree;
	uint32_t sweep;            /* expiry sweep cursor */
	struct fn_session *s;
};

int fn_sess_init(struct fn_session_table *t, uint32_t max, int socket);
void fn_sess_fini(struct fn_session_table *t);

uint32_t fn_sess_hash(const struct fn_tuple *k);
/* Returns entry id (session * 2 + dir) or FN_NIL. */
uint32_t fn_sess_lookup(const struct fn_session_table *t, const struct fn_tuple *k, uint32_t hash);
/* Takes a free session, or NULL when full. The caller fills it, then inserts. */
struct fn_session *fn_sess_alloc(struct fn_session_table *t);
void fn_sess_insert(struct fn_session_table *t, struct fn_session *s);
/* Unlink both tuples and return the session to the free list. */
void fn_sess_remove(struct fn_session_table *t, struct fn_session *s);

static inline uint32_t fn_sess_index(const struct fn_session_table *t, const struct fn_session *s)
{
	return (uint32_t)(s - t->s);
}

#endif
