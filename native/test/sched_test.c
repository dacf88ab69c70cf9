/* Real-server picking (scheduler.h) for each table kind, without EAL: cursor
 * walks, hashes against a bit-by-bit CRC32C, and least-loaded with limits. */
#include <string.h>

#include "check.h"
#include "crc32c_ref.h"
/* Every limit check a pick makes (each sums all workers' counters), counted:
 * the bound on a pick's work when every server is full is asserted on it. */
static unsigned full_checks;
#define FN_SCHED_RS_FULL(rs) (full_checks++, fn_rs_full(rs))
#include "scheduler.h"
/* The per-worker load sums fn_rs_full reads (fn_rs_load over fn_dp.workers)
 * are declared here; if they move to their own header, only this include
 * and set_worker_loads() change. */
#include "dp.h"

#define N_WORKERS 2

static struct fn_worker workers[N_WORKERS];
static int32_t worker_rs_active[N_WORKERS][16];

/* Sessions each worker holds per server id, as fn_rs_full sees them. */
static void set_worker_loads(const int32_t load[N_WORKERS][16])
{
	fn_dp.cfg.n_workers = N_WORKERS;
	fn_dp.workers = workers;
	for (unsigned i = 0; i < N_WORKERS; i++) {
		memcpy(worker_rs_active[i], load[i], sizeof(worker_rs_active[i]));
		workers[i].rs_active = worker_rs_active[i];
	}
}

static void clear_worker_loads(void)
{
	fn_dp.cfg.n_workers = 0;
	fn_dp.workers = NULL;
}

/* Four servers with ids 10..13; the service's table starts at sched[2] so a
 * pick that ignored sched_first would land on the junk before it. */
static struct fn_rs rs[4];
static uint32_t sched[8];
static struct fn_plan plan;
static struct fn_service svc;

static void setup(uint8_t kind, const uint32_t *table, uint32_t len)
{
	memset(rs, 0, sizeof(rs));
	memset(&plan, 0, sizeof(plan));
	memset(&svc, 0, sizeof(svc));
	for (unsigned i = 0; i < 4; i++) {
		rs[i].id = 10 + i;
		rs[i].weight = 1;
	}
	sched[0] = sched[1] = 3;
	memcpy(&sched[2], table, sizeof(uint32_t) * len);
	plan.rs = rs;
	plan.n_rs = 4;
	plan.sched = sched;
	plan.n_sched = 2 + len;
	svc.sched_kind = kind;
	svc.sched_first = 2;
	svc.sched_len = len;
	svc.hash_seed = 0xdeadbeef;
}

static void crc_oracle(void)
{
	/* The oracle itself: CRC32C's check value ("123456789", init and final xor ~0). */
	CHECK(~ref_crc32c(~0u, (const uint8_t *)"123456789", 9) == 0xe3069283u, "CRC32C check value");
	/* rte_hash_crc needs no EAL and agrees with the oracle. */
	const uint32_t vals[] = {0, 1, 0x0a000001, 0xffffffff, 0x12345678};
	for (unsigned i = 0; i < 5; i++) {
		CHECK(rte_hash_crc_4byte(vals[i], 0xdeadbeef) == ref_crc32c_u32(vals[i], 0xdeadbeef),
		      "crc 4byte of %#x", vals[i]);
		uint64_t v64 = ((uint64_t)vals[i] << 32) | (vals[i] ^ 0x5a5a5a5a);
		CHECK(rte_hash_crc_8byte(v64, 0x5bd1e995) == ref_crc32c_u64(v64, 0x5bd1e995), "crc 8byte");
	}
}

