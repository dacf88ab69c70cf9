// The TCP and HTTP probes on their own: verdicts, reasons, the 64 KiB body
// cap, cancellation, and that every probe leaves its socket closed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { httpProbe, normalizeTarget, tcpProbe, HTTP_BODY_LIMIT, type HealthCheckConfig, type Probe } from '../../src/health';
import { defaultHost } from '../../src/health/probe-http';
import { describeError } from '../../src/health/probe';

interface Server {
  port: number;
  open: () => number;
  close: () => Promise<void>;
}

/** Registers its own close with t.after, so a failed assertion never leaves a server keeping the file alive. */
function listen(t: TestContext, srv: net.Server): Promise<Server> {
  const sockets = new Set<net.Socket>();
  srv.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () => {
      const server: Server = {
        port: (srv.address() as net.AddressInfo).port,
        open: () => sockets.size,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            srv.close(() => r());
          }),
      };
      t.after(() => (srv.listening ? server.close() : undefined));
      resolve(server);
    }),
  );
}

/** A raw TCP server whose handler writes whatever bytes the test wants. */
const raw = (t: TestContext, onConn: (s: net.Socket) => void): Promise<Server> => listen(t, net.createServer(onConn));
const web = (t: TestContext, h: http.RequestListener): Promise<Server> => listen(t, http.createServer(h));

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function run(probe: Probe, port: number, check: Partial<HealthCheckConfig> = {}): Promise<string | null> {
  const t = normalizeTarget({
    key: 'k',
    address: '127.0.0.1',
    port,
    check: { type: probe === httpProbe ? 'http' : 'tcp', interval_s: 1, timeout_ms: 1000, rise: 1, fall: 1, ...check },
  });
  return new Promise((resolve) => probe(t, resolve));
}

async function closedPort(t: TestContext): Promise<number> {
  const s = await raw(t, () => {});
  await s.close();
  return s.port;
}

// Each row: a server's behaviour -> the probe's verdict, with one line saying why.
interface Row {
  what: string;
  server: (t: TestContext) => Promise<Server>;
  check?: Partial<HealthCheckConfig>;
  want: string | null | RegExp;
}

const http200 = (body: string) => (_q: http.IncomingMessage, r: http.ServerResponse) => r.end(body);
const big = 'x'.repeat(100 * 1024);

const rows: Row[] = [
  { what: 'tcp: handshake completes', server: (t) => raw(t, (s) => s.resume()), want: null },
  { what: 'http: 200 with no body check', server: (t) => web(t, http200('')), check: { type: 'http' }, want: null },
  {
    what: 'http: any status may be the expected one',
    server: (t) => web(t, (_q, r) => r.writeHead(302, { location: '/' }).end()),
    check: { type: 'http', http: { path: '/', status: 302 } },
    want: null,
  },
  {
    what: 'http: status mismatch',
    server: (t) => web(t, (_q, r) => r.writeHead(500).end()),
    check: { type: 'http', http: { path: '/', status: 200 } },
    want: 'status 500, expected 200',
  },
  {
    what: 'http: body contains the substring',
    server: (t) => web(t, http200('{"status":"ok"}')),
    check: { type: 'http', http: { path: '/', status: 200, body: '"ok"' } },
    want: null,
  },
  {
    what: 'http: substring split across two writes',
    server: (t) =>
      web(t, (_q, r) => {
        r.write('all go');
        setTimeout(() => r.end('od here'), 20);
      }),
    check: { type: 'http', http: { path: '/', status: 200, body: 'good' } },
    want: null,
  },
  {
    what: 'http: substring within the first 64 KiB of a large body',
    server: (t) => web(t, http200('x'.repeat(HTTP_BODY_LIMIT - 2) + 'ok' + big)),
    check: { type: 'http', http: { path: '/', status: 200, body: 'ok' } },
    want: null,
  },
  {
    what: 'http: substring only after 64 KiB is not read',
    server: (t) => web(t, http200(big + 'ok')),
    check: { type: 'http', http: { path: '/', status: 200, body: 'ok' } },
    want: 'body lacks "ok" in the first 64 KiB',
  },
  {
    what: 'http: substring straddling the 64 KiB cap is not found',
    server: (t) => web(t, http200('x'.repeat(HTTP_BODY_LIMIT - 1) + 'ok')),
    check: { type: 'http', http: { path: '/', status: 200, body: 'ok' } },
    want: 'body lacks "ok" in the first 64 KiB',
  },
  {
    what: 'http: body check with an empty body',
    server: (t) => web(t, http200('')),
    check: { type: 'http', http: { path: '/', status: 200, body: 'ok' } },
    want: 'body lacks "ok"',
  },
  {
    what: 'http: accepts, never answers',
    server: (t) => raw(t, (s) => s.resume()),
    check: { type: 'http', timeout_ms: 300 },
    want: 'timeout after 300 ms waiting for response',
  },
  {
    what: 'http: headers, then a body that never comes',
    server: (t) => web(t, (_q, r) => r.writeHead(200, { 'content-length': '10' }).write('a')),
    check: { type: 'http', timeout_ms: 300, http: { path: '/', status: 200, body: 'ok' } },
    want: 'timeout after 300 ms reading body',
  },
  {
    what: 'http: connection closed before any response',
    server: (t) => raw(t, (s) => s.destroy()),
    check: { type: 'http' },
    want: /^(connection closed without a response|read ECONNRESET)$/,
  },
  {
    what: 'http: connection closed mid-body',
    server: (t) =>
      raw(t, (s) =>
        s.once('data', () => {
          s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc');
          setTimeout(() => s.destroy(), 20);
        }),
      ),
    check: { type: 'http', http: { path: '/', status: 200, body: 'ok' } },
    want: 'connection closed while reading body',
  },
  {
    what: 'http: not HTTP at all',
    server: (t) => raw(t, (s) => s.once('data', () => s.end('SSH-2.0-OpenSSH_9.6\r\n'))),
    check: { type: 'http' },
    want: /^bad response: /,
  },
];

