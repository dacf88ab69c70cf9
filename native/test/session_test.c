/* Session table (session.h): both tuples of a session, removal, the free
 * stack, a full table, chains at their limit, and tuples crafted to collide
 * under the hash it had before (CRC32C) spread by the keyed one. Needs EAL
 * (rte_malloc). */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <rte_memory.h>

#include "check.h"
#include "crc32c_ref.h"
#include "session.h"

static void fill(struct fn_session *s, uint32_t n, uint16_t cport, uint16_t lport)
{
	s->cip = 0x0100000a + (n << 24);   /* 10.0.0.1 + n */
	s->vip = 0x010200c0;               /* 192.0.2.1 */
	s->cport = htons(cport);
	s->vport = htons(80);
	s->rip = 0x0500010a;               /* 10.1.0.5 */
	s->rport = htons(8080);
	s->lip = 0x0100020a;               /* 10.2.0.1 */
	s->lport = htons(lport);
	s->proto = IPPROTO_TCP;
}

static struct fn_tuple client_side(const struct fn_session *s)
{
	return (struct fn_tuple){.saddr = s->cip, .daddr = s->vip, .sport = s->cport, .dport = s->vport,
				 .proto = s->proto};
}

static struct fn_tuple server_side(const struct fn_session *s)
{
	return (struct fn_tuple){.saddr = s->rip, .daddr = s->lip, .sport = s->rport, .dport = s->lport,
				 .proto = s->proto};
}

static uint32_t find(const struct fn_session_table *t, struct fn_tuple k)
{
	return fn_sess_lookup(t, &k, fn_sess_hash(&k));
}

/* Entries reachable from a bucket, walked without the table's own bound
 * (at most 2 x max, so a broken chain cannot loop). */
static uint32_t chain_length(const struct fn_session_table *t, uint32_t bucket)
{
	uint32_t n = 0;
	for (uint32_t e = t->buckets[bucket] & FN_SESS_END; e != FN_SESS_END && n <= 2 * t->max;
	     e = t->s[e >> 1].next[e & 1])
		n++;
	return n;
}

/* The session hash before the keyed one: CRC32C with a fixed seed (what an
 * attacker computed collisions for), from the bit-wise oracle. */
static uint32_t old_crc_hash(const struct fn_tuple *k)
{
	uint32_t h = ref_crc32c_u32(k->saddr, 0x9e3779b9);
	h = ref_crc32c_u32(k->daddr, h);
	h = ref_crc32c_u32(((uint32_t)k->sport << 16) | k->dport, h);
	return ref_crc32c_u32(k->proto, h);
}

/* The keyed hash is the vector multiply-shift of hashkey.h over the tuple's
 * four words, with whatever keys are in use, then mixed; another key, other
 * buckets. */
static void hash(void)
{
	struct fn_tuple k = {.saddr = 0x0100000a, .daddr = 0x010200c0, .sport = htons(1234), .dport = htons(80),
			     .proto = IPPROTO_TCP};
	const uint64_t *a = fn_hkeys.sess;
	uint64_t sum = a[0] + a[1] * 0x0100000aull + a[2] * 0x010200c0ull +
		       a[3] * (uint64_t)(htons(1234) | (uint32_t)htons(80) << 16) + a[4] * 6ull;
	uint32_t want = (uint32_t)(sum >> 32);
	want ^= want >> 16;
	want *= 0x85ebca6bu;
	want ^= want >> 13;
	CHECK(fn_sess_hash(&k) == want, "hash %#x, oracle %#x", fn_sess_hash(&k), want);
	struct fn_tuple rev = {.saddr = k.daddr, .daddr = k.saddr, .sport = k.dport, .dport = k.sport, .proto = k.proto};
	CHECK(fn_sess_hash(&rev) != fn_sess_hash(&k), "the reversed tuple is another input");

	struct fn_hash_keys saved = fn_hkeys;
	uint32_t h1[64], same = 0, same_bucket = 0;
	for (uint32_t i = 0; i < 64; i++) {
		k.sport = htons((uint16_t)(1000 + i));
		h1[i] = fn_sess_hash(&k);
	}
	for (unsigned j = 0; j < 5; j++)
		fn_hkeys.sess[j] ^= 0x5555555555555555ull << j;
	for (uint32_t i = 0; i < 64; i++) {
		k.sport = htons((uint16_t)(1000 + i));
		same += fn_sess_hash(&k) == h1[i];
		same_bucket += (fn_sess_hash(&k) & 1023) == (h1[i] & 1023);
	}
	fn_hkeys = saved;
	CHECK(same == 0 && same_bucket < 4, "another key: %u of 64 hashes and %u buckets the same", same, same_bucket);
}

