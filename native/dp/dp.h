/* Data-plane global state. Who reads and who writes each field is noted;
 * "main" is the Node/EAL main thread, "ctl" the control thread. */
#ifndef FN_DP_INTERNAL_H
#define FN_DP_INTERNAL_H

#include <pthread.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "fn_common.h"
#include "fn_dp.h"
#include "clients.h"
#include "half_open.h"
#include "icmp_reply.h"
#include "lport.h"
#include "session.h"

struct fn_sp_side;

struct fn_port_rt {
	uint16_t port_id;                /* main: w at start; all: r */
	struct rte_ether_addr mac;       /* main: w at start; all: r */
	int up;                          /* main only: started, must be stopped */
	int socket;                      /* main: w at start; NUMA node of the device (or main's) */
	struct rte_mempool *pool;        /* main only: w at start; mbufs on that node, the port's RX
	                                  * queues fill from it */
	uint8_t steering;                /* main: w at start; mode in effect */
	char steering_why[160];          /* main only: w at start, r by fn_dp_port_info */
	char spreading[96];              /* main only: how client flows reach several workers */
	uint8_t rss_key[64];             /* main: w at configure; the device reads it (random, per start) */
	uint16_t tap_id;                 /* main: w at start; ctl: r. Kernel interface port; its queue 0
	                                  * belongs to ctl */
	int tap_up;                      /* main: w at start/stop; ctl: r */
	struct rte_flow **flows;         /* main only: reply-steering rules */
	unsigned n_flows;                /* main only: rules in flows */
	struct rte_ring *rx[FN_MAX_WORKERS], *tx[FN_MAX_WORKERS]; /* ring ports only */
};

struct fn_worker {
	unsigned idx, lcore;             /* main: w at start */
	struct fn_session_table sess;    /* worker only */
	struct fn_lports lports;         /* worker only */
	struct rte_ring *to_ctl;         /* SP worker -> SC ctl: ICMP echo and kernel-bound frames,
	                                  * at most plan->ctl_rate per second (ctl_bucket) */
	/* Control path priority (review M1): ARP has a ring of its own, drained
	 * first by ctl, so no flood of echo or kernel frames can crowd it out. */
	struct rte_ring *to_ctl_arp;     /* SP worker -> SC ctl: ARP only */
	struct fn_icmp_bucket ctl_bucket; /* worker only: frames passed to to_ctl */
	struct rte_ring *from_ctl;       /* SP ctl -> SC worker: frames to transmit */
	struct rte_ring *redirect;       /* MP other workers -> SC this worker: replies it owns */
	/* hand-on ring (M2): its own, so frames that name no worker cannot crowd out replies */
	struct rte_ring *hand_on;        /* MP other workers -> SC this worker: frames going round the
	                                  * workers (client-side ICMP errors, NAT-mode replies) */
	struct fn_counters *ctr;         /* worker: w; main: r (relaxed) */
	struct {
		uint16_t n;
		struct rte_mbuf *m[FN_BURST];
	} txb[FN_MAX_PORTS];             /* worker only */
	uint64_t sweep_last, sweep_tsc_per_entry; /* worker only */
	uint64_t plan_gen;               /* worker only: plan generation last synced */
	int32_t *rs_active;              /* [FN_MAX_RS] worker: w; main: r (relaxed) */
	uint64_t *rs_created;            /* [FN_MAX_RS] same */
	int32_t *rs_live;                /* [FN_MAX_RS] worker only: sessions not yet closed (lc, wlc) */
	int32_t *svc_active;             /* [FN_MAX_SVC] worker: w; other workers, main: r (relaxed) */
	uint64_t *svc_lport_exhausted;   /* [FN_MAX_SVC] worker: w; main: r (relaxed) */
	uint32_t half_open;              /* worker only: TCP sessions in SYN states */
	struct fn_half_open half_open_q; /* worker only: those sessions, oldest first */
	struct fn_clients clients;       /* worker only: its sessions per client address (max_per_client) */
	struct fn_icmp_bucket icmp_bucket; /* worker only: ICMP it originates */
	struct fn_icmp_bucket hand_on_bucket; /* worker only: ICMP errors it starts round the workers */
	uint8_t rx_hops;                 /* worker only: hops of the redirected frame in hand (0: from a port) */
	struct fn_sp_side *sp;           /* [sess.max] worker only: SYN proxy state per session (synproxy.h) */
	struct {
		int state;               /* 0 idle; main sets 1 (release); worker sets 2 when done (release) */
		struct fn_session_filter f; /* main: w while state is 0; worker: r while 1 */
		struct fn_session_info *out; /* main: w while 0; the buffer: worker: w while 1, main: r at 2 */
		uint32_t max;            /* main: w while 0; worker: r while 1 */
		uint32_t n, cursor;      /* main: w (0) while 0; worker: w while 1; main: r (n) at 2 */
	} dump;                          /* session listing mailbox */
} __rte_cache_aligned;

struct fn_dp {
	struct fn_dp_cfg cfg;            /* main: w at start; all: r */
	struct fn_port_rt ports[FN_MAX_PORTS];
	uint8_t port_idx_of[RTE_MAX_ETHPORTS]; /* main: w at start; all: r. DPDK port id -> config index */
	struct rte_mempool *pool;        /* main: w at start/stop; all: r. On the main lcore's node:
	                                  * control, tests, bench */
	struct rte_mempool *node_pool[RTE_MAX_NUMA_NODES]; /* main only (start/stop): one per node that has ports */
	struct fn_worker *workers;       /* main: w at start/stop; all: r (each field says more) */
	struct fn_counters *counters;    /* main: w at start; n_workers + 1 (ctl last), each written by
	                                  * its own thread, read by main (relaxed) */
	struct fn_plan *plan;            /* main: atomic store (publish); workers, ctl: atomic load */
	uint64_t plan_gen;               /* main only: last generation published */
	int hops_off;                    /* main: w at start; workers: r. mbuf dynfield (uint8_t):
	                                  * workers a redirected frame has been through (ICMP errors
	                                  * looking for their session's owner) */
	struct rte_rcu_qsbr *rcu;        /* thread ids 0..n-1 workers, n ctl */
	int running;                     /* main: w (atomic); workers, ctl: r (atomic) */
	int started;                     /* main only */
	int ctl_started;                 /* main only */
	pthread_t ctl;                   /* main only */
	/* Gratuitous ARP for every local address on its ARP ports, a few rounds
	 * after each new plan generation (review L14). ctl only (zeroed at start). */
	struct {
		uint64_t gen;            /* plan generation announced (or being announced) */
		uint64_t next_tsc;       /* TSC when the next round may start */
		uint32_t rounds_left;    /* rounds still to send for gen */
		uint32_t cursor;         /* next local of the current round; UINT32_MAX: between rounds */
	} garp;
};

extern struct fn_dp fn_dp;

int fn_worker_main(void *arg);
void fn_worker_prepare(struct fn_worker *w);
unsigned fn_worker_iteration(struct fn_worker *w);
/* The bench's forwarding ceiling (harness.c), run instead of the loop when cfg.l2fwd. */
int fn_worker_l2fwd(struct fn_worker *w);
void *fn_ctl_main(void *arg);
/* One pass of the control thread (fn_ctl_main's loop body; the fuzzer calls it
 * too): frames the workers passed up, frames the kernel sends, neighbour
 * probes once now >= *next_probe (then set to the next round's TSC).
 * Returns the frames handled. */
unsigned fn_ctl_poll_once(uint64_t *next_probe);
int fn_ports_start(char *err, size_t errlen);
void fn_ports_stop(void);

#endif
