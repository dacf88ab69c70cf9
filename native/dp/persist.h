/* Persistence (ipvsadm -p): the same client network reaches the same real
 * server of a service for a while. One table shared by all workers, since
 * RSS may spread one client's connections over several: 4-way buckets (one
 * cache line) of two-word slots written with plain atomic stores (no locks).
 * A reader accepts a slot only if key and value agree (a 14-bit tag from the
 * key is kept in the value), so a torn pair from two racing writers reads as
 * a miss. A full bucket gives up its entry that expires first. The server id
 * takes 18 bits: every id below FN_MAX_RS (2^18) must survive the round trip.
 * Clients choose the addresses hashed, so the hash is keyed (hashkey.h);
 * a bucket holds 4 whatever arrives. */
#ifndef FN_PERSIST_H
#define FN_PERSIST_H

#include <stdint.h>

#include "fn_plan.h"
#include "hashkey.h"

struct fn_persist_slot {
	uint64_t key;  /* (service id + 1) << 32 | masked client address */
	uint64_t val;  /* expire_s << 32 | server id << 14 | tag */
};

struct fn_persist {
	uint32_t mask;                 /* main: w at start */
	struct fn_persist_slot *slot;  /* workers: r/w with atomics */
};

extern struct fn_persist fn_persist;

int fn_persist_init(uint32_t sessions);
void fn_persist_fini(void);

static inline uint64_t fn_persist_key(uint32_t svc_id, uint32_t masked)
{
	return ((uint64_t)(svc_id + 1) << 32) | masked;
}

#define FN_PERSIST_WAYS 4
#define FN_PERSIST_TAG_BITS 14
#define FN_PERSIST_TAG_MASK ((1u << FN_PERSIST_TAG_BITS) - 1)
_Static_assert(FN_MAX_RS <= 1u << (32 - FN_PERSIST_TAG_BITS), "server ids must fit beside the tag");

static inline uint32_t fn_persist_hash(uint64_t key)
{
	return fn_mshift2(fn_hkeys.persist, (uint32_t)key, (uint32_t)(key >> 32));
}

/* The tag: high bits of the hash (the low ones chose the bucket). */
static inline uint64_t fn_persist_tag(uint32_t h)
{
	return (h >> 18) & FN_PERSIST_TAG_MASK;
}

static inline struct fn_persist_slot *fn_persist_bucket(uint32_t h)
{
	return &fn_persist.slot[h & fn_persist.mask & ~(uint32_t)(FN_PERSIST_WAYS - 1)];
}

/* Server id remembered for this client, or -1. */
static inline int32_t fn_persist_get(uint32_t svc_id, uint32_t masked, uint32_t now_s)
{
	uint64_t key = fn_persist_key(svc_id, masked);
	uint32_t h = fn_persist_hash(key);
	struct fn_persist_slot *b = fn_persist_bucket(h);
	for (unsigned i = 0; i < FN_PERSIST_WAYS; i++) {
		uint64_t k1 = __atomic_load_n(&b[i].key, __ATOMIC_ACQUIRE);
		if (k1 != key)
			continue;
		uint64_t v = __atomic_load_n(&b[i].val, __ATOMIC_ACQUIRE);
		uint64_t k2 = __atomic_load_n(&b[i].key, __ATOMIC_ACQUIRE);
		if (k2 == key && (v & FN_PERSIST_TAG_MASK) == fn_persist_tag(h) && (uint32_t)(v >> 32) > now_s)
			return (int32_t)((v >> FN_PERSIST_TAG_BITS) & (FN_MAX_RS - 1));
	}
	return -1;
}

static inline void fn_persist_put(uint32_t svc_id, uint32_t masked, uint32_t rs_id, uint32_t expire_s)
{
	uint64_t key = fn_persist_key(svc_id, masked);
	uint32_t h = fn_persist_hash(key);
	struct fn_persist_slot *b = fn_persist_bucket(h);
	/* Its own slot, else the one that expires first (an empty slot never expires later). */
	struct fn_persist_slot *s = &b[0];
	for (unsigned i = 0; i < FN_PERSIST_WAYS; i++) {
		if (__atomic_load_n(&b[i].key, __ATOMIC_RELAXED) == key) {
			s = &b[i];
			break;
		}
		if ((uint32_t)(__atomic_load_n(&b[i].val, __ATOMIC_RELAXED) >> 32) <
		    (uint32_t)(__atomic_load_n(&s->val, __ATOMIC_RELAXED) >> 32))
			s = &b[i];
	}
	__atomic_store_n(&s->val,
			 ((uint64_t)expire_s << 32) | ((uint64_t)(rs_id & (FN_MAX_RS - 1)) << FN_PERSIST_TAG_BITS) |
				 fn_persist_tag(h),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&s->key, key, __ATOMIC_RELEASE);
}

#endif