static void basics(void)
{
	struct fn_session_table t;
	CHECK(fn_sess_init(&t, 5, SOCKET_ID_ANY) == 0, "init 5");
	CHECK(t.max == 5 && t.mask == 15 && t.nfree == 5 && t.used == 0, "5 sessions, 16 buckets (2 entries each)");

	struct fn_session *a = fn_sess_alloc(&t), *b = fn_sess_alloc(&t);
	CHECK(a == &t.s[0] && b == &t.s[1], "sessions handed out from index 0");
	CHECK(fn_sess_index(&t, a) == 0 && fn_sess_index(&t, b) == 1 && fn_sess_index(&t, &t.s[4]) == 4, "indices");
	fill(a, 0, 1000, 2000);
	fill(b, 1, 1000, 2002);
	CHECK(find(&t, client_side(a)) == FN_NIL, "allocated is not yet inserted");
	fn_sess_insert(&t, a);
	fn_sess_insert(&t, b);
	CHECK(t.used == 2 && t.nfree == 3 && a->in_use && b->in_use, "two in use");

	/* Entry id = session * 2 + direction: which side sent the packet. */
	CHECK(find(&t, client_side(a)) == 0, "a from the client");
	CHECK(find(&t, server_side(a)) == 1, "a from the server");
	CHECK(find(&t, client_side(b)) == 2 && (find(&t, client_side(b)) & 1) == FN_DIR_CLIENT, "b from the client");
	CHECK(find(&t, server_side(b)) == 3 && (find(&t, server_side(b)) & 1) == FN_DIR_SERVER, "b from the server");

	/* Absent: each field of the key matters, even in the same bucket, and the
	 * two sides do not mix. */
	for (unsigned side_field = 0; side_field < 10; side_field++) {
		unsigned field = side_field % 5;
		struct fn_tuple k = side_field < 5 ? client_side(a) : server_side(a), want = k;
		uint32_t bucket = fn_sess_hash(&want) & t.mask;
		for (uint32_t v = 1; v < 256; v++) {
			switch (field) {
			case 0: k.saddr = want.saddr ^ v; break; /* first octet: never b's address */
			case 1: k.daddr = want.daddr + v; break;
			case 2: k.sport = (uint16_t)(want.sport + v); break;
			case 3: k.dport = (uint16_t)(want.dport + v); break;
			default: k.proto = (uint8_t)(want.proto + v); break;
			}
			if ((fn_sess_hash(&k) & t.mask) == bucket)
				break;
		}
		CHECK((fn_sess_hash(&k) & t.mask) == bucket, "side %u field %u: a variant in the same bucket",
		      side_field / 5, field);
		CHECK(find(&t, k) == FN_NIL, "side %u field %u differs: absent", side_field / 5, field);
	}
	struct fn_tuple k = client_side(a);
	k.saddr = a->vip;
	k.daddr = a->cip;
	CHECK(find(&t, k) == FN_NIL, "reversed client tuple");
	k = client_side(a);
	k.daddr = a->lip;
	CHECK(find(&t, k) == FN_NIL, "client address to the LIP");
	k = server_side(a);
	k.dport = htons(2004);
	CHECK(find(&t, k) == FN_NIL, "an lport nobody holds");

	fn_sess_remove(&t, a);
	CHECK(find(&t, client_side(a)) == FN_NIL && find(&t, server_side(a)) == FN_NIL, "a gone both ways");
	CHECK(find(&t, client_side(b)) == 2 && find(&t, server_side(b)) == 3, "b still there");
	CHECK(t.used == 1 && t.nfree == 4 && !a->in_use, "one in use");
	/* The free list is a stack: the session just freed is the next handed out, cleared. */
	struct fn_session *c = fn_sess_alloc(&t);
	CHECK(c == a && c->cip == 0 && c->lport == 0 && c->proto == 0, "index 0 again, zeroed");
	fn_sess_fini(&t);
	CHECK(t.s == NULL && t.buckets == NULL && t.free == NULL && t.max == 0, "fini clears");
}

