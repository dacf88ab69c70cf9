/* SYN cookies (syncookie.h): SipHash against a byte-wise reference checked
 * with the SipHash paper's test vector; cookies accepted in their slot and
 * the next, refused when older, forged, bit-flipped or for another flow. */
#include <stdlib.h>

#include "check.h"
#include "syncookie.h"

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define ROUND                                                                                      \
	do {                                                                                       \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                          \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                              \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                              \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                          \
	} while (0)

/* SipHash-2-4 over any byte string, as the paper specifies it. */
static uint64_t ref_siphash(const uint8_t k[16], const uint8_t *m, size_t len)
{
	uint64_t k0 = le64(k), k1 = le64(k + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	size_t end = len - len % 8;
	for (size_t i = 0; i < end; i += 8) {
		uint64_t mi = le64(m + i);
		v3 ^= mi;
		ROUND;
		ROUND;
		v0 ^= mi;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t j = 0; j < len % 8; j++)
		b |= (uint64_t)m[end + j] << (8 * j);
	v3 ^= b;
	ROUND;
	ROUND;
	v0 ^= b;
	v2 ^= 0xff;
	ROUND;
	ROUND;
	ROUND;
	ROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static uint32_t rnd32(void)
{
	return ((uint32_t)rand() << 16) ^ (uint32_t)rand();
}

void test_syncookies(void)
{
	uint8_t k[16], m[24];
	for (int i = 0; i < 16; i++)
		k[i] = (uint8_t)i;
	for (int i = 0; i < 24; i++)
		m[i] = (uint8_t)i;
	/* The paper's vector: key 00..0f, message 00..0e (15 bytes). */
	CHECK(ref_siphash(k, m, 15) == 0xa129ca6149be45e5ULL, "reference SipHash-2-4 vector");
	const uint64_t key[2] = {le64(k), le64(k + 8)};
	CHECK(fn_siphash3(key, le64(m), le64(m + 8), le64(m + 16)) == ref_siphash(k, m, 24),
	      "fn_siphash3 equals SipHash-2-4 over the 24 bytes");

	CHECK(fn_cookie_mss_idx(1460) == 6 && fn_cookie_mss_idx(1459) == 5 && fn_cookie_mss_idx(536) == 0 &&
		      fn_cookie_mss_idx(100) == 0 && fn_cookie_mss_idx(65535) == 7 && fn_cookie_mss_idx(8959) == 6,
	      "MSS rounded down to the table");

	srand(7);
	const uint64_t sk[2] = {((uint64_t)rnd32() << 32) | rnd32(), ((uint64_t)rnd32() << 32) | rnd32()};
	int bad = 0;
	for (int n = 0; n < 2000; n++) {
		uint32_t cip = rnd32(), vip = rnd32(), cisn = rnd32();
		uint16_t cp = (uint16_t)rnd32(), vp = (uint16_t)rnd32();
		uint32_t t = n < 100 ? 31 + (uint32_t)n * 32 : rnd32() >> 6; /* some right at the mod-32 wrap */
		unsigned idx = (unsigned)n & 7;
		uint32_t c = fn_cookie_make(sk, cip, vip, cp, vp, cisn, t, idx);
		bad += fn_cookie_check(sk, c, cip, vip, cp, vp, cisn, t) != (int)idx;
		bad += fn_cookie_check(sk, c, cip, vip, cp, vp, cisn, t + 1) != (int)idx;
		bad += fn_cookie_check(sk, c, cip, vip, cp, vp, cisn, t + 2) != -1;
		bad += fn_cookie_check(sk, c, cip, vip, cp, vp, cisn, t + 31) != -1;
		bad += fn_cookie_check(sk, c, cip, vip, cp, vp, cisn, t - 1) != -1;
		bad += fn_cookie_check(sk, c, cip, vip, cp, vp, cisn + 1, t) != -1;
		bad += fn_cookie_check(sk, c, cip, vip, (uint16_t)(cp + 1), vp, cisn, t) != -1;
		bad += fn_cookie_check(sk, c, cip ^ 1, vip, cp, vp, cisn, t) != -1;
		for (int b = 0; b < 32; b++)
			bad += fn_cookie_check(sk, c ^ (1u << b), cip, vip, cp, vp, cisn, t) != -1;
		const uint64_t other[2] = {sk[0] ^ 1, sk[1]};
		bad += fn_cookie_check(other, c, cip, vip, cp, vp, cisn, t) != -1;
	}
	CHECK(bad == 0, "%d cookie verdicts wrong out of 2000 flows x 41", bad);
}
