// Shared setup for the end-to-end tests: a fresh namespace topology, the three
// HTTP real servers and the real gateway per test file, plus client helpers
// that run curl / iperf3 / a Node HTTP client inside the client namespace.
//
// FULLNAT_E2E_CONFIG=FILE runs another gateway config (default config/demo.yaml);
// FULLNAT_E2E_CLI=FILE another CLI entry (default dist/src/cli.js).

import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseDocument, parse as parseYaml, stringify as stringifyYaml, type Document } from 'yaml';
import {
  repoRoot,
  startGateway,
  type GatewayProcess,
  type GatewayStopResult,
} from '../../src/demo/gateway-process';
import {
  curlOnce,
  startHttpServers,
  waitForFirstSuccess,
  webServiceFromConfig,
  type FetchResult,
  type WebService,
} from '../../src/demo/run';
import { CLIENT_ADDR, createTopology, netnsUnavailableReason, type ExecResult, type Topology } from '../../src/demo/topology';
import type { ServiceListing } from '../../src/gateway';
import type { ServerReply } from '../../src/demo/http-server';

/** Why these tests cannot run on this machine (not root, no `ip netns`), or false. */
export const skipReason: string | false = netnsUnavailableReason() ?? false;

export { CLIENT_ADDR };
export const RS_NAMES = ['rs1', 'rs2', 'rs3'];
export const IPERF_PORT = 5201;

export interface Env {
  topo: Topology;
  gw: GatewayProcess;
  web: WebService;
  url: string;
  /** The config file the gateway runs (a temp copy when controlSocket is set). */
  config: string;
  /** The CLI entry the gateway runs (and `fullnat stats` uses). */
  cli: string;
  /** The gateway's control socket, when setupEnv gave it a private one. */
  controlSocket?: string;
  /** Temp directory holding the config copy and the socket; removed by teardownEnv. */
  tmpDir?: string;
  /** Connections through the VIP that completed: each made exactly one session. */
  connections: number;
  /**
   * Sessions made by traffic that is not a counted connection, measured from
   * the counters where such traffic happens (setup attempts that failed, a
   * SYN flood without the proxy): sessions_created = connections + these.
   */
  otherSessions: number;
  iperfServer?: ChildProcess;
  stopped?: GatewayStopResult;
}

export interface EnvOptions {
  /** Also start iperf3 -s on rs1. */
  iperf?: boolean;
  /**
   * Edits the gateway config before the gateway starts (e.g. adds health checks
   * or services). Runs on a temp copy, so the file given stays untouched.
   */
  edit?: (doc: Document) => void;
  /** Gateway config file (default FULLNAT_E2E_CONFIG, else config/demo.yaml). */
  config?: string;
  /**
   * Give the gateway a control socket of its own (default true): runs a temp
   * copy of the config with control.socket set to a fresh path, so concurrent
   * runs (and a gateway left by a crashed run) never collide on the default
   * socket. false runs the config file as it is.
   */
  controlSocket?: boolean;
}

/** A temp copy of `config` with control.socket set to a fresh path in a fresh directory. */
export function configWithControlSocket(
  config: string,
  edit?: (doc: Document) => void,
): { config: string; socket: string; tmpDir: string } {
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'fullnat-e2e-'));
  try {
    const socket = path.join(tmpDir, 'ctl.sock');
    const doc = parseDocument(readFileSync(config, 'utf8'));
    edit?.(doc);
    doc.setIn(['control', 'socket'], socket);
    const copy = path.join(tmpDir, path.basename(config));
    writeFileSync(copy, doc.toString());
    return { config: copy, socket, tmpDir };
  } catch (e) {
    rmSync(tmpDir, { recursive: true, force: true });
    throw e;
  }
}

