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
import { parseDocument } from 'yaml';
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
import { CLIENT_ADDR, createTopology, netnsUnavailableReason, type Topology } from '../../src/demo/topology';
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
  /** Connections through the VIP that completed (a lower bound for sessions_created). */
  connections: number;
  iperfServer?: ChildProcess;
  stopped?: GatewayStopResult;
}

export interface EnvOptions {
  /** Also start iperf3 -s on rs1. */
  iperf?: boolean;
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
export function configWithControlSocket(config: string): { config: string; socket: string; tmpDir: string } {
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'fullnat-e2e-'));
  const socket = path.join(tmpDir, 'ctl.sock');
  const doc = parseDocument(readFileSync(config, 'utf8'));
  doc.setIn(['control', 'socket'], socket);
  const copy = path.join(tmpDir, path.basename(config));
  writeFileSync(copy, doc.toString());
  return { config: copy, socket, tmpDir };
}

export async function setupEnv(opts: EnvOptions = {}): Promise<Env> {
  const root = repoRoot();
  let config = opts.config ?? process.env.FULLNAT_E2E_CONFIG ?? path.join(root, 'config', 'demo.yaml');
  const cli = process.env.FULLNAT_E2E_CLI ?? path.join(root, 'dist', 'src', 'cli.js');
  let controlSocket: string | undefined;
  let tmpDir: string | undefined;
  if (opts.controlSocket ?? true) ({ config, socket: controlSocket, tmpDir } = configWithControlSocket(config));
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
    const first = await waitForFirstSuccess(topo, url);
    const env: Env = { topo, gw, web, url, config, cli, controlSocket, tmpDir, connections: first.ok ? 1 : 0, iperfServer };
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

/** The final stats: the gateway exited 0 and counted at least one session per connection made. */
export async function assertStoppedStats(env: Env): Promise<Record<string, number>> {
  const stopped = await stopGateway(env);
  assert.equal(stopped.exitCode, 0, `gateway exit code ${stopped.exitCode} (signal ${stopped.signal})`);
  assert.ok(stopped.stats, 'no "gateway stopped" line with stats in the gateway output');
  // The gateway may log only non-zero counters: a missing one is 0.
  const total = stopped.stats.total;
  const created = total.sessions_created ?? 0;
  assert.ok(
    created >= env.connections,
    `sessions_created ${created} < ${env.connections} connections made; totals ${JSON.stringify(total)}`,
  );
  return total;
}