static void cursor_kind(void)
{
	/* wrr with weights 3,1,1,1: server 0 every other entry. */
	const uint32_t table[6] = {0, 1, 0, 2, 0, 3};
	setup(FN_SCHED_CURSOR, table, 6);
	struct fn_tuple k = {.saddr = 0x0100000a, .sport = 0x3930};
	CHECK(fn_sched_pick(&plan, &svc, 0, 0, &k, NULL) == &rs[0], "cursor 0");
	CHECK(fn_sched_pick(&plan, &svc, 1, 0, &k, NULL) == &rs[1], "cursor 1");
	CHECK(fn_sched_pick(&plan, &svc, 3, 0, &k, NULL) == &rs[2], "cursor 3");
	CHECK(fn_sched_pick(&plan, &svc, 5, 0, &k, NULL) == &rs[3], "cursor 5");
	CHECK(fn_sched_pick(&plan, &svc, 1, 2, &k, NULL) == &rs[2], "cursor 1 + offset 2 is entry 3");
	CHECK(fn_sched_pick(&plan, &svc, 5, 1, &k, NULL) == &rs[0], "offset wraps to entry 0");
	CHECK(fn_sched_pick(&plan, &svc, 4, 9, &k, NULL) == &rs[1], "(4 + 9) %% 6: entry 1");
	/* A full walk visits each entry once per round, whatever the client. */
	unsigned seen[4] = {0};
	for (uint32_t c = 0; c < 12; c++) {
		k.saddr = c * 7919;
		seen[fn_sched_pick(&plan, &svc, c % 6, 0, &k, NULL) - rs]++;
	}
	CHECK(seen[0] == 6 && seen[1] == 2 && seen[2] == 2 && seen[3] == 2, "two rounds: 6,2,2,2 got %u,%u,%u,%u",
	      seen[0], seen[1], seen[2], seen[3]);
}

static void hash_addr_kind(void)
{
	const uint32_t table[7] = {0, 1, 2, 3, 2, 1, 0};
	setup(FN_SCHED_HASH_ADDR, table, 7);
	unsigned distinct = 0, hit[4] = {0};
	for (uint32_t i = 0; i < 64; i++) {
		struct fn_tuple k = {.saddr = 0x0000000a | (i << 24), .sport = (uint16_t)(1000 + i)};
		uint32_t h = ref_crc32c_u32(k.saddr, 0xdeadbeef);
		for (uint32_t off = 0; off < 3; off++) {
			const struct fn_rs *want = &rs[table[(h + off) % 7]];
			CHECK(fn_sched_pick(&plan, &svc, i % 7, off, &k, NULL) == want, "addr %#x offset %u", k.saddr, off);
		}
		/* The client's port and the cursor play no part. */
		struct fn_tuple k2 = k;
		k2.sport = (uint16_t)(k.sport + 1);
		CHECK(fn_sched_pick(&plan, &svc, 3, 0, &k2, NULL) == fn_sched_pick(&plan, &svc, 0, 0, &k, NULL),
		      "same address, another port and cursor");
		hit[fn_sched_pick(&plan, &svc, 0, 0, &k, NULL) - rs]++;
	}
	for (unsigned i = 0; i < 4; i++)
		distinct += hit[i] != 0;
	CHECK(distinct == 4, "64 addresses reach all 4 servers, got %u", distinct);
	/* The seed is part of the choice: the same gateway config picks the same way. */
	svc.hash_seed = 1;
	struct fn_tuple k = {.saddr = 0x0100000a};
	CHECK(fn_sched_pick(&plan, &svc, 0, 0, &k, NULL) == &rs[table[ref_crc32c_u32(k.saddr, 1) % 7]], "seed 1");
}

static void hash_flow_kind(void)
{
	const uint32_t table[5] = {3, 2, 1, 0, 1};
	setup(FN_SCHED_HASH_FLOW, table, 5);
	unsigned hit[4] = {0};
	for (uint32_t i = 0; i < 64; i++) {
		struct fn_tuple k = {.saddr = 0x0100000a, .sport = (uint16_t)(40000 + i * 13)};
		/* hash(address, seed) seeds hash(port) */
		uint32_t hf = ref_crc32c_u32(k.sport, ref_crc32c_u32(k.saddr, 0xdeadbeef));
		for (uint32_t off = 0; off < 3; off++)
			CHECK(fn_sched_pick(&plan, &svc, 2, off, &k, NULL) == &rs[table[(hf + off) % 5]],
			      "port %u offset %u", k.sport, off);
		hit[fn_sched_pick(&plan, &svc, 0, 0, &k, NULL) - rs]++;
	}
	CHECK(hit[0] && hit[1] && hit[2] && hit[3], "one address, 64 ports: every server (%u,%u,%u,%u)", hit[0],
	      hit[1], hit[2], hit[3]);
}