export async function setupEnv(opts: EnvOptions = {}): Promise<Env> {
  const root = repoRoot();
  let config = opts.config ?? process.env.FULLNAT_E2E_CONFIG ?? path.join(root, 'config', 'demo.yaml');
  const cli = process.env.FULLNAT_E2E_CLI ?? path.join(root, 'dist', 'src', 'cli.js');
  let controlSocket: string | undefined;
  let tmpDir: string | undefined;
  if (opts.controlSocket ?? true) ({ config, socket: controlSocket, tmpDir } = configWithControlSocket(config, opts.edit));
  else if (opts.edit) throw new Error('setupEnv: edit needs the private copy made with controlSocket: true');
  const web = webServiceFromConfig(config);
  const url = `http://${web.vip}${web.port === 80 ? '' : `:${web.port}`}/`;
  let topo: Topology | undefined;
  let gw: GatewayProcess | undefined;
  try {
    topo = await createTopology();
    await startHttpServers(topo);
    let iperfServer: ChildProcess | undefined;
    if (opts.iperf) iperfServer = await startIperfServer(topo, topo.ns.servers[0]!);
    gw = startGateway(topo, config, { cli });
    await gw.ready;
    await waitForFirstSuccess(topo, url);
    const env: Env = { topo, gw, web, url, config, cli, controlSocket, tmpDir, connections: 1, otherSessions: 0, iperfServer };
    // Attempts before the first success (it is the one counted connection so
    // far) may have made sessions too; they are known only from the counter.
    env.otherSessions = ((await statsJson(env)).total.sessions_created ?? 0) - env.connections;
    return env;
  } catch (e) {
    if (gw) await gw.stop().catch(() => undefined);
    await topo?.destroy();
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
    throw e;
  }
}

export async function teardownEnv(env: Env | undefined): Promise<void> {
  if (!env) return;
  try {
    if (!env.stopped) env.stopped = await env.gw.stop();
  } finally {
    try {
      await env.topo.destroy();
    } finally {
      if (env.tmpDir) rmSync(env.tmpDir, { recursive: true, force: true });
    }
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node <cli> ARGS` on the host (a unix socket path is reachable from
 * every network namespace), e.g. `fullnat(env, ['stats', '-c', env.config, '--json'])`.
 */
export function fullnat(env: Env, args: string[], timeoutMs = 15_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [env.cli, ...args],
      { cwd: repoRoot(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
        if (e && typeof e.code === 'string') reject(new Error(`${env.cli} ${args.join(' ')}: ${e.message}`));
        else resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Stops the gateway once and returns its final stats (the "gateway stopped" line). */
export async function stopGateway(env: Env): Promise<GatewayStopResult> {
  if (!env.stopped) env.stopped = await env.gw.stop();
  return env.stopped;
}

/** Runs `fn`; on failure appends the gateway's recent output to the error. */
export async function withGatewayLog<T>(env: Env | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (env && e instanceof Error) {
      e.message += `\n--- gateway output (last 60 lines) ---\n${env.gw.lines.slice(-60).join('\n')}`;
    }
    throw e;
  }
}

export async function curl(env: Env, url = env.url): Promise<FetchResult> {
  const r = await curlOnce(env.topo, url, 5);
  if (r.ok) env.connections++;
  return r;
}

/** A server reply is a LIP of the pool, never the client's own address. */
export function assertSeenFromLip(env: Env, reply: ServerReply): void {
  assert.notEqual(reply.client, CLIENT_ADDR, `${reply.server} saw the client address: no SNAT`);
  assert.ok(
    env.web.lips.includes(reply.client),
    `${reply.server} saw ${reply.client}, expected one of the LIPs ${env.web.lips.join(', ')}`,
  );
}

export async function startIperfServer(topo: Topology, ns: string): Promise<ChildProcess> {
  // -J: the server's own JSON comes back to the client with --get-server-output,
  // so a test can read the address the real server saw.
  const child = topo.spawnIn(ns, 'iperf3', ['-s', '-J', '-p', String(IPERF_PORT)]);
  // Drain its output: a full pipe would block the server mid-test.
  child.stdout!.resume();
  child.stderr!.resume();
  // iperf3 -s prints nothing until a test ends: wait until its port accepts.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await topo.exec(ns, 'ss', ['-Hltn', `sport = :${IPERF_PORT}`], { check: false });
    if (r.stdout.includes(`:${IPERF_PORT}`)) return child;
    if (child.exitCode !== null) throw new Error(`iperf3 -s exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('iperf3 -s not listening after 10 s');
    await new Promise((r2) => setTimeout(r2, 100));
  }
}

