/* Port bring-up: one RX and one TX queue per worker on every port, from a
 * single mbuf pool. Ring ports are created here from our own rings. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_bus_vdev.h>
#include <rte_dev.h>

#include "dp.h"
#include "hashkey.h"
#include "steer.h"

#define RING_PORT_SIZE 8192

#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		return -1;                          \
	} while (0)

static int ring_port_create(unsigned pi, char *err, size_t errlen)
{
	struct fn_port_rt *p = &fn_dp.ports[pi];
	const struct fn_port_cfg *pc = &fn_dp.cfg.ports[pi];
	unsigned nq = fn_dp.cfg.n_workers;
	char name[RTE_RING_NAMESIZE];
	for (unsigned q = 0; q < nq; q++) {
		snprintf(name, sizeof(name), "fn_p%u_rx%u", pi, q);
		p->rx[q] = rte_ring_create(name, RING_PORT_SIZE, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "fn_p%u_tx%u", pi, q);
		p->tx[q] = rte_ring_create(name, RING_PORT_SIZE, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!p->rx[q] || !p->tx[q])
			FAIL("port %s: cannot create rings: %s", pc->name, rte_strerror(rte_errno));
	}
	int id = rte_eth_from_rings(pc->device, p->rx, nq, p->tx, nq, (unsigned)rte_socket_id());
	if (id < 0)
		FAIL("port %s: cannot create ring port '%s': %s", pc->name, pc->device, rte_strerror(rte_errno));
	p->port_id = (uint16_t)id;
	return 0;
}

static int port_setup(unsigned pi, char *err, size_t errlen)
{
	struct fn_port_rt *p = &fn_dp.ports[pi];
	const struct fn_port_cfg *pc = &fn_dp.cfg.ports[pi];
	uint16_t nq = (uint16_t)fn_dp.cfg.n_workers;
	struct rte_eth_dev_info info;
	int rc;

	if (pc->is_ring) {
		if (ring_port_create(pi, err, errlen))
			return -1;
	} else if (rte_eth_dev_get_port_by_name(pc->device, &p->port_id) != 0) {
		FAIL("port %s: no DPDK device named '%s' (was it probed? for a vdev check the driver name "
		     "and its arguments, for PCI that the device is bound to a DPDK driver)",
		     pc->name, pc->device);
	}
	if ((rc = rte_eth_dev_info_get(p->port_id, &info)) != 0)
		FAIL("port %s: cannot query device: %s", pc->name, rte_strerror(-rc));
	/* Memory where the device is: RX buffers on the port's NUMA node. */
	p->socket = rte_eth_dev_socket_id(p->port_id);
	if (p->socket < 0 || p->socket >= RTE_MAX_NUMA_NODES)
		p->socket = (int)rte_socket_id();
	if (!fn_dp.node_pool[p->socket]) {
		char name[RTE_MEMPOOL_NAMESIZE];
		snprintf(name, sizeof(name), "fn_mbufs_n%d", p->socket);
		fn_dp.node_pool[p->socket] = rte_pktmbuf_pool_create(name, fn_dp.cfg.mbufs, 256, 0,
								      RTE_MBUF_DEFAULT_BUF_SIZE, p->socket);
		if (!fn_dp.node_pool[p->socket])
			FAIL("port %s: cannot allocate %u mbufs on NUMA node %d: %s", pc->name, fn_dp.cfg.mbufs,
			     p->socket, rte_strerror(rte_errno));
	}
	p->pool = fn_dp.node_pool[p->socket];
	if (info.max_rx_queues < nq || info.max_tx_queues < nq)
		FAIL("port %s: %u workers need %u RX and TX queues, device '%s' (%s) offers %u RX / %u TX%s",
		     pc->name, nq, nq, pc->device, info.driver_name, info.max_rx_queues, info.max_tx_queues,
		     strncmp(info.driver_name, "net_af_packet", 13) == 0 ? " (add qpairs=N to the vdev)" : "");

	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	/* Client flows must reach the same worker every time: RSS where the
	 * port hashes (the RETA then covers exactly our nq queues). */
	if (nq == 1)
		snprintf(p->spreading, sizeof(p->spreading), "none needed (one worker)");
	else if (info.flow_type_rss_offloads) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
		/* The PMDs' default Toeplitz keys are public: with one, anyone can
		 * aim all their flows at one worker. A random key, this port's
		 * size; the device keeps pointing at it (p->rss_key). */
		if (info.hash_key_size && info.hash_key_size <= sizeof(p->rss_key)) {
			if (fn_random_bytes(p->rss_key, info.hash_key_size) != 0)
				FAIL("port %s: cannot draw an RSS key: %s", pc->name, strerror(errno));
			conf.rx_adv_conf.rss_conf.rss_key = p->rss_key;
			conf.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size;
			snprintf(p->spreading, sizeof(p->spreading), "rss over %u queues, random key", nq);
		} else {
			snprintf(p->spreading, sizeof(p->spreading), "rss over %u queues, the device's own key (size %u)",
				 nq, info.hash_key_size);
		}
	} else if (strncmp(info.driver_name, "net_af_packet", 13) == 0)
		snprintf(p->spreading, sizeof(p->spreading), "kernel packet fanout (flow hash) over %u queues", nq);
	else if (pc->is_ring)
		snprintf(p->spreading, sizeof(p->spreading), "none: ring port, the sender picks the queue");
	else
		snprintf(p->spreading, sizeof(p->spreading), "none: %s offers no RSS, clients all land on worker 0",
			 info.driver_name);
	if ((rc = rte_eth_dev_configure(p->port_id, nq, nq, &conf)) != 0)
		FAIL("port %s: configure failed: %s", pc->name, rte_strerror(-rc));
	uint16_t nrx = fn_dp.cfg.rx_desc, ntx = fn_dp.cfg.tx_desc;
	if ((rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nrx, &ntx)) != 0)
		FAIL("port %s: descriptor counts rejected: %s", pc->name, rte_strerror(-rc));
	int socket = p->socket;
	for (uint16_t q = 0; q < nq; q++) {
		if ((rc = rte_eth_rx_queue_setup(p->port_id, q, nrx, (unsigned)socket, NULL, p->pool)) != 0)
			FAIL("port %s: RX queue %u setup failed: %s", pc->name, q, rte_strerror(-rc));
		if ((rc = rte_eth_tx_queue_setup(p->port_id, q, ntx, (unsigned)socket, NULL)) != 0)
			FAIL("port %s: TX queue %u setup failed: %s", pc->name, q, rte_strerror(-rc));
	}
	if ((rc = rte_eth_dev_start(p->port_id)) != 0)
		FAIL("port %s: start failed: %s", pc->name, rte_strerror(-rc));
	p->up = 1;
	if (pc->is_ring) {
		/* The ring PMD has an all-zero MAC it cannot change: use a stable,
		 * locally administered one (02:66:6e = "fn"); nothing filters on it. */
		struct rte_ether_addr mac = {{0x02, 0x66, 0x6e, 0x00, 0x00, (uint8_t)pi}};
		p->mac = mac;
	} else {
		rte_eth_macaddr_get(p->port_id, &p->mac);
	}
	fn_dp.port_idx_of[p->port_id] = (uint8_t)pi;
	return 0;
}

