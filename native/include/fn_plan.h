/* The plan: everything the workers need to forward, built by the control
 * plane, immutable once published (except the per-worker cursors, see below). */
#ifndef FN_PLAN_H
#define FN_PLAN_H

#include <stdint.h>

#include "fn_consts.h" /* enum fn_sched_kind, enum fn_timeout */

#define FN_NIL UINT32_MAX
/* Ids index per-worker counter arrays (16 bytes per real server, 12 per
 * service, per worker: 7 MiB each at these sizes, counted in memory sizing). */
#define FN_MAX_RS (1u << 18)   /* real-server ids are < FN_MAX_RS */
#define FN_MAX_SVC (1u << 18)  /* service ids are < FN_MAX_SVC */

/* enum fn_timeout (the timeout slots) is in fn_consts.h. */

/* All addresses and ports below are in network byte order. */
struct fn_rs {
	uint32_t ip;
	uint16_t port;
	uint16_t neigh;  /* index in the neighbour table (fn_neigh), filled by fn_plan_build */
	uint32_t id;     /* stable id from the control plane (stats, session ownership) */
	uint16_t port_idx; /* egress port towards this server (its next hop's port) */
	uint16_t pad;
	uint32_t nexthop; /* next-hop IPv4 (the server itself when directly connected) */
	uint32_t weight;  /* effective weight: 0 when down or drained (lc/wlc use it) */
	uint32_t max_conn; /* sessions over all workers, 0: no limit */
};

/* An allow/deny rule for clients of a service; the first match decides. */
struct fn_acl {
	uint32_t net, mask;  /* network order */
	uint32_t allow;      /* 1 allow, 0 deny */
};

struct fn_service {
	uint32_t vip;
	uint16_t vport;
	uint8_t proto;       /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t syn_proxy;   /* 1: TCP handshakes answered with SYN cookies (synproxy.h) */
	uint32_t id;         /* stable id */
	uint32_t sched_first;/* slice of fn_plan.sched: indices into fn_plan.rs */
	uint32_t sched_len;  /* 0: no usable server */
	uint32_t pool;       /* index into fn_plan.pools */
	uint8_t sched_kind;  /* enum fn_sched_kind: how the sched slice is indexed */
	uint8_t nat;         /* 1: NAT mode (DNAT only, the client address stays: the baseline FullNAT is measured against) */
	uint8_t pad2[2];
	uint32_t hash_seed;  /* for the hash kinds: same config, same choice on every gateway */
	uint32_t persist_s;  /* persistence timeout in seconds, 0: none */
	uint32_t persist_mask; /* client address mask for persistence (network order) */
	uint32_t rs_first, rs_count; /* the service's servers in fn_plan.rs */
	uint32_t max_conn;   /* sessions over all workers, 0: no limit */
	uint32_t acl_first, acl_count; /* rules in fn_plan.acl */
	uint32_t acl_default;  /* verdict when no rule matches: 1 allow */
	uint32_t rs_usable;  /* servers with weight > 0: 0 refuses new flows at once (a hash
	                      * table keeps down servers' entries; walking them costs per flow) */
};

struct fn_lip {
	uint32_t ip;
	uint16_t port_idx;   /* port the LIP lives on */
	uint16_t lo, hi;     /* local port range, host order, inclusive */
	uint32_t slot;       /* runtime slot (lport.h), filled by fn_plan_build */
};

struct fn_pool {
	uint32_t first, count; /* slice of fn_plan.pool_lips */
};

/* A local address: answered for ARP on the ports in arp_ports (bit per port),
 * and for ICMP echo on any port. */
#define FN_LOCAL_LIP 1u     /* a LIP: replies to it are steered by local port */
#define FN_LOCAL_KERNEL 2u  /* the gateway's own address: unmatched traffic goes to the kernel */
struct fn_local {
	uint32_t ip;
	uint32_t arp_ports;
	uint32_t flags;
};

struct fn_plan {
	uint32_t n_services, n_rs, n_sched, n_lips, n_pools, n_pool_lips, n_locals;
	struct fn_service *services;
	struct fn_rs *rs;
	uint32_t *sched;
	struct fn_lip *lips;
	struct fn_pool *pools;
	uint32_t *pool_lips;   /* indices into lips */
	struct fn_local *locals;
	uint32_t timeouts_s[FN_NTIMEOUTS];
	/* Real-server ids whose sessions are to be reset (bit per id), or NULL. */
	uint64_t *reset_rs;
	struct fn_acl *acl;
	uint32_t n_acl;
	uint32_t half_open_max;  /* TCP sessions in SYN states, over all workers; 0: no limit */
	uint32_t half_open_drop_new; /* at that limit: 1 drop the new SYN; 0 end the oldest half-open session
	                              * (also when a LIP pool has no free port: its port is reused) */
	uint32_t client_max;     /* sessions per client address over all workers (each worker its
	                          * share, rounded up); 0: no limit */
	/* ICMP the gateway originates (time exceeded for TTL <= 1): at most this
	 * many per second per worker (token bucket, burst one second's worth);
	 * 0: none sent. Source: the receiving port's first address (0: none). */
	uint32_t icmp_rate;
	uint32_t port_addr[16];  /* by port index, FN_MAX_PORTS entries */
	/* ICMP errors the gateway relays. Client-side fragmentation needed with a
	 * next-hop MTU below this is not passed to the server (it would lower the
	 * path MTU of every client sharing the LIP); 0: no floor. */
	uint32_t icmp_min_path_mtu;
	/* Errors that go round the workers looking for their session (client
	 * side, NAT mode): at most this many per second per worker start the
	 * round (token bucket, one second of burst); 0: none. */
	uint32_t icmp_hand_on_rate;
	/* ICMP echo and kernel-bound frames a worker passes to the control
	 * thread: at most this many per second (token bucket, a tenth of a
	 * second of burst); the excess is dropped on the worker (drop_control_rate).
	 * 0: no limit (plans built by hand in C; the config requires >= 1). */
	uint32_t ctl_rate;

	/* Derived by fn_plan_build (the control plane does not fill these). */
	uint64_t gen;          /* publish generation: workers notice a new plan by it */
	uint64_t timeout_tsc[FN_NTIMEOUTS];
	uint32_t svc_mask, local_mask;
	uint32_t n_nat_services; /* services with forwarding: nat (their replies are addressed to clients) */
	uint32_t *svc_ht;      /* open addressing, slot = service index + 1, 0 empty */
	uint32_t *local_ht;    /* same for locals */
	/* Scheduling and LIP cursors, one stripe of cursor_stride per worker.
	 * Only worker w reads and writes stripe w: mutable state that belongs to
	 * this plan's generation, so a new plan starts with fresh cursors. */
	uint32_t n_workers, cursor_stride;
	uint32_t *cursors;     /* [svc cursors: n_services][pool cursors: n_pools] */
};

#endif
