// End to end, a port's link going down and up: the gateway's wan veth (gw0,
// an af_packet port) is set down, then up again, with `ip link` in the
// gateway namespace. The gateway logs each change naming the port, keeps
// running, requests fail while the link is down (the test really cut it) and
// succeed again once it is back; an iperf3 stream across the flap survives
// (TCP retransmits what the gap lost).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { curl, iperf3, setupEnv, skipReason, sleep, teardownEnv, waitUntil, withGatewayLog, type Env } from './lib';
import { curlOnce } from '../../src/demo/run';

describe('e2e: link down and up on the wan port', { skip: skipReason }, () => {
  let env: Env | undefined;

  before(async () => {
    env = await setupEnv({ iperf: true });
  }, { timeout: 120_000 });
  after(async () => {
    await teardownEnv(env);
  }, { timeout: 60_000 });

  it('is logged both ways, traffic stops while down and resumes after, the gateway and a stream across it survive', { timeout: 120_000 }, () =>
    withGatewayLog(env, async () => {
      const e = env!;
      const gwNs = e.topo.ns.gateway;
      const link = (state: 'up' | 'down') => e.topo.exec(gwNs, 'ip', ['link', 'set', 'gw0', state]);
      const isLinkLog = (msg: string) => (r: Record<string, unknown>) => r.port === 'wan' && typeof r.msg === 'string' && r.msg.startsWith(msg);
      assert.ok((await curl(e)).ok, 'a request before the flap');

      const stream = iperf3(e, ['-t', '12'], 90_000).then(
        (j) => ({ ok: true as const, j }),
        (err: Error) => ({ ok: false as const, err }),
      );
      await sleep(2000);
      await link('down');
      try {
        const down = await e.gw.waitFor(isLinkLog('link down'), 10_000);
        assert.equal(down.level, 40, 'link down is a warning');
        const cut = await curlOnce(e.topo, e.url, 2);
        assert.equal(cut.ok, false, 'no request gets through while the link is down');
        await sleep(1000);
      } finally {
        await link('up');
      }
      const up = await e.gw.waitFor(isLinkLog('link up'), 10_000);
      assert.equal(up.level, 30, 'link up is info');
      // The veth's carrier and the client's ARP come back on their own time: wait, bounded.
      await waitUntil('a request through the VIP after link up', 30_000, async () => (await curl(e)).ok);
      for (let i = 0; i < 5; i++) {
        const r = await curl(e);
        assert.ok(r.ok, `request ${i} after the flap: ${r.error}`);
      }
      const s = await stream;
      assert.ok(s.ok, `the iperf3 stream across the flap: ${s.ok ? '' : s.err.message}`);
      const bytes = s.j.server_output_json?.end.sum_received?.bytes ?? s.j.end.sum_received?.bytes ?? 0;
      assert.ok(bytes > 0, 'the stream carried data');
      assert.equal(e.gw.child.exitCode, null, 'the gateway is still running');
      assert.equal(e.gw.records.filter(isLinkLog('link down')).length, 1, 'one down, logged once');
    }));
});
