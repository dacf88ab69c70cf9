// Prometheus metrics (prom-client), read from the data plane at scrape time:
// per-worker counters, drops by reason, sessions, per-service and per-server
// sessions and health. Served on stats.listen (127.0.0.1 by default).
import * as http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Gateway } from './gateway';
import type { Logger } from './log';

/** Counters read from the data plane become _total counters; gauges stay gauges. */
const GAUGES = new Set(['sessions_active']);

export function createMetrics(gw: Gateway): Registry {
  const reg = new Registry();
  const byWorker = new Map<string, Counter | Gauge>();
  // Registered first: its collect() takes the snapshot every other metric
  // then reports (prom-client collects in registration order).
  new Gauge({
    name: 'fullnat_scrape_workers',
    help: 'Worker lcores reporting',
    registers: [reg],
    collect() {
      const s = gw.stats();
      this.set(s.workers.length);
      drops.reset();
      for (const m of byWorker.values()) m.reset();
      const blocks: [string, Record<string, number>][] = [...s.workers.map((w, i): [string, Record<string, number>] => [String(i), w]), ['-1', s.control]];
      for (const [worker, c] of blocks) {
        for (const [name, v] of Object.entries(c)) {
          if (name.startsWith('drop_')) {
            drops.inc({ reason: name.slice(5), worker }, v);
            continue;
          }
          const m = byWorker.get(name);
          if (m instanceof Gauge) m.set({ worker }, v);
          else m?.inc({ worker }, v);
        }
      }
      rsActive.reset();
      rsTotal.reset();
      rsUp.reset();
      rsWeight.reset();
      svcActive.reset();
      const byKey = new Map<string, { service: string; server: string }>();
      for (const svc of gw.list()) {
        let sum = 0;
        for (const r of svc.real_servers) {
          const l = { service: svc.name, server: `${r.address}:${r.port}` };
          rsActive.set(l, r.active);
          rsTotal.inc(l, r.created);
          rsUp.set(l, r.health !== 'down' && r.weight > 0 ? 1 : 0);
          rsWeight.set(l, r.weight);
          byKey.set(r.key, l);
          sum += r.active;
        }
        svcActive.set({ service: svc.name, vip: `${svc.vip}:${svc.port}/${svc.protocol}` }, sum);
      }
      healthTransitions.reset();
      for (const h of gw.healthStates()) {
        const l = byKey.get(h.key);
        if (l) healthTransitions.inc(l, h.transitions);
      }
    },
  });
  const drops = new Counter({ name: 'fullnat_drops_total', help: 'Packets dropped, by reason and worker (-1: control thread)', labelNames: ['reason', 'worker'], registers: [reg] });
  const rsActive = new Gauge({ name: 'fullnat_real_server_sessions', help: 'Sessions held by a real server', labelNames: ['service', 'server'], registers: [reg] });
  const rsTotal = new Counter({ name: 'fullnat_real_server_sessions_total', help: 'Sessions ever created to a real server', labelNames: ['service', 'server'], registers: [reg] });
  const rsUp = new Gauge({ name: 'fullnat_real_server_up', help: '1 when the real server takes new sessions (health up or unchecked, weight > 0)', labelNames: ['service', 'server'], registers: [reg] });
  const rsWeight = new Gauge({ name: 'fullnat_real_server_weight', help: 'Configured weight', labelNames: ['service', 'server'], registers: [reg] });
  const svcActive = new Gauge({ name: 'fullnat_service_sessions', help: 'Sessions of a service', labelNames: ['service', 'vip'], registers: [reg] });
  const healthTransitions = new Counter({ name: 'fullnat_health_transitions_total', help: 'Health up/down transitions of a real server', labelNames: ['service', 'server'], registers: [reg] });

  // One metric per data-plane counter (the names come from the addon), all
  // filled from one snapshot per scrape.
  for (const name of Object.keys(gw.stats().total)) {
    if (name.startsWith('drop_')) continue;
    const help = `Data-plane counter ${name}, per worker (-1: control thread)`;
    byWorker.set(
      name,
      GAUGES.has(name)
        ? new Gauge({ name: `fullnat_${name}`, help, labelNames: ['worker'], registers: [reg] })
        : new Counter({ name: `fullnat_${name}_total`, help, labelNames: ['worker'], registers: [reg] }),
    );
  }
  return reg;
}

/** Serve /metrics on host:port; resolves once listening. */
export async function serveMetrics(reg: Registry, listen: string): Promise<http.Server> {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i);
  const port = Number(listen.slice(i + 1));
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('only GET /metrics here\n');
      return;
    }
    reg.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': reg.contentType });
        res.end(text);
      },
      (e: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`metrics failed: ${e.message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(`stats.listen ${listen}: ${e.code === 'EADDRINUSE' ? 'address in use (another gateway?)' : e.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  server.unref();
  return server;
}

/**
 * The /metrics listener, following stats.listen across reloads. A new
 * address is bound before the old listener closes, so a bind that fails
 * (address in use, not local) is logged and the old listener keeps serving;
 * the next reload naming that address tries again. Re-binds run one at a time.
 */
export class MetricsEndpoint {
  private server: http.Server | null = null;
  private current: string | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly reg: Registry,
    private readonly log: Logger,
  ) {}

  /** Where /metrics is served now (null: nowhere). */
  get listen(): string | null {
    return this.current;
  }

  /** At start-up: a bind failure is thrown (the gateway does not start). */
  async start(listen: string | null): Promise<void> {
    if (listen === null) return;
    this.server = await serveMetrics(this.reg, listen);
    this.current = listen;
  }

  /** After a successful reload: serve on `listen` from now on. Never rejects. */
  follow(listen: string | null): Promise<void> {
    this.queue = this.queue.then(() => this.rebind(listen));
    return this.queue;
  }

  close(): void {
    this.server?.close();
    this.server?.closeIdleConnections();
    this.server = null;
    this.current = null;
  }

  private async rebind(listen: string | null): Promise<void> {
    if (listen === this.current) return;
    const old = this.server;
    const was = this.current;
    if (listen === null) {
      this.close();
      this.log.info({ was }, 'metrics listener closed (stats.listen is null)');
      return;
    }
    let next: http.Server;
    try {
      next = await serveMetrics(this.reg, listen);
    } catch (e) {
      this.log.error({ listen, err: (e as Error).message, serving: was }, 'stats.listen not applied: the metrics listener stays where it was');
      return;
    }
    this.server = next;
    this.current = listen;
    old?.close();
    old?.closeIdleConnections();
    this.log.info({ listen, was }, 'metrics at /metrics');
  }
}
