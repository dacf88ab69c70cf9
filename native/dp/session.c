/* Session table: chained hash over two tuple entries per session, with
 * preallocated storage so capacity is fixed and known at start, and chains
 * of bounded length (session.h). */
#include "session.h"

#include <string.h>

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
	if (max > FN_SESS_MAX)
		return -1;
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
	for (uint32_t i = 0; i < nb; i++)
		t->buckets[i] = FN_SESS_END;
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

/* A bucket word (session.h) for a chain of n entries starting at head. */
static inline uint32_t bucket_word(uint32_t head, uint32_t n)
{
	return n ? head | (n - 1) << FN_SESS_COUNT_SHIFT : FN_SESS_END;
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
	/* Inserts keep chains within the limit; the walk is bounded anyway. */
	uint32_t e = fn_sess_first(t, hash);
	for (unsigned n = 0; e != FN_SESS_END && n < FN_SESS_CHAIN_MAX; n++) {
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

void fn_sess_unalloc(struct fn_session_table *t, struct fn_session *s)
{
	t->free[t->nfree++] = fn_sess_index(t, s);
}

int fn_sess_insert(struct fn_session_table *t, struct fn_session *s)
{
	uint32_t idx = fn_sess_index(t, s), bucket[2];
	for (unsigned dir = 0; dir < 2; dir++) {
		struct fn_tuple k;
		entry_tuple(s, dir, &k);
		bucket[dir] = fn_sess_hash(&k) & t->mask;
	}
	/* Room for both first (both entries may share one bucket): a refused
	 * insert leaves the table as it was. */
	uint32_t both = bucket[0] == bucket[1];
	if (unlikely(fn_sess_bucket_len(t, bucket[0]) + 1 + both > FN_SESS_CHAIN_MAX ||
		     fn_sess_bucket_len(t, bucket[1]) + 1 + both > FN_SESS_CHAIN_MAX))
		return -1;
	for (unsigned dir = 0; dir < 2; dir++) {
		uint32_t n = fn_sess_bucket_len(t, bucket[dir]);
		uint32_t *b = &t->buckets[bucket[dir]];
		s->next[dir] = *b & FN_SESS_END;
		*b = bucket_word(idx * 2 + dir, n + 1);
	}
	s->in_use = 1;
	t->used++;
	return 0;
}

void fn_sess_remove(struct fn_session_table *t, struct fn_session *s)
{
	uint32_t idx = fn_sess_index(t, s);
	for (unsigned dir = 0; dir < 2; dir++) {
		struct fn_tuple k;
		entry_tuple(s, dir, &k);
		uint32_t want = idx * 2 + dir, bucket = fn_sess_hash(&k) & t->mask;
		uint32_t n = fn_sess_bucket_len(t, bucket), head = t->buckets[bucket] & FN_SESS_END;
		if (head == want) {
			t->buckets[bucket] = bucket_word(s->next[dir], n - 1);
			continue;
		}
		uint32_t *link = NULL;
		for (uint32_t e = head, i = 1; e != FN_SESS_END && i < n; i++) {
			link = &t->s[e >> 1].next[e & 1];
			if (*link == want)
				break;
			e = *link;
		}
		if (link && *link == want) {
			*link = s->next[dir];
			t->buckets[bucket] = bucket_word(head, n - 1);
		}
	}
	s->in_use = 0;
	t->used--;
	t->free[t->nfree++] = idx;
}
