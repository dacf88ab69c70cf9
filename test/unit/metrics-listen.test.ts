// stats.listen follows a reload (review L15): the gateway (mock native
// surface) reloads, and the metrics endpoint is re-bound the way src/cli.ts
// does it, on real HTTP listeners on 127.0.0.1. A bind that fails is logged
// and the old listener keeps serving.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { parseConfig } from '../../src/config/load';
import { Gateway } from '../../src/gateway';
import { createMetrics, MetricsEndpoint } from '../../src/metrics';
import { MockNative } from '../lib/mock-native';

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

function yaml(listen: string | null): string {
  return `
dpdk: { lcores: { main: 0, workers: [1] } }
ports:
  - { name: wan, device: "ring:mlwan", addresses: [198.18.0.254/24] }
  - { name: lan, device: "ring:mllan", addresses: [198.19.0.254/24] }
local_addresses:
  pool: { port: lan, addresses: [198.19.0.10], ports: [1024, 2047] }
services:
  - { name: web, vip: 198.18.0.100, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: 198.19.0.2, port: 8080 }] }
stats: { listen: ${listen === null ? 'null' : `"${listen}"`} }
`;
}

/** A port on 127.0.0.1 nothing listens on right now. */
async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** GET /metrics: the status, or the connection error's code (ECONNREFUSED). */
function scrape(listen: string): Promise<{ status?: number; body?: string; code?: string }> {
  const i = listen.lastIndexOf(':');
  return new Promise((resolve) => {
    const req = http.get({ host: listen.slice(0, i), port: Number(listen.slice(i + 1)), path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ code: e.code }));
  });
}

function start(t: TestContext, listen: string) {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug', base: undefined }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  const gw = new Gateway(parseConfig(yaml(listen), 'metrics.yaml'), new MockNative(), log);
  gw.start();
  const metrics = new MetricsEndpoint(createMetrics(gw), log);
  t.after(() => {
    metrics.close();
    gw.stop();
  });
  /** What src/cli.ts does on a reload: apply the config, then let /metrics follow stats.listen. */
  const reload = async (next: string | null) => {
    const r = gw.reload(parseConfig(yaml(next), 'metrics.yaml'));
    assert.ok(r.ok, `reload: ${JSON.stringify(r)}`);
    await metrics.follow(gw.config().stats.listen);
  };
  return { gw, metrics, lines, reload };
}

describe('stats.listen on reload', () => {
  it('re-binds /metrics to the new address and closes the old one', async (t) => {
    const a = `127.0.0.1:${await freePort()}`;
    const b = `127.0.0.1:${await freePort()}`;
    const { metrics, reload } = start(t, a);
    await metrics.start(a);
    const first = await scrape(a);
    assert.equal(first.status, 200);
    assert.match(first.body!, /fullnat_rx_packets_total/);

    await reload(b);
    assert.equal(metrics.listen, b);
    const moved = await scrape(b);
    assert.equal(moved.status, 200);
    assert.match(moved.body!, /fullnat_rx_packets_total/);
    assert.equal((await scrape(a)).code, 'ECONNREFUSED', 'the old address is closed');

    // A reload that leaves stats.listen as it is keeps the same listener.
    await reload(b);
    assert.equal((await scrape(b)).status, 200);
  });

  it('a new address that cannot be bound is logged, and the old listener keeps serving', async (t) => {
    const a = `127.0.0.1:${await freePort()}`;
    const taken = http.createServer((_q, s) => s.end('someone else'));
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    t.after(() => taken.close());
    const busy = `127.0.0.1:${(taken.address() as AddressInfo).port}`;
    const { metrics, lines, reload } = start(t, a);
    await metrics.start(a);

    await reload(busy);
    assert.equal(metrics.listen, a, 'still on the old address');
    assert.equal((await scrape(a)).status, 200, 'the old listener serves');
    const err = lines.find((l) => l.level === 50 && /stats\.listen not applied/.test(l.msg));
    assert.ok(err, `an error was logged: ${JSON.stringify(lines.map((l) => l.msg))}`);
    assert.equal(err.listen, busy);
    assert.equal(err.serving, a);
    assert.match(String(err.err), /address in use/);

    // Once that address is free, the next reload naming it binds it.
    await new Promise<void>((r) => taken.close(() => r()));
    await reload(busy);
    assert.equal(metrics.listen, busy);
    assert.equal((await scrape(busy)).status, 200);
    assert.equal((await scrape(a)).code, 'ECONNREFUSED');
  });

  it('stats.listen null on reload closes the listener', async (t) => {
    const a = `127.0.0.1:${await freePort()}`;
    const { metrics, reload } = start(t, a);
    await metrics.start(a);
    await reload(null);
    assert.equal(metrics.listen, null);
    assert.equal((await scrape(a)).code, 'ECONNREFUSED');
  });
});