// Only the fields the tests read; iperf3 3.x JSON.
export interface IperfResult {
  start: {
    connected: Array<{ local_host: string; remote_host: string; remote_port: number }>;
    test_start: { protocol: string };
  };
  end: {
    sum_received?: { bytes: number; packets?: number; lost_packets?: number };
    sum?: { bytes: number; packets?: number; lost_packets?: number; lost_percent?: number };
  };
  server_output_json?: {
    start: { connected: Array<{ local_host: string; remote_host: string; remote_port: number }> };
    end: { sum_received?: { bytes: number }; sum?: { bytes: number; packets?: number; lost_packets?: number } };
  };
  error?: string;
}

/** iperf3 client in the client namespace against the VIP; returns the parsed JSON. */
export async function iperf3(env: Env, args: string[], timeoutMs = 60_000): Promise<IperfResult> {
  const r = await env.topo.exec(
    env.topo.ns.client,
    'iperf3',
    ['-c', env.web.vip, '-p', String(IPERF_PORT), '-J', '--get-server-output', ...args],
    { check: false, timeoutMs },
  );
  let j: IperfResult;
  try {
    j = JSON.parse(r.stdout) as IperfResult;
  } catch {
    throw new Error(`iperf3 ${args.join(' ')}: exit ${r.code}, no JSON: ${r.stdout.slice(0, 500)} ${r.stderr}`);
  }
  if (j.error || r.code !== 0) throw new Error(`iperf3 ${args.join(' ')}: exit ${r.code}: ${j.error ?? r.stderr}`);
  // One control connection plus the data stream (a TCP connection or a UDP flow).
  env.connections += 2;
  return j;
}

export interface ConcurrentResult {
  ok: boolean;
  status?: number;
  body?: string;
  error?: string;
}

// Runs in the client namespace: opens `n` connections at once (no keep-alive,
// no socket limit) and prints one JSON array of outcomes.
const CONCURRENT_CLIENT = `
const http = require('node:http');
const n = Number(process.argv[1]), url = process.argv[2];
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const one = () => new Promise((resolve) => {
  const req = http.get(url, { agent, timeout: 20000 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (body += d));
    res.on('end', () => resolve({ ok: res.statusCode === 200, status: res.statusCode, body }));
    res.on('error', (e) => resolve({ ok: false, error: e.message }));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => resolve({ ok: false, error: e.message }));
});
Promise.all(Array.from({ length: n }, one)).then((r) => process.stdout.write(JSON.stringify(r)));
`;

/** `n` simultaneous HTTP requests from the client namespace (each its own TCP connection). */
export async function concurrentRequests(env: Env, n: number, url: string): Promise<ConcurrentResult[]> {
  const r = await env.topo.exec(env.topo.ns.client, process.execPath, ['-e', CONCURRENT_CLIENT, String(n), url], {
    timeoutMs: 60_000,
  });
  const results = JSON.parse(r.stdout) as ConcurrentResult[];
  env.connections += results.filter((x) => x.ok).length;
  return results;
}

