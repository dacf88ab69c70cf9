// End to end, iperf3 through the VIP to rs1: a TCP stream and a UDP stream,
// each checked from both sides (the server saw a LIP, the client the VIP).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertStoppedStats, iperf3, setupEnv, skipReason, teardownEnv, withGatewayLog, type Env } from './lib';

describe('e2e: iperf3 through the VIP', () => {
  let env: Env | undefined;

  before(async () => {
    if (skipReason) return;
    env = await setupEnv({ iperf: true });
  }, { timeout: 120_000 });
  after(async () => {
    await teardownEnv(env);
  }, { timeout: 60_000 });

  it('TCP for 5 s: the server receives data, from a LIP', { skip: skipReason, timeout: 60_000 }, (t) =>
    withGatewayLog(env, async () => {
      const j = await iperf3(env!, ['-t', '5']);
      assert.equal(j.start.test_start.protocol, 'TCP');
      assert.equal(j.start.connected[0]!.remote_host, env!.web.vip, 'client must see the VIP');
      const serverBytes = j.server_output_json?.end.sum_received?.bytes ?? j.end.sum_received?.bytes ?? 0;
      assert.ok(serverBytes > 0, `server received ${serverBytes} bytes`);
      t.diagnostic(`TCP: ${serverBytes} bytes received, ${((serverBytes * 8) / 5 / 1e9).toFixed(2)} Gbit/s (noisy, not asserted)`);
      const seen = j.server_output_json?.start.connected[0]?.remote_host;
      assert.ok(seen && env!.web.lips.includes(seen), `server saw ${seen}, expected a LIP`);
    }));

  it('UDP 50 Mbit/s for 3 s: packets arrive, loss < 5 %', { skip: skipReason, timeout: 60_000 }, (t) =>
    withGatewayLog(env, async () => {
      const j = await iperf3(env!, ['-u', '-b', '50M', '-t', '3']);
      assert.equal(j.start.test_start.protocol, 'UDP');
      const sum = j.end.sum!;
      // In the client's JSON, end.sum carries the server's count and loss.
      const received = (sum.packets ?? 0) - (sum.lost_packets ?? 0);
      assert.ok(received > 0, `server received ${received} packets (${JSON.stringify(sum)})`);
      t.diagnostic(`UDP: ${received} packets received, ${sum.lost_packets} lost (${sum.lost_percent}%)`);
      assert.ok((sum.lost_percent ?? 100) < 5, `lost ${sum.lost_percent}% (${JSON.stringify(sum)})`);
      const seen = j.server_output_json?.start.connected[0]?.remote_host;
      assert.ok(seen && env!.web.lips.includes(seen), `server saw ${seen}, expected a LIP`);
    }));

  it('gateway stops cleanly and counted a session per connection', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      await assertStoppedStats(env!);
    }));
});
