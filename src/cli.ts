#!/usr/bin/env node
// fullnat command line: start, check, demo.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { ConfigError } from './config/errors';
import { DEFAULT_CONTROL_SOCKET } from './config/schema';
import { loadConfig } from './config/load';
import type { Config } from './config/schema';
import { ealArgs, EalError } from './dpdk/eal';
import { Gateway, type ReloadResult, type ServiceListing } from './gateway';
import { listView, sessionsView, type SessionRow } from './control/views';
import { createMetrics, MetricsEndpoint } from './metrics';
import { createLogger } from './log';
import { loadNative } from './native';
import { buildPlan, PlanError } from './plan/build';
import { nonZero, type StatsSnapshot } from './stats';
import { ControlServer, request } from './control/server';
import { statsTable, type PortSteering } from './control/stats-table';

const USAGE = `usage: fullnat <command> [options]

commands:
  start -c FILE     run the gateway in the foreground (SIGTERM/SIGINT stop it)
  check -c FILE     validate a config file without starting anything
  preflight -c FILE is this host ready for the config: hugepages, NICs, IOMMU, CPUs
                    and, as root, each port probed through DPDK (capabilities,
                    reply steering); exit 0/1/2 = ok/warnings/errors (--json, --offline)
  stats -c FILE     counters of the running gateway, per worker (--json: raw)
  list -c FILE      services and real servers: weight, health, sessions (--json)
  sessions -c FILE  live sessions [--vip IP] [--server IP] [--client IP] [--limit N] (--json)
  reload -c FILE    make the running gateway re-read its config (same as SIGHUP);
                    prints what changed, or the errors (the running config stays)
  bench [--scenario NAME]... [--json] [--smoke] [--out DIR] [--memory KIND]
                    throughput benchmarks against baselines run in the same
                    invocation (fullnat bench --help)

stats, list, sessions and reload find the gateway through the config's
control.socket, or --socket PATH.
  demo [-n N]       build namespaces, start the gateway and real servers,
                    send N requests (default 30) through the VIP, show the result
`;

function fail(msg: string, code = 1): never {
  process.stderr.write(msg.endsWith('\n') ? msg : msg + '\n');
  process.exit(code);
}

function configFrom(values: { config?: string }): Config {
  if (!values.config) fail('missing -c FILE\n\n' + USAGE, 2);
  try {
    return loadConfig(values.config);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.format());
    throw e;
  }
}

function check(file: string | undefined): void {
  const cfg = configFrom({ config: file });
  try {
    const built = buildPlan(cfg);
    ealArgs(cfg, built.memoryNeededMb);
    const rs = cfg.services.reduce((n, s) => n + s.real_servers.length, 0);
    process.stdout.write(
      `${file}: ok: ${cfg.ports.length} ports, ${cfg.services.length} services, ${rs} real servers, ` +
        `${cfg.dpdk.lcores.workers.length} workers, ${built.memoryNeededMb} of ${cfg.dpdk.memory_mb} MiB needed\n`,
    );
  } catch (e) {
    if (e instanceof PlanError || e instanceof EalError) fail(`${file}: ${e.message}`);
    throw e;
  }
}

async function stats(file: string | undefined, json: boolean): Promise<void> {
  const s = (await ask(file, '/stats')) as StatsSnapshot & { ports: PortSteering[] };
  process.stdout.write(json ? JSON.stringify(s, null, 2) + '\n' : statsTable(s, s.ports));
}

/**
 * The running gateway's control socket: --socket, else the config's
 * control.socket. A config with errors still names its socket (that is how
 * `fullnat reload` gets the gateway to report those errors).
 */
function socketOf(file: string | undefined, socket: string | undefined): string {
  if (socket) return socket;
  if (!file) fail('missing -c FILE (or --socket PATH)\n\n' + USAGE, 2);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    fail(`${file}: ${(e as Error).message}`);
  }
  // Lenient on purpose: a file with YAML errors must still lead to the
  // gateway, which then reports those errors itself.
  let s: unknown;
  try {
    s = (YAML.parseDocument(text).toJS() as { control?: { socket?: unknown } } | null)?.control?.socket;
  } catch {
    s = /^\s*socket:\s*["']?(\/[^\s"'}]+)/m.exec(text)?.[1];
  }
  return typeof s === 'string' ? s : DEFAULT_CONTROL_SOCKET;
}

let socketFlag: string | undefined;

/** Ask the running gateway (found through the config's control socket). */
async function ask(file: string | undefined, path: string, method: 'GET' | 'POST' = 'GET', timeoutMs = 30000): Promise<unknown> {
  const socket = socketOf(file, socketFlag);
  try {
    return await request(socket, path, timeoutMs, method);
  } catch (e) {
    fail((e as Error).message);
  }
}

async function list(file: string | undefined, json: boolean): Promise<void> {
  const services = (await ask(file, '/list')) as ServiceListing[];
  process.stdout.write(json ? JSON.stringify(services, null, 2) + '\n' : listView(services));
}

