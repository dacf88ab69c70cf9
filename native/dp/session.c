/* Session table: chained hash over two tuple entries per session, with
 * preallocated storage so capacity is fixed and known at start. */
#include "session.h"

#include <string.h>

#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "fn_common.h"
#include "lport.h"
#include "neigh.h"

/* The widths struct fn_session packs its ids and indices into. */
_Static_assert(FN_MAX_SVC <= 1u << FN_SESS_ID_BITS && FN_MAX_RS <= 1u << FN_SESS_ID_BITS, "svc_id, rs_id bits");
_Static_assert(FN_MAX_LIPS <= 1u << FN_SESS_IDX_BITS && FN_MAX_NEIGH <= 1u << FN_SESS_IDX_BITS, "lip_slot, neigh bits");

int fn_sess_init(struct fn_session_table *t, uint32_t max, int socket)
{
	memset(t, 0, sizeof(*t));
	uint32_t nb = fn_pow2_at_least(max * 2);
	t->max = max;
	t->mask = nb - 1;
	t->s = rte_zmalloc_socket("fn_sessions", sizeof(*t->s) * (size_t)max, 64, socket);
	t->buckets = rte_malloc_socket("fn_buckets", sizeof(uint32_t) * (size_t)nb, 64, socket);
	t->free = rte_malloc_socket("fn_free", sizeof(uint32_t) * (size_t)max, 64, socket);
	if (!t->s || !t->buckets || !t->free) {
		fn_sess_fini(t);
		return -1;
	}
	memset(t->buckets, 0xff, sizeof(uint32_t) * (size_t)nb);
	/* Pop order 0, 1, 2...: the stack holds the highest index at the bottom. */
	for (uint32_t i = 0; i < max; i++)
		t->free[i] = max - 1 - i;
	t->nfree = max;
	return 0;
}

void fn_sess_fini(struct fn_session_table *t)
{
	rte_free(t->s);
	rte_free(t->buckets);
	rte_free(t->free);
	memset(t, 0, sizeof(*t));
}

uint32_t fn_sess_hash(const struct fn_tuple *k)
{
	uint32_t h = rte_hash_crc_4byte(k->saddr, 0x9e3779b9);
	h = rte_hash_crc_4byte(k->daddr, h);
	h = rte_hash_crc_4byte(((uint32_t)k->sport << 16) | k->dport, h);
	return rte_hash_crc_4byte(k->proto, h);
}

static inline void entry_tuple(const struct fn_session *s, unsigned dir, struct fn_tuple *k)
{
	if (dir == FN_DIR_CLIENT) {
		k->saddr = s->cip;
		k->daddr = s->vip;
		k->sport = s->cport;
		k->dport = s->vport;
	} else {
		k->saddr = s->rip;
		k->daddr = s->lip;
		k->sport = s->rport;
		k->dport = s->lport;
	}
	k->proto = s->proto;
}

static inline int entry_matches(const struct fn_session *s, unsigned dir, const struct fn_tuple *k)
{
	if (s->proto != k->proto)
		return 0;
	if (dir == FN_DIR_CLIENT)
		return s->cip == k->saddr && s->vip == k->daddr && s->cport == k->sport &&
		       s->vport == k->dport;
	return s->rip == k->saddr && s->lip == k->daddr && s->rport == k->sport && s->lport == k->dport;
}

uint32_t fn_sess_lookup(const struct fn_session_table *t, const struct fn_tuple *k, uint32_t hash)
{
	for (uint32_t e = t->buckets[hash & t->mask]; e != FN_NIL;) {
		const struct fn_session *s = &t->s[e >> 1];
		if (entry_matches(s, e & 1, k))
			return e;
		e = s->next[e & 1];
	}
	return FN_NIL;
}

struct fn_session *fn_sess_alloc(struct fn_session_table *t)
{
	if (unlikely(t->nfree == 0))
		return NULL;
	struct fn_session *s = &t->s[t->free[--t->nfree]];
	memset(s, 0, sizeof(*s));
	return s;
}

void fn_sess_insert(struct fn_session_table *t, struct fn_session *s)
{
	uint32_t idx = fn_sess_index(t, s);
	for (unsigned dir = 0; dir < 2; dir++) {
		struct fn_tuple k;
		entry_tuple(s, dir, &k);
		uint32_t *b = &t->buckets[fn_sess_hash(&k) & t->mask];
		s->next[dir] = *b;
		*b = idx * 2 + dir;
	}
	s->in_use = 1;
	t->used++;
}

void fn_sess_remove(struct fn_session_table *t, struct fn_session *s)
{
	uint32_t idx = fn_sess_index(t, s);
	for (unsigned dir = 0; dir < 2; dir++) {
		struct fn_tuple k;
		entry_tuple(s, dir, &k);
		uint32_t want = idx * 2 + dir;
		uint32_t *link = &t->buckets[fn_sess_hash(&k) & t->mask];
		while (*link != FN_NIL && *link != want)
			link = &t->s[*link >> 1].next[*link & 1];
		if (*link == want)
			*link = s->next[dir];
	}
	s->in_use = 0;
	t->used--;
	t->free[t->nfree++] = idx;
}
