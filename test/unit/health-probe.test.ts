// The TCP and HTTP probes on their own: verdicts, reasons, the 64 KiB body
// cap, cancellation, and that every probe leaves its socket closed.
import { test } from 'node:test';
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

function listen(srv: net.Server): Promise<Server> {
  const sockets = new Set<net.Socket>();
  srv.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () =>
      resolve({
        port: (srv.address() as net.AddressInfo).port,
        open: () => sockets.size,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            srv.close(() => r());
          }),
      }),
    ),
  );
}

/** A raw TCP server whose handler writes whatever bytes the test wants. */
const raw = (onConn: (s: net.Socket) => void): Promise<Server> => listen(net.createServer(onConn));
const web = (h: http.RequestListener): Promise<Server> => listen(http.createServer(h));

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

async function closedPort(): Promise<number> {
  const s = await raw(() => {});
  await s.close();
  return s.port;
}

// Each row: a server's behaviour -> the probe's verdict, with one line saying why.
interface Row {
  what: string;
  server: () => Promise<Server>;
  check?: Partial<HealthCheckConfig>;
  want: string | null | RegExp;
}

const http200 = (body: string) => (_q: http.IncomingMessage, r: http.ServerResponse) => r.end(body);
const big = 'x'.repeat(100 * 1024);

const rows: Row[] = [
  { what: 'tcp: handshake completes', server: () => raw((s) => s.resume()), want: null },
  { what: 'http: 200 with no body check', server: () => web(http200('')), check: { type: 'http' }, want: null },
  {
    what: 'http: any status may be the expected one',
    server: () => web((_q, r) => r.writeHead(302, { location: '/' }).end()),
    check: { type: 'http', http: { path: '/', status: 302 } },
    want: null,
  },
  {
    what: 'http: status mismatch',
    server: () => web((_q, r) => r.writeHead(500).end()),
    check: { type: 'http', http: { path: '/', status: 200 } },
    want: 'status 500, expected 200',
  },
  {
    what: 'http: body contains the substring',
    server: () => web(http200('{"status":"ok"}')),
    check: { type: 'http', http: { path: '/', status: 200, body: '"ok"' } },
    want: null,
  },
  {
    what: 'http: substring split across two writes',
    server: () =>
      web((_q, r) => {
        r.write('all go');
        setTimeout(() => r.end('od here'), 20);
      }),
    check: { type: 'http', http: { path: '/', status: 200, body: 'good' } },
    want: null,
  },
  {
    what: 'http: substring within the first 64 KiB of a large body',
    server: () => web(http200('x'.repeat(HTTP_BODY_LIMIT - 2) + 'ok' + big)),
    check: { type: 'http', http: { path: '/', status: 200, body: 'ok' } },
    want: null,
  },
  {
    what: 'http: substring only after 64 KiB is not read',
    server: () => web(http200(big + 'ok')),
    check: { type: 'http', http: { path: '/', status: 200, body: 'ok' } },
    want: 'body lacks "ok" in the first 64 KiB',
  },
  {
    what: 'http: substring straddling the 64 KiB cap is not found',
    server: () => web(http200('x'.repeat(HTTP_BODY_LIMIT - 1) + 'ok')),
    check: { type: 'http', http: { path: '/', status: 200, body: 'ok' } },
    want: 'body lacks "ok" in the first 64 KiB',
  },
  {
    what: 'http: body check with an empty body',
    server: () => web(http200('')),
    check: { type: 'http', http: { path: '/', status: 200, body: 'ok' } },
    want: 'body lacks "ok"',
  },
  {
    what: 'http: accepts, never answers',
    server: () => raw((s) => s.resume()),
    check: { type: 'http', timeout_ms: 80 },
    want: 'timeout after 80 ms waiting for response',
  },
  {
    what: 'http: headers, then a body that never comes',
    server: () => web((_q, r) => r.writeHead(200, { 'content-length': '10' }).write('a')),
    check: { type: 'http', timeout_ms: 80, http: { path: '/', status: 200, body: 'ok' } },
    want: 'timeout after 80 ms reading body',
  },
  {
    what: 'http: connection closed before any response',
    server: () => raw((s) => s.destroy()),
    check: { type: 'http' },
    want: /^(connection closed without a response|read ECONNRESET)$/,
  },
  {
    what: 'http: connection closed mid-body',
    server: () =>
      raw((s) =>
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
    server: () => raw((s) => s.once('data', () => s.end('SSH-2.0-OpenSSH_9.6\r\n'))),
    check: { type: 'http' },
    want: /^bad response: /,
  },
];

for (const row of rows) {
  test(`${row.what} -> ${row.want === null ? 'healthy' : String(row.want)}`, async () => {
    const srv = await row.server();
    const probe = row.check?.type === 'http' ? httpProbe : tcpProbe;
    const got = await run(probe, srv.port, row.check);
    if (row.want instanceof RegExp) assert.match(String(got), row.want);
    else assert.equal(got, row.want);
    // Whatever happened, the probe's connection is gone.
    await waitFor(() => srv.open() === 0, 'server side of the probe closed');
    await srv.close();
  });
}

test('tcp and http: a refused connection reads "connect ECONNREFUSED"', async () => {
  const port = await closedPort();
  assert.equal(await run(tcpProbe, port), 'connect ECONNREFUSED');
  assert.equal(await run(httpProbe, port, { type: 'http' }), 'connect ECONNREFUSED');
});

test('http: Host is the address:port by default, the configured name otherwise', async () => {
  const hosts: (string | undefined)[] = [];
  const srv = await web((q, r) => {
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

test('cancel: the callback never runs and the socket is closed', async () => {
  for (const probe of [tcpProbe, httpProbe]) {
    const srv = await raw((s) => s.resume());
    const t = normalizeTarget({
      key: 'k',
      address: '127.0.0.1',
      port: srv.port,
      check: { type: probe === httpProbe ? 'http' : 'tcp', interval_s: 1, timeout_ms: 60_000, rise: 1, fall: 1 },
    });
    let called = false;
    const cancel = probe(t, () => (called = true));
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
