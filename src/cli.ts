#!/usr/bin/env node
// fullnat command line: start, check, demo.
import { parseArgs } from 'node:util';
import { ConfigError } from './config/errors';
import { loadConfig } from './config/load';
import type { Config } from './config/schema';
import { ealArgs, EalError } from './dpdk/eal';
import { Gateway } from './gateway';
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
  stats -c FILE     counters of the running gateway, per worker (--json: raw)
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
  const cfg = configFrom({ config: file });
  try {
    const s = (await request(cfg.control.socket, '/stats')) as StatsSnapshot & { ports: PortSteering[] };
    process.stdout.write(json ? JSON.stringify(s, null, 2) + '\n' : statsTable(s, s.ports));
  } catch (e) {
    fail((e as Error).message);
  }
}

async function start(file: string | undefined): Promise<void> {
  const cfg = configFrom({ config: file });
  const log = createLogger(cfg.log.level);
  const gw = new Gateway(cfg, loadNative(), log);
  const control = new ControlServer(cfg.control.socket, {
    '/stats': () => ({ ...gw.stats(), ports: gw.ports() }),
  });
  try {
    await control.listen();
    gw.start();
  } catch (e) {
    log.fatal({ err: (e as Error).message }, 'gateway failed to start');
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
    control.close();
    const stats = gw.stop();
    gw.release();
    log.info({ stats: { total: nonZero(stats.total), workers: stats.workers.map(nonZero), control: nonZero(stats.control) } }, 'gateway stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Without a handler SIGHUP would kill the process and every session with it.
  process.on('SIGHUP', () => log.warn('SIGHUP: live reload is not implemented yet; the running config stays'));
  // Keep the event loop alive: the data plane runs on its own threads.
  setInterval(() => {}, 1 << 30);
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      requests: { type: 'string', short: 'n' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h' || values.help) {
    process.stdout.write(USAGE);
    return;
  }
  switch (cmd) {
    case 'check':
      return check(values.config);
    case 'start':
      return start(values.config);
    case 'stats':
      return stats(values.config, values.json === true);
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
