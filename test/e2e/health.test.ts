// End to end, active health checks (issue #4, docs/health.md): probes run
// from the gateway process through its kernel (tap) interfaces. An HTTP check
// on the web service follows rs2's server going away and coming back; a TCP
// check on a port nobody listens on takes that server out; a server without a
// check stays "unchecked"; a server that goes down keeps its sessions (drain).
//
// Timing is never asserted tightly: verdicts are awaited by polling with
// generous deadlines, and the elapsed times are reported as diagnostics.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { YAMLSeq } from 'yaml';
import type { ServerReply } from '../../src/demo/http-server';
import { endChild } from '../../src/demo/topology';
import {
  concurrentRequests,
  listedServer,
  listJson,
  readConfig,
  reloadGateway,
  setupEnv,
  skipReason,
  startHttpServer,
  startTcpListener,
  stopHttpServer,
  teardownEnv,
  waitUntil,
  withGatewayLog,
  writeConfig,
  type Env,
  type ListedServer,
} from './lib';

const VIP = '198.18.0.100';
const RS = ['198.19.0.2', '198.19.0.3', '198.19.0.4']; // rs1, rs2, rs3
const INTERVAL_S = 0.5;
const RISE = 2;
const FALL = 2;
// A generous probe timeout: failures here come from refused connections, and a
// loaded CI machine must not turn a slow answer into a verdict.
const CHECK = { interval_s: INTERVAL_S, timeout_ms: 1500, rise: RISE, fall: FALL };
/** How long a verdict may take: far more than fall (rise) x interval, for a loaded 2-core machine. */
const VERDICT_MS = 15_000;
const PROBE_PORT = 9100; // rs1's check port in the "probe" service: a listener the test controls

