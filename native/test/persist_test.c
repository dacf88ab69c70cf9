/* Persistence table (persist.h) on caller memory, no EAL: slot layout against
 * a multiply-shift oracle (then mixed) with the keys in use, expiry, service separation,
 * and which way a full bucket gives up. */
#include <string.h>

#include "check.h"
#include "persist.h"

/* mask 3: one bucket of four ways, so every key competes for the same slots. */
static struct fn_persist_slot one_bucket[FN_PERSIST_WAYS] __attribute__((aligned(64)));
static struct fn_persist_slot many[1024] __attribute__((aligned(64)));

static void use(struct fn_persist_slot *slots, uint32_t n)
{
	memset(slots, 0, sizeof(*slots) * n);
	fn_persist.slot = slots;
	fn_persist.mask = n - 1;
}

#define A(i) (0x0000000a | ((uint32_t)(i) << 24)) /* 10.0.0.i, network order */

static void layout(void)
{
	use(many, 1024);
	CHECK(fn_persist_key(0, 5) == 0x100000005ull, "service 0 is not the empty key");
	CHECK(fn_persist_key(7, 0xffffffff) == 0x8ffffffffull, "(id + 1) << 32 | address");
	CHECK(fn_persist_bucket(0x12345677) == &many[628], "h & 1023, rounded down to 4 ways");
	CHECK(fn_persist_get(0, 0, 0) == -1, "empty table: miss, even for service 0 address 0");

	uint64_t key = fn_persist_key(1, A(1));
	const uint64_t *a = fn_hkeys.persist;
	uint32_t h = (uint32_t)((a[0] + a[1] * (key & 0xffffffff) + a[2] * (key >> 32)) >> 32);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	fn_persist_put(1, A(1), 7, 100);
	struct fn_persist_slot *b = &many[h & 1020];
	CHECK(b[0].key == key, "first way of its bucket");
	CHECK(b[0].val == ((100ull << 32) | (7u << 14) | ((h >> 18) & 0x3fff)), "expiry, server id, tag: %#llx",
	      (unsigned long long)b[0].val);
	CHECK(fn_persist_get(1, A(1), 50) == 7, "hit");
	CHECK(fn_persist_get(1, A(1), 99) == 7, "hit the second before expiry");
	CHECK(fn_persist_get(1, A(1), 100) == -1, "expired at its expiry second");
	CHECK(fn_persist_get(1, A(2), 50) == -1, "another address misses");
	fn_persist_put(1, A(1), 65535, 100);
	CHECK(fn_persist_get(1, A(1), 0) == 65535, "server id 65535");
	/* Ids go up to FN_MAX_RS - 1 (2^18 - 1): a 16-bit field lost ids >= 65536. */
	fn_persist_put(1, A(1), 65536, 100);
	CHECK(fn_persist_get(1, A(1), 0) == 65536, "server id 65536");
	fn_persist_put(1, A(1), FN_MAX_RS - 1, 100);
	CHECK(fn_persist_get(1, A(1), 0) == (int32_t)(FN_MAX_RS - 1), "the largest server id");

	/* A torn pair (value from another writer) carries the wrong tag: a miss. */
	b[0].val ^= 1;
	CHECK(fn_persist_get(1, A(1), 0) == -1, "tag mismatch reads as a miss");
}

static void services_and_masks(void)
{
	use(one_bucket, FN_PERSIST_WAYS);
	fn_persist_put(1, A(1), 7, 100);
	fn_persist_put(2, A(1), 9, 100);
	fn_persist_put(0, A(1), 4, 100);
	CHECK(fn_persist_get(1, A(1), 0) == 7, "service 1 keeps its server");
	CHECK(fn_persist_get(2, A(1), 0) == 9, "service 2 has its own");
	CHECK(fn_persist_get(0, A(1), 0) == 4, "service 0 too");
	CHECK(fn_persist_get(3, A(1), 0) == -1, "service 3 has none");

	/* The table keys on what it is given: masking is the caller's job. */
	use(one_bucket, FN_PERSIST_WAYS);
	uint32_t mask24 = 0x00ffffff; /* /24, network order */
	fn_persist_put(1, A(1), 5, 100);
	CHECK(fn_persist_get(1, A(2), 0) == -1, "unmasked: 10.0.0.2 is not 10.0.0.1");
	fn_persist_put(1, A(1) & mask24, 6, 100);
	CHECK(fn_persist_get(1, A(2) & mask24, 0) == 6, "masked by the caller: same /24, same server");
	CHECK(fn_persist_get(1, A(1), 0) == 5, "the unmasked entry is a separate key");
}