/** The final stats: the gateway exited 0 and counted one session per connection made, no more. */
export async function assertStoppedStats(env: Env): Promise<Record<string, number>> {
  const stopped = await stopGateway(env);
  assert.equal(stopped.exitCode, 0, `gateway exit code ${stopped.exitCode} (signal ${stopped.signal})`);
  assert.ok(stopped.stats, 'no "gateway stopped" line with stats in the gateway output');
  // The gateway may log only non-zero counters: a missing one is 0.
  const total = stopped.stats.total;
  const created = total.sessions_created ?? 0;
  // Health checks run from the kernel interface to the servers, not through
  // the VIP: they make no sessions.
  assert.equal(
    created,
    env.connections + env.otherSessions,
    `sessions_created ${created}, expected ${env.connections} connections made + ${env.otherSessions} other sessions; totals ${JSON.stringify(total)}`,
  );
  return total;
}

// ---- live operations (issue #4): config edits, reload, list, stats, metrics ----

/** A service as the config file writes it (only what the tests set). */
export interface ServiceCfg {
  name: string;
  vip: string;
  port: number;
  protocol: 'tcp' | 'udp';
  scheduler?: 'rr' | 'wrr';
  removed_servers?: 'drain' | 'reset';
  health?: Record<string, unknown> | null;
  local_addresses: string;
  real_servers: Array<{ address: string; port: number; weight?: number; health?: Record<string, unknown> | false | null }>;
}

/** The gateway's config file as a plain object (the temp copy the gateway runs). */
export function readConfig(env: Env): { services: ServiceCfg[]; [k: string]: unknown } {
  return parseYaml(readFileSync(env.config, 'utf8')) as { services: ServiceCfg[]; [k: string]: unknown };
}

/** Rewrites the gateway's config file (an object is written as YAML; a string as it is). */
export function writeConfig(env: Env, cfg: object | string): string {
  const text = typeof cfg === 'string' ? cfg : stringifyYaml(cfg);
  writeFileSync(env.config, text);
  return text;
}

export interface ReloadOutcome {
  how: 'sighup' | 'cli';
  ok: boolean;
  /** `fullnat reload` exit code (cli only). */
  code?: number | null;
  /** `fullnat reload` stdout + stderr, or the gateway's log record as JSON (sighup). */
  output: string;
  /** The gateway's log record of the outcome (sighup only). */
  record?: Record<string, unknown>;
  /** When the reload was asked for and when its answer was seen (ms epoch). */
  sent: number;
  answered: number;
}

const isReloadOutcome = (r: Record<string, unknown>): boolean =>
  r.msg === 'config reloaded' || (typeof r.msg === 'string' && r.msg.startsWith('reload rejected'));

/**
 * Makes the running gateway re-read its config: `fullnat reload -c FILE` on
 * the host (cli), or SIGHUP to the gateway process, then waits for its
 * "config reloaded" / "reload rejected" log line.
 */
export async function reloadGateway(env: Env, how: 'sighup' | 'cli', timeoutMs = 30_000): Promise<ReloadOutcome> {
  const sent = Date.now();
  if (how === 'cli') {
    const r = await fullnat(env, ['reload', '-c', env.config], timeoutMs);
    return { how, ok: r.code === 0 && /^reloaded/.test(r.stdout), code: r.code, output: r.stdout + r.stderr, sent, answered: Date.now() };
  }
  const from = env.gw.records.length;
  process.kill(env.gw.child.pid!, 'SIGHUP');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rec = env.gw.records.slice(from).find(isReloadOutcome);
    if (rec) return { how, ok: rec.msg === 'config reloaded', output: JSON.stringify(rec), record: rec, sent, answered: Date.now() };
    if (env.gw.child.exitCode !== null || env.gw.child.signalCode !== null) throw new Error('gateway exited after SIGHUP');
    if (Date.now() > deadline) throw new Error(`no "config reloaded" or "reload rejected" log line ${timeoutMs} ms after SIGHUP`);
    await sleep(10);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a value other than undefined/false, or throws after `timeoutMs` with `what`. */
export async function waitUntil<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false> | T | undefined | false, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
    }
    await sleep(everyMs);
  }
}

