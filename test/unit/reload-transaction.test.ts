// The reload transaction (src/reload/running-plan.ts) through Gateway against
// the mock native surface: commit on success, nothing changed on any failure.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { parseConfig } from '../../src/config/load';
import { parseIPv4 } from '../../src/config/net';
import type { Config } from '../../src/config/schema';
import { Gateway } from '../../src/gateway';
import { IdRegistry } from '../../src/plan/ids';
// The one place this file names where the mock lives.
import { MockNative } from '../lib/mock-native';

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

interface Rs {
  ip: string;
  port?: number;
  weight?: number;
  /** Health check options for this server (a TCP check); absent: unchecked. */
  health?: string;
}

interface Svc {
  name: string;
  port: number;
  protocol?: 'tcp' | 'udp';
  scheduler?: string;
  reset?: boolean;
  rs: Rs[];
}

function yaml(services: Svc[], lips: string[] = ['198.19.0.10']): string {
  const svc = services
    .map((s) => {
      const rs = s.rs.map((r) => `{ address: ${r.ip}, port: ${r.port ?? 8080}, weight: ${r.weight ?? 1}${r.health ? `, health: ${r.health}` : ''} }`);
      return (
        `  - { name: ${s.name}, vip: 198.18.0.100, port: ${s.port}, protocol: ${s.protocol ?? 'tcp'}, scheduler: ${s.scheduler ?? 'rr'}, ` +
        `removed_servers: ${s.reset ? 'reset' : 'drain'}, local_addresses: pool, real_servers: [${rs.join(', ')}] }`
      );
    })
    .join('\n');
  return `
dpdk: { lcores: { main: 0, workers: [1] } }
ports:
  - { name: wan, device: "ring:utwan", addresses: [198.18.0.254/24] }
  - { name: lan, device: "ring:utlan", addresses: [198.19.0.254/24] }
routes: [{ to: 127.0.0.0/24, via: 198.19.0.1, port: lan }]
local_addresses:
  pool: { port: lan, addresses: [${lips.join(', ')}], ports: [1024, 2047] }
services:
${svc}
`;
}

const cfg = (services: Svc[], lips?: string[]): Config => parseConfig(yaml(services, lips), 'reload.yaml');
const rs = (n: number, extra: Partial<Rs> = {}): Rs => ({ ip: `198.19.0.${n}`, ...extra });

const A: Svc[] = [
  { name: 'web', port: 80, reset: true, rs: [rs(2), rs(3), rs(4)] },
  { name: 'dns', port: 53, protocol: 'udp', rs: [rs(5, { port: 53 }), rs(6, { port: 53 })] },
];
/** A without web's 198.19.0.4 and dns's 198.19.0.6 (both keep sessions: one is reset, one drains). */
const A2: Svc[] = [
  { name: 'web', port: 80, reset: true, rs: [rs(2), rs(3)] },
  { name: 'dns', port: 53, protocol: 'udp', rs: [rs(5, { port: 53 })] },
];
/** A reload that needs new ids everywhere: new servers, a re-added one, a new service, a new LIP. */
const BIG: Svc[] = [
  { name: 'web', port: 80, reset: true, rs: [rs(2), rs(3), rs(7), rs(8)] },
  { name: 'dns', port: 53, protocol: 'udp', rs: [rs(5, { port: 53 }), rs(6, { port: 53 })] },
  { name: 'alt', port: 81, rs: [rs(9), rs(12)] },
];
const BIG_LIPS = ['198.19.0.10', '198.19.0.11'];
/**
 * Valid to the schema, refused by the plan build: one wrr cycle of these
 * weights takes 16 × 65535 + 65534 entries, more than a table may hold. The
 * build fails after it has handed ids to earlier services and these servers.
 */
const UNBUILDABLE: Svc[] = [
  ...BIG,
  { name: 'fine', port: 82, scheduler: 'wrr', rs: Array.from({ length: 17 }, (_, i) => rs(20 + i, { weight: i === 0 ? 65534 : 65535 })) },
];

/** Everything the ids registry says, through its public readers. */
function idState(ids: IdRegistry) {
  return {
    services: [...ids.services()],
    realServers: [...ids.realServers()],
    draining: [...ids.drainingServers()],
    lips: [...ids.lips()],
    serviceIdLimit: ids.serviceIdLimit(),
    realServerIdLimit: ids.realServerIdLimit(),
  };
}

interface Running {
  gw: Gateway;
  native: MockNative;
  lines: LogLine[];
}

function startGateway(t: TestContext, services: Svc[], lips?: string[]): Running {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug', base: undefined }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  const native = new MockNative();
  const gw = new Gateway(cfg(services, lips), native, log);
  gw.start();
  t.after(() => gw.stop());
  return { gw, native, lines };
}

/** The gateway's ids (the transaction's registry). */
function idsOf(gw: Gateway): IdRegistry {
  return gw['plan'].ids;
}

/** What must not change when a reload fails. */
function observable(r: Running) {
  return {
    list: r.gw.list(),
    ids: idState(idsOf(r.gw)),
    config: r.gw.config(),
    plan: r.native.plan,
    applied: r.native.applied.length,
  };
}

