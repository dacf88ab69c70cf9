/* Data-plane lifecycle and the read-only queries the binding makes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <rte_mbuf_dyn.h>

#include "dp.h"
#include "hashkey.h"
#include "neigh.h"
#include "persist.h"
#include "plan.h"
#include "synproxy.h"

struct fn_dp fn_dp;
/* Counters outlive a stop so the final figures can still be read. Both main:
 * w at start; the array's entries are written by their thread (fn_dp.counters),
 * read by main (relaxed). */
static struct fn_counters *counters_keep;
static unsigned counters_n;

#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		goto fail;                          \
	} while (0)

static void workers_free(void)
{
	for (unsigned i = 0; fn_dp.workers && i < fn_dp.cfg.n_workers; i++) {
		struct fn_worker *w = &fn_dp.workers[i];
		struct rte_mbuf *m;
		for (unsigned pi = 0; pi < FN_MAX_PORTS; pi++)
			rte_pktmbuf_free_bulk(w->txb[pi].m, w->txb[pi].n);
		while (w->to_ctl && rte_ring_dequeue(w->to_ctl, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		while (w->from_ctl && rte_ring_dequeue(w->from_ctl, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		while (w->to_ctl_arp && rte_ring_dequeue(w->to_ctl_arp, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(w->to_ctl_arp);
		while (w->redirect && rte_ring_dequeue(w->redirect, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		/* hand-on ring */
		while (w->hand_on && rte_ring_dequeue(w->hand_on, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(w->hand_on);
		rte_ring_free(w->to_ctl);
		rte_ring_free(w->from_ctl);
		rte_ring_free(w->redirect);
		fn_sp_free(w);
		fn_sess_fini(&w->sess);
		fn_half_open_fini(&w->half_open_q);
		fn_clients_fini(&w->clients);
		fn_lports_fini(&w->lports);
		rte_free(w->rs_active);
		rte_free(w->rs_created);
		rte_free(w->svc_active);
		rte_free(w->rs_live);
		rte_free(w->svc_lport_exhausted);
	}
	rte_free(fn_dp.workers);
	fn_dp.workers = NULL;
}

static int workers_init(char *err, size_t errlen)
{
	const struct fn_dp_cfg *c = &fn_dp.cfg;
	fn_dp.workers = rte_zmalloc("fn_workers", sizeof(struct fn_worker) * c->n_workers, 64);
	if (!fn_dp.workers) {
		snprintf(err, errlen, "out of memory for worker state");
		return -1;
	}
	for (unsigned i = 0; i < c->n_workers; i++) {
		struct fn_worker *w = &fn_dp.workers[i];
		char name[RTE_RING_NAMESIZE];
		w->idx = i;
		w->lcore = c->worker_lcores[i];
		w->ctr = &fn_dp.counters[i];
		int socket = (int)rte_lcore_to_socket_id(w->lcore);
		if (fn_sess_init(&w->sess, c->sessions_max, socket) != 0) {
			/* What fn_sess_init takes per session (fn_consts.h's figures). */
			uint64_t mib = ((uint64_t)c->sessions_max *
					(FN_BYTES_SESSION + FN_BYTES_HASH_BUCKETS + FN_BYTES_FREE_LIST)) >> 20;
			snprintf(err, errlen,
				 "cannot allocate the session table of worker %u: %u sessions need about %llu MiB; "
				 "raise dpdk.memory_mb or lower sessions.max",
				 i, c->sessions_max, (unsigned long long)mib + 1);
			return -1;
		}
		if (fn_half_open_init(&w->half_open_q, c->sessions_max, socket) != 0) {
			snprintf(err, errlen, "out of memory for the half-open queue");
			return -1;
		}
		if (fn_clients_init(&w->clients, c->sessions_max, socket) != 0) {
			snprintf(err, errlen, "out of memory for the per-client session table");
			return -1;
		}
		if (fn_sp_alloc(w, socket) != 0) {
			snprintf(err, errlen, "out of memory for SYN proxy state (%u sessions)", c->sessions_max);
			return -1;
		}
		if (fn_lports_init(&w->lports, i, c->n_workers, socket) != 0) {
			snprintf(err, errlen, "out of memory for local port pools");
			return -1;
		}
		w->rs_active = rte_zmalloc_socket("fn_rs_active", sizeof(int32_t) * FN_MAX_RS, 64, socket);
		w->rs_created = rte_zmalloc_socket("fn_rs_created", sizeof(uint64_t) * FN_MAX_RS, 64, socket);
		w->svc_active = rte_zmalloc_socket("fn_svc_active", sizeof(int32_t) * FN_MAX_SVC, 64, socket);
		w->rs_live = rte_zmalloc_socket("fn_rs_live", sizeof(int32_t) * FN_MAX_RS, 64, socket);
		w->svc_lport_exhausted = rte_zmalloc_socket("fn_svc_exh", sizeof(uint64_t) * FN_MAX_SVC, 64, socket);
		if (!w->rs_active || !w->rs_created || !w->svc_active || !w->svc_lport_exhausted || !w->rs_live) {
			snprintf(err, errlen, "out of memory for per-server counters");
			return -1;
		}
		snprintf(name, sizeof(name), "fn_toctl%u", i);
		w->to_ctl = rte_ring_create(name, 1024, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "fn_fromctl%u", i);
		w->from_ctl = rte_ring_create(name, 1024, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "fn_redirect%u", i);
		w->redirect = rte_ring_create(name, 4096, socket, RING_F_SC_DEQ);
		if (!w->to_ctl || !w->from_ctl || !w->redirect) {
			snprintf(err, errlen, "cannot create control rings: %s", rte_strerror(rte_errno));
			return -1;
		}
		/* hand-on ring: apart from redirect, so that frames going round the
		 * workers never take the room of replies redirected to their owner. */
		snprintf(name, sizeof(name), "fn_handon%u", i);
		w->hand_on = rte_ring_create(name, 1024, socket, RING_F_SC_DEQ);
		if (!w->hand_on) {
			snprintf(err, errlen, "cannot create the hand-on ring: %s", rte_strerror(rte_errno));
			return -1;
		}
		/* ARP's own small ring (review M1): answered even while to_ctl is full. */
		snprintf(name, sizeof(name), "fn_toctlarp%u", i);
		w->to_ctl_arp = rte_ring_create(name, 256, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!w->to_ctl_arp) {
			snprintf(err, errlen, "cannot create the ARP control ring: %s", rte_strerror(rte_errno));
			return -1;
		}
	}
	return 0;
}

int fn_dp_start(const struct fn_dp_cfg *cfg, struct fn_plan *plan, char *err, size_t errlen)
{
	if (fn_dp.started) {
		snprintf(err, errlen, "data plane already running");
		fn_plan_free(plan);
		return -1;
	}
	memset(&fn_dp, 0, sizeof(fn_dp));
	fn_dp.cfg = *cfg;
	fn_dp.plan = plan;
	if (cfg->n_workers == 0 || cfg->n_workers > FN_MAX_WORKERS || cfg->n_ports == 0 ||
	    cfg->n_ports > FN_MAX_PORTS || cfg->sessions_max == 0)
		FAIL("bad data-plane configuration (%u workers, %u ports)", cfg->n_workers, cfg->n_ports);
	for (unsigned i = 0; i < cfg->n_workers && !cfg->no_threads; i++) {
		unsigned lc = cfg->worker_lcores[i];
		if (lc >= RTE_MAX_LCORE || !rte_lcore_is_enabled(lc) || lc == rte_get_main_lcore())
			FAIL("worker lcore %u is not an enabled worker lcore of this EAL", lc);
	}

	free(counters_keep);
	counters_n = cfg->n_workers + 1;
	counters_keep = aligned_alloc(64, sizeof(struct fn_counters) * counters_n);
	if (!counters_keep)
		FAIL("out of memory");
	memset(counters_keep, 0, sizeof(struct fn_counters) * counters_n);
	fn_dp.counters = counters_keep;

	/* Before the first plan: its service table is laid out with them. */
	if (fn_hash_keys_init() != 0)
		FAIL("cannot draw the hash keys: %s", strerror(errno));
	if (fn_plan_build(plan, cfg->n_workers, cfg->n_ports, err, errlen) != 0)
		goto fail;
	plan->gen = ++fn_dp.plan_gen;
	if (fn_ports_start(err, errlen) != 0)
		goto fail;
	size_t rsz = rte_rcu_qsbr_get_memsize(cfg->n_workers + 1);
	fn_dp.rcu = rte_zmalloc("fn_rcu", rsz, RTE_CACHE_LINE_SIZE);
	if (!fn_dp.rcu || rte_rcu_qsbr_init(fn_dp.rcu, cfg->n_workers + 1) != 0)
		FAIL("cannot set up RCU");
	for (unsigned i = 0; i <= cfg->n_workers; i++)
		rte_rcu_qsbr_thread_register(fn_dp.rcu, i);
	if (workers_init(err, errlen) != 0)
		goto fail;
	/* Registering the same name again (a restart) returns the same offset. */
	static const struct rte_mbuf_dynfield hops_desc = {
		.name = "fullnat_redirect_hops", .size = sizeof(uint8_t), .align = __alignof__(uint8_t)};
	fn_dp.hops_off = rte_mbuf_dynfield_register(&hops_desc);
	if (fn_dp.hops_off < 0)
		FAIL("cannot register an mbuf field: %s", rte_strerror(rte_errno));
	if (fn_persist_init(cfg->sessions_max * cfg->n_workers) != 0)
		FAIL("out of memory for the persistence table");
	if (fn_sp_init() != 0)
		FAIL("cannot draw the SYN cookie key: %s", strerror(errno));

	__atomic_store_n(&fn_dp.running, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < cfg->n_workers; i++)
		fn_worker_prepare(&fn_dp.workers[i]);
	fn_dp.started = 1;
	if (cfg->no_threads)
		return 0;
	if (pthread_create(&fn_dp.ctl, NULL, fn_ctl_main, NULL) != 0)
		FAIL("cannot start the control thread");
	fn_dp.ctl_started = 1;
	for (unsigned i = 0; i < cfg->n_workers; i++)
		if (rte_eal_remote_launch(fn_worker_main, &fn_dp.workers[i], cfg->worker_lcores[i]) != 0)
			FAIL("cannot launch worker %u on lcore %u (busy?)", i, cfg->worker_lcores[i]);
	return 0;
fail:
	fn_dp.started = 1;
	fn_dp_stop();
	return -1;
}

void fn_dp_stop(void)
{
	if (!fn_dp.started)
		return;
	__atomic_store_n(&fn_dp.running, 0, __ATOMIC_RELEASE);
	for (unsigned i = 0; fn_dp.workers && i < fn_dp.cfg.n_workers && !fn_dp.cfg.no_threads; i++)
		rte_eal_wait_lcore(fn_dp.cfg.worker_lcores[i]);
	if (fn_dp.ctl_started)
		pthread_join(fn_dp.ctl, NULL);
	fn_dp.ctl_started = 0;
	workers_free();
	fn_ports_stop();
	rte_free(fn_dp.rcu);
	fn_dp.rcu = NULL;
	fn_persist_fini();
	fn_plan_free(fn_dp.plan);
	fn_dp.plan = NULL;
	__atomic_store_n(&fn_neighs.n, 0, __ATOMIC_RELEASE);
	fn_lip_slots_reset();
	fn_dp.started = 0;
}

int fn_dp_apply(struct fn_plan *plan, char *err, size_t errlen)
{
	if (!fn_dp.started || !__atomic_load_n(&fn_dp.running, __ATOMIC_ACQUIRE)) {
		snprintf(err, errlen, "data plane is not running");
		fn_plan_free(plan);
		return -1;
	}
	if (fn_plan_build(plan, fn_dp.cfg.n_workers, fn_dp.cfg.n_ports, err, errlen) != 0) {
		fn_plan_free(plan);
		return -1;
	}
	plan->gen = ++fn_dp.plan_gen;
	struct fn_plan *old = fn_dp.plan;
	__atomic_store_n(&fn_dp.plan, plan, __ATOMIC_RELEASE);
	/* Every worker and the control thread report quiescence once per loop:
	 * after this returns none of them can still hold the old plan. */
	rte_rcu_qsbr_synchronize(fn_dp.rcu, RTE_QSBR_THRID_INVALID);
	fn_plan_free(old);
	return 0;
}

unsigned fn_dp_read_rs(unsigned n, int64_t *active, uint64_t *created)
{
	if (n > FN_MAX_RS)
		n = FN_MAX_RS;
	memset(active, 0, sizeof(*active) * n);
	memset(created, 0, sizeof(*created) * n);
	for (unsigned wi = 0; fn_dp.started && fn_dp.workers && wi < fn_dp.cfg.n_workers; wi++) {
		const struct fn_worker *w = &fn_dp.workers[wi];
		for (unsigned i = 0; i < n; i++) {
			active[i] += __atomic_load_n(&w->rs_active[i], __ATOMIC_RELAXED);
			created[i] += __atomic_load_n(&w->rs_created[i], __ATOMIC_RELAXED);
		}
	}
	return n;
}

unsigned fn_dp_read_services(unsigned n, int64_t *active, uint64_t *lport_exhausted)
{
	if (n > FN_MAX_SVC)
		n = FN_MAX_SVC;
	memset(active, 0, sizeof(*active) * n);
	memset(lport_exhausted, 0, sizeof(*lport_exhausted) * n);
	for (unsigned wi = 0; fn_dp.started && fn_dp.workers && wi < fn_dp.cfg.n_workers; wi++) {
		const struct fn_worker *w = &fn_dp.workers[wi];
		for (unsigned i = 0; i < n; i++) {
			active[i] += __atomic_load_n(&w->svc_active[i], __ATOMIC_RELAXED);
			lport_exhausted[i] += __atomic_load_n(&w->svc_lport_exhausted[i], __ATOMIC_RELAXED);
		}
	}
	return n;
}

unsigned fn_dp_sessions(const struct fn_session_filter *f, struct fn_session_info *out, unsigned max)
{
	unsigned total = 0;
	for (unsigned wi = 0; fn_dp.started && wi < fn_dp.cfg.n_workers && total < max; wi++) {
		struct fn_worker *w = &fn_dp.workers[wi];
		w->dump.f = *f;
		w->dump.out = out + total;
		w->dump.max = max - total;
		w->dump.n = 0;
		w->dump.cursor = 0;
		__atomic_store_n(&w->dump.state, 1, __ATOMIC_RELEASE);
		/* The worker scans 4096 entries per loop; a running worker finishes
		 * a million-entry table in well under a second. */
		while (__atomic_load_n(&w->dump.state, __ATOMIC_ACQUIRE) != 2) {
			if (fn_dp.cfg.no_threads)
				fn_worker_iteration(w); /* nobody else will run the worker */
			else
				rte_delay_us_sleep(10);
		}
		total += w->dump.n;
		__atomic_store_n(&w->dump.state, 0, __ATOMIC_RELEASE);
	}
	return total;
}

unsigned fn_dp_poll(void)
{
	if (!fn_dp.started || !fn_dp.cfg.no_threads)
		return 0;
	return fn_worker_iteration(&fn_dp.workers[0]);
}

int fn_dp_worker_node(unsigned i)
{
	if (!fn_dp.started || i >= fn_dp.cfg.n_workers)
		return -1;
	return (int)rte_lcore_to_socket_id(fn_dp.cfg.worker_lcores[i]);
}

int fn_dp_running(void)
{
	return fn_dp.started;
}

unsigned fn_dp_read_counters(struct fn_counters *out, unsigned max)
{
	unsigned n = counters_n < max ? counters_n : max;
	for (unsigned i = 0; i < n; i++)
		for (unsigned c = 0; c < FN_NCOUNTERS; c++)
			out[i].v[c] = __atomic_load_n(&counters_keep[i].v[c], __ATOMIC_RELAXED);
	return n;
}

int fn_dp_port_info(unsigned pi, struct fn_port_info *out)
{
	if (!fn_dp.started || pi >= fn_dp.cfg.n_ports || !fn_dp.ports[pi].up)
		return -1;
	struct rte_eth_dev_info info;
	struct rte_eth_link link;
	memset(out, 0, sizeof(*out));
	out->port_id = fn_dp.ports[pi].port_id;
	out->steering = fn_dp.ports[pi].steering;
	snprintf(out->steering_why, sizeof(out->steering_why), "%s", fn_dp.ports[pi].steering_why);
	snprintf(out->spreading, sizeof(out->spreading), "%s", fn_dp.ports[pi].spreading);
	out->kernel_port_id = fn_dp.ports[pi].tap_up ? fn_dp.ports[pi].tap_id : -1;
	memcpy(out->mac, fn_dp.ports[pi].mac.addr_bytes, 6);
	if (rte_eth_dev_info_get(out->port_id, &info) == 0) {
		snprintf(out->driver, sizeof(out->driver), "%s", info.driver_name);
		out->max_rx_queues = info.max_rx_queues;
		out->max_tx_queues = info.max_tx_queues;
		out->reta_size = info.reta_size;
		out->rss_offloads = info.flow_type_rss_offloads;
		out->rx_offload_capa = info.rx_offload_capa;
		out->tx_offload_capa = info.tx_offload_capa;
	}
	out->numa_node = rte_eth_dev_socket_id(out->port_id);
	out->mem_node = fn_dp.ports[pi].socket;
	if (rte_eth_link_get_nowait(out->port_id, &link) == 0) {
		out->link_up = link.link_status;
		out->link_speed_mbps = link.link_speed;
	}
	return 0;
}

unsigned fn_dp_neighbours(struct fn_neigh_info *out, unsigned max)
{
	uint32_t n = __atomic_load_n(&fn_neighs.n, __ATOMIC_ACQUIRE);
	if (n > max)
		n = max;
	for (uint32_t i = 0; i < n; i++) {
		out[i].ip = fn_neighs.e[i].ip;
		out[i].port_idx = fn_neighs.e[i].port_idx;
		out[i].resolved = fn_neigh_mac(i, out[i].mac) == 0;
	}
	return n;
}
