/* Sessions per client address, for sessions.max_per_client: one worker's
 * count of its sessions by client address, in a fixed table sized from
 * sessions_max at start, so no packet can make it grow.
 *
 * Buckets of 8 entries, one cache line each; an entry whose count is 0 is
 * free, so ending a session needs no tombstones or moves. The bucket comes
 * from a multiply-shift hash with random multipliers drawn at start: which
 * addresses share a bucket cannot be computed from outside. A client whose
 * bucket is full is admitted without being counted (client_untracked): with
 * at least one entry per session, a bucket overflows only when nearly every
 * session is a different client, and refusing then would lock real clients
 * out; the cap is for the one address that holds many sessions. */
#ifndef FN_CLIENTS_H
#define FN_CLIENTS_H

#include <stdint.h>

#define FN_CLIENT_WAYS 8

struct fn_client_bucket {
	uint32_t ip[FN_CLIENT_WAYS];     /* network order; meaningless where n is 0 */
	uint32_t n[FN_CLIENT_WAYS];
};

struct fn_clients {
	struct fn_client_bucket *b;
	uint64_t mul, add;               /* random at start: the hash's key */
	unsigned shift;                  /* 64 - log2(buckets) */
};

/* Buckets for sessions_max sessions: a power of two >= sessions_max / 8, so
 * there are between 1 and 2 entries per session (8 to 16 bytes each). */
static inline uint32_t fn_clients_buckets(uint32_t sessions_max)
{
	uint32_t want = sessions_max / FN_CLIENT_WAYS + 1, nb = 1;
	while (nb < want)
		nb <<= 1;
	return nb;
}

int fn_clients_init(struct fn_clients *c, uint32_t sessions_max, int socket);
void fn_clients_fini(struct fn_clients *c);

static inline struct fn_client_bucket *fn_clients_bucket(const struct fn_clients *c, uint32_t ip)
{
	return &c->b[(ip * c->mul + c->add) >> c->shift];
}

/* Sessions counted for ip. */
static inline uint32_t fn_clients_count(const struct fn_clients *c, uint32_t ip)
{
	const struct fn_client_bucket *b = fn_clients_bucket(c, ip);
	for (unsigned i = 0; i < FN_CLIENT_WAYS; i++)
		if (b->n[i] && b->ip[i] == ip)
			return b->n[i];
	return 0;
}

/* Count one more session for ip: 0, or -1 when its bucket is full (not counted). */
static inline int fn_clients_add(struct fn_clients *c, uint32_t ip)
{
	struct fn_client_bucket *b = fn_clients_bucket(c, ip);
	int free_i = -1;
	for (int i = 0; i < FN_CLIENT_WAYS; i++) {
		if (b->n[i] && b->ip[i] == ip) {
			b->n[i]++;
			return 0;
		}
		if (!b->n[i] && free_i < 0)
			free_i = i;
	}
	if (free_i < 0)
		return -1;
	b->ip[free_i] = ip;
	b->n[free_i] = 1;
	return 0;
}

/* One session of ip counted by fn_clients_add ended. */
static inline void fn_clients_del(struct fn_clients *c, uint32_t ip)
{
	struct fn_client_bucket *b = fn_clients_bucket(c, ip);
	for (unsigned i = 0; i < FN_CLIENT_WAYS; i++)
		if (b->n[i] && b->ip[i] == ip) {
			b->n[i]--;
			return;
		}
}

#endif
