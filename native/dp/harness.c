/* For tests and the bench only, never on a production path: frames put on
 * and taken off ring ports, the bench's pump, and its l2fwd ceiling mode. */
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "dp.h"
#include "verbs.h"

unsigned fn_dp_ring_inject(unsigned pi, unsigned q, const uint8_t *const *frames, const uint16_t *lens,
			   unsigned n)
{
	if (!fn_dp.started || pi >= fn_dp.cfg.n_ports || q >= fn_dp.cfg.n_workers || !fn_dp.ports[pi].rx[q])
		return 0;
	unsigned done = 0;
	for (; done < n; done++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(fn_dp.pool);
		if (!m)
			break;
		char *d = rte_pktmbuf_append(m, lens[done]);
		if (!d) {
			rte_pktmbuf_free(m);
			break;
		}
		memcpy(d, frames[done], lens[done]);
		m->port = fn_dp.ports[pi].port_id;
		if (rte_ring_sp_enqueue(fn_dp.ports[pi].rx[q], m) != 0) {
			rte_pktmbuf_free(m);
			break;
		}
	}
	return done;
}

unsigned fn_dp_ring_drain(unsigned pi, unsigned q, uint8_t *buf, size_t buflen, uint32_t *offsets,
			  uint16_t *lens, unsigned max)
{
	if (!fn_dp.started || pi >= fn_dp.cfg.n_ports || q >= fn_dp.cfg.n_workers || !fn_dp.ports[pi].tx[q])
		return 0;
	size_t off = 0;
	unsigned n = 0;
	struct rte_mbuf *m;
	while (n < max && off + RTE_MBUF_DEFAULT_BUF_SIZE <= buflen &&
	       rte_ring_sc_dequeue(fn_dp.ports[pi].tx[q], (void **)&m) == 0) {
		uint32_t len = rte_pktmbuf_pkt_len(m);
		const void *d = rte_pktmbuf_read(m, 0, len, buf + off);
		if (d != buf + off)
			memcpy(buf + off, d, len);
		offsets[n] = (uint32_t)off;
		lens[n] = (uint16_t)len;
		off += len;
		n++;
		rte_pktmbuf_free(m);
	}
	return n;
}

int fn_dp_bench_pump(unsigned pi, unsigned q, const uint8_t *const *frames, const uint16_t *lens, unsigned n_frames,
		     uint64_t count, struct fn_bench_result *r)
{
	memset(r, 0, sizeof(*r));
	r->tsc_hz = rte_get_tsc_hz();
	if (!fn_dp.started || pi >= fn_dp.cfg.n_ports || q >= fn_dp.cfg.n_workers || !fn_dp.ports[pi].rx[q] ||
	    n_frames == 0)
		return -1;
	struct rte_mbuf *m[FN_BURST];
	uint64_t start = rte_rdtsc(), quiet_since = 0, quiet = rte_get_tsc_hz() / 50;
	unsigned next = 0;
	for (;;) {
		/* Sink first: keeps mbufs flowing back to the pool. */
		unsigned drained = 0;
		for (unsigned p = 0; p < fn_dp.cfg.n_ports; p++)
			for (unsigned t = 0; fn_dp.ports[p].tx[0] && t < fn_dp.cfg.n_workers; t++) {
				unsigned n = rte_ring_sc_dequeue_burst(fn_dp.ports[p].tx[t], (void **)m, FN_BURST, NULL);
				if (n)
					rte_pktmbuf_free_bulk(m, n);
				drained += n;
			}
		r->drained += drained;
		if (r->injected < count) {
			unsigned want = (unsigned)RTE_MIN((uint64_t)FN_BURST, count - r->injected);
			if (rte_pktmbuf_alloc_bulk(fn_dp.pool, m, want) == 0) {
				for (unsigned i = 0; i < want; i++) {
					memcpy(rte_pktmbuf_append(m[i], lens[next]), frames[next], lens[next]);
					m[i]->port = fn_dp.ports[pi].port_id;
					next = next + 1 == n_frames ? 0 : next + 1;
				}
				unsigned sent = rte_ring_sp_enqueue_burst(fn_dp.ports[pi].rx[q], (void **)m, want, NULL);
				if (sent < want)
					rte_pktmbuf_free_bulk(&m[sent], want - sent);
				r->injected += sent;
			}
			quiet_since = 0;
		} else if (drained == 0) {
			uint64_t now = rte_rdtsc();
			if (!quiet_since)
				quiet_since = now;
			else if (now - quiet_since > quiet)
				break;
		} else {
			quiet_since = 0;
		}
	}
	r->cycles = rte_rdtsc() - start;
	return 0;
}

/* The bench's ceiling: receive, swap MACs, send back out the same port. No
 * parsing, no sessions: what any forwarder costs on this harness. */
int fn_worker_l2fwd(struct fn_worker *w)
{
	struct rte_mbuf *pkts[FN_BURST];
	const unsigned nports = fn_dp.cfg.n_ports;
	while (__atomic_load_n(&fn_dp.running, __ATOMIC_ACQUIRE)) {
		uint64_t now = rte_rdtsc();
		unsigned got = 0;
		for (unsigned pi = 0; pi < nports; pi++) {
			uint16_t n = rte_eth_rx_burst(fn_dp.ports[pi].port_id, w->idx, pkts, FN_BURST);
			for (uint16_t i = 0; i < n; i++) {
				struct rte_ether_hdr *e = rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);
				struct rte_ether_addr t = e->dst_addr;
				e->dst_addr = e->src_addr;
				e->src_addr = t;
				tx(w, pi, pkts[i]);
			}
			got += n;
			FN_COUNT_N(w->ctr, rx_packets, n);
			tx_flush(w, pi);
		}
		if (got)
			FN_COUNT_N(w->ctr, busy_cycles, rte_rdtsc() - now);
		rte_rcu_qsbr_quiescent(fn_dp.rcu, w->idx);
		if (!got && fn_dp.cfg.idle_sleep_us)
			rte_delay_us_sleep(fn_dp.cfg.idle_sleep_us);
	}
	return 0;
}
