/* The control thread: the slow path that must not run in JS (GC pauses) nor
 * on a worker (latency). ARP replies and learning, ARP resolution of next
 * hops, ICMP echo for our addresses. It never touches sessions. */
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

static struct fn_counters *ctr(void)
{
	return &fn_dp.counters[fn_dp.cfg.n_workers];
}

/* Frames leave through worker 0's queues: only workers own TX queues. */
static void send_frame(struct rte_mbuf *m, unsigned pi)
{
	m->port = (uint16_t)pi;
	if (rte_ring_sp_enqueue(fn_dp.workers[0].from_ctl, m) != 0) {
		FN_COUNT(ctr(), drop_control_full);
		rte_pktmbuf_free(m);
	}
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

static void arp_request(const struct fn_neigh *n)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(fn_dp.pool);
	if (!m)
		return;
	const struct rte_ether_addr *mac = &fn_dp.ports[n->port_idx].mac;
	const uint16_t len = RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN;  /* padded minimum frame */
	uint8_t *frame = (uint8_t *)rte_pktmbuf_append(m, len);
	if (frame == NULL) {
		rte_pktmbuf_free(m);
		return;
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
	a->arp_data.arp_sip = port_source_ip(n->port_idx, n->ip);
	a->arp_data.arp_tip = n->ip;
	FN_COUNT(ctr(), arp_requests);
	send_frame(m, n->port_idx);
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
		arp_request(e);
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

static void handle_arp(const struct fn_plan *plan, struct rte_mbuf *m, unsigned pi)
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
	/* Learn from any ARP (request or reply) sent by one of our next hops. */
	uint32_t n = __atomic_load_n(&fn_neighs.n, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n; i++)
		if (fn_neighs.e[i].ip == a->arp_data.arp_sip && fn_neighs.e[i].port_idx == pi &&
		    fn_neigh_set(i, a->arp_data.arp_sha.addr_bytes))
			FN_COUNT(ctr(), arp_learned);

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
	send_frame(m, pi);
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
	for (unsigned wi = 0; wi < fn_dp.cfg.n_workers; wi++) {
		unsigned n = rte_ring_sc_dequeue_burst(fn_dp.workers[wi].to_ctl, (void **)pkts, FN_BURST, NULL);
		did += n;
		for (unsigned i = 0; i < n; i++) {
			unsigned pi = fn_dp.port_idx_of[pkts[i]->port];
			struct rte_ether_hdr *eth = rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);
			if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
				handle_arp(plan, pkts[i], pi);
			else
				handle_ip(plan, pkts[i], pi);
		}
	}
	did += from_kernel();
	uint64_t now = rte_rdtsc();
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
