// The demo: builds the namespace topology, starts three HTTP real servers and
// the gateway, sends requests to the VIP and shows which server answered and
// which source address (a LIP) it saw; then the gateway's counters.
//
//   node dist/src/demo/run.js [--requests 30] [--config config/demo.yaml] [--verbose] [--cli dist/src/cli.js]

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { nonZeroCounters, repoRoot, startGateway, type GatewayProcess } from './gateway-process';
import { createTopology, netnsUnavailableReason, type Topology } from './topology';
import type { ServerReply } from './http-server';

export interface DemoOptions {
  requests?: number;
  config?: string;
  /** Echo the gateway's log lines to stderr as they arrive. */
  verbose?: boolean;
  /** The gateway CLI entry (default <repo>/dist/src/cli.js). */
  cli?: string;
  /** Where the report goes (default stdout). */
  out?: (line: string) => void;
}

/** What the demo needs to know from the gateway config: the web VIP and its LIP pool. */
export interface WebService {
  vip: string;
  port: number;
  lips: string[];
}

export function webServiceFromConfig(file: string): WebService {
  const doc = parseYaml(readFileSync(file, 'utf8')) as {
    services?: Array<{ name?: string; vip?: string; port?: number; protocol?: string; local_addresses?: string }>;
    local_addresses?: Record<string, { addresses?: string[] }>;
  };
  const svc =
    doc.services?.find((s) => s.name === 'web') ?? doc.services?.find((s) => s.protocol === 'tcp' && s.port === 80);
  if (!svc?.vip || !svc.port) throw new Error(`${file}: no TCP web service (name "web" or port 80) to demo`);
  const pool = svc.local_addresses ? doc.local_addresses?.[svc.local_addresses] : undefined;
  if (!pool?.addresses?.length) throw new Error(`${file}: service ${svc.name ?? svc.vip} has no local address pool`);
  return { vip: svc.vip, port: svc.port, lips: pool.addresses.map(String) };
}

export interface FetchResult {
  ok: boolean;
  reply?: ServerReply;
  /** The address curl connected to, as the client saw it. */
  remoteIp?: string;
  error?: string;
}

/** One HTTP request from the client namespace with curl (one connection each). */
export async function curlOnce(topo: Topology, url: string, maxTimeS = 5): Promise<FetchResult> {
  const r = await topo.exec(topo.ns.client, 'curl', ['-s', '--max-time', String(maxTimeS), '-w', '\n%{remote_ip}', url], {
    check: false,
    timeoutMs: (maxTimeS + 5) * 1000,
  });
  if (r.code !== 0) return { ok: false, error: `curl exit ${r.code}${r.stderr ? `: ${r.stderr.trim()}` : ''}` };
  const nl = r.stdout.lastIndexOf('\n');
  const body = r.stdout.slice(0, nl);
  const remoteIp = r.stdout.slice(nl + 1).trim();
  try {
    return { ok: true, reply: JSON.parse(body) as ServerReply, remoteIp };
  } catch {
    return { ok: false, remoteIp, error: `not a server reply: ${JSON.stringify(body.slice(0, 200))}` };
  }
}

/** Starts http-server.js as rs1..rsN (port 8080) in the server namespaces; resolves when all listen. */
export async function startHttpServers(topo: Topology, port = 8080): Promise<void> {
  const script = path.join(repoRoot(), 'dist', 'src', 'demo', 'http-server.js');
  await Promise.all(
    topo.ns.servers.map(
      (ns, i) =>
        new Promise<void>((resolve, reject) => {
          const name = `rs${i + 1}`;
          const child = topo.spawnIn(ns, process.execPath, [script, '--name', name, '--port', String(port)]);
          let err = '';
          child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
          const timer = setTimeout(() => reject(new Error(`${name}: not listening after 10 s ${err}`)), 10_000);
          createInterface({ input: child.stdout! }).on('line', (l) => {
            if (l.startsWith('listening')) {
              clearTimeout(timer);
              resolve();
            }
          });
          child.once('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`${name} exited (${code}): ${err.trim()}`));
          });
        }),
    ),
  );
}