export type ListedServer = ServiceListing['real_servers'][number];
export type { ServiceListing };

/** `fullnat list -c FILE --json` of the running gateway. */
export async function listJson(env: Env): Promise<ServiceListing[]> {
  const r = await fullnat(env, ['list', '-c', env.config, '--json']);
  assert.equal(r.code, 0, `fullnat list --json: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ServiceListing[];
}

/** The listed server `address:port` of service `name` (throws when absent). */
export function listedServer(list: ServiceListing[], service: string, server: string): ListedServer {
  const svc = list.find((s) => s.name === service);
  assert.ok(svc, `no service ${service} in fullnat list: ${list.map((s) => s.name).join(', ')}`);
  const rs = svc.real_servers.find((r) => `${r.address}:${r.port}` === server);
  assert.ok(rs, `no server ${server} in service ${service}: ${JSON.stringify(svc.real_servers)}`);
  return rs;
}

export interface StatsJson {
  total: Record<string, number>;
  workers: Array<Record<string, number>>;
  control: Record<string, number>;
  ports: Array<Record<string, unknown> & { name: string }>;
}

/** `fullnat stats -c FILE --json` of the running gateway. */
export async function statsJson(env: Env): Promise<StatsJson> {
  const r = await fullnat(env, ['stats', '-c', env.config, '--json']);
  assert.equal(r.code, 0, `fullnat stats --json: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatsJson;
}

/** GET /metrics from inside the gateway namespace (stats.listen, 127.0.0.1:9901 by default). */
export async function scrapeMetrics(env: Env, hostPort = '127.0.0.1:9901'): Promise<string> {
  const r = await env.topo.exec(env.topo.ns.gateway, 'curl', ['-sS', '--fail', '--max-time', '5', `http://${hostPort}/metrics`], {
    check: false,
    timeoutMs: 15_000,
  });
  if (r.code !== 0) throw new Error(`GET http://${hostPort}/metrics in the gateway namespace: curl exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** curl in the client namespace with extra arguments; never throws on curl's exit code. */
export async function curlArgs(env: Env, args: string[], timeoutMs = 30_000): Promise<ExecResult & { ms: number }> {
  const t0 = Date.now();
  const r = await env.topo.exec(env.topo.ns.client, 'curl', ['-sS', ...args], { check: false, timeoutMs });
  return { ...r, ms: Date.now() - t0 };
}

// ---- real servers: stop and start the HTTP server of rsN ----

/** Ends rs`i+1`'s HTTP server (SIGTERM, by pid, only processes running http-server.js in its namespace). */
export async function stopHttpServer(env: Env, i: number, port = 8080): Promise<void> {
  const ns = env.topo.ns.servers[i]!;
  const pids = (await env.topo.exec(ns, 'ip', ['netns', 'pids', ns], { check: false })).stdout;
  let n = 0;
  for (const pid of pids.split('\n').map(Number).filter((p) => p > 0)) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmd.includes('http-server.js') || !cmd.includes(`--port\0${port}`)) continue;
    process.kill(pid, 'SIGTERM');
    n++;
  }
  assert.ok(n > 0, `no http-server.js on port ${port} in ${ns}`);
  await waitUntil(`http server of rs${i + 1} stopped`, 10_000, async () => {
    const r = await env.topo.exec(ns, 'ss', ['-Hltn', `sport = :${port}`], { check: false });
    return !r.stdout.includes(`:${port}`);
  });
}

/** Starts an HTTP server as rs`i+1` (name rsN) on `port` in its namespace; resolves once it listens. */
export function startHttpServer(env: Env, i: number, port = 8080): Promise<ChildProcess> {
  const name = `rs${i + 1}`;
  const script = path.join(repoRoot(), 'dist', 'src', 'demo', 'http-server.js');
  const child = env.topo.spawnIn(env.topo.ns.servers[i]!, process.execPath, [script, '--name', name, '--port', String(port)]);
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => reject(new Error(`${name}: not listening on ${port} after 10 s ${err}`)), 10_000);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l.startsWith('listening')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}): ${err.trim()}`));
    });
  });
}

