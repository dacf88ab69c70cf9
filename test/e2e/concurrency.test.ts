// End to end: 100 TCP connections open at the same time through the VIP, each
// held ~1 s by the server, all answered, each with its own LIP:lport.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertSeenFromLip, assertStoppedStats, concurrentRequests, RS_NAMES, setupEnv, skipReason, teardownEnv, withGatewayLog, type Env } from './lib';
import type { ServerReply } from '../../src/demo/http-server';

const N = 100;

describe('e2e: 100 concurrent connections', () => {
  let env: Env | undefined;

  before(async () => {
    if (skipReason) return;
    env = await setupEnv();
  }, { timeout: 120_000 });
  after(async () => {
    await teardownEnv(env);
  }, { timeout: 60_000 });

  it(`${N} simultaneous requests all succeed`, { skip: skipReason, timeout: 90_000 }, () =>
    withGatewayLog(env, async () => {
      const results = await concurrentRequests(env!, N, `${env!.url}?delay_ms=1000`);
      const failed = results.filter((r) => !r.ok);
      assert.equal(failed.length, 0, `${failed.length} failed: ${JSON.stringify(failed.slice(0, 5))}`);
      const replies = results.map((r) => JSON.parse(r.body!) as ServerReply);
      for (const r of replies) assertSeenFromLip(env!, r);
      // Open at once, so no (LIP, lport) pair can repeat.
      const tuples = new Set(replies.map((r) => `${r.client}:${r.client_port}`));
      assert.equal(tuples.size, N, 'every concurrent connection has its own LIP:lport');
      for (const s of RS_NAMES) assert.ok(replies.some((r) => r.server === s), `${s} got no connection`);
    }));

  it('gateway stops cleanly and counted a session per connection', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      await assertStoppedStats(env!);
    }));
});