static void full(void)
{
	struct fn_session_table t;
	CHECK(fn_sess_init(&t, 4, SOCKET_ID_ANY) == 0, "init 4");
	struct fn_session *s[4];
	for (uint32_t i = 0; i < 4; i++) {
		s[i] = fn_sess_alloc(&t);
		CHECK(s[i] == &t.s[i], "session %u", i);
		fill(s[i], i, 1000, (uint16_t)(2000 + i));
		fn_sess_insert(&t, s[i]);
	}
	CHECK(fn_sess_alloc(&t) == NULL, "full: NULL");
	CHECK(t.used == 4 && t.nfree == 0, "4 used");
	fn_sess_remove(&t, s[2]);
	CHECK(fn_sess_alloc(&t) == s[2], "the one freed");
	CHECK(fn_sess_alloc(&t) == NULL, "full again");
	for (uint32_t i = 0; i < 4; i++)
		CHECK(i == 2 ? find(&t, client_side(s[i])) == FN_NIL : find(&t, client_side(s[i])) == i * 2,
		      "session %u", i);
	fn_sess_fini(&t);
}

/* A session whose client and server tuples both land in bucket b (brute
 * force over client and local ports from *cport, *lport). */
static void fill_in_bucket(struct fn_session *s, const struct fn_session_table *t, uint32_t b, uint16_t *cport,
			   uint16_t *lport, int client_in, int server_in)
{
	for (;; (*cport)++) {
		fill(s, 0, *cport, *lport);
		struct fn_tuple k = client_side(s);
		if (((fn_sess_hash(&k) & t->mask) == b) == client_in)
			break;
	}
	for (;; (*lport)++) {
		fill(s, 0, *cport, *lport);
		struct fn_tuple k = server_side(s);
		if (((fn_sess_hash(&k) & t->mask) == b) == server_in)
			break;
	}
	(*cport)++;
	(*lport)++;
}

/* Sessions whose two tuples all land in one bucket: 8 of them fill it (16
 * entries), a 9th is refused and changes nothing, as is one with only its
 * client or only its server tuple there; removal from head, tail and
 * middle; then there is room again. */