/* The exception path: a tap interface with the port's MAC, so the kernel on
 * the gateway can talk through the port (health checks, management). Its
 * single queue pair is used by the control thread only. */
static int kernel_if_setup(unsigned pi, char *err, size_t errlen)
{
	struct fn_port_rt *p = &fn_dp.ports[pi];
	const struct fn_port_cfg *pc = &fn_dp.cfg.ports[pi];
	const uint8_t *m = p->mac.addr_bytes;
	char name[RTE_DEV_NAME_MAX_LEN], args[256];
	int rc;

	snprintf(name, sizeof(name), "net_tap_fn%u", pi);
	snprintf(args, sizeof(args), "%s,iface=%s,mac=%02x:%02x:%02x:%02x:%02x:%02x", name, pc->kernel_if, m[0], m[1],
		 m[2], m[3], m[4], m[5]);
	if ((rc = rte_dev_probe(args)) != 0 || rte_eth_dev_get_port_by_name(name, &p->tap_id) != 0)
		FAIL("port %s: cannot create kernel interface %s: %s (needs root and /dev/net/tun; "
		     "or set kernel_interface: false)", pc->name, pc->kernel_if, rte_strerror(rc < 0 ? -rc : rte_errno));
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if ((rc = rte_eth_dev_configure(p->tap_id, 1, 1, &conf)) != 0 ||
	    (rc = rte_eth_rx_queue_setup(p->tap_id, 0, 512, (unsigned)rte_socket_id(), NULL, fn_dp.pool)) != 0 ||
	    (rc = rte_eth_tx_queue_setup(p->tap_id, 0, 512, (unsigned)rte_socket_id(), NULL)) != 0 ||
	    (rc = rte_eth_dev_start(p->tap_id)) != 0) {
		rte_vdev_uninit(name);
		FAIL("port %s: kernel interface %s: %s", pc->name, pc->kernel_if, rte_strerror(-rc));
	}
	p->tap_up = 1;
	return 0;
}