for (const row of rows) {
  test(`${row.what} -> ${row.want === null ? 'healthy' : String(row.want)}`, async (t) => {
    const srv = await row.server(t);
    const probe = row.check?.type === 'http' ? httpProbe : tcpProbe;
    const got = await run(probe, srv.port, row.check);
    if (row.want instanceof RegExp) assert.match(String(got), row.want);
    else assert.equal(got, row.want);
    // Whatever happened, the probe's connection is gone.
    await waitFor(() => srv.open() === 0, 'server side of the probe closed');
    await srv.close();
  });
}

test('tcp and http: a refused connection reads "connect ECONNREFUSED"', async (t) => {
  const port = await closedPort(t);
  assert.equal(await run(tcpProbe, port), 'connect ECONNREFUSED');
  assert.equal(await run(httpProbe, port, { type: 'http' }), 'connect ECONNREFUSED');
});

test('http: Host is the address:port by default, the configured name otherwise', async (t) => {
  const hosts: (string | undefined)[] = [];
  const srv = await web(t, (q, r) => {
    hosts.push(q.headers.host);
    r.end();
  });
  assert.equal(await run(httpProbe, srv.port, { type: 'http' }), null);
  assert.equal(await run(httpProbe, srv.port, { type: 'http', http: { path: '/', status: 200, host: 'www.example.com' } }), null);
  assert.deepEqual(hosts, [`127.0.0.1:${srv.port}`, 'www.example.com']);
  assert.equal(defaultHost('198.19.0.2', 80), '198.19.0.2');
  assert.equal(defaultHost('fd00::2', 80), '[fd00::2]');
  assert.equal(defaultHost('fd00::2', 8080), '[fd00::2]:8080');
  await srv.close();
});

test('a deadline passed while the event loop was busy does not beat an answer already there', async (t) => {
  // The handshake completes in the kernel while this thread spins; the
  // timer is overdue when the loop resumes, but the connect is read first.
  const srv = await raw(t, (s) => s.resume());
  const target = normalizeTarget({
    key: 'k',
    address: '127.0.0.1',
    port: srv.port,
    check: { type: 'tcp', interval_s: 1, timeout_ms: 20, rise: 1, fall: 1 },
  });
  const verdict = new Promise<string | null>((resolve) => tcpProbe(target, resolve));
  const until = Date.now() + 150;
  while (Date.now() < until);
  assert.equal(await verdict, null);
});

test('cancel: the callback never runs and the socket is closed', async (t) => {
  for (const probe of [tcpProbe, httpProbe]) {
    const srv = await raw(t, (s) => s.resume());
    const target = normalizeTarget({
      key: 'k',
      address: '127.0.0.1',
      port: srv.port,
      check: { type: probe === httpProbe ? 'http' : 'tcp', interval_s: 1, timeout_ms: 60_000, rise: 1, fall: 1 },
    });
    let called = false;
    const cancel = probe(target, () => (called = true));
    if (probe === httpProbe) await waitFor(() => srv.open() === 1, 'connected');
    cancel();
    cancel();
    await waitFor(() => srv.open() === 0, 'socket closed');
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(called, false);
    await srv.close();
  }
});

test('describeError keeps reasons short and stable', () => {
  const sys = (code: string, syscall?: string) => Object.assign(new Error(`${syscall} ${code} 1.2.3.4:80`), { code, syscall });
  assert.equal(describeError(sys('EHOSTUNREACH', 'connect'), 'connect'), 'connect EHOSTUNREACH');
  assert.equal(describeError(sys('ECONNRESET', 'read'), 'connect'), 'read ECONNRESET');
  assert.equal(describeError(Object.assign(new Error('x'), { code: 'ENETUNREACH' }), 'connect'), 'connect ENETUNREACH');
  assert.equal(describeError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'read'), 'connection closed without a response');
  assert.equal(describeError(Object.assign(new Error('Parse Error: Expected HTTP/'), { code: 'HPE_INVALID_CONSTANT', reason: 'Expected HTTP/' }), 'read'), 'bad response: Expected HTTP/');
  assert.equal(describeError(new Error('odd'), 'read'), 'odd');
  assert.equal(describeError(undefined, 'read'), 'undefined');
});
