// Health monitor against real sockets on 127.0.0.1: rise/fall, HTTP verdicts,
// update() semantics, and a stop() that leaves nothing running.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { setImmediate as tick } from 'node:timers/promises';
import pino from 'pino';
import {
  HEALTH_CHECK_DEFAULTS,
  HealthConfigError,
  HealthMonitor,
  firstProbeDelays,
  normalizeTarget,
  type HealthCheckConfig,
  type HealthState,
  type HealthTarget,
} from '../../src/health';

// ---- helpers ---------------------------------------------------------------

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

function capture(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug', base: undefined }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}

function target(key: string, port: number, check: Partial<HealthCheckConfig> = {}): HealthTarget {
  return { key, address: '127.0.0.1', port, check: { type: 'tcp', interval_s: 0.02, timeout_ms: 1000, rise: 2, fall: 3, ...check } };
}

/** Every helper below registers its cleanup with t.after: a failed assertion must not leave timers or servers that keep the file from exiting. */
function monitor(t: TestContext): { m: HealthMonitor; events: HealthState[]; lines: LogLine[] } {
  const { log, lines } = capture();
  const m = new HealthMonitor(log);
  t.after(() => m.stop());
  const events: HealthState[] = [];
  m.on('change', (s) => events.push(s));
  return { m, events, lines };
}

function state(m: HealthMonitor, key: string): HealthState {
  const s = m.states().find((x) => x.key === key);
  assert.ok(s, `no state for ${key}`);
  return s;
}

/** Polls until cond() holds; the bound is generous, only there to fail instead of hang. */
async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Server {
  port: number;
  /** Connections accepted so far. */
  accepted: () => number;
  /** Connections open right now. */
  open: () => number;
  close: () => Promise<void>;
}

function track(t: TestContext, srv: net.Server, port = 0): Promise<Server> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  srv.on('connection', (s: net.Socket) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const server: Server = {
        port: (srv.address() as net.AddressInfo).port,
        accepted: () => accepted,
        open: () => sockets.size,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            srv.close(() => r());
          }),
      };
      t.after(() => (srv.listening ? server.close() : undefined));
      resolve(server);
    });
  });
}

/** Accepts, then closes when the client does. */
function tcpServer(t: TestContext, port = 0): Promise<Server> {
  return track(
    t,
    net.createServer((s) => {
      s.resume();
      s.on('end', () => s.end());
    }),
    port,
  );
}

/** Accepts and never answers. */
function silentServer(t: TestContext): Promise<Server> {
  return track(t, net.createServer((s) => s.resume()));
}

function httpServer(t: TestContext, handler: http.RequestListener): Promise<Server> {
  return track(t, http.createServer(handler));
}

/** A port nothing listens on (the kernel just handed it out and took it back). */
async function freePort(t: TestContext): Promise<number> {
  const s = await tcpServer(t);
  await s.close();
  return s.port;
}

// ---- TCP -------------------------------------------------------------------

test('tcp: a listening server stays up, no events, connections really made', async (t) => {
  const srv = await tcpServer(t);
  const { m, events } = monitor(t);
  m.update([target('a', srv.port)]);
  await waitFor(() => state(m, 'a').checks >= 5, '5 checks');
  const s = state(m, 'a');
  assert.equal(s.up, true);
  assert.equal(s.failures, 0);
  assert.equal(s.transitions, 0);
  assert.equal(s.lastError, null);
  assert.equal(m.isUp('a'), true);
  await waitFor(() => srv.accepted() >= 5, 'the server to accept 5 connections');
  assert.deepEqual(events, []);
  m.stop();
  await srv.close();
});