static void chain_limit(void)
{
	enum { N = FN_SESS_CHAIN_MAX / 2 };
	struct fn_session_table t;
	CHECK(fn_sess_init(&t, 64, SOCKET_ID_ANY) == 0, "init 64");
	CHECK(t.mask == 127, "128 buckets");
	const uint32_t bucket = 5;
	struct fn_session *s[N];
	uint16_t cport = 1024, lport = 1024;
	for (uint32_t i = 0; i < N; i++) {
		s[i] = fn_sess_alloc(&t);
		fill_in_bucket(s[i], &t, bucket, &cport, &lport, 1, 1);
		CHECK(fn_sess_insert(&t, s[i]) == 0, "session %u inserted", i);
	}
	CHECK(chain_length(&t, bucket) == 2 * N && fn_sess_bucket_len(&t, bucket) == 2 * N,
	      "one chain of %u, got %u (counted %u)", 2 * N, chain_length(&t, bucket), fn_sess_bucket_len(&t, bucket));
	uint32_t found = 0;
	for (uint32_t i = 0; i < N; i++)
		found += find(&t, client_side(s[i])) == i * 2 && find(&t, server_side(s[i])) == i * 2 + 1;
	CHECK(found == N, "all %u found both ways, got %u", N, found);

	/* Full: refused whichever of its tuples lands there; the table unchanged. */
	const char *what[3] = {"both tuples", "the client tuple", "the server tuple"};
	struct fn_session *x = fn_sess_alloc(&t);
	for (unsigned v = 0; v < 3; v++) {
		fill_in_bucket(x, &t, bucket, &cport, &lport, v != 2, v != 1);
		uint32_t nfree = t.nfree;
		CHECK(fn_sess_insert(&t, x) == -1, "%s in the full bucket: refused", what[v]);
		CHECK(t.used == N && t.nfree == nfree && !x->in_use, "%s: nothing counted", what[v]);
		CHECK(fn_sess_bucket_len(&t, bucket) == 2 * N && chain_length(&t, bucket) == 2 * N,
		      "%s: the chain unchanged", what[v]);
		CHECK(find(&t, client_side(x)) == FN_NIL && find(&t, server_side(x)) == FN_NIL, "%s: absent", what[v]);
	}
	fn_sess_unalloc(&t, x);
	CHECK(t.nfree == 64 - N && fn_sess_alloc(&t) == x, "given back: handed out next");
	fill_in_bucket(x, &t, bucket, &cport, &lport, 0, 0);
	CHECK(fn_sess_insert(&t, x) == 0, "neither tuple there: inserted");
	fn_sess_remove(&t, x);

	/* s[N-1] heads the chain, s[0] ends it; every third from the middle too. */
	uint8_t gone[N] = {0};
	gone[N - 1] = gone[0] = 1;
	for (uint32_t i = 1; i < N - 1; i += 3)
		gone[i] = 1;
	uint32_t n_gone = 0;
	for (uint32_t i = 0; i < N; i++)
		if (gone[i]) {
			fn_sess_remove(&t, s[i]);
			n_gone++;
		}
	CHECK(chain_length(&t, bucket) == 2 * (N - n_gone) && fn_sess_bucket_len(&t, bucket) == 2 * (N - n_gone),
	      "chain shrank to %u", 2 * (N - n_gone));
	uint32_t right = 0;
	for (uint32_t i = 0; i < N; i++) {
		uint32_t want_c = gone[i] ? FN_NIL : i * 2, want_s = gone[i] ? FN_NIL : i * 2 + 1;
		right += find(&t, client_side(s[i])) == want_c && find(&t, server_side(s[i])) == want_s;
	}
	CHECK(right == N, "removed absent, the rest found: %u of %u", right, N);
	CHECK(t.used == N - n_gone, "used %u", N - n_gone);
	x = fn_sess_alloc(&t);
	fill_in_bucket(x, &t, bucket, &cport, &lport, 1, 1);
	CHECK(fn_sess_insert(&t, x) == 0 && find(&t, client_side(x)) != FN_NIL, "room again");
	for (uint32_t i = 0; i < N; i++)
		if (!gone[i])
			fn_sess_remove(&t, s[i]);
	fn_sess_remove(&t, x);
	CHECK(t.used == 0 && t.buckets[bucket] == FN_SESS_END, "all removed: the bucket is empty");
	fn_sess_fini(&t);
}

/* A lookup walks at most FN_SESS_CHAIN_MAX entries, even of a chain made
 * longer by hand (inserts never make one): the 17th is out of its reach,
 * and a chain that loops (corrupt) still ends in a miss. */