static void least_kind(void)
{
	const uint32_t table[4] = {0, 1, 2, 3};
	setup(FN_SCHED_LEAST, table, 4);
	rs[1].weight = 2;
	rs[3].weight = 0; /* drained: never picked, though idle */
	/* This worker's live sessions per id (the `active` argument). */
	int32_t active[16] = {0};
	active[10] = 2;
	active[11] = 3;
	active[12] = 2;
	const int32_t no_load[N_WORKERS][16] = {{0}};
	set_worker_loads(no_load);

	/* 2/1, 3/2, 2/1: server 1 from any cursor. */
	for (uint32_t c = 0; c < 4; c++)
		CHECK(fn_sched_pick(&plan, &svc, c, 0, NULL, active) == &rs[1], "3/2 is least, cursor %u", c);
	/* Ties at 2 (4/2): the first from the cursor wins; the drained one is passed. */
	active[11] = 4;
	CHECK(fn_sched_pick(&plan, &svc, 0, 0, NULL, active) == &rs[0], "tie from cursor 0");
	CHECK(fn_sched_pick(&plan, &svc, 1, 0, NULL, active) == &rs[1], "tie from cursor 1");
	CHECK(fn_sched_pick(&plan, &svc, 2, 0, NULL, active) == &rs[2], "tie from cursor 2");
	CHECK(fn_sched_pick(&plan, &svc, 3, 0, NULL, active) == &rs[0], "tie from cursor 3 wraps past the drained");
	/* A negative count (a session closed elsewhere) counts as none. */
	active[12] = -5;
	CHECK(fn_sched_pick(&plan, &svc, 0, 0, NULL, active) == &rs[2], "negative is zero");
	/* 0x7fffffff/0xffffffff < 3/2, though 3 * 0xffffffff needs more than 32 bits. */
	active[10] = 0x7fffffff;
	rs[0].weight = 0xffffffff;
	active[11] = 3;
	active[12] = 2;
	CHECK(fn_sched_pick(&plan, &svc, 1, 0, NULL, active) == &rs[0], "64-bit products");
	rs[0].weight = 1;

	/* Connection limits count every worker's sessions, not the argument. */
	active[10] = 5;
	active[11] = 6; /* 3 per weight */
	active[12] = 0;
	rs[2].max_conn = 3;
	const int32_t at_limit[N_WORKERS][16] = {[0] = {[12] = 1}, [1] = {[12] = 2}};
	set_worker_loads(at_limit);
	CHECK(fn_rs_load(12) == 3 && fn_rs_full(&rs[2]), "1 + 2 sessions: at its limit of 3");
	CHECK(fn_sched_pick(&plan, &svc, 2, 0, NULL, active) == &rs[1], "full server passed over for 6/2");
	const int32_t under_limit[N_WORKERS][16] = {[0] = {[12] = 1}, [1] = {[12] = 1}};
	set_worker_loads(under_limit);
	CHECK(!fn_rs_full(&rs[2]), "2 of 3");
	CHECK(fn_sched_pick(&plan, &svc, 0, 0, NULL, active) == &rs[2], "under its limit it is least again");
	const int32_t negative[N_WORKERS][16] = {[0] = {[12] = 9}, [1] = {[12] = -20}};
	set_worker_loads(negative);
	CHECK(fn_rs_load(12) == 0 && !fn_rs_full(&rs[2]), "a negative sum is no load");
	rs[2].max_conn = 0;
	const int32_t heavy[N_WORKERS][16] = {[0] = {[12] = 1000000}};
	set_worker_loads(heavy);
	CHECK(!fn_rs_full(&rs[2]), "max_conn 0: no limit");

	/* Nothing takes the flow: NULL, for the caller to refuse (it once returned
	 * the cursor's entry, and the caller scanned again for every table entry). */
	for (unsigned i = 0; i < 4; i++)
		rs[i].max_conn = 1;
	const int32_t all_busy[N_WORKERS][16] = {[1] = {[10] = 1, [11] = 1, [12] = 1, [13] = 1}};
	set_worker_loads(all_busy);
	CHECK(fn_sched_pick(&plan, &svc, 2, 0, NULL, active) == NULL, "all full: none");
	CHECK(fn_sched_pick(&plan, &svc, 3, 0, NULL, active) == NULL, "all full: none from cursor 3");
	clear_worker_loads();
}

/* fn_sched_choose with a big service whose servers are all full or all down:
 * what one refused flow costs, in limit checks. */
#define BIG 256
static struct fn_rs big_rs[BIG];
static uint32_t big_sched[4096];
static int32_t big_load[N_WORKERS][BIG];