int fn_ports_start(char *err, size_t errlen)
{
	/* The main lcore's node gets the pool everyone shares unless a port
	 * lives elsewhere (then that node gets its own, see port_setup). */
	fn_dp.pool = rte_pktmbuf_pool_create("fn_mbufs", fn_dp.cfg.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					     (int)rte_socket_id());
	fn_dp.node_pool[rte_socket_id() < RTE_MAX_NUMA_NODES ? rte_socket_id() : 0] = fn_dp.pool;
	if (!fn_dp.pool)
		FAIL("cannot allocate %u mbufs (%u MiB): %s; raise dpdk.memory_mb or lower dpdk.mbufs",
		     fn_dp.cfg.mbufs, (unsigned)(((uint64_t)fn_dp.cfg.mbufs * 2432) >> 20),
		     rte_strerror(rte_errno));
	for (unsigned pi = 0; pi < fn_dp.cfg.n_ports; pi++)
		if (port_setup(pi, err, errlen) || fn_steer_port(pi, err, errlen) ||
		    (fn_dp.cfg.ports[pi].kernel_if[0] && kernel_if_setup(pi, err, errlen)))
			return -1;
	return 0;
}

void fn_ports_stop(void)
{
	for (unsigned pi = 0; pi < fn_dp.cfg.n_ports; pi++) {
		struct fn_port_rt *p = &fn_dp.ports[pi];
		if (p->up) {
			fn_steer_port_release(pi);
			rte_eth_dev_stop(p->port_id);
			rte_eth_dev_close(p->port_id);
			p->up = 0;
		}
		if (p->tap_up) {
			char name[RTE_DEV_NAME_MAX_LEN];
			rte_eth_dev_stop(p->tap_id);
			rte_eth_dev_close(p->tap_id);
			snprintf(name, sizeof(name), "net_tap_fn%u", pi);
			rte_vdev_uninit(name);
			p->tap_up = 0;
		}
		if (fn_dp.cfg.ports[pi].is_ring && p->rx[0]) {
			/* rte_eth_from_rings registered a vdev "net_ring_<name>": release
			 * the name so the same ring port can be created again. */
			char vname[RTE_DEV_NAME_MAX_LEN];
			snprintf(vname, sizeof(vname), "net_ring_%s", fn_dp.cfg.ports[pi].device);
			rte_vdev_uninit(vname);
		}
		for (unsigned q = 0; q < fn_dp.cfg.n_workers; q++) {
			struct rte_mbuf *m;
			while (p->rx[q] && rte_ring_dequeue(p->rx[q], (void **)&m) == 0)
				rte_pktmbuf_free(m);
			while (p->tx[q] && rte_ring_dequeue(p->tx[q], (void **)&m) == 0)
				rte_pktmbuf_free(m);
			rte_ring_free(p->rx[q]);
			rte_ring_free(p->tx[q]);
			p->rx[q] = p->tx[q] = NULL;
		}
	}
	for (unsigned n = 0; n < RTE_MAX_NUMA_NODES; n++) {
		if (fn_dp.node_pool[n] != fn_dp.pool)
			rte_mempool_free(fn_dp.node_pool[n]);
		fn_dp.node_pool[n] = NULL;
	}
	rte_mempool_free(fn_dp.pool);
	fn_dp.pool = NULL;
}