test('tcp: a closed port goes down after exactly `fall` failures, and up after `rise` successes', async (t) => {
  const port = await freePort(t);
  const { m, events, lines } = monitor(t);
  let loggedFirst = false;
  m.on('change', (s) => {
    // The transition is logged before listeners hear of it.
    const last = lines[lines.length - 1]!;
    loggedFirst = last.key === s.key && last.msg === (s.up ? 'real server up' : 'real server down');
  });
  m.update([target('a', port, { fall: 3, rise: 2 })]);
  assert.equal(m.isUp('a'), true, 'a new target starts up');

  await waitFor(() => events.length === 1, 'down event');
  const down = events[0]!;
  assert.equal(down.up, false);
  assert.equal(down.checks, 3);
  assert.equal(down.failures, 3);
  assert.equal(down.transitions, 1);
  assert.equal(down.consecutive, 0);
  assert.equal(down.lastError, 'connect ECONNREFUSED');
  assert.equal(loggedFirst, true);
  const warn = lines.find((l) => l.msg === 'real server down')!;
  assert.equal(warn.level, 40);
  assert.deepEqual([warn.key, warn.server, warn.reason], ['a', `127.0.0.1:${port}`, 'connect ECONNREFUSED']);
  assert.equal(m.isUp('a'), false);

  // Still failing: still down, and no further events.
  await waitFor(() => state(m, 'a').checks >= 8, '8 checks');
  assert.equal(events.length, 1);
  assert.equal(state(m, 'a').consecutive, 0);

  const srv = await tcpServer(t, port);
  await waitFor(() => events.length === 2, 'up event');
  const up = events[1]!;
  assert.equal(up.up, true);
  assert.equal(up.transitions, 2);
  assert.equal(up.checks - up.failures, 2, 'exactly `rise` successes');
  assert.equal(up.lastError, 'connect ECONNREFUSED', 'the last failure stays visible');
  assert.ok(up.since >= down.since);
  const info = lines.find((l) => l.msg === 'real server up')!;
  assert.equal(info.level, 30);
  assert.deepEqual([info.key, info.server], ['a', `127.0.0.1:${port}`]);
  assert.equal(loggedFirst, true);
  m.stop();
  await srv.close();
});

test('fall 1 / rise 1 flip on a single result', async (t) => {
  const port = await freePort(t);
  const { m, events } = monitor(t);
  m.update([target('a', port, { fall: 1, rise: 1 })]);
  await waitFor(() => events.length === 1, 'down event');
  assert.equal(events[0]!.checks, 1);
  const srv = await tcpServer(t, port);
  await waitFor(() => events.length === 2, 'up event');
  assert.equal(events[1]!.checks - events[1]!.failures, 1);
  m.stop();
  await srv.close();
});

// ---- hysteresis ------------------------------------------------------------

test('rise=fall=2: alternating success/failure never flips the state, up or down', async (t) => {
  let mode: 'alternate' | 'fail' = 'alternate';
  let lastOk = true;
  const srv = await httpServer(t, (_req, res) => {
    const ok = mode === 'alternate' ? !lastOk : false;
    lastOk = ok;
    res.writeHead(ok ? 200 : 503).end();
  });
  const { m, events } = monitor(t);
  m.update([target('a', srv.port, { type: 'http', rise: 2, fall: 2 })]);

  await waitFor(() => state(m, 'a').checks >= 12, '12 checks while up');
  let s = state(m, 'a');
  assert.equal(s.up, true);
  assert.ok(s.failures >= 5, `failures ${s.failures}`);
  assert.equal(events.length, 0);

  mode = 'fail';
  await waitFor(() => events.length === 1, 'down event');
  mode = 'alternate';
  const at = state(m, 'a').checks;
  await waitFor(() => state(m, 'a').checks >= at + 12, '12 checks while down');
  s = state(m, 'a');
  assert.equal(s.up, false);
  assert.ok(s.checks - s.failures >= 5, 'successes happened while down');
  assert.equal(events.length, 1);
  assert.ok(s.consecutive <= 1);
  m.stop();
  await srv.close();
});

// ---- HTTP ------------------------------------------------------------------

