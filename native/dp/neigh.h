/* Neighbour table: next hops towards real servers and their MACs.
 * Writers: entries are added by the main thread (plan build) and MACs are
 * set by the control thread (ARP). Readers: workers (MAC, relaxed-atomic),
 * control thread (all). Entries are never removed while the data plane runs. */
#ifndef FN_NEIGH_H
#define FN_NEIGH_H

#include <stdint.h>
#include <string.h>

#define FN_MAX_NEIGH 4096
#define FN_NEIGH_VALID (1ULL << 63)

struct fn_neigh {
	uint32_t ip;          /* network order; written once before n is published */
	uint16_t port_idx;
	uint16_t pad;
	uint64_t mac;         /* FN_NEIGH_VALID | 48-bit MAC (bytes in memory order) */
	uint64_t next_probe;  /* control thread only: TSC of next ARP request */
	uint64_t probed;      /* control thread only: TSC of our last ARP request still
	                       * awaiting its answer (0: none); only that answer may
	                       * change a resolved MAC (review M8) */
} __attribute__((aligned(32)));

struct fn_neigh_table {
	uint32_t n;           /* published with release, read with acquire */
	struct fn_neigh e[FN_MAX_NEIGH];
};

extern struct fn_neigh_table fn_neighs;

/* Main thread: find or add (ip, port). Returns the index or UINT32_MAX if full. */
uint32_t fn_neigh_intern(uint32_t ip, uint16_t port_idx);

/* Worker: copy the MAC if resolved. Returns 0 when resolved. */
static inline int fn_neigh_mac(uint32_t idx, uint8_t mac[6])
{
	uint64_t v = __atomic_load_n(&fn_neighs.e[idx].mac, __ATOMIC_RELAXED);
	if (!(v & FN_NEIGH_VALID))
		return -1;
	memcpy(mac, &v, 6);  /* little-endian: the low 6 bytes are the MAC in order */
	return 0;
}

/* Control thread: the MAC word (FN_NEIGH_VALID | MAC, or 0 while unresolved). */
static inline uint64_t fn_neigh_word(uint32_t idx)
{
	return __atomic_load_n(&fn_neighs.e[idx].mac, __ATOMIC_RELAXED);
}

/* Control thread: record a MAC; returns 1 if it changed. The caller checks
 * that the MAC is unicast and the change is one it may make (ctl.c). */
static inline int fn_neigh_set(uint32_t idx, const uint8_t mac[6])
{
	uint64_t v = 0;
	memcpy(&v, mac, 6);
	v |= FN_NEIGH_VALID;
	if (__atomic_load_n(&fn_neighs.e[idx].mac, __ATOMIC_RELAXED) == v)
		return 0;
	__atomic_store_n(&fn_neighs.e[idx].mac, v, __ATOMIC_RELAXED);
	return 1;
}

#endif