static void big_setup(uint8_t kind, uint32_t len, uint32_t max_conn)
{
	memset(&plan, 0, sizeof(plan));
	memset(&svc, 0, sizeof(svc));
	for (unsigned i = 0; i < BIG; i++) {
		big_rs[i] = (struct fn_rs){.id = i, .weight = 1, .max_conn = max_conn};
		for (unsigned wi = 0; wi < N_WORKERS; wi++)
			big_load[wi][i] = wi == 0 ? (int32_t)max_conn : 0;
	}
	for (uint32_t i = 0; i < len; i++)
		big_sched[i] = i % BIG;
	plan.rs = big_rs;
	plan.n_rs = BIG;
	plan.sched = big_sched;
	plan.n_sched = len;
	svc.sched_kind = kind;
	svc.sched_len = len;
	svc.rs_count = BIG;
	svc.rs_usable = BIG;
	fn_dp.cfg.n_workers = N_WORKERS;
	fn_dp.workers = workers;
	for (unsigned wi = 0; wi < N_WORKERS; wi++)
		workers[wi].rs_active = big_load[wi];
}

static void choose_bounded(void)
{
	int32_t active[BIG] = {0};
	struct fn_tuple k = {.saddr = 0x0100000a, .sport = 0x3930};
	unsigned why = 0;

	/* lc, 256 servers all at max_conn: one scan, one check per server. */
	big_setup(FN_SCHED_LEAST, BIG, 5);
	full_checks = 0;
	CHECK(fn_sched_choose(&plan, &svc, 7, &k, active, &why) == NULL && why == FN_C_drop_max_conn,
	      "lc all full: refused as drop_max_conn (reason %u)", why);
	CHECK(full_checks == BIG, "lc all full: %u limit checks, want %u (one scan)", full_checks, BIG);
	/* One server frees a slot (another worker's count): it is found. */
	big_load[0][200] = 4;
	CHECK(fn_sched_choose(&plan, &svc, 7, &k, active, &why) == &big_rs[200], "lc: the one with room");

	/* Cursor and hash kinds, a table 16 times the servers: a few entries, then each server once. */
	static const uint8_t kinds[3] = {FN_SCHED_CURSOR, FN_SCHED_HASH_ADDR, FN_SCHED_HASH_FLOW};
	for (unsigned i = 0; i < 3; i++) {
		big_setup(kinds[i], 4096, 5);
		full_checks = 0;
		why = 0;
		CHECK(fn_sched_choose(&plan, &svc, 9, &k, active, &why) == NULL && why == FN_C_drop_max_conn,
		      "kind %u all full: drop_max_conn (reason %u)", kinds[i], why);
		CHECK(full_checks <= FN_SCHED_TRIES + BIG, "kind %u all full: %u limit checks, want <= %u", kinds[i],
		      full_checks, FN_SCHED_TRIES + BIG);
		/* One server with room is still found, past the tried entries. */
		big_load[0][123] = 0;
		CHECK(fn_sched_choose(&plan, &svc, 9, &k, active, &why) == &big_rs[123], "kind %u: the one with room",
		      kinds[i]);
		/* All down (weight 0; a hash table keeps their entries): refused without a walk. */
		for (unsigned j = 0; j < BIG; j++)
			big_rs[j].weight = 0;
		svc.rs_usable = 0;
		full_checks = 0;
		why = 0;
		CHECK(fn_sched_choose(&plan, &svc, 9, &k, active, &why) == NULL && why == FN_C_drop_no_real_server &&
			      full_checks == 0,
		      "kind %u all down: drop_no_real_server at once (%u checks)", kinds[i], full_checks);
	}
	/* lc with every server down: the same, at once. */
	big_setup(FN_SCHED_LEAST, BIG, 0);
	svc.rs_usable = 0;
	CHECK(fn_sched_choose(&plan, &svc, 0, &k, active, &why) == NULL && why == FN_C_drop_no_real_server,
	      "lc all down: drop_no_real_server");
	/* A small table whose servers are down or full: both seen, full wins (today's counters). */
	big_setup(FN_SCHED_HASH_ADDR, 8, 5);
	big_rs[0].weight = 0;
	svc.rs_usable = BIG - 1;
	CHECK(fn_sched_choose(&plan, &svc, 0, &k, active, &why) == NULL && why == FN_C_drop_max_conn,
	      "mixed: drop_max_conn");
	clear_worker_loads();
}

void test_scheduler(void)
{
	crc_oracle();
	cursor_kind();
	hash_addr_kind();
	hash_flow_kind();
	least_kind();
	choose_bounded();
}
