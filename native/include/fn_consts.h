/* Names and figures that C and TypeScript share: scheduler kinds, TCP states, timeout slots, the bytes behind a session.
 * One X-macro list each, expanded into C enums here, exported by the binding (`constants`) and turned into
 * src/generated/consts.ts by scripts/gen-consts.js, so nothing is mirrored by hand. Keep one X(...) per line:
 * the generator reads this file as text. */
#ifndef FN_CONSTS_H
#define FN_CONSTS_H

/* X(NAME), valued by position: how a service picks a real server for a new
 * flow. The control plane builds the table (the service's sched slice); only
 * the way to index it differs. */
#define FN_SCHED_KINDS(X)                                                             \
	X(CURSOR)     /* rr, wrr: each worker walks the table */                     \
	X(HASH_ADDR)  /* sh, mh: table[hash(client address) % len] */                \
	X(HASH_FLOW)  /* sh, mh with hash_fields: flow: table[hash(address, port) % len] */ \
	X(LEAST)      /* lc, wlc: fewest active sessions per weight among the table's servers */

enum fn_sched_kind {
#define FN_X_SCHED(n) FN_SCHED_##n,
	FN_SCHED_KINDS(FN_X_SCHED)
#undef FN_X_SCHED
	FN_NSCHED_KINDS
};

/* X(NAME), valued by position: a TCP session's state, close to IPVS's
 * (transitions in dp/tcp_state.h). NONE is no live session's state; UDP
 * sessions hold FN_UDP_STATE (dp/tcp_state.h) instead. */
#define FN_TCP_STATES(X)                                                     \
	X(NONE)                                                              \
	X(SYN_SENT)     /* client SYN forwarded */                           \
	X(SYN_RECV)     /* server SYN-ACK seen */                            \
	X(ESTABLISHED)                                                       \
	X(FIN_WAIT)     /* client sent FIN first */                          \
	X(CLOSE_WAIT)   /* server sent FIN first */                          \
	X(LAST_ACK)     /* both FINs seen, waiting for the last ACK */       \
	X(TIME_WAIT)                                                         \
	X(CLOSE)        /* RST seen */

enum fn_tcp_state {
#define FN_X_TCP(n) FN_TCP_##n,
	FN_TCP_STATES(FN_X_TCP)
#undef FN_X_TCP
	FN_NTCP_STATES
};

/* X(NAME), valued by position: the plan's timeout slots (fn_plan.timeouts_s),
 * named as the config's sessions.timeouts keys (lower case). */
#define FN_TIMEOUTS(X)                                                         \
	X(TCP_SYN)                                                             \
	X(TCP_ESTABLISHED)                                                     \
	X(TCP_FIN)                                                             \
	X(TCP_TIME_WAIT)                                                       \
	X(TCP_CLOSE)                                                           \
	X(UDP)

enum fn_timeout {
#define FN_X_TO(n) FN_TO_##n,
	FN_TIMEOUTS(FN_X_TO)
#undef FN_X_TO
	FN_NTIMEOUTS
};

/* X(PART, bytes): what each session of sessions_max costs, part by part; the
 * control plane sizes dpdk.memory_mb with the sum. dp/consts_check.c holds
 * each figure against the struct or allocation it describes. */
#define FN_SESSION_BYTES(X)                                                                   \
	X(SESSION, 64)         /* struct fn_session: one cache line */                         \
	X(HASH_BUCKETS, 16)    /* two tuple entries; buckets a power of two >= 2 x max: up to 4 uint32 */ \
	X(FREE_LIST, 4)        /* one uint32 index on the free stack */                        \
	X(HALF_OPEN_SLOT, 8)   /* half-open queue, a power of two >= max: up to 2 uint32 */    \
	X(SYN_PROXY_SIDE, 24)  /* struct fn_sp_side, allocated for every session */

enum fn_session_bytes {
#define FN_X_BYTES(n, b) FN_BYTES_##n = (b),
	FN_SESSION_BYTES(FN_X_BYTES)
#undef FN_X_BYTES
#define FN_X_SUM(n, b) + (b)
	FN_BYTES_PER_SESSION = 0 FN_SESSION_BYTES(FN_X_SUM)
#undef FN_X_SUM
};

#endif
