/* Flow-rule construction for reply steering: no port here accepts rules, so
 * what the rules say is checked field by field instead. */
#include <netinet/in.h>

#include "check.h"
#include "steer.h"

static void rule(uint8_t proto)
{
	struct fn_steer_rule r;
	uint32_t lip = htonl(0xc613000a); /* 198.19.0.10 */
	CHECK(fn_steer_rule_build(&r, lip, proto, 2, 4) == 0, "4 workers must build");
	CHECK(r.attr.ingress == 1 && r.attr.egress == 0, "ingress rule");
	CHECK(r.pattern[0].type == RTE_FLOW_ITEM_TYPE_ETH && r.pattern[0].spec == NULL, "any Ethernet");
	CHECK(r.pattern[1].type == RTE_FLOW_ITEM_TYPE_IPV4, "IPv4 item");
	const struct rte_flow_item_ipv4 *is = r.pattern[1].spec, *im = r.pattern[1].mask;
	CHECK(is->hdr.dst_addr == lip && im->hdr.dst_addr == UINT32_MAX, "dst = LIP exactly");
	CHECK(im->hdr.src_addr == 0, "any source");
	if (proto == IPPROTO_TCP) {
		CHECK(r.pattern[2].type == RTE_FLOW_ITEM_TYPE_TCP, "TCP item");
		const struct rte_flow_item_tcp *s = r.pattern[2].spec, *m = r.pattern[2].mask;
		CHECK(s->hdr.dst_port == htons(2) && m->hdr.dst_port == htons(3), "dst port & 3 == 2");
		CHECK(m->hdr.src_port == 0, "any source port");
	} else {
		CHECK(r.pattern[2].type == RTE_FLOW_ITEM_TYPE_UDP, "UDP item");
		const struct rte_flow_item_udp *s = r.pattern[2].spec, *m = r.pattern[2].mask;
		CHECK(s->hdr.dst_port == htons(2) && m->hdr.dst_port == htons(3), "dst port & 3 == 2");
	}
	CHECK(r.pattern[3].type == RTE_FLOW_ITEM_TYPE_END, "pattern ends");
	CHECK(r.actions[0].type == RTE_FLOW_ACTION_TYPE_QUEUE, "queue action");
	CHECK(((const struct rte_flow_action_queue *)r.actions[0].conf)->index == 2, "to worker 2's queue");
	CHECK(r.actions[1].type == RTE_FLOW_ACTION_TYPE_END, "actions end");
}

void test_steer_rules(void)
{
	rule(IPPROTO_TCP);
	rule(IPPROTO_UDP);
	struct fn_steer_rule r;
	/* lport mod 3 is not a mask: no rule can express it. */
	CHECK(fn_steer_rule_build(&r, 1, IPPROTO_TCP, 0, 3) == -1, "3 workers cannot be a port mask");
	CHECK(fn_steer_rule_build(&r, 1, IPPROTO_TCP, 4, 4) == -1, "queue beyond the workers");
	/* The owner the allocator uses and the rule agree for every port. */
	for (unsigned n = 1; n <= 8; n <<= 1)
		for (uint32_t port = 0; port < 65536; port += 997)
			CHECK((port & (n - 1)) == port % n, "mask and modulo differ for n=%u port=%u", n, port);
}
