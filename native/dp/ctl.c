/* The control thread: the slow path that must not run in JS (GC pauses) nor
 * on a worker (latency). ARP replies and learning, ARP resolution of next
 * hops, gratuitous ARP for our addresses, ICMP echo for our addresses, the
 * kernel's exception path. It never touches sessions. */
#include <netinet/in.h>
#include <unistd.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_lcore.h>

#include "dp.h"
#include "neigh.h"
#include "plan.h"

#define CTL_PROBE_UNRESOLVED_MS 500
#define CTL_PROBE_RESOLVED_S 30
/* An ARP reply within this long of our request for its sender is its answer:
 * the only evidence that may change a resolved MAC. A different MAC announced
 * otherwise is ignored and makes us ask again, at most this often. */
#define CTL_PROBE_ANSWER_MS 1000
/* Slots of worker 0's from_ctl kept for ARP: echo replies and kernel frames
 * never take the last ones. */
#define CTL_ARP_RESERVE 64
/* Gratuitous ARP: rounds per plan generation, their spacing, and locals
 * announced per pass (so thousands of VIPs do not overrun from_ctl). */
#define CTL_GARP_ROUNDS 3
#define CTL_GARP_SPACING_MS 1000
#define CTL_GARP_PER_PASS 32

static struct fn_counters *ctr(void)
{
	return &fn_dp.counters[fn_dp.cfg.n_workers];
}

/* Frames leave through worker 0's queues: only workers own TX queues. ARP
 * answers and requests may use the whole ring; everything else leaves
 * CTL_ARP_RESERVE slots free for them. */
static void send_prio(struct rte_mbuf *m, unsigned pi, int arp)
{
	struct rte_ring *r = fn_dp.workers[0].from_ctl;
	m->port = (uint16_t)pi;
	if ((!arp && rte_ring_free_count(r) <= CTL_ARP_RESERVE) || rte_ring_sp_enqueue(r, m) != 0) {
		FN_COUNT(ctr(), drop_control_full);
		rte_pktmbuf_free(m);
	}
}

static void send_frame(struct rte_mbuf *m, unsigned pi)
{
	send_prio(m, pi, 0);
}

static void send_arp(struct rte_mbuf *m, unsigned pi)
{
	send_prio(m, pi, 1);
}

static uint32_t port_source_ip(unsigned pi, uint32_t target)
{
	const struct fn_port_cfg *pc = &fn_dp.cfg.ports[pi];
	for (uint32_t i = 0; i < pc->n_addrs; i++) {
		uint32_t mask = pc->prefix[i] ? rte_cpu_to_be_32(~0u << (32 - pc->prefix[i])) : 0;
		if ((pc->addrs[i] & mask) == (target & mask))
			return pc->addrs[i];
	}
	return pc->n_addrs ? pc->addrs[0] : 0;
}