static void lookup_bound(void)
{
	enum { N = FN_SESS_CHAIN_MAX + 4 };
	struct fn_session_table t;
	CHECK(fn_sess_init(&t, 64, SOCKET_ID_ANY) == 0, "init 64");
	const uint32_t bucket = 9;
	struct fn_session *s[N];
	uint16_t cport = 1024, lport = 1024;
	for (uint32_t i = 0; i < N; i++) {
		s[i] = fn_sess_alloc(&t);
		fill_in_bucket(s[i], &t, bucket, &cport, &lport, 1, 0);
		/* Linked as inserts would, newest first, without the limit. */
		s[i]->next[0] = i ? (i - 1) * 2 : FN_SESS_END;
		s[i]->in_use = 1;
	}
	t.buckets[bucket] = (N - 1) * 2 | (FN_SESS_CHAIN_MAX - 1) << FN_SESS_COUNT_SHIFT;
	uint32_t reached = 0;
	for (uint32_t i = 0; i < N; i++)
		reached += find(&t, client_side(s[i])) == i * 2;
	CHECK(reached == FN_SESS_CHAIN_MAX, "%u of %u reachable", reached, N);
	CHECK(find(&t, client_side(s[N - 1])) == (N - 1) * 2 && find(&t, client_side(s[0])) == FN_NIL,
	      "the head found, the tail beyond the limit not");

	s[N - 1]->next[0] = (N - 1) * 2;  /* the head points at itself */
	struct fn_session absent;
	fill_in_bucket(&absent, &t, bucket, &cport, &lport, 1, 0);
	CHECK(find(&t, client_side(&absent)) == FN_NIL, "a loop: the walk ends, a miss");
	fn_sess_fini(&t);
}

/* An attacker's precomputed flood: client tuples that all share one bucket
 * under the old CRC hash (brute force over client address and port, the
 * way it is done against a small table; the same works for any size) get
 * keyed hashes spread over the buckets: every session is inserted, no chain
 * is long, each lookup finds its own. Under the old hash they made one
 * chain of N that every packet into it walked. */
static void crc_collisions_spread(void)
{
	enum { N = 600 };
	struct fn_session_table t;
	CHECK(fn_sess_init(&t, 1024, SOCKET_ID_ANY) == 0, "init 1024");
	CHECK(t.mask == 2047, "2048 buckets");
	static struct fn_tuple k[N];
	uint32_t n = 0;
	for (uint32_t a = 1; n < N; a++)
		for (uint32_t port = 1024; port < 1024 + 64 && n < N; port++) {
			struct fn_tuple c = {.saddr = htonl(0x0a000000 | a), .daddr = 0x010200c0,
					     .sport = htons((uint16_t)port), .dport = htons(80), .proto = IPPROTO_UDP};
			if ((old_crc_hash(&c) & t.mask) == 7)
				k[n++] = c;
		}
	uint32_t old_same = 0;
	for (uint32_t i = 0; i < N; i++)
		old_same += (old_crc_hash(&k[i]) & t.mask) == 7;
	CHECK(old_same == N, "%u tuples in one bucket under the old hash", N);

	uint32_t refused = 0, longest = 0, found = 0, used_buckets = 0;
	for (uint32_t i = 0; i < N; i++) {
		struct fn_session *s = fn_sess_alloc(&t);
		s->cip = k[i].saddr;
		s->vip = k[i].daddr;
		s->cport = k[i].sport;
		s->vport = k[i].dport;
		s->rip = 0x0500010a;
		s->rport = htons(5353);
		s->lip = 0x0100020a;
		s->lport = htons((uint16_t)(2000 + i));
		s->proto = IPPROTO_UDP;
		if (fn_sess_insert(&t, s) != 0) {
			refused++;
			fn_sess_unalloc(&t, s);
		}
	}
	for (uint32_t b = 0; b <= t.mask; b++) {
		uint32_t len = chain_length(&t, b);
		longest = len > longest ? len : longest;
		used_buckets += len > 0;
	}
	for (uint32_t i = 0; i < N; i++)
		found += find(&t, k[i]) == i * 2;
	CHECK(refused == 0 && t.used == N, "all %u inserted (%u refused)", N, refused);
	CHECK(longest <= 8, "longest chain %u", longest);
	CHECK(used_buckets > 700, "%u of 2048 buckets used by %u entries", used_buckets, 2 * N);
	CHECK(found == N, "%u of %u found", found, N);
	fn_sess_fini(&t);
}

void test_sessions(void)
{
	hash();
	basics();
	full();
	chain_limit();
	lookup_bound();
	crc_collisions_spread();
}
