/* Keys of every hash a packet's fields feed (session tuples, persistence,
 * the service and local-address tables), secret per process.
 *
 * The tables used CRC32C with fixed seeds. CRC is affine over GF(2): which
 * inputs collide does not depend on the seed, so anyone can compute offline
 * thousands of tuples that share a bucket, and a random seed changes nothing.
 * Here each hash is a vector multiply-shift (Dietzfelbinger, "Universal
 * hashing and k-wise independent random variables via integer arithmetic
 * without primes", STACS 1996; Thorup, "High Speed Hashing for Integers and
 * Strings", arXiv:1504.06804, section 3.5):
 *
 *     h(x_1..x_d) = ((a_0 + a_1 x_1 + ... + a_d x_d) mod 2^64) >> 32
 *
 * over 32-bit words x_i with uniformly random 64-bit keys a_i. With 64-bit
 * arithmetic >= w + l - 1 bits (w = 32-bit words, l = 32 output bits) the
 * family is strongly universal: for two distinct inputs the pair of 32-bit
 * outputs is uniform, so any b low bits of it (a bucket index) collide with
 * probability exactly 2^-b, whatever the inputs were chosen to be, as long
 * as the key is unknown. Cost: one independent 64-bit multiply per word
 * (throughput 1/cycle), about what the four chained crc32 it replaces took.
 *
 * Then fn_hash_finish mixes the 32 bits (half of MurmurHash3's fmix32: a
 * bijection, so the pairwise guarantee above holds unchanged). The sum is
 * linear in the words: structured legitimate inputs (consecutive client
 * addresses, a LIP's consecutive ports) stay a lattice, and for some keys a
 * lattice piles up in a few buckets. Measured: 1M consecutive client
 * addresses into 2^21 buckets, over 200 random keys the fullest bucket held
 * 2-5 entries, but 16 under one key; with the mix, 6-9 under every key (a
 * random function's figure). Linear probing in the service table likewise.
 *
 * It is not a PRF (SipHash is, at ~4x the cost): someone who could observe
 * many collisions (timing) might learn the key. So the tables that take
 * packet-chosen keys also bound their worst case (session.h: a chain
 * limit with a counted drop; persist.h: 4-way buckets). */
#ifndef FN_HASHKEY_H
#define FN_HASHKEY_H

#include <stddef.h>
#include <stdint.h>

#include "fn_dp.h"

/* main: w before the first plan is built (fn_hash_keys_init) or while the
 * data plane is stopped (tests); workers, ctl: r. The session and service
 * keys share one cache line: the only line a packet reads. */
struct fn_hash_keys {
	uint64_t sess[5];      /* saddr, daddr, sport | dport << 16, proto */
	uint64_t svc[3];       /* vip, vport | proto << 16 */
	uint64_t persist[3];   /* the two halves of the persistence key */
	uint64_t local[2];     /* a local address */
} __attribute__((aligned(64)));

_Static_assert(sizeof(((struct fn_hash_keys *)0)->sess) + sizeof(((struct fn_hash_keys *)0)->svc) == 64,
	       "session and service keys: one cache line");
_Static_assert(offsetof(struct fn_hash_keys, local) + sizeof(((struct fn_hash_keys *)0)->local) ==
		       FN_HASH_KEY_WORDS * sizeof(uint64_t),
	       "FN_HASH_KEY_WORDS covers every key");

extern struct fn_hash_keys fn_hkeys;

/* Draws the keys from getrandom once per process (a later start keeps
 * them), unless a test pinned its own. Call before the first plan is built:
 * plans' service tables are laid out with them. Returns 0 or -1 (errno). */
int fn_hash_keys_init(void);

/* Fills buf with len bytes from getrandom. Returns 0 or -1 (errno). */
int fn_random_bytes(void *buf, size_t len);

/* The multiply-shift sum's high half, mixed (see above). */
static inline uint32_t fn_hash_finish(uint64_t sum)
{
	uint32_t x = (uint32_t)(sum >> 32);
	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	return x;
}

static inline uint32_t fn_mshift1(const uint64_t *a, uint32_t x)
{
	return fn_hash_finish(a[0] + a[1] * x);
}

static inline uint32_t fn_mshift2(const uint64_t *a, uint32_t x, uint32_t y)
{
	return fn_hash_finish(a[0] + a[1] * x + a[2] * y);
}

#endif
