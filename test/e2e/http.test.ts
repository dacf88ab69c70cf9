// End to end, HTTP through the VIP: round robin over the three real servers,
// SNAT to a LIP (what the server sees) and the VIP as what the client sees.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertSeenFromLip, assertStoppedStats, curl, RS_NAMES, setupEnv, skipReason, teardownEnv, withGatewayLog, type Env } from './lib';
import type { ServerReply } from '../../src/demo/http-server';

describe('e2e: HTTP through the VIP (rr, FullNAT)', () => {
  let env: Env | undefined;
  const replies: ServerReply[] = [];
  const remoteIps: string[] = [];

  before(async () => {
    if (skipReason) return;
    env = await setupEnv();
  }, { timeout: 120_000 });
  after(async () => {
    await teardownEnv(env);
  }, { timeout: 60_000 });

  it('30 requests: every server answers 10 under rr', { skip: skipReason, timeout: 120_000 }, () =>
    withGatewayLog(env, async () => {
      for (let i = 0; i < 30; i++) {
        const r = await curl(env!);
        assert.ok(r.ok, `request ${i + 1}: ${r.error}`);
        replies.push(r.reply!);
        remoteIps.push(r.remoteIp!);
      }
      const per = Object.fromEntries(RS_NAMES.map((s) => [s, replies.filter((r) => r.server === s).length]));
      assert.deepEqual(per, { rs1: 10, rs2: 10, rs3: 10 });
      // rr: consecutive requests never hit the same server twice in a row.
      for (let i = 1; i < replies.length; i++) assert.notEqual(replies[i]!.server, replies[i - 1]!.server);
    }));

  it('every server saw a LIP as the client address, never the client', { skip: skipReason }, () => {
    assert.equal(replies.length, 30);
    for (const r of replies) assertSeenFromLip(env!, r);
  });

  it('the client saw the VIP as the remote address', { skip: skipReason }, () => {
    assert.equal(remoteIps.length, 30);
    for (const ip of remoteIps) assert.equal(ip, env!.web.vip);
  });

  it('gateway stops cleanly and counted a session per connection', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      const total = await assertStoppedStats(env!);
      assert.ok((total.fwd_to_server ?? 0) > 0 && (total.fwd_to_client ?? 0) > 0, JSON.stringify(total));
    }));
});
