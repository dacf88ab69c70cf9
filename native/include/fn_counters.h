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
	X(drop_lport_exhausted)   /* no free local port in the LIP pool */   \
	X(drop_no_real_server)    /* service has no usable real server */    \
	X(drop_neigh_unresolved)  /* real server's MAC not yet known */      \
	X(drop_control_full)      /* control ring full */                    \
	X(drop_unsupported)       /* other protocols, ARP not for us, ... */ \
	X(drop_icmp_no_session)   /* ICMP error quoting no session we know */ \
	X(drop_bad_tcp_flags)     /* impossible flag combinations (SYN+FIN, SYN+RST, none) */ \
	X(drop_half_open_limit)   /* new TCP flow while SYN-state sessions are at the limit (drop_new, or none to evict) */ \
	X(half_open_evicted)      /* oldest SYN-state session ended to make room for a new SYN (evict_oldest) */ \
	X(drop_max_conn)          /* service or real-server connection limit reached */ \
	X(drop_acl)               /* client not allowed by the service's allow/deny lists */ \
	X(icmp_errors_translated) /* ICMP errors forwarded to the session's other side */ \
	X(icmp_time_exceeded)     /* ICMP time exceeded sent for a TTL <= 1 packet (also counted in drop_ttl) */ \
	X(icmp_rate_limited)      /* ICMP the gateway would send, held back by the per-worker rate limit */ \
	X(icmp_handed_on)         /* client-side ICMP errors passed to the next worker to find their session */ \
	X(nat_handed_on)          /* NAT-mode replies (to a client address) passed to the next worker to find their session */ \
	X(redirected)             /* replies handed to the owning worker */  \
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
	X(drop_tcp_out_of_window) /* RST or FIN outside the session's window, or a SYN-ACK or handshake RST not acknowledging the client's SYN */ \
	X(tcp_syn_in_session)     /* SYN (no ACK) on an established or closing session: passed to its server unchanged (RFC 5961 challenge ACK) */

enum fn_counter {
#define FN_X_ENUM(n) FN_C_##n,
	FN_COUNTERS(FN_X_ENUM)
#undef FN_X_ENUM
	FN_NCOUNTERS
};

/* One block per thread (each worker, then the control thread). Written only
 * by its owner with plain stores; read by the binding with relaxed atomic
 * loads (aligned 64-bit loads never tear on the targets we build for). */
struct fn_counters {
	uint64_t v[FN_NCOUNTERS];
} __attribute__((aligned(64)));

#endif
