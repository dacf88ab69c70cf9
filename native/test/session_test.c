/* Session table (session.h): both tuples of a session, removal, the free
 * stack, a full table and long collision chains. Needs EAL (rte_malloc). */
#include <netinet/in.h>
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

static uint32_t chain_length(const struct fn_session_table *t, uint32_t bucket)
{
	uint32_t n = 0;
	for (uint32_t e = t->buckets[bucket]; e != FN_NIL && n <= 2 * t->max; e = t->s[e >> 1].next[e & 1])
		n++;
	return n;
}

static void hash(void)
{
	struct fn_tuple k = {.saddr = 0x0100000a, .daddr = 0x010200c0, .sport = htons(1234), .dport = htons(80),
			     .proto = IPPROTO_TCP};
	uint32_t h = ref_crc32c_u32(k.saddr, 0x9e3779b9);
	h = ref_crc32c_u32(k.daddr, h);
	h = ref_crc32c_u32(((uint32_t)k.sport << 16) | k.dport, h);
	h = ref_crc32c_u32(k.proto, h);
	CHECK(fn_sess_hash(&k) == h, "hash %#x, oracle %#x", fn_sess_hash(&k), h);
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

/* 40 sessions whose client and server tuples all land in one bucket: one
 * chain of 80 entries of both directions, removed from head, tail and middle. */
static void collisions(void)
{
	enum { N = 40 };
	struct fn_session_table t;
	CHECK(fn_sess_init(&t, 64, SOCKET_ID_ANY) == 0, "init 64");
	CHECK(t.mask == 127, "128 buckets");
	const uint32_t bucket = 5;
	struct fn_session *s[N];
	uint16_t cport = 1024, lport = 1024;
	for (uint32_t i = 0; i < N; i++) {
		struct fn_session probe;
		memset(&probe, 0, sizeof(probe));
		fill(&probe, 0, cport, lport);
		struct fn_tuple k = client_side(&probe);
		while ((fn_sess_hash(&k) & t.mask) != bucket) {
			probe.cport = k.sport = htons(++cport);
		}
		k = server_side(&probe);
		while ((fn_sess_hash(&k) & t.mask) != bucket) {
			probe.lport = k.dport = htons(++lport);
		}
		s[i] = fn_sess_alloc(&t);
		fill(s[i], 0, cport++, lport++);
		fn_sess_insert(&t, s[i]);
	}
	CHECK(chain_length(&t, bucket) == 2 * N, "one chain of %u, got %u", 2 * N, chain_length(&t, bucket));
	uint32_t found = 0;
	for (uint32_t i = 0; i < N; i++)
		found += find(&t, client_side(s[i])) == i * 2 && find(&t, server_side(s[i])) == i * 2 + 1;
	CHECK(found == N, "all %u found both ways, got %u", N, found);

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
	CHECK(chain_length(&t, bucket) == 2 * (N - n_gone), "chain shrank to %u", 2 * (N - n_gone));
	uint32_t right = 0;
	for (uint32_t i = 0; i < N; i++) {
		uint32_t want_c = gone[i] ? FN_NIL : i * 2, want_s = gone[i] ? FN_NIL : i * 2 + 1;
		right += find(&t, client_side(s[i])) == want_c && find(&t, server_side(s[i])) == want_s;
	}
	CHECK(right == N, "removed absent, the rest found: %u of %u", right, N);
	CHECK(t.used == N - n_gone, "used %u", N - n_gone);
	fn_sess_fini(&t);
}

void test_sessions(void)
{
	hash();
	basics();
	full();
	collisions();
}
