/* The bench's second packet harness: a generator in a process of its own,
 * connected to the gateway's net_memif ports (role=server) as their client.
 * Unlike the in-process ring harness, generator and gateway share nothing but
 * the memif shared-memory rings, as a NIC and its host would.
 *
 *   fn_memif_gen FRAMES PACKETS RS_MAC -- EAL-ARGS
 *
 * FRAMES: u32 n_client, u32 n_server, then n_client + n_server frames, each
 * u16 length (little-endian) and the bytes. Port 0 is the gateway's client
 * side, port 1 its server side. Client frames go out of port 0, server frames
 * out of port 1, one burst each in turn, until PACKETS frames are sent; every
 * frame that comes back is counted and freed; ARP requests on port 1 are
 * answered as RS_MAC (the real server). With no server frames it sends the
 * client frames once each (setup: first datagrams create sessions).
 * Prints one JSON line: sent, received per port, TSC cycles, TSC rate. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#define BURST 32

static struct rte_mempool *pool;
static struct rte_ether_addr rs_mac;
static uint64_t arp_answered;

struct frames {
	uint32_t n;
	uint8_t **d;
	uint16_t *len;
};

static int read_frames(FILE *f, struct frames *fr, uint32_t n)
{
	fr->n = n;
	fr->d = calloc(n ? n : 1, sizeof(*fr->d));
	fr->len = calloc(n ? n : 1, sizeof(*fr->len));
	for (uint32_t i = 0; i < n; i++) {
		uint8_t l[2];
		if (fread(l, 1, 2, f) != 2)
			return -1;
		fr->len[i] = (uint16_t)(l[0] | l[1] << 8);
		fr->d[i] = malloc(fr->len[i]);
		if (fread(fr->d[i], 1, fr->len[i], f) != fr->len[i])
			return -1;
	}
	return 0;
}

/* An ARP request on the server side: answer it as the real server. */
static int arp_reply(struct rte_mbuf *m)
{
	struct rte_ether_hdr *e = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (rte_pktmbuf_data_len(m) < sizeof(*e) + sizeof(struct rte_arp_hdr) ||
	    e->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		return -1;
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(e + 1);
	if (a->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST))
		return -1;
	uint32_t ip = a->arp_data.arp_tip;
	a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	a->arp_data.arp_tha = a->arp_data.arp_sha;
	a->arp_data.arp_tip = a->arp_data.arp_sip;
	a->arp_data.arp_sha = rs_mac;
	a->arp_data.arp_sip = ip;
	e->dst_addr = e->src_addr;
	e->src_addr = rs_mac;
	return 0;
}

static uint64_t drain(uint16_t port, int answer_arp)
{
	struct rte_mbuf *m[BURST];
	uint16_t n = rte_eth_rx_burst(port, 0, m, BURST);
	uint64_t got = 0;
	for (uint16_t i = 0; i < n; i++) {
		if (answer_arp && arp_reply(m[i]) == 0 && rte_eth_tx_burst(port, 0, &m[i], 1) == 1) {
			arp_answered++;
			continue;
		}
		got++;
		rte_pktmbuf_free(m[i]);
	}
	return got;
}

/* Sends up to BURST frames from fr starting at *next; returns how many went. */
static uint16_t send_burst(uint16_t port, const struct frames *fr, uint32_t *next, uint32_t want)
{
	struct rte_mbuf *m[BURST];
	if (want > BURST)
		want = BURST;
	if (want == 0 || rte_pktmbuf_alloc_bulk(pool, m, want) != 0)
		return 0;
	uint32_t k = *next;
	for (uint32_t i = 0; i < want; i++) {
		memcpy(rte_pktmbuf_append(m[i], fr->len[k]), fr->d[k], fr->len[k]);
		k = k + 1 == fr->n ? 0 : k + 1;
	}
	uint16_t sent = rte_eth_tx_burst(port, 0, m, (uint16_t)want);
	if (sent < want)
		rte_pktmbuf_free_bulk(&m[sent], want - sent);
	for (uint16_t i = 0; i < sent; i++)
		*next = *next + 1 == fr->n ? 0 : *next + 1;
	return sent;
}

