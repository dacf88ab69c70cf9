/* SYN cookies (RFC 4987 section 3.6, after Bernstein's layout): the ISN of the
 * gateway's SYN-ACK encodes everything needed to finish the handshake later,
 * so a SYN costs no state. Plain C, no DPDK: unit-testable on its own. */
#ifndef FN_SYNCOOKIE_H
#define FN_SYNCOOKIE_H

#include <stdint.h>

/* Cookie layout (host order):
 *   bit  31      time slot t mod 2 (t = seconds >> FN_COOKIE_SLOT_SHIFT)
 *   bits 30..28  index into fn_cookie_mss
 *   bits 27..24  the client's window scale shift (0..14), FN_COOKIE_NO_WS if it sent none
 *   bits 23..0   SipHash-2-4(key; cip, vip, cport, vport, client ISN, t, mss index, wscale)
 * The hash covers the whole of t, so one bit is enough to tell this slot
 * from the previous one; an older cookie recomputes with the wrong t and
 * fails. A cookie is accepted in its own slot and the next one: 64 to 128 s.
 * The client ISN is hashed too: only the segment that carries seq = ISN + 1
 * (the handshake's ACK or the first data) validates, so a later segment of a
 * connection whose first ACK was lost cannot open it with a wrong ISN. */
#define FN_COOKIE_NO_WS 15
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
				      uint16_t vport, uint32_t cisn, uint32_t t, unsigned opts)
{
	uint64_t h = fn_siphash3(key, (uint64_t)cip << 32 | vip,
				 (uint64_t)cport << 48 | (uint64_t)vport << 32 | cisn, (uint64_t)opts << 32 | t);
	return (uint32_t)h & 0xffffff;
}

/* opts: MSS index | window scale << 3 (the 7 bits after the time bit). */
static inline uint32_t fn_cookie_make(const uint64_t key[2], uint32_t cip, uint32_t vip, uint16_t cport,
				      uint16_t vport, uint32_t cisn, uint32_t t, unsigned idx, unsigned ws)
{
	unsigned opts = (idx & 7) | (ws & 15) << 3;
	return (t & 1) << 31 | (uint32_t)(idx & 7) << 28 | (uint32_t)(ws & 15) << 24 |
	       fn_cookie_hash(key, cip, vip, cport, vport, cisn, t, opts);
}

static inline unsigned fn_cookie_mss_of(uint32_t cookie)
{
	return (cookie >> 28) & 7;
}

static inline unsigned fn_cookie_ws_of(uint32_t cookie)
{
	return (cookie >> 24) & 15;
}

/* Returns 0 if the cookie was made for this flow in slot now_t or the one
 * before, -1 if it is forged, corrupt or older. now_t: the current slot. */
static inline int fn_cookie_check(const uint64_t key[2], uint32_t cookie, uint32_t cip, uint32_t vip,
				  uint16_t cport, uint16_t vport, uint32_t cisn, uint32_t now_t)
{
	uint32_t t = now_t - ((now_t ^ (cookie >> 31)) & 1);
	unsigned opts = fn_cookie_mss_of(cookie) | fn_cookie_ws_of(cookie) << 3;
	return (cookie & 0xffffff) == fn_cookie_hash(key, cip, vip, cport, vport, cisn, t, opts) ? 0 : -1;
}

#endif
