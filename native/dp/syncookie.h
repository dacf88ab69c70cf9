/* SYN cookies (RFC 4987 section 3.6, Bernstein's layout): the ISN of the
 * gateway's SYN-ACK encodes everything needed to finish the handshake later,
 * so a SYN costs no state. Plain C, no DPDK: unit-testable on its own. */
#ifndef FN_SYNCOOKIE_H
#define FN_SYNCOOKIE_H

#include <stdint.h>

/* Cookie layout (host order):
 *   bits 31..27  time slot t mod 32 (t = seconds >> FN_COOKIE_SLOT_SHIFT)
 *   bits 26..24  index into fn_cookie_mss
 *   bits 23..0   SipHash-2-4(key; cip, vip, cport, vport, client ISN, t, mss index)
 * The client ISN is hashed too: only the segment that carries seq = ISN + 1
 * (the handshake's ACK or the first data) validates, so a later segment of a
 * connection whose first ACK was lost cannot open it with a wrong ISN.
 * A cookie is accepted in its own slot and the next one: 64 to 128 s. */
#define FN_COOKIE_SLOT_SHIFT 6

/* MSS values a cookie can carry: the client's MSS is rounded down to one of
 * these (no option: 536, RFC 9293's default). */
static const uint16_t fn_cookie_mss[8] = {536, 1200, 1300, 1360, 1400, 1440, 1460, 8960};

static inline unsigned fn_cookie_mss_idx(uint16_t mss)
{
	unsigned i = 7;
	while (i > 0 && fn_cookie_mss[i] > mss)
		i--;
	return i;
}

#define FN_ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define FN_SIPROUND                                                                                    \
	do {                                                                                           \
		v0 += v1; v1 = FN_ROTL64(v1, 13); v1 ^= v0; v0 = FN_ROTL64(v0, 32);                     \
		v2 += v3; v3 = FN_ROTL64(v3, 16); v3 ^= v2;                                             \
		v0 += v3; v3 = FN_ROTL64(v3, 21); v3 ^= v0;                                             \
		v2 += v1; v1 = FN_ROTL64(v1, 17); v1 ^= v2; v2 = FN_ROTL64(v2, 32);                     \
	} while (0)

/* SipHash-2-4 (Aumasson & Bernstein) over three 64-bit words: a keyed PRF,
 * so cookies cannot be forged without the key (a CRC could be). */
static inline uint64_t fn_siphash3(const uint64_t key[2], uint64_t m0, uint64_t m1, uint64_t m2)
{
	uint64_t v0 = key[0] ^ 0x736f6d6570736575ULL, v1 = key[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261ULL, v3 = key[1] ^ 0x7465646279746573ULL;
	const uint64_t m[4] = {m0, m1, m2, (uint64_t)24 << 56};
	for (int i = 0; i < 4; i++) {
		v3 ^= m[i];
		FN_SIPROUND;
		FN_SIPROUND;
		v0 ^= m[i];
	}
	v2 ^= 0xff;
	FN_SIPROUND;
	FN_SIPROUND;
	FN_SIPROUND;
	FN_SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Addresses and ports as they sit in the packet (network order), cisn in
 * host order. */
static inline uint32_t fn_cookie_hash(const uint64_t key[2], uint32_t cip, uint32_t vip, uint16_t cport,
				      uint16_t vport, uint32_t cisn, uint32_t t, unsigned idx)
{
	uint64_t h = fn_siphash3(key, (uint64_t)cip << 32 | vip,
				 (uint64_t)cport << 48 | (uint64_t)vport << 32 | cisn, (uint64_t)idx << 32 | t);
	return (uint32_t)h & 0xffffff;
}

static inline uint32_t fn_cookie_make(const uint64_t key[2], uint32_t cip, uint32_t vip, uint16_t cport,
				      uint16_t vport, uint32_t cisn, uint32_t t, unsigned idx)
{
	return (t & 31) << 27 | (idx & 7) << 24 | fn_cookie_hash(key, cip, vip, cport, vport, cisn, t, idx);
}

/* Returns the MSS index the cookie carries, or -1 if it is forged, corrupt
 * or older than the previous slot. now_t: the current slot. */
static inline int fn_cookie_check(const uint64_t key[2], uint32_t cookie, uint32_t cip, uint32_t vip,
				  uint16_t cport, uint16_t vport, uint32_t cisn, uint32_t now_t)
{
	uint32_t age = (now_t - (cookie >> 27)) & 31;
	if (age > 1)
		return -1;
	uint32_t t = now_t - age;
	unsigned idx = (cookie >> 24) & 7;
	if ((cookie & 0xffffff) != fn_cookie_hash(key, cip, vip, cport, vport, cisn, t, idx))
		return -1;
	return (int)idx;
}

#endif