static int port_up(uint16_t port)
{
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(port, 0, 1024, rte_socket_id(), NULL, pool) != 0 ||
	    rte_eth_tx_queue_setup(port, 0, 1024, rte_socket_id(), NULL) != 0 || rte_eth_dev_start(port) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	int used = rte_eal_init(argc, argv);
	if (used < 0) {
		fprintf(stderr, "fn_memif_gen: EAL init failed\n");
		return 2;
	}
	argc -= used;
	argv += used;
	if (argc < 4 || rte_ether_unformat_addr(argv[3], &rs_mac) != 0) {
		fprintf(stderr, "usage: fn_memif_gen -- EAL-ARGS -- FRAMES PACKETS RS_MAC\n");
		return 2;
	}
	uint64_t packets = strtoull(argv[2], NULL, 10);
	FILE *f = fopen(argv[1], "rb");
	uint32_t counts[2];
	struct frames cl, sv;
	if (!f || fread(counts, 4, 2, f) != 2 || read_frames(f, &cl, counts[0]) || read_frames(f, &sv, counts[1])) {
		fprintf(stderr, "fn_memif_gen: cannot read %s\n", argv[1]);
		return 2;
	}
	fclose(f);
	if (rte_eth_dev_count_avail() < 2) {
		fprintf(stderr, "fn_memif_gen: needs two memif ports\n");
		return 2;
	}
	pool = rte_pktmbuf_pool_create("gen", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (!pool || port_up(0) || port_up(1)) {
		fprintf(stderr, "fn_memif_gen: port setup failed\n");
		return 2;
	}
	const uint64_t hz = rte_get_tsc_hz();
	/* memif connects asynchronously: wait for both links (10 s). */
	for (uint64_t end = rte_rdtsc() + 10 * hz; rte_rdtsc() < end;) {
		struct rte_eth_link l0, l1;
		rte_eth_link_get_nowait(0, &l0);
		rte_eth_link_get_nowait(1, &l1);
		if (l0.link_status && l1.link_status)
			break;
		rte_delay_ms(1);
	}
	uint64_t sent = 0, rx[2] = {0, 0};
	uint32_t nc = 0, ns = 0;
	uint64_t start = rte_rdtsc();
	if (sv.n == 0) {
		/* Setup: first the gateway must know the real server's MAC (its
		 * control thread asks by ARP), then every client frame once. */
		for (uint64_t end = rte_rdtsc() + 5 * hz; !arp_answered && rte_rdtsc() < end;)
			drain(1, 1);
		for (uint64_t end = rte_rdtsc() + hz / 50; rte_rdtsc() < end;)
			drain(1, 1);
		start = rte_rdtsc();
		while (sent < cl.n) {
			sent += send_burst(0, &cl, &nc, (uint32_t)(cl.n - sent));
			rx[0] += drain(0, 0);
			rx[1] += drain(1, 1);
		}
	} else {
		while (sent < packets) {
			sent += send_burst(0, &cl, &nc, (uint32_t)RTE_MIN(packets - sent, (uint64_t)BURST));
			sent += send_burst(1, &sv, &ns, (uint32_t)RTE_MIN(packets - sent, (uint64_t)BURST));
			rx[0] += drain(0, 0);
			rx[1] += drain(1, 1);
		}
	}
	uint64_t cycles = rte_rdtsc() - start;
	/* Until 20 ms pass with nothing coming back. */
	for (uint64_t quiet = rte_rdtsc(); rte_rdtsc() - quiet < hz / 50;) {
		uint64_t got = drain(0, 0);
		rx[0] += got;
		uint64_t got1 = drain(1, 1);
		rx[1] += got1;
		if (got || got1)
			quiet = rte_rdtsc();
	}
	printf("{\"arp_answered\":%" PRIu64 ",\"sent\":%" PRIu64 ",\"received\":[%" PRIu64 ",%" PRIu64 "],\"cycles\":%" PRIu64 ",\"tsc_hz\":%" PRIu64 "}\n",
	       arp_answered, sent, rx[0], rx[1], cycles, hz);
	fflush(stdout);
	rte_eth_dev_stop(0);
	rte_eth_dev_stop(1);
	rte_eal_cleanup();
	return 0;
}
