// End to end with two worker lcores on net_af_packet (config/demo-2workers.yaml,
// issue #3): the gateway opens qpairs=2 on both veths, the kernel's fanout
// spreads client flows over the two workers, and replies from the real servers
// that land on the wrong worker are handed to the owner (lport % 2) over a
// ring. Checks: 200 connections held open at the same time all answered, each
// worker created sessions, the servers only ever see LIPs, every server-seen
// lport belongs to a worker that created at least that many sessions, and the
// running gateway's `fullnat stats` (JSON and table) reports all of it.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../../src/demo/gateway-process';
import type { ServerReply } from '../../src/demo/http-server';
import { lportOwner } from '../../src/plan/lports';
import type { Counters } from '../../src/stats';
import {
  assertSeenFromLip,
  assertStoppedStats,
  concurrentRequests,
  fullnat,
  RS_NAMES,
  setupEnv,
  skipReason,
  teardownEnv,
  withGatewayLog,
  type Env,
} from './lib';

const N = 200;
const WORKERS = 2;
const CONFIG = path.join(repoRoot(), 'config', 'demo-2workers.yaml');

interface PortJson {
  name: string;
  steering: string;
  steeringReason: string;
  spreading?: string;
  driver?: string;
}
interface StatsJson {
  total: Counters;
  workers: Counters[];
  control: Counters;
  ports: PortJson[];
}

