/* Local-port pools (lport.h): each worker's slice of a LIP's range, FIFO
 * hand-out and return, and re-ranging by a new plan while sessions hold
 * ports. Needs EAL (rte_malloc). */
#include <netinet/in.h>
#include <string.h>

#include <rte_memory.h>

#include "check.h"
#include "lport.h"

/* Just what fn_lports_sync reads of a plan: its LIPs' slots and ranges. */
static struct fn_lip lips[2];
static struct fn_plan plan;

static void publish(uint64_t gen, uint32_t n_lips)
{
	plan.gen = gen;
	plan.lips = lips;
	plan.n_lips = n_lips;
}

static void set_range(unsigned i, uint16_t lo, uint16_t hi)
{
	lips[i].lo = lo;
	lips[i].hi = hi;
}

/* Takes every port left in a slot, host order; returns how many. */
static unsigned drain(struct fn_lports *l, uint32_t slot, uint16_t *out, unsigned max)
{
	unsigned n = 0;
	uint16_t be;
	while (n < max && fn_lport_get(l, slot, &be) == 0)
		out[n++] = ntohs(be);
	return n;
}

static int same(const uint16_t *got, unsigned n, const uint16_t *want, unsigned n_want)
{
	return n == n_want && memcmp(got, want, sizeof(*got) * n) == 0;
}

static uint16_t get1(struct fn_lports *l, uint32_t slot)
{
	uint16_t be = 0;
	return fn_lport_get(l, slot, &be) == 0 ? ntohs(be) : 0;
}

static void slots(void)
{
	fn_lip_slots_reset();
	CHECK(fn_lip_slot_intern(0x0100020a) == 0, "first LIP: slot 0");
	CHECK(fn_lip_slot_intern(0x0200020a) == 1, "second LIP: slot 1");
	CHECK(fn_lip_slot_intern(0x0100020a) == 0, "same address, same slot");
	fn_lip_slots_reset();
	CHECK(fn_lip_slot_intern(0x0200020a) == 0, "after reset slots start again");
	fn_lip_slots_reset();
}

static void slices(void)
{
	lips[0].slot = 0;
	set_range(0, 1000, 1019);
	publish(1, 1);
	unsigned owner_count[20] = {0};
	for (unsigned w = 0; w < 3; w++) {
		struct fn_lports l;
		CHECK(fn_lports_init(&l, w, 3, SOCKET_ID_ANY) == 0, "init worker %u", w);
		fn_lports_sync(&l, &plan);
		uint16_t got[32];
		unsigned n = drain(&l, 0, got, 32);
		/* Exactly p % 3 == w, ascending. */
		uint16_t want[32];
		unsigned n_want = 0;
		for (uint16_t p = 1000; p <= 1019; p++)
			if (p % 3 == w)
				want[n_want++] = p;
		CHECK(same(got, n, want, n_want), "worker %u of 3: %u ports", w, n);
		for (unsigned i = 0; i < n; i++) {
			CHECK(fn_lport_owner(got[i], 3) == w, "port %u owned by %u", got[i], w);
			if (got[i] >= 1000 && got[i] <= 1019)
				owner_count[got[i] - 1000]++;
		}
		uint16_t be = 0xabcd;
		CHECK(fn_lport_get(&l, 0, &be) == -1 && be == 0xabcd, "exhausted: -1, port untouched");
		fn_lports_fini(&l);
		CHECK(l.slot == NULL, "fini clears");
	}
	unsigned once = 0;
	for (unsigned i = 0; i < 20; i++)
		once += owner_count[i] == 1;
	CHECK(once == 20, "the three slices cover the range once: %u of 20", once);

	const uint16_t w1[7] = {1000, 1003, 1006, 1009, 1012, 1015, 1018};
	struct fn_lports l;
	fn_lports_init(&l, 1, 3, SOCKET_ID_ANY);
	fn_lports_sync(&l, &plan);
	uint16_t be;
	CHECK(fn_lport_get(&l, 0, &be) == 0 && be == htons(1000), "network order");
	/* FIFO: a returned port waits behind all the others. */
	CHECK(get1(&l, 0) == 1003, "then 1003");
	fn_lport_put(&l, 0, htons(1000));
	uint16_t got[16];
	unsigned n = drain(&l, 0, got, 16);
	const uint16_t after[6] = {1006, 1009, 1012, 1015, 1018, 1000};
	CHECK(same(got, n, after, 6), "1000 comes back last");
	fn_lport_put(&l, 0, htons(1003));
	fn_lport_put(&l, 0, htons(1018));
	CHECK(get1(&l, 0) == 1003 && get1(&l, 0) == 1018 && fn_lport_get(&l, 0, &be) == -1, "order of return");
	/* Round the ring more than once: every port of the slice, each once per lap. */
	for (unsigned i = 0; i < 7; i++)
		fn_lport_put(&l, 0, htons(w1[i]));
	for (unsigned lap = 0; lap < 3; lap++) {
		n = drain(&l, 0, got, 16);
		CHECK(same(got, n, w1, 7), "lap %u", lap);
		for (unsigned i = 0; i < 7; i++)
			fn_lport_put(&l, 0, htons(w1[i]));
	}
	fn_lports_fini(&l);
}

