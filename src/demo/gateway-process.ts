// Runs the real gateway (`node dist/src/cli.js start -c FILE`) inside the
// topology's gateway namespace and follows its pino JSON output: "gateway ready"
// resolves `ready`; "gateway stopped" (after SIGTERM) carries the final stats.

import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { endChild, type Topology } from './topology';

export interface GatewayStats {
  total: Record<string, number>;
  workers: unknown[];
  [k: string]: unknown;
}

export interface GatewayStopResult {
  /** From the "gateway stopped" line; null if the gateway never logged it. */
  stats: GatewayStats | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export interface GatewayProcess {
  /** Resolves on "gateway ready"; rejects with the captured output on early exit or timeout. */
  ready: Promise<void>;
  /** SIGTERM, wait for exit (SIGKILL after the grace period); idempotent. */
  stop(): Promise<GatewayStopResult>;
  /** Every output line so far (stderr lines prefixed with "[stderr] "). */
  lines: string[];
  /** stdout lines that parsed as JSON objects. */
  records: Array<Record<string, unknown>>;
  child: ChildProcess;
  /** Resolves with the first JSON record (seen or future) matching `pred`. */
  waitFor(pred: (r: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
}

export interface GatewayOptions {
  /** Path of the CLI entry (default <repo>/dist/src/cli.js). */
  cli?: string;
  readyTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL in stop() (default 20 s). */
  stopGraceMs?: number;
  /** Also copy every line to this sink (e.g. process.stderr.write) as it arrives. */
  echo?: (line: string) => void;
}

/** The repository root: the nearest ancestor with the project's package.json. */
export function repoRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'fullnat') return dir;
      } catch {
        /* keep looking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no fullnat package.json above ${from}`);
    dir = up;
  }
}

function tail(lines: string[], n = 200): string {
  const t = lines.slice(-n).join('\n');
  return lines.length > n ? `... (${lines.length - n} earlier lines)\n${t}` : t;
}

export function startGateway(topo: Topology, configFile: string, opts: GatewayOptions = {}): GatewayProcess {
  const root = repoRoot();
  const cli = opts.cli ?? path.join(root, 'dist', 'src', 'cli.js');
  const config = path.resolve(configFile);
  const child = topo.spawnIn(topo.ns.gateway, process.execPath, [cli, 'start', '-c', config], { cwd: root });

  const lines: string[] = [];
  const records: Array<Record<string, unknown>> = [];
  interface Waiter {
    pred: (r: Record<string, unknown>) => boolean;
    resolve: (r: Record<string, unknown>) => void;
    reject: (e: Error) => void;
  }
  const waiters = new Set<Waiter>();
  let stopped: GatewayStats | null = null;

  const onStdout = (line: string): void => {
    lines.push(line);
    opts.echo?.(line);
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      return;
    }
    if (!rec || typeof rec !== 'object') return;
    const r = rec as Record<string, unknown>;
    records.push(r);
    if (r.msg === 'gateway stopped' && r.stats && typeof r.stats === 'object') stopped = r.stats as GatewayStats;
    for (const w of [...waiters]) {
      if (w.pred(r)) {
        waiters.delete(w);
        w.resolve(r);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onStdout);
  createInterface({ input: child.stderr! }).on('line', (l) => {
    lines.push(`[stderr] ${l}`);
    opts.echo?.(`[stderr] ${l}`);
  });

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (e) => {
      lines.push(`[spawn error] ${e.message}`);
      resolve({ code: null, signal: null });
    });
  });
  // Streams may still hold lines when 'exit' fires: wait for 'close' too.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const waitFor = (pred: (r: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> => {
    const seen = records.find(pred);
    if (seen) return Promise.resolve(seen);
    if (ended) return Promise.reject(new Error(`gateway has exited; output:\n${tail(lines)}`));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        pred,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`gateway: no matching log line within ${timeoutMs} ms; output:\n${tail(lines)}`));
      }, timeoutMs);
      waiters.add(w);
    });
  };
  // Once the output is complete nothing more can match: fail pending waiters now
  // (their timers would otherwise keep the event loop alive).
  let ended = false;
  void closed.then(() => {
    ended = true;
    for (const w of [...waiters]) {
      waiters.delete(w);
      w.reject(new Error(`gateway exited; output:\n${tail(lines)}`));
    }
  });

  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`gateway not ready after ${readyTimeoutMs / 1000} s; output:\n${tail(lines)}`)),
      readyTimeoutMs,
    );
    waitFor((r) => r.msg === 'gateway ready', readyTimeoutMs + 1000).then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => undefined,
    );
    void exited.then(async ({ code, signal }) => {
      await closed;
      clearTimeout(timer);
      // No-op if already resolved.
      reject(
        new Error(
          `gateway exited before ready (${signal ? `signal ${signal}` : `exit ${code}`}): ${cli} start -c ${config}\n${tail(lines)}`,
        ),
      );
    });
  });
  ready.catch(() => undefined); // callers observe it; never an unhandled rejection

  let stopping: Promise<GatewayStopResult> | null = null;
  const stop = (): Promise<GatewayStopResult> => {
    if (!stopping) {
      stopping = (async () => {
        await endChild(child, opts.stopGraceMs ?? 20_000);
        const { code, signal } = await exited;
        await closed;
        return { stats: stopped, exitCode: code, signal };
      })();
    }
    return stopping;
  };

  return { ready, stop, lines, records, child, waitFor };
}

/** The non-zero counters of a stats total, sorted by name. */
export function nonZeroCounters(stats: GatewayStats | null): Array<[string, number]> {
  if (!stats?.total) return [];
  return Object.entries(stats.total)
    .filter(([, v]) => typeof v === 'number' && v !== 0)
    .sort(([a], [b]) => a.localeCompare(b));
}