/** Makes the mock's apply throw `message` until the returned function is called. */
function failApply(native: MockNative, message: string): () => void {
  const real = native.apply;
  native.apply = () => {
    throw new Error(message);
  };
  return () => {
    native.apply = real;
  };
}

/**
 * A's two servers removed with sessions still on them: web's 198.19.0.4
 * (reset) and dns's 198.19.0.6 (draining); A's 198.19.0.3 also removed and
 * re-added with no session, so a recycled id is waiting.
 */
function withDrainingAndReset(t: TestContext): Running {
  const r = startGateway(t, A);
  const ids = idsOf(r.gw);
  const id = (k: string) => ids.realServers().get(k)!;
  r.native.rsActive.set(id('198.18.0.100:80/tcp 198.19.0.4:8080'), 2);
  r.native.rsActive.set(id('198.18.0.100:53/udp 198.19.0.6:53'), 1);
  assert.deepEqual(r.gw.reload(cfg(A2.map((s) => (s.name === 'web' ? { ...s, rs: [rs(2)] } : s)))).ok, true);
  assert.deepEqual(r.gw.reload(cfg(A2)).ok, true);
  return r;
}

describe('reload transaction (mock native)', () => {
  it('a reload commits: listing, ids, draining and reset servers, the applied plan', (t) => {
    const r = withDrainingAndReset(t);
    // Ids: web 0-2, dns 3-4 at start; 198.19.0.3 (id 1) left with no session
    // and came back on the recycled id 1; 0.4 (id 2) and 0.6 (id 4) hold sessions.
    assert.deepEqual(idState(idsOf(r.gw)), {
      services: [
        ['198.18.0.100:80/tcp', 0],
        ['198.18.0.100:53/udp', 1],
      ],
      realServers: [
        ['198.18.0.100:80/tcp 198.19.0.2:8080', 0],
        ['198.18.0.100:53/udp 198.19.0.5:53', 3],
        ['198.18.0.100:80/tcp 198.19.0.3:8080', 1],
      ],
      draining: [
        [2, '198.18.0.100:80/tcp 198.19.0.4:8080'],
        [4, '198.18.0.100:53/udp 198.19.0.6:53'],
      ],
      lips: [[parseIPv4('198.19.0.10'), 1]],
      serviceIdLimit: 2,
      realServerIdLimit: 5,
    });
    const servers = (name: string) => r.gw.list().find((s) => s.name === name)!.real_servers.map((x) => [x.id, x.address, x.health, x.weight, x.last_error]);
    assert.deepEqual(servers('web'), [
      [0, '198.19.0.2', 'unchecked', 1, null],
      [1, '198.19.0.3', 'unchecked', 1, null],
      [2, '198.19.0.4', 'removed', 0, 'removed with reset'],
    ]);
    assert.deepEqual(servers('dns'), [
      [3, '198.19.0.5', 'unchecked', 1, null],
      [4, '198.19.0.6', 'removed', 0, 'removed: draining'],
    ]);
    assert.equal(r.native.applied.length, 2);
    assert.deepEqual(r.native.plan!.realServers.map((x) => x.id), [0, 1, 3]);
    assert.deepEqual(r.native.plan!.resetRealServers, [2], 'the reset server stays in every plan until its id is free');
  });

  it('native apply throws: ids, draining, resets, LIPs, listing, config and plan exactly as before; the error comes back', (t) => {
    const r = withDrainingAndReset(t);
    const before = observable(r);
    const restore = failApply(r.native, 'native plan: out of DPDK memory');
    const res = r.gw.reload(cfg(BIG, BIG_LIPS));
    restore();
    assert.deepEqual(res, { ok: false, errors: ['native plan: out of DPDK memory'] });
    assert.deepEqual(observable(r), before);
    assert.equal(r.native.plan, before.plan, 'the running plan is the same object');
    assert.equal(r.gw.config(), before.config, 'the running config is the same object');
    // The reset set too: the next plan still resets exactly server 2.
    assert.equal(r.gw.reload(r.gw.config()).ok, true);
    assert.deepEqual(r.native.plan!.resetRealServers, [2]);
  });

  it('the plan build throws: everything exactly as before; the error names the service and the cause', (t) => {
    const r = withDrainingAndReset(t);
    const before = observable(r);
    const res = r.gw.reload(cfg(UNBUILDABLE, BIG_LIPS));
    assert.equal(res.ok, false);
    assert.deepEqual(res.ok ? [] : res.errors, [
      'service fine: weights too fine-grained: one wrr cycle would take 1114094 entries (max 1048576); use smaller weights',
    ]);
    assert.deepEqual(observable(r), before);
  });

  it('after a failed reload, a good one gets the ids it would have got without the failure', (t) => {
    const failed = withDrainingAndReset(t);
    const restore = failApply(failed.native, 'native plan: out of DPDK memory');
    assert.equal(failed.gw.reload(cfg(BIG, BIG_LIPS)).ok, false);
    restore();
    assert.equal(failed.gw.reload(cfg(UNBUILDABLE, BIG_LIPS)).ok, false);
    assert.equal(failed.gw.reload(cfg(BIG, BIG_LIPS)).ok, true);

    const clean = withDrainingAndReset(t);
    assert.equal(clean.gw.reload(cfg(BIG, BIG_LIPS)).ok, true);

    assert.deepEqual(failed.gw.list(), clean.gw.list());
    assert.deepEqual(idState(idsOf(failed.gw)), idState(idsOf(clean.gw)));
    assert.deepEqual(failed.native.plan, clean.native.plan);
    // And what they are: 198.19.0.7 takes nothing recycled (1 went back to 0.3), new ids from 5.
    const ids = (name: string) => failed.gw.list().find((s) => s.name === name)!.real_servers.map((x) => [x.address, x.id, x.health]);
    assert.deepEqual(ids('web'), [
      ['198.19.0.2', 0, 'unchecked'],
      ['198.19.0.3', 1, 'unchecked'],
      ['198.19.0.7', 5, 'unchecked'],
      ['198.19.0.8', 6, 'unchecked'],
      ['198.19.0.4', 2, 'removed'],
    ]);
    assert.deepEqual(ids('dns'), [
      ['198.19.0.5', 3, 'unchecked'],
      ['198.19.0.6', 7, 'unchecked'],
      ['198.19.0.6', 4, 'removed'],
    ]);
    assert.deepEqual(ids('alt'), [
      ['198.19.0.9', 8, 'unchecked'],
      ['198.19.0.12', 9, 'unchecked'],
    ]);
  });

  it('a health verdict whose publish fails: no throw out of the event handler, an error logged with the cause, the plan stays', async (t) => {
    // A server on loopback (routed through lan as far as the plan knows),
    // checked on a port nothing listens on: refused, down after one probe.
    const check = '{ type: tcp, interval_s: 0.05, timeout_ms: 1000, fall: 1, rise: 1, port: 9 }';
    const checked: Svc[] = [{ ...A[0]!, rs: [rs(2), { ip: '127.0.0.3', health: check }, rs(4)] }, A[1]!];
    const r = startGateway(t, checked);
    const before = observable(r);
    const restore = failApply(r.native, 'native plan: out of DPDK memory');
    const failed = await waitFor(r.lines, (l) => l.msg === 'plan not published: the running plan stays', 5000);
    restore();
    assert.equal(failed.level, 50, 'logged as an error');
    assert.equal(failed.reason, 'health: 198.18.0.100:80/tcp 127.0.0.3:8080 down');
    assert.equal((failed.err as { message: string }).message, 'native plan: out of DPDK memory');
    assert.ok(!r.lines.some((l) => l.msg === 'plan published'), 'nothing was published');
    // The plan, ids and listing are as before; only the health column tells the verdict.
    const after = observable(r);
    assert.equal(after.plan, before.plan);
    assert.deepEqual(after.ids, before.ids);
    assert.equal(after.applied, before.applied);
    const web = (l: typeof before.list) => l.find((s) => s.name === 'web')!.real_servers;
    const lastError = web(after.list)[1]!.last_error;
    assert.match(String(lastError), /.+/, 'the probe error is listed');
    assert.deepEqual(
      after.list,
      before.list.map((s) =>
        s.name !== 'web' ? s : { ...s, real_servers: s.real_servers.map((x) => (x.address === '127.0.0.3' ? { ...x, health: 'down', last_error: lastError } : x)) },
      ),
    );
    // The verdict goes out with the next publish.
    assert.equal(r.gw.reload(r.gw.config()).ok, true);
    assert.deepEqual(r.native.plan!.realServers.map((x) => [x.id, x.weight]), [[0, 1], [1, 0], [2, 1], [3, 1], [4, 1]]);
  });
});