static void rerange(void)
{
	struct fn_lports l;
	fn_lports_init(&l, 0, 2, SOCKET_ID_ANY);
	lips[0].slot = 0;
	set_range(0, 100, 109);
	publish(1, 1);
	fn_lports_sync(&l, &plan);
	CHECK(get1(&l, 0) == 100 && get1(&l, 0) == 102, "sessions hold 100 and 102");

	/* Grown by a new plan: the FIFO is rebuilt without the held ports. */
	set_range(0, 100, 113);
	publish(2, 1);
	fn_lports_sync(&l, &plan);
	uint16_t got[16];
	unsigned n = drain(&l, 0, got, 16);
	const uint16_t grown[5] = {104, 106, 108, 110, 112};
	CHECK(same(got, n, grown, 5), "104..112, not 100 or 102 (%u ports)", n);
	fn_lport_put(&l, 0, htons(102));
	CHECK(get1(&l, 0) == 102, "102 back once its session ends");

	/* Same range, new generation: nothing rebuilt, so the FIFO keeps its order. */
	fn_lport_put(&l, 0, htons(110));
	fn_lport_put(&l, 0, htons(104));
	publish(3, 1);
	fn_lports_sync(&l, &plan);
	CHECK(get1(&l, 0) == 110 && get1(&l, 0) == 104, "order kept: not rebuilt");

	/* Shrunk: a port outside the new range is retired when returned. */
	fn_lport_put(&l, 0, htons(106));
	set_range(0, 104, 107);
	publish(4, 1);
	fn_lports_sync(&l, &plan);
	fn_lport_put(&l, 0, htons(100));
	fn_lport_put(&l, 0, htons(104));
	n = drain(&l, 0, got, 16);
	const uint16_t shrunk[2] = {106, 104};
	CHECK(same(got, n, shrunk, 2), "106 (free at the rebuild) then 104; 100 retired (%u ports)", n);

	/* Grown back: the retired port is free again, the held ones still are not. */
	set_range(0, 100, 109);
	publish(5, 1);
	fn_lports_sync(&l, &plan);
	n = drain(&l, 0, got, 16);
	CHECK(n == 1 && got[0] == 100, "only 100 (%u ports)", n);
	fn_lports_fini(&l);
}

static void empty_and_two_lips(void)
{
	struct fn_lports l;
	fn_lports_init(&l, 1, 2, SOCKET_ID_ANY);
	lips[0].slot = 0;
	lips[1].slot = 1;
	set_range(0, 100, 100); /* even: nothing for worker 1 */
	set_range(1, 2000, 2005);
	publish(1, 2);
	fn_lports_sync(&l, &plan);
	uint16_t be;
	CHECK(fn_lport_get(&l, 0, &be) == -1, "empty slice: exhausted from the start");
	uint16_t got[8];
	unsigned n = drain(&l, 1, got, 8);
	const uint16_t odd[3] = {2001, 2003, 2005};
	CHECK(same(got, n, odd, 3), "the other LIP has its own pool");
	set_range(0, 100, 101);
	publish(2, 2);
	fn_lports_sync(&l, &plan);
	CHECK(get1(&l, 0) == 101 && fn_lport_get(&l, 1, &be) == -1, "101 on the first; the second still drained");
	fn_lports_fini(&l);
}

void test_lports(void)
{
	slots();
	slices();
	rerange();
	empty_and_two_lips();
}