static void replacement(void)
{
	use(one_bucket, FN_PERSIST_WAYS);
	/* Empty ways fill in order. */
	fn_persist_put(1, A(1), 1, 50);
	fn_persist_put(1, A(2), 2, 40);
	fn_persist_put(1, A(3), 3, 60);
	fn_persist_put(1, A(4), 4, 70);
	for (unsigned i = 0; i < 4; i++)
		CHECK(one_bucket[i].key == fn_persist_key(1, A(i + 1)), "way %u holds address %u", i, i + 1);
	/* Full: the entry that expires first gives way. */
	fn_persist_put(1, A(5), 5, 80);
	CHECK(one_bucket[1].key == fn_persist_key(1, A(5)), "expiry 40 replaced");
	CHECK(fn_persist_get(1, A(2), 0) == -1, "address 2 forgotten");
	CHECK(fn_persist_get(1, A(1), 0) == 1 && fn_persist_get(1, A(3), 0) == 3 && fn_persist_get(1, A(4), 0) == 4 &&
	      fn_persist_get(1, A(5), 0) == 5, "the other four remain");
	fn_persist_put(1, A(6), 6, 90);
	CHECK(one_bucket[0].key == fn_persist_key(1, A(6)) && fn_persist_get(1, A(1), 0) == -1, "then expiry 50");
	/* A key already present is refreshed in its own way, even though the scan
	 * had picked way 1 (expiry 80) as the one to give way before reaching it. */
	fn_persist_put(1, A(3), 33, 100);
	CHECK(one_bucket[2].key == fn_persist_key(1, A(3)) && fn_persist_get(1, A(3), 0) == 33, "refreshed in place");
	CHECK(one_bucket[2].val >> 32 == 100, "new expiry");
	CHECK(fn_persist_get(1, A(4), 0) == 4 && fn_persist_get(1, A(5), 0) == 5 && fn_persist_get(1, A(6), 0) == 6,
	      "nothing else moved");
	/* Now 90, 80, 100, 70: way 3 goes. */
	fn_persist_put(1, A(7), 7, 200);
	CHECK(one_bucket[3].key == fn_persist_key(1, A(7)), "expiry 70 replaced");
}

/* Storage from fn_persist_init (rte_malloc: run after EAL): half a slot per
 * session, at least 1024, a power of two so the mask works; zeroed. */
void test_persistence_storage(void)
{
	struct fn_persist saved = fn_persist;
	CHECK(fn_persist_init(100) == 0 && fn_persist.mask == 1023, "small: 1024 slots");
	fn_persist_fini();
	CHECK(fn_persist.slot == NULL, "fini clears");
	CHECK(fn_persist_init(10000) == 0 && fn_persist.mask == 8191, "10000 sessions: 8192 slots");
	unsigned zero = 0;
	for (uint32_t i = 0; i <= fn_persist.mask; i++)
		zero += fn_persist.slot[i].key == 0 && fn_persist.slot[i].val == 0;
	CHECK(zero == 8192, "all empty");
	CHECK(fn_persist_get(0, 0, 0) == -1, "miss");
	fn_persist_put(3, A(9), 12, 10);
	CHECK(fn_persist_get(3, A(9), 9) == 12, "usable");
	fn_persist_fini();
	fn_persist = saved;
}

void test_persistence(void)
{
	struct fn_persist saved = fn_persist;
	layout();
	services_and_masks();
	replacement();
	fn_persist = saved;
}