test('http: a matching status and body keeps the server up; Host and path are sent', async (t) => {
  const seen: { url?: string; host?: string; ua?: string }[] = [];
  const srv = await httpServer(t, (req, res) => {
    seen.push({ url: req.url, host: req.headers.host, ua: req.headers['user-agent'] });
    res.writeHead(204).end();
  });
  const srv2 = await httpServer(t, (_req, res) => res.end('status: ok\n'));
  const { m, events } = monitor(t);
  m.update([
    target('a', srv.port, { type: 'http', http: { path: '/healthz?full=1', status: 204 } }),
    target('b', srv2.port, { type: 'http', http: { path: '/', status: 200, body: 'ok', host: 'svc.example' } }),
  ]);
  await waitFor(() => state(m, 'a').checks >= 3 && state(m, 'b').checks >= 3, '3 checks each');
  assert.equal(state(m, 'a').failures, 0);
  assert.equal(state(m, 'b').failures, 0);
  assert.deepEqual(seen[0], { url: '/healthz?full=1', host: `127.0.0.1:${srv.port}`, ua: 'fullnat-health' });
  assert.deepEqual(events, []);
  m.stop();
  await srv.close();
  await srv2.close();
});

test('http: a status mismatch goes down with "status 503, expected 200"', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.writeHead(503).end('busy'));
  const { m, events } = monitor(t);
  m.update([target('a', srv.port, { type: 'http', fall: 2 })]);
  await waitFor(() => events.length === 1, 'down event');
  assert.equal(events[0]!.lastError, 'status 503, expected 200');
  assert.equal(events[0]!.failures, 2);
  m.stop();
  await srv.close();
});

test('http: a body without the substring goes down with `body lacks "ok"`', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('degraded'));
  const { m, events } = monitor(t);
  m.update([target('a', srv.port, { type: 'http', fall: 2, http: { path: '/', status: 200, body: 'ok' } })]);
  await waitFor(() => events.length === 1, 'down event');
  assert.equal(events[0]!.lastError, 'body lacks "ok"');
  m.stop();
  await srv.close();
});

test('http: a server that accepts and never answers goes down on timeout; its sockets are closed', async (t) => {
  const srv = await silentServer(t);
  const { m, events } = monitor(t);
  m.update([target('a', srv.port, { type: 'http', fall: 2, timeout_ms: 300 })]);
  await waitFor(() => events.length === 1, 'down event');
  assert.equal(events[0]!.lastError, 'timeout after 300 ms waiting for response');
  assert.equal(events[0]!.checks, 2);
  m.stop();
  await waitFor(() => srv.open() === 0, 'probe sockets closed');
  await srv.close();
});

test('http: a refused connection reads "connect ECONNREFUSED"', async (t) => {
  const port = await freePort(t);
  const { m, events } = monitor(t);
  m.update([target('a', port, { type: 'http', fall: 1 })]);
  await waitFor(() => events.length === 1, 'down event');
  assert.equal(events[0]!.lastError, 'connect ECONNREFUSED');
  m.stop();
});

test('probes of one target never overlap, even when slower than the interval', async (t) => {
  let inFlight = 0;
  let most = 0;
  let served = 0;
  const srv = await httpServer(t, (_req, res) => {
    most = Math.max(most, ++inFlight);
    setTimeout(() => {
      inFlight--;
      served++;
      res.end();
    }, 60);
  });
  const { m } = monitor(t);
  m.update([target('a', srv.port, { type: 'http', interval_s: 0.001, timeout_ms: 2000 })]);
  await waitFor(() => served >= 4, '4 slow responses');
  m.stop();
  assert.equal(most, 1);
  assert.equal(state(m, 'a').failures, 0);
  await srv.close();
});

// ---- update() --------------------------------------------------------------