describe('IdRegistry snapshot/restore', () => {
  it('restore() undoes ids handed out, retirements, recycling and LIPs noted since the snapshot', () => {
    const ids = new IdRegistry();
    const c = cfg(A);
    for (const k of ['a', 'b', 'c']) ids.realServerId(k);
    ids.serviceId('s');
    ids.retire(c); // a, b, c are not in A: all drain
    ids.release((id) => (id === 1 ? 0 : 1)); // b's id 1 is free
    ids.noteLip(1, 0);
    const snap = ids.snapshot();
    const before = idState(ids);
    ids.realServerId('d'); // takes the recycled 1
    ids.realServerId('e'); // a new 3
    ids.serviceId('t');
    ids.noteLip(2, 1);
    ids.retire(cfg([{ name: 'other', port: 90, rs: [rs(40)] }]));
    ids.release(() => 0);
    ids.restore(snap);
    assert.deepEqual(idState(ids), before);
    assert.deepEqual(ids.takeReused(), []);
    assert.equal(ids.realServerId('d'), 1, 'the recycled id is free again');
    assert.deepEqual(ids.takeReused(), [1]);
  });
});

async function waitFor(lines: LogLine[], match: (l: LogLine) => boolean, ms: number): Promise<LogLine> {
  const end = Date.now() + ms;
  for (;;) {
    const l = lines.find(match);
    if (l) return l;
    if (Date.now() > end) throw new Error(`no matching log line within ${ms} ms; got: ${lines.map((x) => x.msg).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