/** Retries until one request through the VIP succeeds (the gateway ARPs for the servers after start). */
export async function waitForFirstSuccess(topo: Topology, url: string, timeoutMs = 20_000): Promise<FetchResult> {
  const deadline = Date.now() + timeoutMs;
  let last: FetchResult = { ok: false, error: 'no attempt' };
  while (Date.now() < deadline) {
    last = await curlOnce(topo, url, 2);
    if (last.ok) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no successful request to ${url} within ${timeoutMs / 1000} s (last: ${last.error})`);
}

const pad = (s: string | number, n: number): string => String(s).padEnd(n);

export async function runDemo(opts: DemoOptions = {}): Promise<number> {
  const out = opts.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const requests = opts.requests ?? 30;
  const config = path.resolve(opts.config ?? path.join(repoRoot(), 'config', 'demo.yaml'));

  const why = netnsUnavailableReason();
  if (why) {
    out(`demo cannot run here: ${why}`);
    return 1;
  }
  const cli = path.resolve(opts.cli ?? path.join(repoRoot(), 'dist', 'src', 'cli.js'));
  if (!existsSync(cli)) {
    out(`demo: ${cli} not found; build first (npm run build)`);
    return 1;
  }
  const web = webServiceFromConfig(config);
  const url = `http://${web.vip}${web.port === 80 ? '' : `:${web.port}`}/`;

  let topo: Topology | null = null;
  let gw: GatewayProcess | null = null;
  try {
    out(`building namespaces...`);
    topo = await createTopology();
    out(
      `  client ${topo.ns.client} (198.18.0.1) | gateway ${topo.ns.gateway} | lan ${topo.ns.lan} | servers ${topo.ns.servers.join(', ')}`,
    );
    await startHttpServers(topo);
    out(`real servers listening: ${topo.addresses.servers.map((a, i) => `rs${i + 1}=${a}:8080`).join('  ')}`);

    out(`starting gateway: fullnat start -c ${path.relative(process.cwd(), config) || config}`);
    gw = startGateway(topo, config, {
      cli,
      ...(opts.verbose ? { echo: (l: string) => process.stderr.write(`gw| ${l}\n`) } : {}),
    });
    await gw.ready;
    out(`gateway ready; waiting for the first answer through ${url} (ARP for the servers)...`);
    await waitForFirstSuccess(topo, url);

    out('');
    out(`${pad('#', 4)} ${pad('server', 8)} ${pad('source seen by server', 24)} client saw`);
    out(`${'-'.repeat(4)} ${'-'.repeat(8)} ${'-'.repeat(24)} ${'-'.repeat(14)}`);
    const perServer = new Map<string, number>();
    const sources = new Map<string, number>();
    let failures = 0;
    let vipMismatch = 0;
    for (let i = 1; i <= requests; i++) {
      const r = await curlOnce(topo, url, 5);
      if (!r.ok || !r.reply) {
        failures++;
        out(`${pad(i, 4)} FAILED   ${r.error ?? ''}`);
        continue;
      }
      perServer.set(r.reply.server, (perServer.get(r.reply.server) ?? 0) + 1);
      sources.set(r.reply.client, (sources.get(r.reply.client) ?? 0) + 1);
      if (r.remoteIp !== web.vip) vipMismatch++;
      out(`${pad(i, 4)} ${pad(r.reply.server, 8)} ${pad(`${r.reply.client}:${r.reply.client_port}`, 24)} ${r.remoteIp}`);
    }

    const servers = topo.ns.servers.map((_, i) => `rs${i + 1}`);
    const foreign = [...sources.keys()].filter((s) => !web.lips.includes(s));
    out('');
    out('summary');
    out(`  requests     ${requests} sent, ${requests - failures} answered, ${failures} failed`);
    out(`  per server   ${servers.map((s) => `${s}=${perServer.get(s) ?? 0}`).join('  ')}`);
    out(
      `  sources seen ${[...sources].map(([a, n]) => `${a} (${n})`).join(', ') || 'none'}` +
        `  [pool ${web.lips.join(', ')}${foreign.length ? `; NOT from the pool: ${foreign.join(', ')}` : ''}]`,
    );
    if (vipMismatch) out(`  client saw an address other than the VIP ${web.vip} on ${vipMismatch} request(s)`);

    const stopped = await gw.stop();
    gw = null;
    out('');
    out(`gateway stopped (exit ${stopped.exitCode ?? stopped.signal})`);
    const counters = nonZeroCounters(stopped.stats);
    if (!stopped.stats) out('  no "gateway stopped" stats line in its output');
    for (const [k, v] of counters) out(`  ${pad(k, 28)} ${v}`);
    const workers = (stopped.stats?.workers ?? []) as Record<string, number>[];
    if (workers.length > 1) {
      out('  per worker: sessions created / replies handed over to the owning worker:');
      workers.forEach((w, i) => out(`    worker${i}  ${w.sessions_created ?? 0} / ${w.redirected ?? 0}`));
    }

    const allServers = servers.every((s) => (perServer.get(s) ?? 0) > 0);
    const ok = failures === 0 && allServers && foreign.length === 0 && sources.size > 0 && vipMismatch === 0;
    out('');
    out(ok ? 'demo OK' : 'demo FAILED');
    return ok ? 0 : 1;
  } catch (e) {
    if (topo?.destroyed) {
      out('demo interrupted');
      return 130;
    }
    out(`demo failed: ${(e as Error).message}`);
    if (gw && !(e as Error).message.includes('gateway')) {
      out('gateway output (last lines):');
      for (const l of gw.lines.slice(-40)) out(`  ${l}`);
    }
    return 1;
  } finally {
    if (gw) await gw.stop().catch(() => undefined);
    if (topo) await topo.destroy();
  }
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', short: 'n' },
      config: { type: 'string', short: 'c' },
      verbose: { type: 'boolean', short: 'v', default: false },
      cli: { type: 'string' },
    },
  });
  const requests = values.requests === undefined ? undefined : Number(values.requests);
  if (requests !== undefined && (!Number.isInteger(requests) || requests < 1)) {
    process.stderr.write('--requests must be a positive integer\n');
    process.exit(2);
  }
  void runDemo({ requests, config: values.config, verbose: values.verbose, cli: values.cli }).then((code) => process.exit(code));
}