test('update(): unchanged targets keep state and cycle; changed restart fresh; removed stop probing', async (t) => {
  const dead = await freePort(t);
  const srv = await tcpServer(t);
  const { m, events } = monitor(t);
  m.update([target('a', dead, { fall: 1 }), target('b', srv.port)]);
  await waitFor(() => events.length === 1, 'a down');
  const before = state(m, 'a');

  // Same targets as new objects: nothing restarts, a stays down, no events.
  m.update([target('a', dead, { fall: 1 }), target('b', srv.port)]);
  let a = state(m, 'a');
  assert.equal(a.up, false);
  assert.equal(a.since, before.since);
  assert.equal(a.transitions, 1);
  assert.ok(a.checks >= before.checks);
  await waitFor(() => state(m, 'a').checks >= before.checks + 4, 'a keeps being probed');
  assert.equal(events.length, 1);
  assert.equal(m.isUp('a'), false);

  // A changed check is a new target: fresh, up, counters zero, and goes down again on its own.
  m.update([target('a', dead, { fall: 2 }), target('b', srv.port)]);
  a = state(m, 'a');
  assert.deepEqual([a.up, a.checks, a.failures, a.transitions, a.lastError], [true, 0, 0, 0, null]);
  assert.equal(m.isUp('a'), true);
  await waitFor(() => events.length === 2, 'a down again');
  assert.equal(events[1]!.checks, 2);

  // A changed port is a new target too.
  m.update([target('a', srv.port, { fall: 2 }), target('b', srv.port)]);
  assert.equal(state(m, 'a').up, true);
  assert.equal(state(m, 'a').checks, 0);

  // Removed: gone from states(), unknown => up, and no more connections.
  m.update([target('a', dead, { fall: 2 })]);
  assert.deepEqual(m.states().map((s) => s.key), ['a']);
  assert.equal(m.isUp('b'), true);
  // A handshake completed just before removal may still sit in the accept
  // queue: let a few probes of a pass (as a clock) before counting.
  let at = state(m, 'a').checks;
  await waitFor(() => state(m, 'a').checks >= at + 3, '3 more probes of a');
  const accepted = srv.accepted();
  at = state(m, 'a').checks;
  await waitFor(() => state(m, 'a').checks >= at + 8, '8 more probes of a');
  assert.equal(srv.accepted(), accepted, 'no connections after removal');
  m.stop();
  await srv.close();
});

test('update(): a removed target with a probe in flight is cut off at once', async (t) => {
  const srv = await silentServer(t);
  const { m, events } = monitor(t);
  m.update([target('a', srv.port, { type: 'http', timeout_ms: 60_000 })]);
  await waitFor(() => srv.open() === 1, 'probe in flight');
  m.update([]);
  assert.deepEqual(m.states(), []);
  await waitFor(() => srv.open() === 0, 'probe socket closed');
  assert.deepEqual(events, []);
  m.stop();
  await srv.close();
});

test('update(): states() follows the order of the last update', async (t) => {
  const srv = await tcpServer(t);
  const { m } = monitor(t);
  m.update([target('a', srv.port), target('b', srv.port), target('c', srv.port)]);
  m.update([target('c', srv.port), target('a', srv.port), target('b', srv.port)]);
  assert.deepEqual(m.states().map((s) => s.key), ['c', 'a', 'b']);
  m.stop();
  await srv.close();
});

