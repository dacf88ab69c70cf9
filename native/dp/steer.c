/* Reply steering per port: flow rules where the PMD validates them (the
 * worker count must be a power of two so that "lport mod N" is a mask),
 * otherwise the workers' software redirect (forward.c) does the job. */
#include "steer.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>

#include "dp.h"

int fn_steer_rule_build(struct fn_steer_rule *r, uint32_t lip, uint8_t proto, uint16_t queue,
			unsigned n_workers)
{
	if (n_workers == 0 || (n_workers & (n_workers - 1)) || queue >= n_workers)
		return -1;
	memset(r, 0, sizeof(*r));
	r->attr.ingress = 1;
	r->ip_spec.hdr.dst_addr = lip;
	r->ip_mask.hdr.dst_addr = UINT32_MAX;
	r->pattern[0].type = RTE_FLOW_ITEM_TYPE_ETH;
	r->pattern[1].type = RTE_FLOW_ITEM_TYPE_IPV4;
	r->pattern[1].spec = &r->ip_spec;
	r->pattern[1].mask = &r->ip_mask;
	uint16_t spec = rte_cpu_to_be_16(queue), mask = rte_cpu_to_be_16((uint16_t)(n_workers - 1));
	if (proto == IPPROTO_TCP) {
		r->tcp_spec.hdr.dst_port = spec;
		r->tcp_mask.hdr.dst_port = mask;
		r->pattern[2].type = RTE_FLOW_ITEM_TYPE_TCP;
		r->pattern[2].spec = &r->tcp_spec;
		r->pattern[2].mask = &r->tcp_mask;
	} else {
		r->udp_spec.hdr.dst_port = spec;
		r->udp_mask.hdr.dst_port = mask;
		r->pattern[2].type = RTE_FLOW_ITEM_TYPE_UDP;
		r->pattern[2].spec = &r->udp_spec;
		r->pattern[2].mask = &r->udp_mask;
	}
	r->pattern[3].type = RTE_FLOW_ITEM_TYPE_END;
	r->queue.index = queue;
	r->actions[0].type = RTE_FLOW_ACTION_TYPE_QUEUE;
	r->actions[0].conf = &r->queue;
	r->actions[1].type = RTE_FLOW_ACTION_TYPE_END;
	return 0;
}

void fn_steer_port_release(unsigned pi)
{
	struct fn_port_rt *p = &fn_dp.ports[pi];
	struct rte_flow_error ferr;
	for (unsigned i = 0; i < p->n_flows; i++)
		rte_flow_destroy(p->port_id, p->flows[i], &ferr);
	free(p->flows);
	p->flows = NULL;
	p->n_flows = 0;
}

/* Validate and create every rule of this port; on the first failure remove
 * what was created and say why. */
static int install_rules(unsigned pi, char *why, size_t whylen)
{
	struct fn_port_rt *p = &fn_dp.ports[pi];
	const struct fn_plan *plan = fn_dp.plan;
	unsigned n = fn_dp.cfg.n_workers;
	static const uint8_t protos[2] = {IPPROTO_TCP, IPPROTO_UDP};

	p->flows = calloc((size_t)plan->n_lips * 2 * n, sizeof(*p->flows));
	if (!p->flows) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (uint32_t l = 0; l < plan->n_lips; l++) {
		if (plan->lips[l].port_idx != pi)
			continue;
		for (unsigned k = 0; k < 2; k++)
			for (uint16_t q = 0; q < n; q++) {
				struct fn_steer_rule r;
				struct rte_flow_error ferr = {0};
				fn_steer_rule_build(&r, plan->lips[l].ip, protos[k], q, n);
				struct rte_flow *f = NULL;
				if (rte_flow_validate(p->port_id, &r.attr, r.pattern, r.actions, &ferr) == 0)
					f = rte_flow_create(p->port_id, &r.attr, r.pattern, r.actions, &ferr);
				if (!f) {
					snprintf(why, whylen, "the port rejects the steering rule: %s",
						 ferr.message ? ferr.message : rte_strerror(rte_errno));
					fn_steer_port_release(pi);
					return -1;
				}
				p->flows[p->n_flows++] = f;
			}
	}
	return 0;
}

int fn_steer_port(unsigned pi, char *err, size_t errlen)
{
	struct fn_port_rt *p = &fn_dp.ports[pi];
	const struct fn_port_cfg *pc = &fn_dp.cfg.ports[pi];
	const struct fn_plan *plan = fn_dp.plan;
	unsigned n = fn_dp.cfg.n_workers;
	char why[sizeof(p->steering_why)] = "";
	int has_lip = 0;

	for (uint32_t l = 0; l < plan->n_lips; l++)
		has_lip |= plan->lips[l].port_idx == pi;
	if (n == 1 || !has_lip) {
		p->steering = FN_STEER_NONE;
		snprintf(p->steering_why, sizeof(p->steering_why), "%s",
			 n == 1 ? "one worker: every reply is its own" : "no local address (LIP) on this port");
		return 0;
	}
	if (pc->steering == FN_STEER_REDIRECT) {
		p->steering = FN_STEER_REDIRECT;
		snprintf(p->steering_why, sizeof(p->steering_why), "configured");
		return 0;
	}
	if (n & (n - 1))
		snprintf(why, sizeof(why), "flow rules need a power-of-two worker count, this config has %u", n);
	else if (install_rules(pi, why, sizeof(why)) == 0) {
		p->steering = FN_STEER_FLOW;
		snprintf(p->steering_why, sizeof(p->steering_why), "%u rules validated and installed", p->n_flows);
		return 0;
	}
	if (pc->steering == FN_STEER_FLOW) {
		snprintf(err, errlen, "port %s: steering: flow was configured but %s", pc->name, why);
		return -1;
	}
	p->steering = FN_STEER_REDIRECT;
	snprintf(p->steering_why, sizeof(p->steering_why), "fallback: %s", why);
	return 0;
}