// ---- a steady HTTP load from the client namespace ----

export interface LoadResult {
  url: string;
  /** ms epoch: request started, TCP connected (0: never), answer complete or failed. */
  t0: number;
  tc: number;
  t1: number;
  ok: boolean;
  status?: number;
  server?: string;
  error?: string;
}

// Runs in the client namespace: `conc` loops, each issuing one request after
// the other (a new TCP connection each) over the URLs in turn, until SIGTERM;
// then it lets the requests in flight finish. One JSON line per request.
const LOAD_CLIENT = `
const http = require('node:http');
const conc = Number(process.argv[1]), urls = process.argv.slice(2);
let stop = false;
process.on('SIGTERM', () => { stop = true; });
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const one = (url) => new Promise((resolve) => {
  const t0 = Date.now();
  let tc = 0;
  const done = (r) => resolve({ url, t0, tc, t1: Date.now(), ...r });
  const req = http.get(url, { agent, timeout: 10000 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (body += d));
    res.on('end', () => {
      let server;
      try { server = JSON.parse(body).server; } catch {}
      done({ ok: res.statusCode === 200 && typeof server === 'string', status: res.statusCode, server });
    });
    res.on('error', (e) => done({ ok: false, error: e.message }));
  });
  req.on('socket', (s) => s.once('connect', () => (tc = Date.now())));
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => done({ ok: false, error: e.message }));
});
const loop = async (i) => {
  for (let k = i; !stop; k++) process.stdout.write(JSON.stringify(await one(urls[k % urls.length])) + '\\n');
};
Promise.all(Array.from({ length: conc }, (_, i) => loop(i))).then(() => process.exit(0));
`;

export interface HttpLoad {
  /** Results so far (grows while the load runs). */
  results: LoadResult[];
  /** Stops issuing requests, waits for those in flight; resolves with every result. */
  stop(): Promise<LoadResult[]>;
}

/** `concurrency` request loops over `urls` from the client namespace, until stop(). */
export function startHttpLoad(env: Env, urls: string[], concurrency: number): HttpLoad {
  const child = env.topo.spawnIn(env.topo.ns.client, process.execPath, ['-e', LOAD_CLIENT, String(concurrency), ...urls]);
  const results: LoadResult[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      results.push(JSON.parse(l) as LoadResult);
    } catch {
      stderr += `unparsed: ${l}\n`;
    }
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    results,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await closed;
      clearTimeout(t);
      if (child.exitCode !== 0) throw new Error(`load client exit ${child.exitCode} (${child.signalCode}): ${stderr.trim()}`);
      env.connections += results.filter((r) => r.ok).length;
      return results;
    },
  };
}

/**
 * Runs a node `script` (which prints "listening" once it listens) with `args`
 * in namespace `ns`; resolves with the child once it listens. `what` names it in errors.
 */
export function spawnListening(topo: Topology, ns: string, script: string, args: string[], what: string): Promise<ChildProcess> {
  const child = topo.spawnIn(ns, process.execPath, ['-e', script, ...args]);
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => reject(new Error(`${what}: not listening after 10 s ${err}`)), 10_000);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l === 'listening') {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}): ${err.trim()}`));
    });
  });
}

/** A bare TCP listener on `port` in rs`i+1`'s namespace (accepts and closes); resolves once it listens. */
export function startTcpListener(env: Env, i: number, port: number): Promise<ChildProcess> {
  const script = `require('node:net').createServer((s) => s.destroy()).listen(${port}, () => console.log('listening'))`;
  return spawnListening(env.topo, env.topo.ns.servers[i]!, script, [], `tcp listener rs${i + 1}:${port}`);
}