/* A broadcast ARP request from port pi: who has tip, tell sip. */
static struct rte_mbuf *arp_request_frame(unsigned pi, uint32_t sip, uint32_t tip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(fn_dp.pool);
	if (!m)
		return NULL;
	const struct rte_ether_addr *mac = &fn_dp.ports[pi].mac;
	const uint16_t len = RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN;  /* padded minimum frame */
	uint8_t *frame = (uint8_t *)rte_pktmbuf_append(m, len);
	if (frame == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(frame, 0, len);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)frame;
	memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	rte_ether_addr_copy(mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	rte_ether_addr_copy(mac, &a->arp_data.arp_sha);
	a->arp_data.arp_sip = sip;
	a->arp_data.arp_tip = tip;
	return m;
}

static void arp_request(struct fn_neigh *n, uint64_t now)
{
	struct rte_mbuf *m = arp_request_frame(n->port_idx, port_source_ip(n->port_idx, n->ip), n->ip);
	if (!m)
		return;
	n->probed = now;
	FN_COUNT(ctr(), arp_requests);
	send_arp(m, n->port_idx);
}

/* Gratuitous ARP (sender = target = the address, broadcast) for every local
 * address on each port it is answered on, CTL_GARP_ROUNDS rounds after each
 * new plan generation: at start and after a reload, switches and peers learn
 * at once where our addresses are (an active/standby failover does not wait
 * for their ARP entries to expire). Paced: CTL_GARP_PER_PASS locals a pass. */
static void announce(const struct fn_plan *plan, uint64_t now)
{
	if (plan->gen != fn_dp.garp.gen) {
		fn_dp.garp.gen = plan->gen;
		fn_dp.garp.rounds_left = CTL_GARP_ROUNDS;
		fn_dp.garp.cursor = UINT32_MAX;
		fn_dp.garp.next_tsc = now;
	}
	if (fn_dp.garp.cursor == UINT32_MAX) {
		if (fn_dp.garp.rounds_left == 0 || now < fn_dp.garp.next_tsc)
			return;
		fn_dp.garp.rounds_left--;
		fn_dp.garp.cursor = 0;
		fn_dp.garp.next_tsc = now + rte_get_tsc_hz() * CTL_GARP_SPACING_MS / 1000;
	}
	uint32_t end = RTE_MIN(plan->n_locals, fn_dp.garp.cursor + CTL_GARP_PER_PASS);
	for (uint32_t i = fn_dp.garp.cursor; i < end; i++) {
		const struct fn_local *l = &plan->locals[i];
		for (unsigned pi = 0; pi < fn_dp.cfg.n_ports; pi++) {
			if (!(l->arp_ports & (1u << pi)))
				continue;
			struct rte_mbuf *m = arp_request_frame(pi, l->ip, l->ip);
			if (!m)
				continue;
			FN_COUNT(ctr(), arp_gratuitous);
			send_frame(m, pi);
		}
	}
	fn_dp.garp.cursor = end == plan->n_locals ? UINT32_MAX : end;
}

static void probe_neighbours(uint64_t now)
{
	uint64_t hz = rte_get_tsc_hz();
	uint32_t n = __atomic_load_n(&fn_neighs.n, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n; i++) {
		struct fn_neigh *e = &fn_neighs.e[i];
		if (now < e->next_probe)
			continue;
		int resolved = __atomic_load_n(&e->mac, __ATOMIC_RELAXED) & FN_NEIGH_VALID ? 1 : 0;
		e->next_probe = now + (resolved ? CTL_PROBE_RESOLVED_S * hz : CTL_PROBE_UNRESOLVED_MS * hz / 1000);
		arp_request(e, now);
	}
}

/* Hand a frame to the kernel interface of port pi (ctl owns its TX queue). */
static void to_kernel(struct rte_mbuf *m, unsigned pi)
{
	struct fn_port_rt *p = &fn_dp.ports[pi];
	if (!p->tap_up || rte_eth_tx_burst(p->tap_id, 0, &m, 1) != 1) {
		FN_COUNT(ctr(), drop_unsupported);
		rte_pktmbuf_free(m);
		return;
	}
	FN_COUNT(ctr(), to_kernel);
}

/* ARP (sender MAC already checked) from next hop i. An unresolved next hop
 * takes the first MAC it announces. A resolved one changes its MAC only on
 * the answer to our own request (a reply to us within CTL_PROBE_ANSWER_MS
 * of it); an unsolicited or gratuitous ARP with another MAC changes nothing
 * but makes us ask, so a server that really moved is followed within one
 * round trip, and a forger has to win a race against it each time. */
static void learn(uint32_t i, const struct rte_arp_hdr *a, unsigned pi, uint64_t now)
{
	struct fn_neigh *e = &fn_neighs.e[i];
	const uint8_t *mac = a->arp_data.arp_sha.addr_bytes;
	uint64_t cur = fn_neigh_word(i);
	const uint64_t window = rte_get_tsc_hz() * CTL_PROBE_ANSWER_MS / 1000;
	int answer = a->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REPLY) && e->probed && now - e->probed < window &&
		     rte_is_same_ether_addr(&a->arp_data.arp_tha, &fn_dp.ports[pi].mac);
	if (answer)
		e->probed = 0;  /* one answer per request */
	if (!(cur & FN_NEIGH_VALID)) {
		if (fn_neigh_set(i, mac))
			FN_COUNT(ctr(), arp_learned);
		return;
	}
	if (memcmp(&cur, mac, RTE_ETHER_ADDR_LEN) == 0)
		return;
	if (answer) {
		fn_neigh_set(i, mac);
		FN_COUNT(ctr(), arp_learned);
		FN_COUNT(ctr(), arp_mac_changed);
		return;
	}
	FN_COUNT(ctr(), arp_mac_unconfirmed);
	if (!e->probed || now - e->probed >= window)
		arp_request(e, now);
}

