// End to end, HTTP through the VIP: round robin over the three real servers,
// SNAT to a LIP (what the server sees) and the VIP as what the client sees.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertSeenFromLip, assertStoppedStats, curl, RS_NAMES, setupEnv, skipReason, statsJson, teardownEnv, withGatewayLog, type Env } from './lib';
import type { ServerReply } from '../../src/demo/http-server';

const REQUESTS = 30;
// Each connection carries at least SYN, ACK and the request to the server and
// SYN-ACK and the response to the client before curl returns; the rest (FINs,
// delayed ACKs) varies, so packet counts have a floor, not a value.
const MIN_TO_SERVER = 3;
const MIN_TO_CLIENT = 2;

describe('e2e: HTTP through the VIP (rr, FullNAT)', () => {
  let env: Env | undefined;
  const replies: ServerReply[] = [];
  const remoteIps: string[] = [];
  const failures: string[] = [];
  /** Counter deltas over the requests. */
  const moved: Record<string, number> = {};

  // The requests are the shared setup every test below reads: each test passes on its own.
  before(async () => {
    if (skipReason) return;
    env = await setupEnv();
    await withGatewayLog(env, async () => {
      const before = (await statsJson(env!)).total;
      for (let i = 0; i < REQUESTS; i++) {
        const r = await curl(env!);
        if (!r.ok) failures.push(`request ${i + 1}: ${r.error}`);
        else {
          replies.push(r.reply!);
          remoteIps.push(r.remoteIp!);
        }
      }
      const after = (await statsJson(env!)).total;
      for (const k of ['sessions_created', 'fwd_to_server', 'fwd_to_client']) moved[k] = (after[k] ?? 0) - (before[k] ?? 0);
    });
  }, { timeout: 180_000 });
  after(async () => {
    await teardownEnv(env);
  }, { timeout: 60_000 });

  it(`${REQUESTS} requests: every server answers 10 under rr, each request a session of its own`, { skip: skipReason }, () => {
    assert.deepEqual(failures, []);
    const per = Object.fromEntries(RS_NAMES.map((s) => [s, replies.filter((r) => r.server === s).length]));
    assert.deepEqual(per, { rs1: 10, rs2: 10, rs3: 10 });
    // rr: consecutive requests never hit the same server twice in a row.
    for (let i = 1; i < replies.length; i++) assert.notEqual(replies[i]!.server, replies[i - 1]!.server);
    assert.equal(moved.sessions_created, REQUESTS, JSON.stringify(moved));
    assert.ok(moved.fwd_to_server! >= MIN_TO_SERVER * REQUESTS, JSON.stringify(moved));
    assert.ok(moved.fwd_to_client! >= MIN_TO_CLIENT * REQUESTS, JSON.stringify(moved));
  });

  it('every server saw a LIP as the client address, never the client', { skip: skipReason }, () => {
    assert.equal(replies.length, REQUESTS);
    for (const r of replies) assertSeenFromLip(env!, r);
  });

  it('the client saw the VIP as the remote address', { skip: skipReason }, () => {
    assert.equal(remoteIps.length, REQUESTS);
    for (const ip of remoteIps) assert.equal(ip, env!.web.vip);
  });

  // Last: it stops the gateway (the tests above read only what before() gathered).
  it('gateway stops cleanly and counted a session per connection', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      const total = await assertStoppedStats(env!);
      assert.ok((total.fwd_to_server ?? 0) >= MIN_TO_SERVER * REQUESTS && (total.fwd_to_client ?? 0) >= MIN_TO_CLIENT * REQUESTS, JSON.stringify(total));
    }));
});
