// End to end with syn_proxy on the web and iperf3 services: curl and an
// iperf3 stream work through the proxy; then hping3 floods SYNs at the VIP
// for 15 s while a request loop runs: every request succeeds, the real
// servers' listen queues never fill and never hold half-open connections,
// and the gateway keeps (almost) no sessions.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { assertSeenFromLip, assertStoppedStats, curl, iperf3, readConfig, reloadGateway, setupEnv, skipReason, sleep, statsJson, teardownEnv, withGatewayLog, writeConfig, type Env } from './lib';

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

interface FloodResult {
  synAcks: number;
  requests: number;
  failures: string[];
  maxSessions: number;
  maxSynRecv: number;
  maxBacklog: number;
  dropsBefore: Array<{ overflows: number; drops: number; cookies: number }>;
  dropsAfter: Array<{ overflows: number; drops: number; cookies: number }>;
  hping: string;
}

/**
 * hping3 SYNs at VIP:80 for `seconds` from a spoofed source inside
 * 198.18.0.0/15 (never a random address; the SYN-ACKs go back to the client
 * namespace, whose kernel drops them), while a request loop runs and the
 * gateway's sessions and the servers' queues are sampled.
 */
async function flood(e: Env, seconds: number): Promise<FloodResult> {
  const servers = e.topo.ns.servers;
  const dropsBefore = await Promise.all(servers.map((ns) => listenDrops(e, ns)));
  const before = (await statsJson(e)).total;
  const connectionsBefore = e.connections;
  const proc = e.topo.spawnIn(e.topo.ns.client, 'timeout', ['-s', 'INT', String(seconds), 'hping3', '-S', '-p', '80', '-a', '198.18.0.77', '-i', 'u50', '-q', e.web.vip]);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  let running = true;
  void done.then(() => (running = false));
  const r: FloodResult = { synAcks: 0, requests: 0, failures: [], maxSessions: 0, maxSynRecv: 0, maxBacklog: 0, dropsBefore, dropsAfter: [], hping: '' };
  const loop = (async () => {
    while (running) {
      const c = await curl(e);
      r.requests++;
      if (!c.ok) r.failures.push(c.error ?? 'failed');
      await sleep(100);
    }
  })();
  const watch = (async () => {
    while (running) {
      const s = (await statsJson(e)).total;
      r.maxSessions = Math.max(r.maxSessions, s.sessions_active ?? 0);
      for (const ns of servers) {
        const q = await queues(e, ns);
        r.maxSynRecv = Math.max(r.maxSynRecv, q.synRecv);
        r.maxBacklog = Math.max(r.maxBacklog, q.backlog);
      }
      await sleep(500);
    }
  })();
  await done;
  await Promise.all([loop, watch]);
  const after = (await statsJson(e)).total;
  // Without the proxy every spoofed SYN makes a half-open session: count them
  // apart from the request loop's connections (with the proxy, none).
  e.otherSessions += (after.sessions_created ?? 0) - (before.sessions_created ?? 0) - (e.connections - connectionsBefore);
  r.synAcks = (after.syn_proxy_syn_ack_sent ?? 0) - (before.syn_proxy_syn_ack_sent ?? 0);
  r.dropsAfter = await Promise.all(servers.map((ns) => listenDrops(e, ns)));
  r.hping = out.trim().split('\n').slice(-2).join(' / ');
  return r;
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
      const f = await flood(env!, 15);
      t.diagnostic(`flood: ${f.synAcks} SYN-ACKs sent by the gateway; ${f.requests} requests; max sessions ${f.maxSessions}, max server SYN-RECV ${f.maxSynRecv}, max listen backlog ${f.maxBacklog}; hping3: ${f.hping}`);
      assert.ok(f.synAcks > 20_000, `the flood reached the gateway: ${f.synAcks} SYN-ACKs (hping3: ${f.hping})`);
      assert.ok(f.requests >= 20, `the request loop ran (${f.requests} requests)`);
      assert.deepEqual(f.failures, [], `${f.failures.length} of ${f.requests} requests failed during the flood`);
      // The flood never reaches the servers: no listen-queue overflow, no
      // drop, and their own SYN cookies never had to step in.
      assert.deepEqual(f.dropsAfter, f.dropsBefore, 'TcpExt ListenOverflows/ListenDrops/SyncookiesSent on the real servers');
      // Recv-Q of a listener is its accept queue: a sample may catch the one
      // connection being accepted, never a queue.
      assert.ok(f.maxBacklog <= 2, `a real server listen queue held ${f.maxBacklog} connections (ss -ltn Recv-Q)`);
      assert.ok(f.maxSynRecv <= 5, `half-open connections on a real server: ${f.maxSynRecv}`);
      // Only the request loop's connections hold sessions (TIME_WAIT is 2 s here).
      assert.ok(f.maxSessions < 100, `gateway sessions during the flood: up to ${f.maxSessions}`);
    }));

  it('control: with syn_proxy turned off by a reload, the same flood does reach the servers', { skip: skipReason, timeout: 120_000 }, (t) =>
    withGatewayLog(env, async () => {
      const cfg = readConfig(env!);
      for (const svc of cfg.services) delete (svc as { syn_proxy?: boolean }).syn_proxy;
      writeConfig(env!, cfg);
      const r = await reloadGateway(env!, 'cli');
      assert.ok(r.ok, `reload: ${r.output}`);
      const f = await flood(env!, 5);
      const moved = f.dropsAfter.reduce((n, a, i) => n + a.overflows + a.drops + a.cookies - f.dropsBefore[i]!.overflows - f.dropsBefore[i]!.drops - f.dropsBefore[i]!.cookies, 0);
      t.diagnostic(`without the proxy: max server SYN-RECV ${f.maxSynRecv}, server listen drops/cookies +${moved}, max gateway sessions ${f.maxSessions}`);
      assert.equal(f.synAcks, 0, 'the gateway no longer answers SYNs itself');
      assert.ok(f.maxSynRecv > 5 || moved > 0, `the flood should have reached the servers (max SYN-RECV ${f.maxSynRecv}, drops/cookies +${moved})`);
      assert.ok(f.maxSessions >= 100, `the gateway held half-open sessions (${f.maxSessions})`);
    }));

  it('gateway stops cleanly and counted a session per connection', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      await assertStoppedStats(env!);
    }));
});