describe('e2e: health checks', () => {
  let env: Env | undefined;
  let listener: ChildProcess | undefined;
  const web = `http://${VIP}/`;
  const probe = `http://${VIP}:8081/`;

  const server = async (service: string, i: number): Promise<ListedServer> => listedServer(await listJson(env!), service, `${RS[i]}:8080`);
  const serversOf = (replies: Awaited<ReturnType<typeof concurrentRequests>>): string[] => {
    const failed = replies.filter((r) => !r.ok);
    assert.equal(failed.length, 0, `${failed.length} of ${replies.length} requests failed: ${JSON.stringify(failed.slice(0, 3))}`);
    return replies.map((r) => (JSON.parse(r.body!) as ServerReply).server);
  };
  const count = (servers: string[]) => Object.fromEntries(['rs1', 'rs2', 'rs3'].map((s) => [s, servers.filter((x) => x === s).length]));
  /** The gateway's "real server down"/"up" log line for this server of this service, after record index `from`. */
  const logged = (msg: string, svcPort: number, i: number, from: number) =>
    env!.gw.waitFor(
      (r) => r.msg === msg && r.key === `${VIP}:${svcPort}/tcp ${RS[i]}:8080` && env!.gw.records.indexOf(r) >= from,
      5000,
    );

  before(async () => {
    if (skipReason) return;
    env = await setupEnv({
      edit: (doc) => {
        doc.setIn(['services', 0, 'health'], doc.createNode({ type: 'http', ...CHECK }));
        (doc.get('services') as YAMLSeq).add(
          doc.createNode({
            name: 'probe',
            vip: VIP,
            port: 8081,
            protocol: 'tcp',
            local_addresses: 'lan-pool',
            health: { type: 'tcp', ...CHECK, port: PROBE_PORT },
            real_servers: [
              { address: RS[0], port: 8080 }, // checked on rs1:9100
              { address: RS[1], port: 8080, health: false }, // never checked
              { address: RS[2], port: 8080, health: { port: 9 } }, // checked on rs3:9: nothing listens
            ],
          }),
        );
      },
    });
    listener = await startTcpListener(env, 0, PROBE_PORT);
  }, { timeout: 120_000 });
  after(async () => {
    if (listener) await endChild(listener, 5000);
    await teardownEnv(env);
  }, { timeout: 60_000 });

  it('a TCP check on a port nobody listens on takes the server out; unchecked and healthy servers stay in', { skip: skipReason, timeout: 60_000 }, (t) =>
    withGatewayLog(env, async () => {
      const t0 = Date.now();
      await waitUntil('probe/rs3 (checked on port 9) down', VERDICT_MS, async () => (await server('probe', 2)).health === 'down');
      t.diagnostic(`rs3 down ${Date.now() - t0} ms after the first look`);
      // rs1 may have failed a probe before its listener ran: wait until it is up.
      await waitUntil('probe/rs1 (checked on its listener) up', VERDICT_MS, async () => (await server('probe', 0)).health === 'up');
      const list = await listJson(env!);
      const rs3 = listedServer(list, 'probe', `${RS[2]}:8080`);
      assert.match(rs3.last_error ?? '', /ECONNREFUSED/, `rs3: ${JSON.stringify(rs3)}`);
      assert.equal(listedServer(list, 'probe', `${RS[1]}:8080`).health, 'unchecked');
      for (let i = 0; i < 3; i++) {
        const w = listedServer(list, 'web', `${RS[i]}:8080`);
        assert.equal(w.health, 'up', `web rs${i + 1}: ${JSON.stringify(w)}`);
        assert.equal(w.last_error, null, `web rs${i + 1} has failed a probe: ${JSON.stringify(w)}`);
      }
      await logged('real server down', 8081, 2, 0);

      const servers = serversOf(await concurrentRequests(env!, 24, probe));
      assert.equal(count(servers).rs3, 0, `a connection reached rs3, which is down: ${JSON.stringify(count(servers))}`);
      assert.ok(count(servers).rs1 > 0 && count(servers).rs2 > 0, JSON.stringify(count(servers)));
      // The web service, all up, uses all three.
      const all = count(serversOf(await concurrentRequests(env!, 24, web)));
      assert.ok(all.rs1 > 0 && all.rs2 > 0 && all.rs3 > 0, JSON.stringify(all));
    }));

  it('a reload keeps the verdicts of servers whose check did not change (a down server stays out)', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      assert.equal((await server('probe', 2)).health, 'down', 'needs probe/rs3 down from the previous test');
      const cfg = readConfig(env!);
      cfg.services[0]!.real_servers[0]!.weight = 2; // an unrelated change
      writeConfig(env!, cfg);
      const r = await reloadGateway(env!, 'cli');
      assert.ok(r.ok, r.output);
      // Right after the reload: still down, still out of the table.
      const rs3 = await server('probe', 2);
      assert.equal(rs3.health, 'down', `probe/rs3 right after an unrelated reload: ${JSON.stringify(rs3)}`);
      const c = count(serversOf(await concurrentRequests(env!, 24, probe)));
      assert.equal(c.rs3, 0, `a connection reached rs3 (down) after the reload: ${JSON.stringify(c)}`);
      assert.equal((await server('web', 0)).weight, 2);
      assert.ok(!env!.gw.records.some((x) => x.msg === 'real server up' && x.key === `${VIP}:8081/tcp ${RS[2]}:8080`), 'probe/rs3 came up');
    }));

  it(`HTTP check: rs2's server stops, rs2 goes down (fall ${FALL} x ${INTERVAL_S} s) and gets no new connection`, { skip: skipReason, timeout: 90_000 }, (t) =>
    withGatewayLog(env, async () => {
      const from = env!.gw.records.length;
      await stopHttpServer(env!, 1);
      const t0 = Date.now();
      const rs2 = await waitUntil('web/rs2 down after its server stopped', VERDICT_MS, async () => {
        const s = await server('web', 1);
        return s.health === 'down' ? s : undefined;
      }, 100);
      t.diagnostic(`rs2 down ${Date.now() - t0} ms after its server stopped (fall x interval = ${FALL * INTERVAL_S * 1000} ms): ${rs2.last_error}`);
      assert.ok(rs2.last_error, `rs2 is down without a last_error: ${JSON.stringify(rs2)}`);
      assert.match(rs2.last_error, /ECONNREFUSED|closed|reset/i, rs2.last_error);
      const rec = await logged('real server down', 80, 1, from);
      assert.equal(rec.server, `${RS[1]}:8080`);
      await env!.gw.waitFor((r) => r.msg === 'plan published' && env!.gw.records.indexOf(r) > from, 5000);

      const c = count(serversOf(await concurrentRequests(env!, 24, web)));
      assert.equal(c.rs2, 0, `a new connection reached rs2 while it is down: ${JSON.stringify(c)}`);
      assert.ok(c.rs1 > 0 && c.rs3 > 0, JSON.stringify(c));
      // The other services' view of the same address is their own: rs2 in "probe" has no check.
      assert.equal((await server('probe', 1)).health, 'unchecked');
    }));

  it(`HTTP check: rs2's server returns, rs2 is up again (rise ${RISE} x ${INTERVAL_S} s) and takes connections`, { skip: skipReason, timeout: 90_000 }, (t) =>
    withGatewayLog(env, async () => {
      const from = env!.gw.records.length;
      await startHttpServer(env!, 1);
      const t0 = Date.now();
      await waitUntil('web/rs2 up after its server returned', VERDICT_MS, async () => (await server('web', 1)).health === 'up', 100);
      t.diagnostic(`rs2 up ${Date.now() - t0} ms after its server returned (rise x interval = ${RISE * INTERVAL_S * 1000} ms)`);
      await logged('real server up', 80, 1, from);
      const c = count(serversOf(await concurrentRequests(env!, 24, web)));
      assert.ok(c.rs1 > 0 && c.rs2 > 0 && c.rs3 > 0, `after rs2 came back: ${JSON.stringify(c)}`);
    }));

  it('a server that goes down keeps its established sessions: they drain, new ones go elsewhere', { skip: skipReason, timeout: 90_000 }, (t) =>
    withGatewayLog(env, async () => {
      // rr over rs1 and rs2 (rs3 is down): four held requests put two on rs1.
      const held = concurrentRequests(env!, 4, `${probe}?delay_ms=10000`);
      await waitUntil('held requests on probe/rs1', 5000, async () => (await server('probe', 0)).active >= 1);
      const t0 = Date.now();
      await endChild(listener!, 5000); // rs1's check port closes; its HTTP server stays
      listener = undefined;
      const rs1 = await waitUntil('probe/rs1 down after its check port closed', VERDICT_MS, async () => {
        const s = await server('probe', 0);
        return s.health === 'down' ? s : undefined;
      }, 100);
      t.diagnostic(`probe/rs1 down ${Date.now() - t0} ms after its check port closed; ${rs1.active} sessions held`);
      assert.ok(rs1.active >= 1, `probe/rs1 down with ${rs1.active} sessions: the held ones were cut or not counted`);

      const c = count(serversOf(await concurrentRequests(env!, 20, probe)));
      assert.deepEqual(c, { rs1: 0, rs2: 20, rs3: 0 }, 'new connections while rs1 and rs3 are down');

      const done = await held;
      const servers = serversOf(done);
      assert.ok(servers.includes('rs1'), `no held request was on rs1: ${servers.join(' ')}`);
      // rs1 in the web service has its own (HTTP) check and stays up.
      assert.equal((await server('web', 0)).health, 'up');
    }));
});
