/* Per-worker session table: preallocated sessions, each reachable under two
 * tuples (client side and real-server side). Owned by one worker: no locks.
 *
 * Packets choose the tuples, so the hash is keyed (hashkey.h) and a bucket
 * holds at most FN_SESS_CHAIN_MAX entries: an insert into a full bucket is
 * refused (the flow is dropped, drop_bucket_full) and a lookup walks at most
 * that many, whatever arrives. */
#ifndef FN_SESSION_H
#define FN_SESSION_H

#include <stdint.h>

#include "fn_plan.h"
#include "hashkey.h"

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
	uint32_t next[2];          /* hash chains, entry id = session * 2 + dir; FN_SESS_END ends */
	uint64_t expire;           /* TSC at which the session dies */
	uint8_t proto, state, client_port, server_port;
	uint8_t client_mac[6];     /* reply to the client's last hop as it came in */
	uint8_t in_use : 1;
	uint8_t nat : 1;           /* NAT mode: lip:lport is the client's own, no port to return */
	uint8_t synproxy : 1;      /* SYN proxy: sequence offset in the worker's fn_sp_side array */
	uint8_t client_counted : 1; /* counted in the worker's per-client table (clients.h) */
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

/* A bucket is one word: its first entry id in the low 28 bits (FN_SESS_END
 * when empty) and, when not empty, its entry count - 1 in the top 4: the
 * count costs no memory and no cache line of its own.
 *
 * The limit, 16 entries. Buckets are a power of two >= 2 x max, so the load
 * (entries per bucket) is alpha <= 1. If the keyed hash spreads a worker's
 * legitimate tuples as a random function would (what a strongly universal
 * hash does for inputs not chosen against its key), the entries an insert
 * finds in its bucket are Poisson(alpha): it is refused with probability
 * P(X >= 16) = 1.9e-14 at alpha = 1 (a completely full table whose max is a
 * power of two: one refusal per 620 days at a sustained 1M new flows/s),
 * 4.6e-19 at alpha = 0.5. An attacker without the key lands each tuple in a
 * given bucket with probability 1/buckets; one that fills a bucket anyway
 * costs each packet into it at most 16 session reads (a cache miss each). */
#define FN_SESS_CHAIN_MAX 16
#define FN_SESS_END 0x0fffffffu     /* no entry; also the entry id bits' mask */
#define FN_SESS_COUNT_SHIFT 28
/* Entry ids (2 x max - 1) stay below FN_SESS_END. */
#define FN_SESS_MAX (FN_SESS_END / 2)

struct fn_session_table {
	uint32_t max, used;
	uint32_t mask;             /* buckets - 1 */
	uint32_t *buckets;         /* first entry id | (entries - 1) << 28, or FN_SESS_END */
	uint32_t *free;            /* stack of free session indices */
	uint32_t nfree;
	uint32_t sweep;            /* expiry sweep cursor */
	struct fn_session *s;
};

/* max <= FN_SESS_MAX. Returns 0, or -1 (no memory, or max too large). */
int fn_sess_init(struct fn_session_table *t, uint32_t max, int socket);
void fn_sess_fini(struct fn_session_table *t);

/* Keyed (hashkey.h): the tuple's four words, each direction a different
 * input. Inline: the burst's pre-pass hashes every packet. */
static inline uint32_t fn_sess_hash(const struct fn_tuple *k)
{
	const uint64_t *a = fn_hkeys.sess;
	uint64_t h = a[0] + a[1] * k->saddr + a[2] * k->daddr +
		     a[3] * ((uint32_t)k->sport | (uint32_t)k->dport << 16) + a[4] * k->proto;
	return fn_hash_finish(h);
}

/* The bucket's first entry id, or FN_SESS_END: a hint for prefetching. */
static inline uint32_t fn_sess_first(const struct fn_session_table *t, uint32_t hash)
{
	return t->buckets[hash & t->mask] & FN_SESS_END;
}

/* Entries in a bucket. */
static inline uint32_t fn_sess_bucket_len(const struct fn_session_table *t, uint32_t bucket)
{
	uint32_t b = t->buckets[bucket];
	return (b & FN_SESS_END) == FN_SESS_END ? 0 : (b >> FN_SESS_COUNT_SHIFT) + 1;
}

/* Returns entry id (session * 2 + dir) or FN_NIL. */
uint32_t fn_sess_lookup(const struct fn_session_table *t, const struct fn_tuple *k, uint32_t hash);
/* Takes a free session, or NULL when full. The caller fills it, then inserts. */
struct fn_session *fn_sess_alloc(struct fn_session_table *t);
/* Returns a session taken by fn_sess_alloc and never inserted. */
void fn_sess_unalloc(struct fn_session_table *t, struct fn_session *s);
/* Links both tuples. -1 when a bucket of either has no room (then nothing
 * changed: the caller gives the session back with fn_sess_unalloc). */
int fn_sess_insert(struct fn_session_table *t, struct fn_session *s);
/* Unlink both tuples and return the session to the free list. */
void fn_sess_remove(struct fn_session_table *t, struct fn_session *s);

static inline uint32_t fn_sess_index(const struct fn_session_table *t, const struct fn_session *s)
{
	return (uint32_t)(s - t->s);
}

#endif
