/* CRC32C computed bit by bit from its polynomial: an oracle for the hashes
 * the data plane takes from rte_hash_crc (same reflected form, no final xor). */
#ifndef FN_TEST_CRC32C_REF_H
#define FN_TEST_CRC32C_REF_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t ref_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return crc;
}

/* rte_hash_crc_4byte / _8byte feed the word's bytes lowest first. */
static inline uint32_t ref_crc32c_u32(uint32_t v, uint32_t init)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	return ref_crc32c(init, b, 4);
}

static inline uint32_t ref_crc32c_u64(uint64_t v, uint32_t init)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return ref_crc32c(init, b, 8);
}

#endif
