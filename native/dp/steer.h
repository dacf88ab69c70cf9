/* Reply steering: which worker a reply to LIP:lport belongs to, and the
 * rte_flow rules that deliver it there in hardware where the port allows. */
#ifndef FN_STEER_H
#define FN_STEER_H

#include <stddef.h>
#include <stdint.h>

#include <rte_flow.h>

/* One rule: ETH / IPV4 dst=lip / TCP|UDP dst port & (n-1) == queue -> QUEUE(queue). */
struct fn_steer_rule {
	struct rte_flow_attr attr;
	struct rte_flow_item_ipv4 ip_spec, ip_mask;
	struct rte_flow_item_tcp tcp_spec, tcp_mask;
	struct rte_flow_item_udp udp_spec, udp_mask;
	struct rte_flow_item pattern[4];
	struct rte_flow_action_queue queue;
	struct rte_flow_action actions[2];
};

/* Fill a rule for LIP `lip` (network order), protocol (IPPROTO_TCP/UDP),
 * worker `queue` of `n_workers` (a power of two). Returns 0, or -1 when the
 * worker count cannot be expressed as a port mask. */
int fn_steer_rule_build(struct fn_steer_rule *r, uint32_t lip, uint8_t proto, uint16_t queue,
			unsigned n_workers);

/* Set up steering for port pi: chooses the mode, installs rules.
 * Returns 0, or -1 with err set when "flow" was required and is impossible. */
int fn_steer_port(unsigned pi, char *err, size_t errlen);
void fn_steer_port_release(unsigned pi);

#endif
