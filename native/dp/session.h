/* Per-worker session table: preallocated sessions, each reachable under two
 * tuples (client side and real-server side). Owned by one worker: no locks. */
#ifndef FN_SESSION_H
#define FN_SESSION_H

#include <stdint.h>

#include "fn_plan.h"

enum fn_dir { FN_DIR_CLIENT = 0, FN_DIR_SERVER = 1 }; /* which side sent the packet */

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
	uint16_t neigh;            /* real server's next hop (neighbour table) */
	uint16_t lip_slot;         /* LIP runtime slot, to return lport */
	uint8_t in_use;
	uint8_t nat : 1;           /* NAT mode: lip:lport is the client's own, no port to return */
	uint8_t synproxy : 1;      /* SYN proxy: sequence offset in the worker's fn_sp_side array */
	uint8_t client_counted : 1; /* counted in the worker's per-client table (clients.h) */
	uint32_t svc_id, rs_id;
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