static void handle_arp(const struct fn_plan *plan, struct rte_mbuf *m, unsigned pi, uint64_t now)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
	if (rte_pktmbuf_data_len(m) < sizeof(*eth) + sizeof(*a) ||
	    a->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    a->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || a->arp_hlen != 6 || a->arp_plen != 4) {
		FN_COUNT(ctr(), drop_malformed);
		rte_pktmbuf_free(m);
		return;
	}
	/* No station sends from a group or zero address, and a host's own ARP
	 * carries its own MAC as the Ethernet source: anything else is forged
	 * or broken, and learning it would flood or divert a server's traffic. */
	const struct rte_ether_addr *sha = &a->arp_data.arp_sha;
	if (!rte_is_unicast_ether_addr(sha) || rte_is_zero_ether_addr(sha) ||
	    !rte_is_same_ether_addr(sha, &eth->src_addr)) {
		FN_COUNT(ctr(), arp_rejected);
		rte_pktmbuf_free(m);
		return;
	}
	uint32_t n = __atomic_load_n(&fn_neighs.n, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n; i++)
		if (fn_neighs.e[i].ip == a->arp_data.arp_sip && fn_neighs.e[i].port_idx == pi)
			learn(i, a, pi, now);

	/* The kernel resolves its own next hops (health checks): show it replies. */
	if (a->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REPLY) && fn_dp.ports[pi].tap_up) {
		to_kernel(m, pi);
		return;
	}
	const struct fn_local *l = fn_plan_local(plan, a->arp_data.arp_tip);
	if (a->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) || !l || !(l->arp_ports & (1u << pi))) {
		if (a->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REQUEST))
			FN_COUNT(ctr(), drop_unsupported);
		rte_pktmbuf_free(m);
		return;
	}
	/* Answer in place: the request becomes the reply. */
	const struct rte_ether_addr *mac = &fn_dp.ports[pi].mac;
	uint32_t tip = a->arp_data.arp_tip;
	a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	a->arp_data.arp_tha = a->arp_data.arp_sha;
	a->arp_data.arp_tip = a->arp_data.arp_sip;
	rte_ether_addr_copy(mac, &a->arp_data.arp_sha);
	a->arp_data.arp_sip = tip;
	eth->dst_addr = eth->src_addr;
	rte_ether_addr_copy(mac, &eth->src_addr);
	FN_COUNT(ctr(), arp_replies);
	send_arp(m, pi);
}

/* Frames the kernel sends leave through the port its interface stands for. */
static unsigned from_kernel(void)
{
	struct rte_mbuf *pkts[FN_BURST];
	unsigned total = 0;
	for (unsigned pi = 0; pi < fn_dp.cfg.n_ports; pi++) {
		if (!fn_dp.ports[pi].tap_up)
			continue;
		uint16_t n = rte_eth_rx_burst(fn_dp.ports[pi].tap_id, 0, pkts, FN_BURST);
		for (uint16_t i = 0; i < n; i++)
			send_frame(pkts[i], pi);
		FN_COUNT_N(ctr(), from_kernel, n);
		total += n;
	}
	return total;
}

