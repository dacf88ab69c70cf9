/* Hash keys (hashkey.h), no EAL: drawn from getrandom once per process,
 * pinned and unpinned by tests, refused while the data plane runs; random
 * bytes for the RSS key; and the multiply-shift construction's collision
 * rate, over many keys, for inputs that collide under the old CRC. */
#include <string.h>

#include "check.h"
#include "crc32c_ref.h"
#include "dp.h"
#include "hashkey.h"
#include "persist.h"
#include "plan.h"

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* The RSS key and the hash keys come from here. */
static void random_bytes(void)
{
	uint8_t a[300], b[300];
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	CHECK(fn_random_bytes(a, 40) == 0 && fn_random_bytes(b, 40) == 0, "two 40-byte keys");
	CHECK(!all_zero(a, 40) && memcmp(a, b, 40) != 0, "not zero, not the same twice");
	CHECK(all_zero(a + 40, sizeof(a) - 40), "exactly the length asked for");
	CHECK(fn_random_bytes(a, sizeof(a)) == 0 && !all_zero(a + 260, 40), "a long one is filled to its end");
	CHECK(fn_random_bytes(a, 0) == 0, "nothing asked, nothing done");
}

static void keys(void)
{
	struct fn_hash_keys fixed = fn_hkeys, k1, k2;
	CHECK(fn_hash_keys_init() == 0, "drawn");
	k1 = fn_hkeys;
	CHECK(memcmp(&k1, &fixed, sizeof(k1)) != 0, "not the built-in keys");
	CHECK(fn_hash_keys_init() == 0 && memcmp(&fn_hkeys, &k1, sizeof(k1)) == 0, "once per process: a restart keeps them");

	/* Pinned by a test: a start keeps those. */
	uint64_t set[FN_HASH_KEY_WORDS], got[FN_HASH_KEY_WORDS];
	for (unsigned i = 0; i < FN_HASH_KEY_WORDS; i++)
		set[i] = 0x0101010101010101ull * (i + 1);
	CHECK(fn_dp_hash_keys(got, set) == 0 && memcmp(got, set, sizeof(set)) == 0, "pinned, read back");
	CHECK(fn_hkeys.sess[0] == set[0] && fn_hkeys.svc[0] == set[5] && fn_hkeys.persist[0] == set[8] &&
	      fn_hkeys.local[1] == set[12], "in the documented order");
	CHECK(fn_hash_keys_init() == 0 && fn_hkeys.sess[4] == set[4], "a start keeps pinned keys");

	/* Never while running: workers and the plan's table use them as they are. */
	fn_dp.started = 1;
	set[0] ^= 1;
	CHECK(fn_dp_hash_keys(got, set) == -1 && fn_hkeys.sess[0] == (set[0] ^ 1), "refused while started");
	CHECK(fn_dp_hash_keys(got, NULL) == 0 && got[0] == (set[0] ^ 1), "read while started");
	fn_dp.started = 0;

	fn_dp_hash_keys_unpin();
	CHECK(fn_hash_keys_init() == 0, "drawn again");
	k2 = fn_hkeys;
	CHECK(memcmp(&k2, &k1, sizeof(k2)) != 0 && k2.sess[0] != set[0], "unpinned: fresh keys");
	fn_hkeys = fixed; /* the other tests run on the built-in keys: reproducible */
}

/* Vector multiply-shift (hashkey.h): the formula; every table's hash moves
 * with its own key only. */
