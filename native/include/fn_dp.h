/* The data plane's public surface, used by the N-API binding (and C tests).
 * Plain C; everything here is called from the main (JS) thread only. */
#ifndef FN_DP_H
#define FN_DP_H

#include <stddef.h>
#include <stdint.h>

#include "fn_counters.h"
#include "fn_plan.h"

#define FN_MAX_PORTS 16
#define FN_MAX_WORKERS 64
#define FN_MAX_PORT_ADDRS 16

enum fn_steering {
	FN_STEER_AUTO = 0,    /* flow rules if the port validates them, else redirect */
	FN_STEER_FLOW,        /* flow rules or fail */
	FN_STEER_REDIRECT,    /* software redirect over rings */
	FN_STEER_NONE,        /* chosen when there is one worker: nothing to steer */
};

struct fn_port_cfg {
	char name[32];
	uint8_t steering;  /* enum fn_steering: requested */
	char kernel_if[16]; /* kernel (tap) interface for the exception path, "" = none */
	char device[256];  /* ethdev name (vdev name or PCI address), or ring name */
	int is_ring;       /* 1: in-process ring port created by us (tests, bench) */
	uint32_t n_addrs;
	uint32_t addrs[FN_MAX_PORT_ADDRS];  /* network order */
	uint8_t prefix[FN_MAX_PORT_ADDRS];
};

struct fn_dp_cfg {
	uint32_t n_ports;
	struct fn_port_cfg ports[FN_MAX_PORTS];
	uint32_t n_workers;
	unsigned worker_lcores[FN_MAX_WORKERS];
	uint32_t mbufs;          /* mbuf pool size (whole pool) */
	uint16_t rx_desc, tx_desc;
	uint32_t sessions_max;   /* per worker */
	uint32_t idle_sleep_us;  /* 0: busy poll */
	uint8_t l2fwd;           /* bench baseline: workers only swap MACs and send back (no NAT) */
	uint8_t no_threads;      /* tests, fuzzing: launch no worker or control thread; drive
				  * worker 0 with fn_dp_poll() from the calling thread */
};

struct fn_port_info {
	uint16_t port_id;
	uint8_t steering;       /* enum fn_steering: in effect */
	char steering_why[160]; /* why that mode (fallback reason) */
	char spreading[96];     /* client-side spreading over workers: rss, fanout, none */
	int kernel_port_id;     /* DPDK port of the kernel interface, -1 without */
	uint16_t max_rx_queues, max_tx_queues, reta_size;
	int numa_node;          /* -1: unknown (vdevs) */
	int mem_node;           /* node its mbufs and queues were placed on */
	uint64_t rss_offloads;  /* flow types the port can hash (RTE_ETH_RSS_*) */
	uint64_t rx_offload_capa, tx_offload_capa; /* RTE_ETH_RX/TX_OFFLOAD_* */
	uint8_t mac[6];
	char driver[64];
	uint32_t link_up, link_speed_mbps;
};

struct fn_neigh_info {
	uint32_t ip;       /* network order */
	uint16_t port_idx;
	int resolved;
	uint8_t mac[6];
};

/* Start ports, workers and the control thread with a first plan. The plan
 * passes to the data plane (freed by it). Returns 0, or -1 with err set. */
int fn_dp_start(const struct fn_dp_cfg *cfg, struct fn_plan *plan, char *err, size_t errlen);
/* With no_threads: one poll-loop pass of worker 0 on the calling thread
 * (deterministic, for the fuzzer). Returns the frames handled. */
unsigned fn_dp_poll(void);

/* Stop workers and control thread, close ports, free everything. Idempotent. */
void fn_dp_stop(void);
int fn_dp_running(void);

/* Copy counters: one block per worker then one for the control thread.
 * Returns the number of blocks written (<= max). */
unsigned fn_dp_read_counters(struct fn_counters *out, unsigned max);
int fn_dp_port_info(unsigned port_idx, struct fn_port_info *out);
/* NUMA node of worker i's lcore (its session table lives there), -1 if none. */
int fn_dp_worker_node(unsigned i);
unsigned fn_dp_neighbours(struct fn_neigh_info *out, unsigned max);

/* Publish a new plan (takes it in all cases): build, swap, wait for every
 * worker to pass a quiescent state, free the old plan. Returns 0 or -1 + err. */
int fn_dp_apply(struct fn_plan *plan, char *err, size_t errlen);

/* Per real-server id, summed over workers: active sessions and sessions ever
 * created. Fills ids [0, n). Returns n written (<= FN_MAX_RS). */
unsigned fn_dp_read_rs(unsigned n, int64_t *active, uint64_t *created);

/* Per service id, summed over workers: active sessions and new flows dropped
 * for want of a local port. Fills ids [0, n). */
unsigned fn_dp_read_services(unsigned n, int64_t *active, uint64_t *lport_exhausted);

struct fn_session_info {
	uint32_t cip, vip, lip, rip;       /* network order */
	uint16_t cport, vport, lport, rport; /* network order */
	uint8_t proto, state;
	uint16_t worker;
	uint32_t svc_id, rs_id;
	uint32_t expires_ms;
};
/* Filter: 0 = any. Copies at most max sessions (all workers). */
struct fn_session_filter {
	uint32_t vip, rip, cip;  /* network order */
};
unsigned fn_dp_sessions(const struct fn_session_filter *f, struct fn_session_info *out, unsigned max);

/* Bench: from the calling (main) lcore, feed `count` frames, round-robin over
 * the templates, into a ring port's RX queue while draining every ring
 * port's TX rings (the sink). Returns when all were fed and the output has
 * been quiet for 20 ms. */
struct fn_bench_result {
	uint64_t injected, drained, cycles;
	uint64_t tsc_hz;
};
int fn_dp_bench_pump(unsigned port_idx, unsigned queue, const uint8_t *const *frames, const uint16_t *lens,
		     unsigned n_frames, uint64_t count, struct fn_bench_result *r);

/* Ring ports (is_ring): the test/bench side of a queue's rings. */
unsigned fn_dp_ring_inject(unsigned port_idx, unsigned queue, const uint8_t *const *frames,
			   const uint16_t *lens, unsigned n);
/* Drain up to max frames; copies into buf (each frame at offsets[i], lens[i]). */
unsigned fn_dp_ring_drain(unsigned port_idx, unsigned queue, uint8_t *buf, size_t buflen,
			  uint32_t *offsets, uint16_t *lens, unsigned max);

/* Tests only: shift the SYN cookie clock by whole seconds (cookie expiry
 * without waiting minutes). */
void fn_sp_clock_skew(int64_t seconds);

/* Tests only: the per-process hash keys (dp/hashkey.h: session 5, service 3,
 * persistence 3, local address 2 words, in that order). out (if not NULL)
 * gets the keys in use; set (if not NULL) pins new ones, which only a stopped
 * data plane accepts (-1 otherwise), so a test can craft real collisions.
 * Unpin: the next start draws fresh keys again. */
#define FN_HASH_KEY_WORDS 13
int fn_dp_hash_keys(uint64_t *out, const uint64_t *set);
void fn_dp_hash_keys_unpin(void);

/* Plan helpers for whoever builds one (the binding): allocate with these so
 * the data plane can free it. */
struct fn_plan *fn_plan_alloc(uint32_t n_services, uint32_t n_rs, uint32_t n_sched, uint32_t n_lips,
			      uint32_t n_pools, uint32_t n_pool_lips, uint32_t n_locals);
void fn_plan_free(struct fn_plan *p);

#endif
