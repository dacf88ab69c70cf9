/* Per-thread counters shared by the data plane (writer) and the binding (reader).
 * One list, expanded by X-macros, so C, the binding and TypeScript never disagree on names. */
#ifndef FN_COUNTERS_H
#define FN_COUNTERS_H

#include <stdint.h>

/* X(name): every counter is a monotonically increasing uint64 except the
 * gauges marked in the name (sessions_active). */
#define FN_COUNTERS(X)                                                     \
	X(rx_packets)             /* frames received on any port */         \
	X(tx_packets)             /* frames handed to a port and accepted */ \
	X(tx_dropped)             /* frames a port refused (queue full) */   \
	X(fwd_to_server)          /* client -> real server, translated */    \
	X(fwd_to_client)          /* real server -> client, translated */    \
	X(sessions_created)                                                  \
	X(sessions_expired)                                                  \
	X(sessions_active)        /* gauge: created - expired */             \
	X(to_control)             /* ARP/ICMP handed to the control thread */\
	X(arp_replies)            /* ARP replies sent for our addresses */   \
	X(arp_requests)           /* ARP requests sent to resolve next hops */\
	X(arp_learned)            /* neighbour MACs learned or changed */    \
	X(arp_rejected)           /* ARP with a broadcast, multicast or zero sender MAC, or an Ethernet source other than it: dropped, nothing learned */ \
	X(arp_mac_changed)        /* a resolved neighbour's MAC changed: a reply to the gateway's own request within a second of it */ \
	X(arp_mac_unconfirmed)    /* ARP announcing another MAC for a resolved neighbour, not an answer to our request: ignored (the gateway asks again) */ \
	X(arp_gratuitous)         /* gratuitous ARP sent for our addresses at start and after each reload */ \
	X(icmp_echo_replies)                                                 \
	X(drop_not_ipv4)          /* ethertype neither IPv4 nor ARP */       \
	X(drop_other_host)        /* unicast frame for another MAC */        \
	X(drop_malformed)         /* truncated or inconsistent headers */    \
	X(drop_bad_checksum)      /* IPv4 header checksum wrong; or a RST or ICMP error whose own checksum is */ \
	X(drop_fragment)          /* IPv4 fragments: policy is drop */       \
	X(drop_ttl)               /* TTL would reach 0 (answered by ICMP time exceeded, rate-limited) */ \
	X(drop_no_service)        /* not a VIP:vport, session or local addr */\
	X(drop_no_session)        /* TCP non-SYN to a VIP without a session */\
	X(drop_session_full)      /* session table at capacity */            \
	X(drop_bucket_full)       /* new flow whose hash bucket is at its chain limit (16 entries) */ \
	X(drop_lport_exhausted)   /* no free local port in the LIP pool */   \
	X(drop_no_real_server)    /* service has no usable real server */    \
	X(drop_neigh_unresolved)  /* real server's MAC not yet known */      \
	X(drop_control_full)      /* control ring full */                    \
	X(drop_control_rate)      /* ICMP echo or kernel-bound frames over control.rate_per_s on this worker */ \
	X(drop_unsupported)       /* other protocols, ARP not for us, ... */ \
	X(drop_icmp_no_session)   /* ICMP error quoting no session we know */ \
	X(drop_bad_tcp_flags)     /* impossible flag combinations (SYN+FIN, SYN+RST, none) */ \
	X(drop_half_open_limit)   /* new TCP flow while SYN-state sessions are at the limit (drop_new, or none to evict) */ \
	X(half_open_evicted)      /* oldest SYN-state session ended to make room for a new SYN (evict_oldest) */ \
	X(lport_reclaimed)        /* of those: ended because the new flow's LIP pool had no free port (it takes the port) */ \
	X(drop_max_conn)          /* service or real-server connection limit reached */ \
	X(drop_acl)               /* client not allowed by the service's allow/deny lists */ \
	X(drop_client_limit)      /* the client address holds sessions.max_per_client sessions (this worker's share) */ \
	X(client_untracked)       /* new session not counted per client: its bucket of the per-client table was full */ \
	X(icmp_errors_translated) /* ICMP errors forwarded to the session's other side */ \
	X(icmp_time_exceeded)     /* ICMP time exceeded sent for a TTL <= 1 packet (also counted in drop_ttl) */ \
	X(icmp_rate_limited)      /* ICMP the gateway would send, held back by the per-worker rate limit */ \
	X(icmp_handed_on)         /* client-side ICMP errors passed to the next worker to find their session */ \
	X(nat_handed_on)          /* NAT-mode replies (to a client address) passed to the next worker to find their session */ \
	X(redirected)             /* frames handed to another worker (redirect or hand-on ring) */ \
	X(sessions_reset)         /* ended because their server was removed with reset */ \
	X(to_kernel)              /* frames for the gateway's own stack (exception path) */ \
	X(from_kernel)            /* frames the kernel sent out through a port */ \
	X(busy_cycles)            /* TSC cycles in loop passes that had packets (cost per packet = busy_cycles / packets) */ \
	X(drop_redirect_full)     /* owner's redirect ring full */           \
	X(syn_proxy_syn_ack_sent) /* SYN proxy: cookie SYN-ACKs sent (no state kept) */ \
	X(syn_proxy_cookie_ok)    /* SYN proxy: client ACKs with a valid cookie (server SYN sent) */ \
	X(syn_proxy_established)  /* SYN proxy: server SYN-ACKs answered, session spliced */ \
	X(syn_proxy_held)         /* SYN proxy: client data kept until the server answered */ \
	X(syn_proxy_server_rst)   /* SYN proxy: server refused the connection (RST passed to the client) */ \
	X(syn_proxy_client_rst)   /* SYN proxy: valid cookie but no session possible (limits, no server): RST to the client */ \
	X(drop_syn_proxy_bad_cookie) /* SYN proxy: ACK with no session and a forged or stale cookie */ \
	X(drop_syn_proxy_pending) /* SYN proxy: segments while the server handshake runs (the client retransmits) */ \
	X(drop_icmp_not_service)  /* ICMP error to a VIP quoting neither a session here nor a VIP:vport (never handed on) */ \
	X(drop_icmp_hand_on_limit) /* ICMP error that would go round the workers, over the per-worker icmp.hand_on_rate_per_s */ \
	X(drop_hand_on_full)      /* next worker's hand-on ring full (client-side ICMP errors, NAT-mode replies) */ \
	X(drop_icmp_mtu_floor)    /* client-side frag needed below icmp.min_path_mtu: not passed to the server */ \
	X(drop_wrong_port)        /* a session's packet (or ICMP error) on a port that is not that side's */ \
	X(drop_multi_segment)     /* chained mbuf (nb_segs > 1): the fast path handles single-segment frames only */ \
	X(drop_tcp_out_of_window) /* RST or FIN outside the session's window, or a SYN-ACK or handshake RST not acknowledging the client's SYN */ \
	X(tcp_syn_in_session)     /* SYN (no ACK) on an established or closing session: passed to its server unchanged (RFC 5961 challenge ACK) */

enum fn_counter {
#define FN_X_ENUM(n) FN_C_##n,
	FN_COUNTERS(FN_X_ENUM)
#undef FN_X_ENUM
	FN_NCOUNTERS
};

/* One block per thread (each worker, then the control thread). Written only
 * by its owner with relaxed atomic stores (FN_COUNT, fn_common.h); read by the
 * binding with relaxed atomic loads: no data race, and on x86-64 the same
 * plain load, add and store as before. */
struct fn_counters {
	uint64_t v[FN_NCOUNTERS];
} __attribute__((aligned(64)));

#endif