test('update(): an invalid target or a repeated key is refused and nothing changes', (t) => {
  const { m } = monitor(t);
  m.update([target('a', 1, { interval_s: 60 })]);
  assert.throws(() => m.update([target('b', 2, { interval_s: 0 })]), (e: unknown) => {
    assert.ok(e instanceof HealthConfigError);
    assert.equal(e.code, 'FULLNAT_HEALTH_CONFIG');
    assert.equal(e.message, 'health target "b": check.interval_s: expected a number > 0 and <= 2147483.647, got 0');
    return true;
  });
  assert.throws(() => m.update([target('b', 2), target('b', 3)]), /"b": key: expected unique keys/);
  assert.throws(() => m.update([target('b', 70000)]), /"b": port: expected an integer 1\.\.65535, got 70000/);
  assert.throws(() => m.update([target('b', 2, { rise: 1.5 })]), /check\.rise: expected an integer >= 1, got 1\.5/);
  assert.throws(
    () => m.update([target('b', 2, { type: 'http', http: { path: 'health', status: 200 } })]),
    /check\.http\.path: expected a path starting with "\/"/,
  );
  assert.throws(
    () => m.update([target('b', 2, { type: 'http', http: { path: '/', status: 200, host: 'a\r\nX-Evil: 1' } })]),
    /check\.http\.host/,
  );
  assert.deepEqual(m.states().map((s) => s.key), ['a']);
  m.stop();
});

test('normalizeTarget: http defaults filled, "" means unset, result frozen; tcp ignores http', () => {
  const h = normalizeTarget(target('a', 80, { type: 'http' }));
  assert.deepEqual(h.check.http, HEALTH_CHECK_DEFAULTS.http);
  assert.ok(Object.isFrozen(h) && Object.isFrozen(h.check) && Object.isFrozen(h.check.http));
  const e = normalizeTarget(target('a', 80, { type: 'http', http: { path: '/x', status: 204, body: '', host: '' } }));
  assert.deepEqual(e.check.http, { path: '/x', status: 204, body: null, host: null });
  assert.equal(normalizeTarget(target('a', 80, { http: { path: '/', status: 200 } })).check.http, undefined);
});

test('update(): a tcp target whose unused http block changed is unchanged', async (t) => {
  const port = await freePort(t);
  const { m, events } = monitor(t);
  m.update([target('a', port, { fall: 1 })]);
  await waitFor(() => events.length === 1, 'a down');
  m.update([target('a', port, { fall: 1, http: { path: '/other', status: 204 } })]);
  assert.equal(m.isUp('a'), false);
  assert.equal(state(m, 'a').transitions, 1);
});

// ---- stop() and jitter -----------------------------------------------------

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

test('stop(): no timers, no sockets, no more probes; idempotent; later updates ignored', async (t) => {
  const baseline = timers();
  const live = await tcpServer(t);
  const silent = await silentServer(t);
  const dead = await freePort(t);
  const { m, events } = monitor(t);
  m.update([
    target('live', live.port),
    target('silent', silent.port, { type: 'http', timeout_ms: 60_000 }),
    target('dead', dead, { fall: 1 }),
  ]);
  await waitFor(() => silent.open() === 1 && state(m, 'live').checks >= 2 && events.length === 1, 'probes running');
  m.stop();
  m.stop();
  m.update([target('late', live.port)]);
  assert.deepEqual(m.states().map((s) => s.key), ['live', 'silent', 'dead'], 'states stay readable');
  await tick();
  assert.equal(timers(), baseline, 'no timers left');
  await waitFor(() => silent.open() === 0, 'in-flight probe socket closed');
  const counts = m.states().map((s) => s.checks);
  // As in the update() test: a handshake completed before stop() may be accepted late.
  await new Promise((r) => setTimeout(r, 50));
  const accepted = live.accepted();
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(m.states().map((s) => s.checks), counts);
  assert.equal(live.accepted(), accepted);
  await live.close();
  await silent.close();
  // And the test process exits on its own: nothing of the monitor keeps it alive.
});

test('first probes are spread over the interval, one slot per target', (t) => {
  const n = 1000;
  const d = firstProbeDelays(new Array<number>(n).fill(2000));
  d.forEach((ms, i) => {
    assert.ok(ms >= i * 2 && ms < (i + 1) * 2, `target ${i} at ${ms} ms`);
  });
  assert.deepEqual(firstProbeDelays([1000, 1000], () => 0), [0, 500]);
  assert.deepEqual(firstProbeDelays([100], () => 0.5), [50]);
  assert.deepEqual(firstProbeDelays([]), []);
});