async function statsJson(env: Env): Promise<StatsJson> {
  const r = await fullnat(env, ['stats', '-c', env.config, '--json']);
  assert.equal(r.code, 0, `fullnat stats --json: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatsJson;
}

describe('e2e: two workers on net_af_packet, software reply redirect', () => {
  let env: Env | undefined;
  let replies: ServerReply[] = [];
  let during: StatsJson | undefined;
  let after200: StatsJson | undefined;

  before(async () => {
    if (skipReason) return;
    env = await setupEnv({ config: CONFIG, controlSocket: true });
  }, { timeout: 120_000 });
  after(async () => {
    await teardownEnv(env);
    if (env?.tmpDir) assert.ok(!existsSync(env.tmpDir), `${env.tmpDir} left behind`);
  }, { timeout: 60_000 });

  it('runs with a private control socket and two workers', { skip: skipReason }, () =>
    withGatewayLog(env, async () => {
      assert.ok(env!.controlSocket && existsSync(env!.controlSocket), `control socket ${env!.controlSocket} not created`);
      const s = await statsJson(env!);
      assert.equal(s.workers.length, WORKERS, `stats has ${s.workers.length} worker blocks`);
      for (const p of s.ports) {
        // qpairs=2 was added to the af_packet vdevs: flows are spread by the kernel.
        assert.match(p.spreading ?? '', /fanout.* 2 queues/, `port ${p.name} spreading: ${p.spreading}`);
      }
    }));

  it(`${N} simultaneous requests all succeed, servers see only LIPs`, { skip: skipReason, timeout: 90_000 }, () =>
    withGatewayLog(env, async () => {
      // The servers hold every answer 1.5 s: all N connections are open at once.
      // Half way through, ask the running gateway for its stats (the control
      // socket must answer while both workers are busy).
      const inFlight = concurrentRequests(env!, N, `${env!.url}?delay_ms=1500`);
      await new Promise((r) => setTimeout(r, 700));
      during = await statsJson(env!);
      const results = await inFlight;
      const failed = results.filter((r) => !r.ok);
      assert.equal(failed.length, 0, `${failed.length} of ${N} failed: ${JSON.stringify(failed.slice(0, 5))}`);
      replies = results.map((r) => JSON.parse(r.body!) as ServerReply);
      for (const r of replies) assertSeenFromLip(env!, r);
      const tuples = new Set(replies.map((r) => `${r.client}:${r.client_port}`));
      assert.equal(tuples.size, N, 'every concurrent connection has its own LIP:lport');
      for (const s of RS_NAMES) assert.ok(replies.some((r) => r.server === s), `${s} got no connection`);
      assert.equal(during.workers.length, WORKERS);
      assert.ok((during.total.sessions_active ?? 0) > 0, `no active sessions mid-flight: ${JSON.stringify(during.total)}`);
    }));

  it('stats --json: sessions on both workers, replies redirected, steering per port', { skip: skipReason }, (t) =>
    withGatewayLog(env, async () => {
      assert.equal(replies.length, N, 'needs the concurrent requests of the previous test');
      const s = (after200 = await statsJson(env!));
      assert.equal(s.workers.length, WORKERS);
      const created = s.workers.map((w) => w.sessions_created ?? 0);
      t.diagnostic(
        `sessions_created per worker ${JSON.stringify(created)}, redirected per worker ` +
          `${JSON.stringify(s.workers.map((w) => w.redirected ?? 0))}, sessions_active mid-flight ${during?.total.sessions_active}`,
      );
      assert.ok(
        created.every((c) => c > 0),
        `sessions_created per worker ${JSON.stringify(created)}: the kernel fanout put every flow on one worker`,
      );
      const total = s.total.sessions_created ?? 0;
      assert.ok(total >= N, `total sessions_created ${total} < ${N}`);
      assert.ok(total >= env!.connections, `total sessions_created ${total} < ${env!.connections} connections made`);
      assert.equal(total, created.reduce((a, b) => a + b, 0), 'total is the sum of the workers');

      // The owner is in the port: the lports the servers saw, grouped by owner,
      // can be no more than each worker created.
      const byOwner = new Array<number>(WORKERS).fill(0);
      for (const r of replies) byOwner[lportOwner(r.client_port, WORKERS)]!++;
      for (let w = 0; w < WORKERS; w++) {
        assert.ok(
          byOwner[w]! <= created[w]!,
          `servers saw ${byOwner[w]} lports owned by worker${w}, which created only ${created[w]} sessions ` +
            `(lports by owner ${JSON.stringify(byOwner)}, sessions ${JSON.stringify(created)})`,
        );
      }
      // Replies are spread by the kernel's flow hash, independent of the lport:
      // some land on the worker that does not own them and are handed over.
      assert.ok((s.total.redirected ?? 0) > 0, `redirected = 0 with ${WORKERS} workers: ${JSON.stringify(s.total)}`);
      assert.equal(s.total.drop_redirect_full ?? 0, 0, 'redirect ring overflowed');

      const lan = s.ports.find((p) => p.name === 'lan');
      const wan = s.ports.find((p) => p.name === 'wan');
      assert.ok(lan && wan, `ports ${JSON.stringify(s.ports)}`);
      assert.equal(lan.steering, 'redirect', `lan: ${JSON.stringify(lan)}`);
      assert.match(lan.steeringReason, /^fallback:/, 'af_packet has no flow rules: the lan port falls back');
      assert.equal(wan.steering, 'none', `wan: ${JSON.stringify(wan)}`);
      assert.match(wan.steeringReason, /LIP/, 'wan carries no LIP');
    }));

  it('stats table: a column per worker, control and total; a steering section', { skip: skipReason }, () =>
    withGatewayLog(env, async () => {
      const r = await fullnat(env!, ['stats', '-c', env!.config]);
      assert.equal(r.code, 0, `fullnat stats: exit ${r.code}: ${r.stderr}`);
      const lines = r.stdout.split('\n');
      assert.deepEqual(lines[0]!.trim().split(/\s+/), ['counter', 'worker0', 'worker1', 'control', 'total'], r.stdout);
      const row = lines.find((l) => l.startsWith('sessions_created '));
      assert.ok(row, `no sessions_created row:\n${r.stdout}`);
      const cells = row.trim().split(/\s+/).slice(1).map(Number);
      assert.equal(cells.length, 4, row);
      assert.ok(cells[0]! > 0 && cells[1]! > 0, `sessions_created per worker: ${row}`);
      assert.equal(cells[3], cells[0]! + cells[1]! + cells[2]!, `total is the sum: ${row}`);
      assert.ok(cells[3]! >= (after200?.total.sessions_created ?? N), row);
      assert.ok(lines.some((l) => l.startsWith('redirected ')), `no redirected row:\n${r.stdout}`);
      // Counters that never moved get no row.
      assert.ok(!lines.some((l) => l.startsWith('drop_fragment ')), `zero counter shown:\n${r.stdout}`);
      const steer = lines.indexOf('reply steering:');
      assert.ok(steer > 0, `no steering section:\n${r.stdout}`);
      assert.match(r.stdout, /^ {2}lan: redirect \(fallback: .+\)$/m);
      assert.match(r.stdout, /^ {2}wan: none \(.+\)$/m);
    }));

  it('gateway stops cleanly, counted every connection and removed its socket', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      await assertStoppedStats(env!);
      const workers = env!.stopped!.stats!.workers as Counters[];
      assert.equal(workers.length, WORKERS);
      assert.ok(!existsSync(env!.controlSocket!), `control socket ${env!.controlSocket} left after stop`);
      const r = await fullnat(env!, ['stats', '-c', env!.config]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /no gateway is running/);
    }));
});
