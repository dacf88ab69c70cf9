/* Incremental Internet checksum updates (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).
 * All values are raw 16-bit words as they sit in the packet: a one's-complement
 * sum is byte-order independent as long as every word is taken the same way. */
#ifndef FN_CSUM_H
#define FN_CSUM_H

#include <stdint.h>

/* Accumulate the change of a 32-bit field (two words) into a running delta. */
static inline uint32_t fn_csum_delta32(uint32_t acc, uint32_t from, uint32_t to)
{
	acc += (uint16_t)~(uint16_t)from + (uint16_t)~(uint16_t)(from >> 16);
	acc += (uint16_t)to + (uint16_t)(to >> 16);
	return acc;
}

static inline uint32_t fn_csum_delta16(uint32_t acc, uint16_t from, uint16_t to)
{
	return acc + (uint16_t)~from + to;
}

/* Apply an accumulated delta to a checksum field. */
static inline uint16_t fn_csum_apply(uint16_t csum, uint32_t delta)
{
	uint32_t s = (uint16_t)~csum + delta;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

#endif