/* IPv4 for one of our addresses: ICMP echo is answered here, the rest (the
 * gateway's own connections, ICMP errors for them) belongs to the kernel. */
static void handle_ip(const struct fn_plan *plan, struct rte_mbuf *m, unsigned pi)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	/* The worker validated the IPv4 header; check the ICMP part here. */
	uint16_t hl = (ip->version_ihl & 0xf) * 4;
	uint16_t len = rte_be_to_cpu_16(ip->total_length) - hl;
	struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)((uint8_t *)ip + hl);
	int echo = ip->next_proto_id == IPPROTO_ICMP && len >= sizeof(*ic) &&
		   ic->icmp_type == RTE_IP_ICMP_ECHO_REQUEST && ic->icmp_code == 0;
	if (!echo || rte_raw_cksum(ic, len) != 0xffff) {
		const struct fn_local *l = fn_plan_local(plan, ip->dst_addr);
		if (!echo && l && (l->flags & FN_LOCAL_KERNEL)) {
			to_kernel(m, pi);
			return;
		}
		FN_COUNT(ctr(), drop_unsupported);
		rte_pktmbuf_free(m);
		return;
	}
	ic->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	ic->icmp_cksum = 0;
	ic->icmp_cksum = ~rte_raw_cksum(ic, len);
	uint32_t src = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = src;
	ip->time_to_live = 64;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	struct rte_ether_addr d = eth->src_addr;
	eth->dst_addr = d;
	rte_ether_addr_copy(&fn_dp.ports[pi].mac, &eth->src_addr);
	FN_COUNT(ctr(), icmp_echo_replies);
	send_frame(m, pi);
}

unsigned fn_ctl_poll_once(uint64_t *next_probe)
{
	struct rte_mbuf *pkts[FN_BURST];
	const struct fn_plan *plan = __atomic_load_n(&fn_dp.plan, __ATOMIC_ACQUIRE);
	unsigned did = 0;
	uint64_t now = rte_rdtsc();
	/* ARP first, from its own rings: a flood on to_ctl cannot delay it. */
	for (unsigned wi = 0; wi < fn_dp.cfg.n_workers; wi++) {
		unsigned n = rte_ring_sc_dequeue_burst(fn_dp.workers[wi].to_ctl_arp, (void **)pkts, FN_BURST, NULL);
		did += n;
		for (unsigned i = 0; i < n; i++)
			handle_arp(plan, pkts[i], fn_dp.port_idx_of[pkts[i]->port], now);
	}
	for (unsigned wi = 0; wi < fn_dp.cfg.n_workers; wi++) {
		unsigned n = rte_ring_sc_dequeue_burst(fn_dp.workers[wi].to_ctl, (void **)pkts, FN_BURST, NULL);
		did += n;
		for (unsigned i = 0; i < n; i++)
			handle_ip(plan, pkts[i], fn_dp.port_idx_of[pkts[i]->port]);
	}
	did += from_kernel();
	announce(plan, now);
	now = rte_rdtsc();
	if (now >= *next_probe) {
		probe_neighbours(now);
		*next_probe = now + rte_get_tsc_hz() / 20;
	}
	return did;
}

void *fn_ctl_main(void *arg)
{
	(void)arg;
	const unsigned tid = fn_dp.cfg.n_workers;
	uint64_t next_probe = 0;

	/* A registered non-EAL thread gets an lcore id: mempool caches work. */
	rte_thread_register();
	rte_rcu_qsbr_thread_online(fn_dp.rcu, tid);
	while (__atomic_load_n(&fn_dp.running, __ATOMIC_ACQUIRE)) {
		unsigned did = fn_ctl_poll_once(&next_probe);
		rte_rcu_qsbr_quiescent(fn_dp.rcu, tid);
		if (!did)
			usleep(500);
	}
	rte_rcu_qsbr_thread_offline(fn_dp.rcu, tid);
	rte_thread_unregister();
	return NULL;
}
