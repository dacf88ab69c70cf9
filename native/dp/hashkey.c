/* The per-process hash keys (hashkey.h) and the tests' way to pin them. */
#include "hashkey.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "dp.h"

/* Until fn_hash_keys_init: fixed keys (the first outputs of splitmix64 from
 * seed 0), so that code which builds tables without a data plane (the C
 * tests) hashes well; never what a running data plane uses. */
struct fn_hash_keys fn_hkeys = {
	.sess = {0xe220a8397b1dcdafull, 0x6e789e6aa1b965f4ull, 0x06c45d188009454full, 0xf88bb8a8724c81ecull,
		 0x1b39896a51a8749bull},
	.svc = {0x53cb9f0c747ea2eaull, 0x2c829abe1f4532e1ull, 0xc584133ac916ab3cull},
	.persist = {0x3ee5789041c98ac3ull, 0xf3b8488c368cb0a6ull, 0x657eecdd3cb13d09ull},
	.local = {0xc2d326e0055bdef6ull, 0x8621a03fe0bbdb7bull},
};

static int drawn;   /* main only */
static int pinned;  /* main only: a test set the keys */

int fn_random_bytes(void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = getrandom((uint8_t *)buf + got, len - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

int fn_hash_keys_init(void)
{
	if (drawn || pinned)
		return 0;
	struct fn_hash_keys k;
	if (fn_random_bytes(&k, sizeof(k)) != 0)
		return -1;
	fn_hkeys = k;
	drawn = 1;
	return 0;
}

int fn_dp_hash_keys(uint64_t *out, const uint64_t *set)
{
	if (set) {
		/* Workers and the plan's service table use the keys as they are:
		 * only a stopped data plane may change them. */
		if (fn_dp.started)
			return -1;
		memcpy(&fn_hkeys, set, FN_HASH_KEY_WORDS * sizeof(uint64_t));
		pinned = 1;
	}
	if (out)
		memcpy(out, &fn_hkeys, FN_HASH_KEY_WORDS * sizeof(uint64_t));
	return 0;
}

void fn_dp_hash_keys_unpin(void)
{
	pinned = 0;
	drawn = 0;
}
