/* libFuzzer target over the data plane's packet path: parse, session lookup
 * and creation, NAT rewrite, ICMP error translation, TCP reset, the control
 * thread's ARP/ICMP handling, expiry. Built with ASan and UBSan over the
 * fn_dp sources (see CMakeLists.txt here and scripts/fuzz.sh).
 *
 * EAL runs once with --no-huge; the data plane starts with no_threads, so
 * fn_dp_poll() runs one pass of worker 0 on this thread, deterministically.
 * The control thread's pass (fn_ctl_poll_once, ctl.c) runs here too,
 * between polls.
 *
 * Per input: the bytes as one frame on port 0, poll, control pass, poll,
 * drain and check every output; then the same on port 1; then, for an
 * IPv4 frame, the same again with its IPv4 (and ICMP) checksums repaired so
 * that mutations reach past the checksum check. Mbufs are injected with
 * their headroom and the bytes after the frame poisoned for ASan, so a read
 * beyond the frame is reported. Checks (abort()
 * on failure, which libFuzzer reports as a crash):
 *  - every IPv4 output: header checksum valid, total length within the frame;
 *  - every ICMP output: message checksum valid; for errors (3, 11, 12), the
 *    quoted IPv4 header checksum valid (the gateway recomputes both);
 *  - every TCP/UDP output made from an input whose L4 checksum verified:
 *    its L4 checksum verifies (incremental updates, RFC 1624);
 *  - no mbuf leaks: after each input every mbuf is back in the pool;
 *  - counters: rx_packets equals the sum of the per-frame outcomes.
 * State (sessions, neighbours) carries over between inputs, as on a live
 * gateway; a long-lived TCP session is (re)built every 256 inputs so that
 * inputs naming it (SYN-ACK to LIP 198.19.0.10:1024, ICMP errors quoting it)
 * reach the established-session paths. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <sanitizer/asan_interface.h>

#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mempool.h>

#include "dp.h"
#include "fn_dp.h"
#include "neigh.h"

#define FZ_MAX_FRAME 2048

static const uint8_t RS1_MAC[6] = {0x02, 0, 0, 0, 0x02, 0x02};
static const uint8_t RS2_MAC[6] = {0x02, 0, 0, 0, 0x02, 0x03};

static uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return htonl((a << 24) | (b << 16) | (c << 8) | d);
}

#define VIP ip4(198, 18, 0, 100)
#define WAN_IP ip4(198, 18, 0, 254)
#define LAN_IP ip4(198, 19, 0, 254)
#define LIP10 ip4(198, 19, 0, 10)
#define LIP11 ip4(198, 19, 0, 11)
#define RS1 ip4(198, 19, 0, 2)
#define RS2 ip4(198, 19, 0, 3)

/* ------------------------------------------------------------------ */
/* Checksums, computed here from scratch (not with the data plane's code) */

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;
	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static int sums_to_ffff(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

/* 1: an unfragmented IPv4 TCP/UDP datagram whose L4 checksum verifies (UDP 0 counts as valid);
 * 0: one whose checksum does not; -1: not such a datagram. */
static int l4_valid(const uint8_t *f, size_t len)
{
	if (len < 34 || f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4)
		return -1;
	size_t hl = (size_t)(f[14] & 0xf) * 4, tot = (size_t)f[16] << 8 | f[17];
	if (hl < 20 || tot < hl || 14 + tot > len)
		return -1;
	if ((f[20] & 0x3f) || f[21])
		return -1; /* a fragment */
	uint8_t proto = f[23];
	const uint8_t *l4 = f + 14 + hl;
	size_t l4len = tot - hl;
	if (proto == 6) {
		if (l4len < 20)
			return -1;
	} else if (proto == 17) {
		if (l4len < 8)
			return -1;
		size_t ulen = (size_t)l4[4] << 8 | l4[5];
		if (ulen < 8 || ulen > l4len)
			return -1;
		if (l4[6] == 0 && l4[7] == 0)
			return 1;
		l4len = ulen;
	} else {
		return -1;
	}
	uint32_t s = sum16(f + 26, 8, 0) + proto + (uint32_t)l4len;
	return sums_to_ffff(sum16(l4, l4len, s));
}

static void fail(const char *what, const uint8_t *f, size_t len)
{
	fprintf(stderr, "fuzz_packet: %s; output frame (%zu bytes):", what, len);
	for (size_t i = 0; i < len && i < 128; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", f[i]);
	fprintf(stderr, "\n");
	abort();
}

/* Every output frame: the checks listed at the top. */
static void check_output(const uint8_t *f, size_t len, int in_l4_valid)
{
	if (len < 14)
		fail("output shorter than an Ethernet header", f, len);
	if (f[12] != 0x08 || f[13] != 0x00)
		return; /* ARP answers and requests: nothing to sum */
	if (len < 34)
		fail("IPv4 output shorter than an IPv4 header", f, len);
	const uint8_t *ip = f + 14;
	size_t hl = (size_t)(ip[0] & 0xf) * 4, tot = (size_t)ip[2] << 8 | ip[3];
	if ((ip[0] >> 4) != 4 || hl < 20 || 14 + hl > len)
		fail("IPv4 output with a bad version or header length", f, len);
	if (!sums_to_ffff(sum16(ip, hl, 0)))
		fail("IPv4 output with a bad header checksum", f, len);
	if (tot < hl || 14 + tot > len)
		fail("IPv4 output whose total length does not fit the frame", f, len);
	if ((ip[6] & 0x3f) || ip[7])
		return;
	const uint8_t *l4 = ip + hl;
	size_t l4len = tot - hl;
	if (ip[9] == 1) {
		if (l4len < 8)
			fail("ICMP output shorter than an ICMP header", f, len);
		if (!sums_to_ffff(sum16(l4, l4len, 0)))
			fail("ICMP output with a bad checksum", f, len);
		if ((l4[0] == 3 || l4[0] == 11 || l4[0] == 12) && l4len >= 8 + 20) {
			const uint8_t *q = l4 + 8;
			size_t qhl = (size_t)(q[0] & 0xf) * 4;
			if (qhl >= 20 && 8 + qhl <= l4len && !sums_to_ffff(sum16(q, qhl, 0)))
				fail("translated ICMP error with a bad quoted IPv4 header checksum", f, len);
		}
	} else if ((ip[9] == 6 || ip[9] == 17) && in_l4_valid == 1 && l4_valid(f, len) == 0) {
		fail("TCP/UDP output with a bad L4 checksum from an input whose checksum was valid", f, len);
	}
}

/* ------------------------------------------------------------------ */
/* The data plane under test                                            */

static uint8_t drain_buf[64 * RTE_MBUF_DEFAULT_BUF_SIZE];

/* FUZZ_PACKET_SELFTEST=ip|l4|icmp|leak breaks outputs (or leaks an mbuf) on
 * purpose, to show each check catches it: scripts/fuzz.sh runs the seeds
 * once per mode and expects a crash each time. */
static const char *selftest;

/* Injected frames come from a pool of their own: the data plane allocates
 * from fn_dp.pool (the control thread's gratuitous ARP and probes, ICMP
 * replies) while an input is processed, and must never be handed a freed
 * injected mbuf that is still poisoned. */
static struct rte_mempool *inject_pool;

static void sabotage(uint8_t *f, size_t len)
{
	if (len < 34 || f[12] != 0x08 || f[13] != 0x00)
		return;
	size_t hl = (size_t)(f[14] & 0xf) * 4;
	if (!strcmp(selftest, "ip"))
		f[14 + 10] ^= 0x01;
	else if (!strcmp(selftest, "l4") && (f[23] == 6 || f[23] == 17) && len >= 14 + hl + 18)
		f[14 + hl + (f[23] == 6 ? 16 : 6)] ^= 0x01;
	else if (!strcmp(selftest, "icmp") && f[23] == 1 && len >= 14 + hl + 4)
		f[14 + hl + 2] ^= 0x01;
}

static unsigned drain_and_check(int in_l4_valid)
{
	uint32_t off[64];
	uint16_t lens[64];
	unsigned total = 0;
	for (unsigned pi = 0; pi < 2; pi++) {
		unsigned n;
		do {
			n = fn_dp_ring_drain(pi, 0, drain_buf, sizeof(drain_buf), off, lens, 64);
			for (unsigned i = 0; i < n; i++) {
				if (selftest)
					sabotage(drain_buf + off[i], lens[i]);
				check_output(drain_buf + off[i], lens[i], in_l4_valid);
			}
			total += n;
		} while (n == 64);
	}
	return total;
}

/* The control thread's passes, on this thread, until the workers' frames are
 * all taken; then, when asked for, one more that probes neighbours (ARP
 * requests), which the thread does on a timer. */
static void ctl_pass(int probe)
{
	uint64_t never = UINT64_MAX, now = 0;
	while (fn_ctl_poll_once(&never) > 0)
		;
	if (probe)
		fn_ctl_poll_once(&now);
}

static uint64_t counter_sum(const struct fn_counters *c)
{
	/* The outcomes of a received frame in the worker: exactly one each. */
	static const unsigned out[] = {
		FN_C_fwd_to_server, FN_C_fwd_to_client, FN_C_icmp_errors_translated, FN_C_to_control,
		FN_C_redirected, FN_C_sessions_reset, FN_C_drop_not_ipv4, FN_C_drop_other_host,
		FN_C_drop_malformed, FN_C_drop_bad_checksum, FN_C_drop_fragment, FN_C_drop_ttl,
		FN_C_drop_no_service, FN_C_drop_no_session, FN_C_drop_session_full, FN_C_drop_lport_exhausted,
		FN_C_drop_no_real_server, FN_C_drop_neigh_unresolved, FN_C_drop_control_full, FN_C_drop_unsupported,
		FN_C_drop_icmp_no_session, FN_C_drop_bad_tcp_flags, FN_C_drop_half_open_limit, FN_C_drop_max_conn,
		FN_C_drop_acl, FN_C_drop_redirect_full,
		FN_C_drop_icmp_not_service, FN_C_drop_icmp_hand_on_limit, FN_C_drop_hand_on_full,
		FN_C_drop_icmp_mtu_floor, FN_C_drop_wrong_port, FN_C_drop_multi_segment,
		FN_C_drop_bucket_full, FN_C_drop_client_limit, FN_C_drop_control_rate, FN_C_drop_tcp_out_of_window,
	};
	uint64_t s = 0;
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++)
		s += c->v[out[i]];
	return s;
}

static void check_invariants(void)
{
	const struct fn_counters *w = &fn_dp.counters[0];
	if (w->v[FN_C_rx_packets] != counter_sum(w)) {
		fprintf(stderr, "fuzz_packet: worker rx_packets %llu != sum of outcomes %llu\n",
			(unsigned long long)w->v[FN_C_rx_packets], (unsigned long long)counter_sum(w));
		abort();
	}
	if (w->v[FN_C_tx_dropped] != 0) {
		fprintf(stderr, "fuzz_packet: a ring port refused %llu frames\n", (unsigned long long)w->v[FN_C_tx_dropped]);
		abort();
	}
	const struct rte_mempool *pools[2] = {fn_dp.pool, inject_pool};
	for (unsigned i = 0; i < 2; i++) {
		unsigned avail = rte_mempool_avail_count(pools[i]);
		if (avail != pools[i]->size) {
			fprintf(stderr, "fuzz_packet: mbuf leak: %u of %u mbufs in pool %s after an input\n", avail,
				pools[i]->size, pools[i]->name);
			abort();
		}
	}
	if (w->v[FN_C_sessions_active] > fn_dp.cfg.sessions_max) {
		fprintf(stderr, "fuzz_packet: %llu sessions active > %u\n", (unsigned long long)w->v[FN_C_sessions_active],
			fn_dp.cfg.sessions_max);
		abort();
	}
}

/* Put a frame on a ring port's RX queue as fn_dp_ring_inject does, but with
 * the mbuf's headroom and everything after the frame poisoned for ASan: a
 * read or write outside the frame is reported even though mbuf memory comes
 * from DPDK's pool. Returns the mbuf (to unpoison once it is back in the pool). */
static struct rte_mbuf *inject_poisoned(unsigned port, const uint8_t *data, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(inject_pool);
	if (!m)
		abort(); /* the pool is empty: a leak */
	ASAN_UNPOISON_MEMORY_REGION(m->buf_addr, m->buf_len);
	char *d = rte_pktmbuf_append(m, (uint16_t)len);
	if (!d)
		abort();
	memcpy(d, data, len);
	m->port = fn_dp.ports[port].port_id;
	ASAN_POISON_MEMORY_REGION(m->buf_addr, (size_t)(d - (char *)m->buf_addr));
	ASAN_POISON_MEMORY_REGION(d + len, (size_t)((char *)m->buf_addr + m->buf_len - (d + len)));
	if (rte_ring_sp_enqueue(fn_dp.ports[port].rx[0], m) != 0)
		abort(); /* the ring is full: frames are not being taken */
	return m;
}

/* One frame in on a port, everything it causes processed, every output checked. */
static void one_frame(unsigned port, const uint8_t *data, size_t len)
{
	int valid = l4_valid(data, len);
	struct rte_mbuf *m = inject_poisoned(port, data, len);
	fn_dp_poll();  /* the worker: parse, translate, queue for the control thread */
	ctl_pass(0);   /* the control thread: ARP, echo, the kernel path */
	fn_dp_poll();  /* the worker transmits what the control thread built */
	drain_and_check(valid);
	/* Every mbuf is back in the pool (check_invariants makes sure): the next
	 * user of this one may write anywhere in it. */
	ASAN_UNPOISON_MEMORY_REGION(m->buf_addr, m->buf_len);
	if (selftest && !strcmp(selftest, "leak") && valid == 1)
		(void)rte_pktmbuf_alloc(fn_dp.pool); /* never freed */
	check_invariants();
}

/* ------------------------------------------------------------------ */
/* A frame builder for the long-lived session                          */

static size_t tcp_frame(uint8_t *f, const uint8_t dst_mac[6], uint32_t src, uint32_t dst, uint16_t sport,
			uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack)
{
	memset(f, 0, 60);
	memcpy(f, dst_mac, 6);
	const uint8_t src_mac[6] = {0x02, 0, 0, 0, 0x01, 0x01};
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *t = f + 34;
	ip[0] = 0x45;
	ip[3] = 40;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	uint16_t c = (uint16_t)~0;
	uint32_t s = sum16(ip, 20, 0);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	c = (uint16_t)~s;
	ip[10] = c >> 8;
	ip[11] = c & 0xff;
	t[0] = sport >> 8, t[1] = sport & 0xff, t[2] = dport >> 8, t[3] = dport & 0xff;
	t[4] = seq >> 24, t[5] = seq >> 16, t[6] = seq >> 8, t[7] = seq;
	t[8] = ack >> 24, t[9] = ack >> 16, t[10] = ack >> 8, t[11] = ack;
	t[12] = 0x50;
	t[13] = flags;
	t[14] = 0xff, t[15] = 0xff;
	s = sum16(ip + 12, 8, 0) + 6 + 20;
	s = sum16(t, 20, s);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	c = (uint16_t)~s;
	t[16] = c >> 8;
	t[17] = c & 0xff;
	return 60;
}

/* CLIENT 198.18.0.1:40000 -> VIP:80, established (on a fresh gateway it gets LIP 198.19.0.10:1024 to RS1:8080). */
static void live_session(void)
{
	uint8_t f[60];
	const uint8_t wan_mac[6] = {0x02, 0x66, 0x6e, 0, 0, 0}, lan_mac[6] = {0x02, 0x66, 0x6e, 0, 0, 1};
	one_frame(0, f, tcp_frame(f, wan_mac, ip4(198, 18, 0, 1), VIP, 40000, 80, 0x02, 1000, 0));
	one_frame(1, f, tcp_frame(f, lan_mac, RS1, LIP10, 8080, 1024, 0x12, 5000, 1001));
	one_frame(0, f, tcp_frame(f, wan_mac, ip4(198, 18, 0, 1), VIP, 40000, 80, 0x10, 1001, 5001));
}

/* ------------------------------------------------------------------ */
/* Setup: EAL, ring ports, a plan with a TCP and a UDP service (and a   */
/* few more to reach every scheduler, limit and ACL path)               */

static struct fn_plan *make_plan(void)
{
	/* services: 0 web tcp :80 rr over RS1, RS2; 1 dns udp :53 source hash to RS1;
	 * 2 tcp :81 least-connections, max_conn 3, RS1 max_conn 2, deny 198.18.0.0/28, persistence;
	 * 3 udp :54 NAT mode to RS2. */
	struct fn_plan *p = fn_plan_alloc(4, 5, 5, 2, 1, 2, 5);
	if (!p)
		return NULL;
	struct fn_rs rs[5] = {
		{.ip = RS1, .port = htons(8080), .id = 0, .port_idx = 1, .nexthop = RS1, .weight = 1},
		{.ip = RS2, .port = htons(8080), .id = 1, .port_idx = 1, .nexthop = RS2, .weight = 1},
		{.ip = RS1, .port = htons(5353), .id = 2, .port_idx = 1, .nexthop = RS1, .weight = 1},
		{.ip = RS1, .port = htons(8081), .id = 3, .port_idx = 1, .nexthop = RS1, .weight = 1, .max_conn = 2},
		{.ip = RS2, .port = htons(5454), .id = 4, .port_idx = 1, .nexthop = RS2, .weight = 1},
	};
	memcpy(p->rs, rs, sizeof(rs));
	for (uint32_t i = 0; i < 5; i++)
		p->sched[i] = i;
	struct fn_service s[4] = {
		{.vip = VIP, .vport = htons(80), .proto = 6, .id = 0, .sched_first = 0, .sched_len = 2, .pool = 0,
		 .sched_kind = FN_SCHED_CURSOR, .rs_first = 0, .rs_count = 2, .rs_usable = 2, .acl_default = 1},
		{.vip = VIP, .vport = htons(53), .proto = 17, .id = 1, .sched_first = 2, .sched_len = 1, .pool = 0,
		 .sched_kind = FN_SCHED_HASH_ADDR, .hash_seed = 7, .rs_first = 2, .rs_count = 1, .rs_usable = 1, .acl_default = 1},
		{.vip = VIP, .vport = htons(81), .proto = 6, .id = 2, .sched_first = 3, .sched_len = 1, .pool = 0,
		 .sched_kind = FN_SCHED_LEAST, .rs_first = 3, .rs_count = 1, .rs_usable = 1, .max_conn = 3, .acl_first = 0,
		 .acl_count = 1, .acl_default = 1, .persist_s = 10, .persist_mask = htonl(0xffffff00)},
		{.vip = VIP, .vport = htons(54), .proto = 17, .id = 3, .sched_first = 4, .sched_len = 1, .pool = 0,
		 .sched_kind = FN_SCHED_HASH_FLOW, .nat = 1, .rs_first = 4, .rs_count = 1, .rs_usable = 1, .acl_default = 1},
	};
	memcpy(p->services, s, sizeof(s));
	p->lips[0] = (struct fn_lip){.ip = LIP10, .port_idx = 1, .lo = 1024, .hi = 1087};
	p->lips[1] = (struct fn_lip){.ip = LIP11, .port_idx = 1, .lo = 1024, .hi = 1087};
	p->pools[0] = (struct fn_pool){.first = 0, .count = 2};
	p->pool_lips[0] = 0;
	p->pool_lips[1] = 1;
	struct fn_local l[5] = {
		{.ip = VIP, .arp_ports = 1},
		{.ip = WAN_IP, .arp_ports = 1, .flags = FN_LOCAL_KERNEL},
		{.ip = LAN_IP, .arp_ports = 2, .flags = FN_LOCAL_KERNEL},
		{.ip = LIP10, .arp_ports = 2, .flags = FN_LOCAL_LIP},
		{.ip = LIP11, .arp_ports = 2, .flags = FN_LOCAL_LIP},
	};
	memcpy(p->locals, l, sizeof(l));
	p->n_acl = 1;
	p->acl = rte_zmalloc("fn_plan", sizeof(struct fn_acl) * 2, 64);
	p->reset_rs = rte_zmalloc("fn_plan", FN_MAX_RS / 8, 64);
	if (!p->acl || !p->reset_rs) {
		fn_plan_free(p);
		return NULL;
	}
	p->acl[0] = (struct fn_acl){.net = ip4(198, 18, 0, 0), .mask = htonl(0xfffffff0), .allow = 0};
	/* Sessions to real server id 1 (RS2:8080) are reset at their next packet (fn_reset_session). */
	p->reset_rs[0] = 1ULL << 1;
	/* Short timeouts: the table churns and the sweeper runs. tcp_established long for the live session. */
	const uint32_t to[FN_NTIMEOUTS] = {[FN_TO_TCP_SYN] = 1, [FN_TO_TCP_ESTABLISHED] = 3600, [FN_TO_TCP_FIN] = 1,
					   [FN_TO_TCP_TIME_WAIT] = 1, [FN_TO_TCP_CLOSE] = 1, [FN_TO_UDP] = 1};
	memcpy(p->timeouts_s, to, sizeof(to));
	p->half_open_max = 8;
	/* Time exceeded from each port's address; a small rate so both the
	 * answered and the rate-limited paths run. */
	p->icmp_rate = 5;
	/* Client-side frag needed below it is dropped (review M5): both paths run. */
	p->icmp_min_path_mtu = 1280;
	p->port_addr[0] = WAN_IP;
	p->port_addr[1] = LAN_IP;
	return p;
}

/* At exit: what the run reached, counter by counter (worker, then control thread). */
static void report(void)
{
	static const char *names[] = {
#define FN_X_NAME(n) #n,
		FN_COUNTERS(FN_X_NAME)
#undef FN_X_NAME
	};
	if (!fn_dp.started)
		return;
	for (unsigned b = 0; b < 2; b++) {
		fprintf(stderr, "fuzz_packet: %s counters:", b ? "control" : "worker");
		for (unsigned c = 0; c < FN_NCOUNTERS; c++)
			if (fn_dp.counters[b].v[c] && c != FN_C_busy_cycles)
				fprintf(stderr, " %s=%llu", names[c], (unsigned long long)fn_dp.counters[b].v[c]);
		fprintf(stderr, "\n");
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	selftest = getenv("FUZZ_PACKET_SELFTEST");
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=fnfuzz%d", (int)getpid());
	char *eal[] = {"fuzz_packet", "--no-huge", "-m", "256", "--no-shconf", prefix, "--no-pci", "-l", "0",
		       "--no-telemetry", "--log-level=lib.*:error", "--log-level=pmd.*:error", NULL};
	int n = (int)(sizeof(eal) / sizeof(eal[0])) - 1;
	if (rte_eal_init(n, eal) < 0) {
		fprintf(stderr, "fuzz_packet: rte_eal_init failed\n");
		exit(1);
	}
	struct fn_dp_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_ports = 2;
	const char *names[2] = {"wan", "lan"}, *devs[2] = {"fzwan", "fzlan"};
	const uint32_t addrs[2] = {WAN_IP, LAN_IP};
	for (unsigned i = 0; i < 2; i++) {
		snprintf(cfg.ports[i].name, sizeof(cfg.ports[i].name), "%s", names[i]);
		snprintf(cfg.ports[i].device, sizeof(cfg.ports[i].device), "%s", devs[i]);
		cfg.ports[i].is_ring = 1;
		cfg.ports[i].steering = FN_STEER_AUTO;
		cfg.ports[i].n_addrs = 1;
		cfg.ports[i].addrs[0] = addrs[i];
		cfg.ports[i].prefix[0] = 24;
	}
	cfg.n_workers = 1;
	cfg.worker_lcores[0] = 0;
	cfg.mbufs = 4095;
	cfg.rx_desc = 256;
	cfg.tx_desc = 256;
	cfg.sessions_max = 64;
	cfg.no_threads = 1;
	/* No per-lcore cache: every freed injected mbuf is counted back at once. */
	inject_pool = rte_pktmbuf_pool_create("fz_inject", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!inject_pool) {
		fprintf(stderr, "fuzz_packet: cannot create the injection pool\n");
		exit(1);
	}
	struct fn_plan *plan = make_plan();
	char err[256];
	if (!plan || fn_dp_start(&cfg, plan, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_packet: fn_dp_start: %s\n", plan ? err : "no plan");
		exit(1);
	}
	/* Neighbours resolved as the control thread would after ARP. */
	const struct fn_plan *p = fn_dp.plan;
	for (uint32_t i = 0; i < p->n_rs; i++)
		fn_neigh_set(p->rs[i].neigh, p->rs[i].ip == RS1 ? RS1_MAC : RS2_MAC);
	ctl_pass(1);
	fn_dp_poll();
	drain_and_check(-1);
	live_session();
	atexit(report);
	return 0;
}

/* The input with its IPv4 header checksum (and an ICMP message's checksum)
 * made right, so mutations reach past the checksum gate. Returns 0 when the
 * input is not IPv4 (nothing to repair). */
static int repair(uint8_t *f, size_t len)
{
	if (len < 34 || f[12] != 0x08 || f[13] != 0x00)
		return 0;
	uint8_t *ip = f + 14;
	size_t hl = (size_t)(ip[0] & 0xf) * 4, tot = (size_t)ip[2] << 8 | ip[3];
	if (hl < 20 || 14 + hl > len)
		return 0;
	if (ip[9] == 1 && !(ip[6] & 0x3f) && !ip[7] && tot >= hl + 4 && 14 + tot <= len) {
		ip[hl + 2] = ip[hl + 3] = 0;
		uint32_t s = sum16(ip + hl, tot - hl, 0);
		while (s >> 16)
			s = (s & 0xffff) + (s >> 16);
		ip[hl + 2] = (uint8_t)(~s >> 8);
		ip[hl + 3] = (uint8_t)~s;
	}
	ip[10] = ip[11] = 0;
	uint32_t s = sum16(ip, hl, 0);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	ip[10] = (uint8_t)(~s >> 8);
	ip[11] = (uint8_t)~s;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned runs;
	static uint8_t fixed[FZ_MAX_FRAME];
	if (size > FZ_MAX_FRAME)
		return -1; /* not a frame an mbuf holds: not interesting */
	if (++runs % 256 == 0)
		live_session();
	one_frame(0, data, size);
	one_frame(1, data, size);
	/* The same frame with its checksums repaired, on both ports. */
	memcpy(fixed, data, size);
	if (repair(fixed, size)) {
		one_frame(0, fixed, size);
		one_frame(1, fixed, size);
	}
	if (runs % 64 == 0) {
		ctl_pass(1); /* neighbour probes */
		fn_dp_poll();
		drain_and_check(-1);
		check_invariants();
	}
	return 0;
}