async function sessions(file: string | undefined, v: Record<string, string | boolean | undefined>): Promise<void> {
  const q = new URLSearchParams();
  for (const k of ['vip', 'server', 'client', 'limit'] as const) if (typeof v[k] === 'string') q.set(k, v[k] as string);
  const limit = Number(v.limit ?? 100);
  const list = (await ask(file, `/sessions?${q}`)) as SessionRow[];
  process.stdout.write(v.json ? JSON.stringify(list, null, 2) + '\n' : sessionsView(list, limit));
}

async function reload(file: string | undefined): Promise<void> {
  const r = (await ask(file, '/reload', 'POST', 60000)) as ReloadResult;
  if (r.ok) {
    const c = Object.entries(r.changes).filter(([, v]) => v.length);
    process.stdout.write(`reloaded${c.length ? ': ' + c.map(([k, v]) => `${k} ${v.join(', ')}`).join('; ') : ' (nothing changed)'}\n`);
  } else {
    fail(`reload rejected, the running config stays:\n${r.errors.join('\n')}`);
  }
}

function limitOf(q: URLSearchParams): number {
  const n = Number(q.get('limit') ?? 100);
  if (!Number.isInteger(n) || n < 1 || n > 1000000) throw new Error('limit: expected an integer 1..1000000');
  return n;
}

async function start(file: string | undefined): Promise<void> {
  const cfg = configFrom({ config: file });
  const log = createLogger(cfg.log.level);
  const gw = new Gateway(cfg, loadNative(), log);
  let metrics: MetricsEndpoint | null = null;
  const reloadNow = (why: string) => {
    log.info({ file, trigger: why }, 'reloading');
    const r = gw.reloadFile(file!);
    // stats.listen follows the reload; a bind failure is logged, the old listener stays.
    if (r.ok) void metrics?.follow(gw.config().stats.listen);
    return r;
  };
  const control = new ControlServer(cfg.control.socket, {
    '/stats': () => ({ ...gw.stats(), ports: gw.ports() }),
    '/list': () => gw.list(),
    '/health': () => gw.healthStates(),
    '/sessions': (q) =>
      gw.sessions({ vip: q.get('vip') ?? undefined, server: q.get('server') ?? undefined, client: q.get('client') ?? undefined }, limitOf(q)),
    'POST /reload': () => {
      const r = reloadNow('fullnat reload');
      return r.ok ? r : { ...r, status: 422 };
    },
  });
  try {
    await control.listen();
    gw.start();
    metrics = new MetricsEndpoint(createMetrics(gw), log);
    await metrics.start(cfg.stats.listen);
    if (cfg.stats.listen) log.info({ listen: cfg.stats.listen }, 'metrics at /metrics');
  } catch (e) {
    log.fatal({ err: (e as Error).message }, 'gateway failed to start');
    metrics?.close();
    control.close();
    gw.stop();
    gw.release();
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    metrics?.close();
    control.close();
    const stats = gw.stop();
    gw.release();
    log.info({ stats: { total: nonZero(stats.total), workers: stats.workers.map(nonZero), control: nonZero(stats.control) } }, 'gateway stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP reloads; a bad file is logged with its errors and changes nothing.
  process.on('SIGHUP', () => reloadNow('SIGHUP'));
  // Keep the event loop alive: the data plane runs on its own threads.
  setInterval(() => {}, 1 << 30);
}

/**
 * `fullnat bench`: the bench is a program of its own (bench/run.ts, its own
 * options), not part of the gateway; run it with the same arguments and
 * terminal, pass signals on and its exit status back.
 */
function runBench(args: string[]): Promise<number> {
  const script = path.resolve(__dirname, '..', 'bench', 'run.js');
  if (!fs.existsSync(script)) fail(`the bench is not built (no ${script}): run npm run build in the source tree`, 2);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
    const pass = (signal: NodeJS.Signals) => child.kill(signal);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, pass);
    child.on('error', (e) => fail(`fullnat bench: ${e.message}`));
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
  });
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'bench') process.exit(await runBench(rest));
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      requests: { type: 'string', short: 'n' },
      json: { type: 'boolean' },
      vip: { type: 'string' },
      server: { type: 'string' },
      client: { type: 'string' },
      limit: { type: 'string' },
      socket: { type: 'string' },
      offline: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  socketFlag = values.socket;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h' || values.help) {
    process.stdout.write(USAGE);
    return;
  }
  switch (cmd) {
    case 'check':
      return check(values.config);
    case 'start':
      return start(values.config);
    case 'preflight': {
      if (!values.config) fail('missing -c FILE\n\n' + USAGE, 2);
      const { preflight } = await import('./preflight');
      // exit right after EAL cleanup
      process.exit(await preflight(values.config, { json: values.json === true, offline: values.offline === true }));
    }
    case 'stats':
      return stats(values.config, values.json === true);
    case 'list':
      return list(values.config, values.json === true);
    case 'sessions':
      return sessions(values.config, values);
    case 'reload':
      return reload(values.config);
    case 'demo': {
      const { runDemo } = await import('./demo/run');
      process.exitCode = await runDemo({ requests: values.requests ? Number(values.requests) : undefined, config: values.config });
      return;
    }
    default:
      fail(`unknown command "${cmd}"\n\n${USAGE}`, 2);
  }
}

main().catch((e: unknown) => fail(e instanceof Error ? (e.stack ?? e.message) : String(e)));
