/* SYN proxy (per service): the gateway answers the client's handshake with a
 * SYN cookie and opens the server connection only after the client's ACK; the
 * two halves then differ by a constant sequence offset, translated here. */
#ifndef FN_SYNPROXY_H
#define FN_SYNPROXY_H

#include <rte_byteorder.h>

#include "csum.h"
#include "icmp_error.h"
#include "pkt.h"
#include "plan.h"
#include "session.h"

struct fn_worker;

/* Per-session proxy state, in a side array indexed like the session table
 * (fn_worker.sp), touched only for sessions with fn_session.synproxy set.
 * Worker only. */
struct fn_sp_side {
	uint32_t delta;         /* server ISN - cookie (host order): server seq = client's view + delta */
	uint32_t cookie;        /* the ISN the client got from the gateway's SYN-ACK */
	uint16_t win;           /* the client's window (unscaled: no window scaling) for the ACK to the server */
	uint16_t pad;
	struct rte_mbuf *held;  /* client data that came before the server answered, replayed after */
};

/* What fn_sp_open hands from the cookie check to the session it opens. */
struct fn_sp_open {
	uint32_t cookie;
	uint16_t win;
	struct rte_mbuf *held;
};

/* Frames the handshake step wants sent out of the session's server port. */
struct fn_sp_tx {
	unsigned n;
	struct rte_mbuf *m[2];
};

enum { FN_SP_PASS, FN_SP_DONE };

/* Process start: a fresh random key (main). */
int fn_sp_init(void);
/* Worker side array: allocated with the session table (main, at start). */
int fn_sp_alloc(struct fn_worker *w, int socket);
void fn_sp_free(struct fn_worker *w);
/* Tests only: shift the cookie clock by whole seconds (main: w; workers: r). */
void fn_sp_clock_skew(int64_t seconds);

/* A client SYN to a proxied service, no session: turn m into the SYN-ACK
 * with the cookie, to be sent back out of rx_pi. Returns -1 when m was
 * dropped (counted). */
int fn_sp_syn_ack(struct fn_worker *w, struct rte_mbuf *m, struct fn_pkt *p, unsigned rx_pi, uint64_t now);
/* Any other segment with no session: a valid cookie turns *mp into the SYN
 * for the server (p re-parsed; data the segment carried kept in o->held) and
 * returns 0; else returns the counter to drop it under. */
unsigned fn_sp_open(struct fn_worker *w, struct rte_mbuf **mp, struct fn_pkt *p, uint64_t now,
		    struct fn_sp_open *o);
/* The session could not be created after all (limits, no server, no local
 * port): turn m (the SYN fn_sp_open made) into a RST telling the client, whose
 * handshake with the gateway completed, that the connection is gone.
 * Returns -1 if m was dropped instead. */
int fn_sp_refuse(struct fn_worker *w, struct rte_mbuf *m, struct fn_pkt *p, unsigned rx_pi,
		 const struct fn_sp_open *o);
/* The session for an open: mark it proxied, keep the side state. */
void fn_sp_attach(struct fn_worker *w, struct fn_session *s, struct fn_sp_open *o);
/* A segment of a proxied session still in SYN_SENT. FN_SP_DONE: m consumed
 * (answered into out, held, or dropped and counted); FN_SP_PASS: a RST, to go
 * the ordinary way (translated, state CLOSE). */
int fn_sp_handshake(struct fn_worker *w, const struct fn_plan *plan, struct fn_session *s, struct rte_mbuf *m,
		    struct fn_pkt *p, unsigned dir, uint64_t now, struct fn_sp_tx *out);
/* The session ends: drop what it still holds. */
void fn_sp_release(struct fn_worker *w, struct fn_session *s);

/* Translate one segment of a proxied session before the NAT rewrite: the
 * client's sequence space is its own; the server's is shifted by delta
 * (server -> client: seq -= delta; client -> server: ack += delta). No SACK
 * blocks to translate: the proxy's SYN-ACK and SYN do not offer SACK. */
static inline void fn_sp_translate(struct fn_pkt *p, const struct fn_sp_side *sp, unsigned dir)
{
	struct rte_tcp_hdr *t = p->l4;
	if (dir == FN_DIR_SERVER) {
		uint32_t o = t->sent_seq, n = rte_cpu_to_be_32(rte_be_to_cpu_32(o) - sp->delta);
		t->cksum = fn_csum_apply(t->cksum, fn_csum_delta32(0, o, n));
		t->sent_seq = n;
	} else if (p->tcp_flags & RTE_TCP_ACK_FLAG) {
		uint32_t o = t->recv_ack, n = rte_cpu_to_be_32(rte_be_to_cpu_32(o) + sp->delta);
		t->cksum = fn_csum_apply(t->cksum, fn_csum_delta32(0, o, n));
		t->recv_ack = n;
	}
}

/* An ICMP error about a proxied session quotes a segment in the sequence
 * space of the side it went to; the other side checks the quoted sequence
 * number against its own (Linux ignores errors outside its send window, so
 * path MTU discovery needs this). from: the side the error came from. Call
 * before fn_icmp_rewrite (which then fixes the addresses and ports). */
static inline void fn_sp_icmp_quote(struct fn_icmp_quote *q, const struct fn_sp_side *sp, unsigned from)
{
	uint8_t *f;
	uint32_t o, n;
	if (q->ip->next_proto_id != IPPROTO_TCP)
		return;
	if (from == FN_DIR_CLIENT) {
		/* A segment sent to the client (server data, seq in the client's
		 * view): the server knows it by its own seq. */
		f = q->l4 + 4;
		memcpy(&o, f, 4);
		n = rte_cpu_to_be_32(rte_be_to_cpu_32(o) + sp->delta);
	} else {
		/* A segment sent to the server: its ack is in the server's space. */
		if (q->l4_len < 14 || !(q->l4[13] & RTE_TCP_ACK_FLAG))
			return;
		f = q->l4 + 8;
		memcpy(&o, f, 4);
		n = rte_cpu_to_be_32(rte_be_to_cpu_32(o) - sp->delta);
	}
	if (q->l4_len >= 18) {
		uint16_t ck;
		memcpy(&ck, q->l4 + 16, 2);
		ck = fn_csum_apply(ck, fn_csum_delta32(0, o, n));
		memcpy(q->l4 + 16, &ck, 2);
	}
	memcpy(f, &n, 4);
}

#endif