static void construction(void)
{
	uint64_t a[3] = {0x0123456789abcdefull, 0xfedcba9876543210ull, 0x8badf00ddeadbeefull};
	unsigned __int128 s = (unsigned __int128)a[1] * 0xc0a80001u + (unsigned __int128)a[2] * 0x00500006u + a[0];
	CHECK(fn_mshift2(a, 0xc0a80001u, 0x00500006u) == fn_hash_finish((uint64_t)s), "mod 2^64");
	CHECK(fn_mshift1(a, 7) == fn_hash_finish(a[0] + a[1] * 7), "one word");
	/* The mix, fmix32's first half, a bijection (distinct sums' high halves
	 * stay distinct): spot values, and undone by its inverse over 2^20 inputs. */
	CHECK(fn_hash_finish(0) == 0 && fn_hash_finish(1ull << 32) == 0x85efe535u, "1 -> %#x",
	      fn_hash_finish(1ull << 32));
	CHECK(fn_hash_finish(0x1234567800000000ull) == 0x0780bfc0u, "0x12345678 -> %#x",
	      fn_hash_finish(0x1234567800000000ull));
	unsigned dup = 0;
	for (uint64_t i = 0; i < 1u << 20; i++) {
		uint32_t y = fn_hash_finish((i * 0x9e3779b97f4a7c15ull) & 0xffffffff00000000ull);
		y ^= y >> 13;
		y ^= y >> 26;
		y *= 0xa5cb9243u; /* 0x85ebca6b^-1 mod 2^32 */
		y ^= y >> 16;
		dup += y != (uint32_t)((i * 0x9e3779b97f4a7c15ull) >> 32);
	}
	CHECK(dup == 0, "inverted: %u of 2^20 wrong", dup);

	struct fn_hash_keys saved = fn_hkeys;
	uint32_t svc = fn_svc_hash(0x010200c0, 80, 6), local = fn_local_hash(0x010200c0);
	uint32_t pers = fn_persist_hash(0x100000005ull);
	fn_hkeys.sess[1] ^= 1ull << 40;
	CHECK(fn_svc_hash(0x010200c0, 80, 6) == svc && fn_local_hash(0x010200c0) == local &&
	      fn_persist_hash(0x100000005ull) == pers, "the session key moves no other table");
	fn_hkeys.svc[1] ^= 1ull << 40;
	fn_hkeys.local[1] ^= 1ull << 40;
	fn_hkeys.persist[1] ^= 1ull << 40;
	CHECK(fn_svc_hash(0x010200c0, 80, 6) != svc && fn_local_hash(0x010200c0) != local &&
	      fn_persist_hash(0x100000005ull) != pers, "each table's own key moves it");
	fn_hkeys = saved;
	CHECK(fn_svc_hash(0x010200c0, 80, 6) != fn_svc_hash(0x010200c0, 80, 17), "the protocol counts");
	CHECK(fn_svc_hash(0x010200c0, 80, 6) != fn_svc_hash(0x010200c0, 81, 6), "the port counts");
}

/* Strong universality, measured: two tuples that share a bucket under the
 * old CRC (whose collisions no seed changes) share one of 256 buckets under
 * about 1/256 of random keys. Binomial(4096, 1/256): mean 16, sd 4. */
static void collision_rate(void)
{
	uint32_t x[4] = {0x0100000a, 0x010200c0, 0x50000004, 17}, y[4];
	memcpy(y, x, sizeof(y));
	uint32_t hx = ref_crc32c_u32(x[3], ref_crc32c_u32(x[2], ref_crc32c_u32(x[1], ref_crc32c_u32(x[0], 0x9e3779b9))));
	for (uint32_t i = 1; i < 0x10000; i++) {
		y[0] = x[0] ^ i << 16;
		uint32_t hy =
			ref_crc32c_u32(y[3], ref_crc32c_u32(y[2], ref_crc32c_u32(y[1], ref_crc32c_u32(y[0], 0x9e3779b9))));
		if (((hx ^ hy) & 0xff) == 0)
			break;
	}
	CHECK(y[0] != x[0], "a pair colliding in 256 buckets under the old CRC");
	struct fn_hash_keys saved = fn_hkeys;
	unsigned coll = 0, drawn = 0;
	for (unsigned i = 0; i < 4096; i++) {
		drawn += fn_random_bytes(fn_hkeys.sess, sizeof(fn_hkeys.sess)) == 0;
		struct fn_tuple kx = {x[0], x[1], (uint16_t)x[2], (uint16_t)(x[2] >> 16), (uint8_t)x[3]};
		struct fn_tuple ky = {y[0], y[1], (uint16_t)y[2], (uint16_t)(y[2] >> 16), (uint8_t)y[3]};
		coll += ((fn_sess_hash(&kx) ^ fn_sess_hash(&ky)) & 0xff) == 0;
	}
	fn_hkeys = saved;
	CHECK(drawn == 4096, "4096 keys drawn");
	CHECK(coll >= 2 && coll <= 40, "same bucket under %u of 4096 keys (expected 16)", coll);
}

void test_hash_keys(void)
{
	random_bytes();
	keys();
	construction();
	collision_rate();
}
