// End to end with syn_proxy on the web and iperf3 services: curl and an
// iperf3 stream work through the proxy; then hping3 floods SYNs at the VIP
// for 15 s while a request loop runs: every request succeeds, the real
// servers' listen queues never fill and never hold half-open connections,
// and the gateway keeps (almost) no sessions.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { assertSeenFromLip, assertStoppedStats, curl, iperf3, setupEnv, skipReason, sleep, statsJson, teardownEnv, withGatewayLog, type Env } from './lib';

/** hping3 is needed only here: installed (as root) if missing; null when it is there. */
function hpingMissing(): string | null {
  const has = () => {
    try {
      execFileSync('sh', ['-c', 'command -v hping3'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (has()) return null;
  try {
    execFileSync('apt-get', ['install', '-y', '-q', 'hping3'], { stdio: 'ignore', timeout: 300_000 });
  } catch {
    /* reported below */
  }
  return has() ? null : 'hping3 is not installed and `apt-get install -y hping3` failed';
}

/** TcpExt counters that move when SYNs overrun a listener (its namespace's own /proc/net/netstat). */
async function listenDrops(env: Env, ns: string): Promise<{ overflows: number; drops: number; cookies: number }> {
  const r = await env.topo.exec(ns, 'cat', ['/proc/net/netstat']);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/).map(Number);
  const v = (k: string) => values[names.indexOf(k)] ?? NaN;
  return { overflows: v('ListenOverflows'), drops: v('ListenDrops'), cookies: v('SyncookiesSent') };
}

/** Half-open connections and the largest listen-queue backlog (Recv-Q) in a namespace. */
async function queues(env: Env, ns: string): Promise<{ synRecv: number; backlog: number }> {
  const syn = await env.topo.exec(ns, 'ss', ['-Htn', 'state', 'syn-recv']);
  const listen = await env.topo.exec(ns, 'ss', ['-Hltn']);
  const backlog = Math.max(0, ...listen.stdout.split('\n').filter(Boolean).map((l) => Number(l.trim().split(/\s+/)[1])));
  return { synRecv: syn.stdout.split('\n').filter(Boolean).length, backlog };
}

describe('e2e: SYN proxy', () => {
  let env: Env | undefined;

  before(async () => {
    if (skipReason) return;
    env = await setupEnv({
      iperf: true,
      edit: (doc) => {
        doc.setIn(['services', 0, 'syn_proxy'], true); // web
        doc.setIn(['services', 1, 'syn_proxy'], true); // iperf-tcp
      },
    });
  }, { timeout: 120_000 });
  after(async () => {
    await teardownEnv(env);
  }, { timeout: 60_000 });

  it('curl through a syn_proxy service: answered, the server sees a LIP, the gateway did the handshakes', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      const before = (await statsJson(env!)).total;
      for (let i = 0; i < 6; i++) {
        const r = await curl(env!);
        assert.ok(r.ok, `request ${i}: ${r.error}`);
        assert.equal(r.remoteIp, env!.web.vip, 'the client talked to the VIP');
        assertSeenFromLip(env!, r.reply!);
      }
      const after = (await statsJson(env!)).total;
      const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
      assert.ok(d('syn_proxy_syn_ack_sent') >= 6, `syn_proxy_syn_ack_sent moved by ${d('syn_proxy_syn_ack_sent')}`);
      assert.ok(d('syn_proxy_established') >= 6, `syn_proxy_established moved by ${d('syn_proxy_established')}`);
      assert.equal(d('drop_syn_proxy_bad_cookie'), 0);
    }));

  it('an iperf3 TCP stream for 5 s through the proxy: data arrives, from a LIP', { skip: skipReason, timeout: 60_000 }, (t) =>
    withGatewayLog(env, async () => {
      const before = (await statsJson(env!)).total;
      const j = await iperf3(env!, ['-t', '5']);
      assert.equal(j.start.connected[0]!.remote_host, env!.web.vip, 'client must see the VIP');
      const serverBytes = j.server_output_json?.end.sum_received?.bytes ?? j.end.sum_received?.bytes ?? 0;
      assert.ok(serverBytes > 1_000_000, `server received ${serverBytes} bytes`);
      t.diagnostic(`TCP through the SYN proxy: ${((serverBytes * 8) / 5 / 1e9).toFixed(2)} Gbit/s (noisy, not asserted)`);
      const seen = j.server_output_json?.start.connected[0]?.remote_host;
      assert.ok(seen && env!.web.lips.includes(seen), `server saw ${seen}, expected a LIP`);
      const after = (await statsJson(env!)).total;
      // The control connection and the data stream both went through the proxy.
      assert.ok((after.syn_proxy_established ?? 0) - (before.syn_proxy_established ?? 0) >= 2, 'both iperf3 connections were proxied');
    }));

  it('a 15 s SYN flood at the VIP: requests keep succeeding, server listen queues stay empty, no sessions pile up', { skip: skipReason, timeout: 180_000 }, (t) =>
    withGatewayLog(env, async () => {
      const missing = hpingMissing();
      assert.equal(missing, null, missing ?? '');
      const e = env!;
      const servers = e.topo.ns.servers;
      const dropsBefore = await Promise.all(servers.map((ns) => listenDrops(e, ns)));
      const before = (await statsJson(e)).total;

      // Spoofed source inside 198.18.0.0/15 (never a random address): the
      // SYN-ACKs go back to the client namespace, whose kernel drops them.
      const flood = e.topo.spawnIn(e.topo.ns.client, 'timeout', ['-s', 'INT', '15', 'hping3', '-S', '-p', '80', '-a', '198.18.0.77', '-i', 'u50', '-q', e.web.vip]);
      let floodOut = '';
      flood.stdout?.on('data', (d: Buffer) => (floodOut += d.toString()));
      flood.stderr?.on('data', (d: Buffer) => (floodOut += d.toString()));
      const floodDone = new Promise<void>((resolve) => flood.on('exit', () => resolve()));
      let running = true;
      void floodDone.then(() => (running = false));

      let requests = 0;
      const failures: string[] = [];
      let maxSessions = 0;
      let maxSynRecv = 0;
      let maxBacklog = 0;
      const loop = (async () => {
        while (running) {
          const r = await curl(e);
          requests++;
          if (!r.ok) failures.push(r.error ?? 'failed');
          await sleep(100);
        }
      })();
      const watch = (async () => {
        while (running) {
          const s = (await statsJson(e)).total;
          maxSessions = Math.max(maxSessions, s.sessions_active ?? 0);
          for (const ns of servers) {
            const q = await queues(e, ns);
            maxSynRecv = Math.max(maxSynRecv, q.synRecv);
            maxBacklog = Math.max(maxBacklog, q.backlog);
          }
          await sleep(500);
        }
      })();
      await floodDone;
      await Promise.all([loop, watch]);

      const after = (await statsJson(e)).total;
      const synAcks = (after.syn_proxy_syn_ack_sent ?? 0) - (before.syn_proxy_syn_ack_sent ?? 0);
      const dropsAfter = await Promise.all(servers.map((ns) => listenDrops(e, ns)));
      t.diagnostic(`flood: ${synAcks} SYN-ACKs sent by the gateway; ${requests} requests; max sessions ${maxSessions}, max server SYN-RECV ${maxSynRecv}, max listen backlog ${maxBacklog}; hping3: ${floodOut.trim().split('\n').slice(-2).join(' / ')}`);

      assert.ok(synAcks > 20_000, `the flood reached the gateway: ${synAcks} SYN-ACKs (hping3: ${floodOut})`);
      assert.ok(requests >= 20, `the request loop ran (${requests} requests)`);
      assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed during the flood`);
      // The flood never reaches the servers: no listen-queue overflow, no drop.
      // (The servers' own SYN cookies would have stepped in had their SYN queue filled.)
      assert.deepEqual(dropsAfter, dropsBefore, 'TcpExt ListenOverflows/ListenDrops/SyncookiesSent on the real servers');
      // Recv-Q of a listener is its accept queue: a sample may catch the one
      // connection being accepted, never a queue.
      assert.ok(maxBacklog <= 2, `a real server listen queue held ${maxBacklog} connections (ss -ltn Recv-Q)`);
      assert.ok(maxSynRecv <= 5, `half-open connections on a real server: ${maxSynRecv}`);
      // Only the request loop's connections hold sessions (TIME_WAIT is 2 s here).
      assert.ok(maxSessions < 100, `gateway sessions during the flood: up to ${maxSessions}`);
    }));

  it('gateway stops cleanly and counted a session per connection', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      await assertStoppedStats(env!);
    }));
});
