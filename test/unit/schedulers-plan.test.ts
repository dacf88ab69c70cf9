// Schedulers and persistence (issue #5) in the plan: what buildPlan() hands
// the data plane for every scheduler (kind, hash seed, the service's slice of
// real servers, the scheduling table, the effective weights lc/wlc compare,
// persistence), and the config errors of the new keys (FILE:LINE:COL).
//
// The data plane side (which server each packet reaches) is
// test/packet/schedulers.test.ts's subject.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors';
import { parseConfig } from '../../src/config/load';
import { formatIPv4 } from '../../src/config/net';
import { buildPlan, type BuiltPlan } from '../../src/plan/build';

// enum fn_sched_kind (native/include/fn_plan.h), written out here on purpose.
const KIND = { cursor: 0, hashAddress: 1, hashFlow: 2, least: 3 } as const;

const A = '198.19.0.2';
const B = '198.19.0.3';
const C = '198.19.0.4';
const D = '198.19.0.5';
/** Keys as the health monitor and isUp() name servers. */
const key = (ip: string) => `198.18.0.100:80/tcp ${ip}:8080`;

interface WebOpts {
  /** Extra lines in the web service (already indented by 4). */
  lines?: string[];
  /** Server lines (default: A weight 1, B weight 2, C weight 0, D weight 3). */
  servers?: string[];
}

const DEFAULT_SERVERS = [`{ address: ${A}, port: 8080, weight: 1 }`, `{ address: ${B}, port: 8080, weight: 2 }`, `{ address: ${C}, port: 8080, weight: 0 }`, `{ address: ${D}, port: 8080, weight: 3 }`];

/**
 * Two services: dns first (two servers, so web's slice starts at 2), then
 * web with the scheduler under test. Line 14 is web's `scheduler:` line.
 */
function config(scheduler: string, o: WebOpts = {}): string {
  return `dpdk: { lcores: { main: 0, workers: [1] } }
ports:
  - { name: wan, device: "ring:w", addresses: [198.18.0.254/24] }
  - { name: lan, device: "ring:l", addresses: [198.19.0.254/24] }
local_addresses: { pool: { port: lan, addresses: [198.19.0.10], ports: [1024, 65535] } }
services:
  - name: dns
    vip: 198.18.0.100
    port: 53
    protocol: udp
    local_addresses: pool
    real_servers: [{ address: 198.19.0.8, port: 53 }, { address: 198.19.0.9, port: 53 }]
  - name: web
    scheduler: ${scheduler}
    vip: 198.18.0.100
    port: 80
    protocol: tcp
    local_addresses: pool
${(o.lines ?? []).map((l) => `    ${l}\n`).join('')}    real_servers:
${(o.servers ?? DEFAULT_SERVERS).map((s) => `      - ${s}\n`).join('')}`;
}

/** D is reported down by health; C is drained (weight 0): A and B are live. */
function build(scheduler: string, o: WebOpts = {}, down: string[] = [D]): BuiltPlan {
  return buildPlan(parseConfig(config(scheduler, o), 'web.yaml'), { isUp: (k) => !down.map(key).includes(k) });
}

function web(b: BuiltPlan) {
  const svc = b.plan.services.find((s) => s.port === 80)!;
  const table = [...b.plan.sched.slice(svc.schedFirst, svc.schedFirst + svc.schedLen)];
  const at = (i: number) => formatIPv4(b.plan.realServers[i]!.ip);
  const slice = b.plan.realServers.slice(svc.rsFirst, svc.rsFirst + svc.rsCount);
  return { svc, table, names: table.map(at), weights: slice.map((r) => r.weight), slice: slice.map((r) => formatIPv4(r.ip)) };
}

describe('plan: every scheduler', () => {
  test("the service's real servers follow the first service's: rsFirst 2, rsCount 4, in config order", () => {
    for (const s of ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh']) {
      const w = web(build(s));
      assert.equal(w.svc.rsFirst, 2, s);
      assert.equal(w.svc.rsCount, 4, s);
      assert.deepEqual(w.slice, [A, B, C, D], s);
      const dns = build(s).plan.services.find((x) => x.port === 53)!;
      assert.deepEqual([dns.rsFirst, dns.rsCount, dns.schedKind], [0, 2, KIND.cursor], `${s}: dns keeps the default rr`);
    }
  });

  test('rr: cursor kind, live servers once each in config order', () => {
    const w = web(build('rr'));
    assert.equal(w.svc.schedKind, KIND.cursor);
    assert.deepEqual(w.table, [2, 3]);
    assert.deepEqual(w.weights, [1, 2, 0, 0], 'effective weights: C drained, D down');
  });

  test('rr is the default scheduler', () => {
    const text = config('rr').replace('    scheduler: rr\n', '');
    const b = buildPlan(parseConfig(text, 'web.yaml'), { isUp: (k) => k !== key(D) });
    assert.equal(web(b).svc.schedKind, KIND.cursor);
    assert.deepEqual(web(b).table, [2, 3]);
  });

  test('wrr: cursor kind, the smooth weighted sequence of the live servers', () => {
    const w = web(build('wrr'));
    assert.equal(w.svc.schedKind, KIND.cursor);
    // A 1, B 2: B A B (nginx smooth wrr).
    assert.deepEqual(w.names, [B, A, B]);
    // All up: A 1, B 2, D 3 -> D B A D B D.
    assert.deepEqual(web(build('wrr', {}, [])).names, [D, B, A, D, B, D]);
  });

  test('lc: least kind, every live server once, weight 1 for live and 0 for drained or down', () => {
    const w = web(build('lc'));
    assert.equal(w.svc.schedKind, KIND.least);
    assert.deepEqual(w.names, [A, B]);
    assert.deepEqual(w.weights, [1, 1, 0, 0]);
    assert.deepEqual(web(build('lc', {}, [])).weights, [1, 1, 0, 1], 'D up: weight 1 whatever its configured 3');
  });

  test('wlc: least kind, configured weights for live servers, 0 for drained or down', () => {
    const w = web(build('wlc'));
    assert.equal(w.svc.schedKind, KIND.least);
    assert.deepEqual(w.names, [A, B]);
    assert.deepEqual(w.weights, [1, 2, 0, 0]);
    assert.deepEqual(web(build('wlc', {}, [])).weights, [1, 2, 0, 3]);
    assert.deepEqual(web(build('wlc', {}, [])).names, [A, B, D]);
  });

  test('sh: hash of the address by default (flow on request), the seed passed on', () => {
    const w = web(build('sh'));
    assert.equal(w.svc.schedKind, KIND.hashAddress);
    assert.equal(w.svc.hashSeed, 0);
    assert.equal(web(build('sh', { lines: ['hash_seed: 4294967295'] })).svc.hashSeed, 4294967295);
    assert.equal(web(build('sh', { lines: ['hash_fields: flow'] })).svc.schedKind, KIND.hashFlow);
    assert.equal(web(build('sh', { lines: ['hash_fields: address'] })).svc.schedKind, KIND.hashAddress);
  });

  test('sh: the table keeps every configured server (weight 0 as 1); drained and down ones only get effective weight 0', () => {
    const w = web(build('sh'));
    // Smooth wrr over A 1, B 2, C 0 -> 1, D 3: D B A D C B D.
    assert.deepEqual(w.names, [D, B, A, D, C, B, D]);
    assert.deepEqual(w.weights, [1, 2, 0, 0], 'the data plane passes over C (drained) and D (down)');
    assert.deepEqual(web(build('sh', {}, [])).names, w.names, 'health does not change the table');
    assert.deepEqual(web(build('sh', {}, [A, B, D])).names, w.names);
    assert.deepEqual(web(build('sh', { lines: ['hash_seed: 4294967295'] })).names, w.names, 'the seed does not change the table');
  });

  test('mh: hash of address and port by default (address on request), a Maglev table of maglev_size', () => {
    const w = web(build('mh'));
    assert.equal(w.svc.schedKind, KIND.hashFlow);
    assert.equal(w.table.length, 65537, 'default maglev_size');
    assert.equal(w.svc.hashSeed, 0);
    assert.equal(web(build('mh', { lines: ['hash_fields: address'] })).svc.schedKind, KIND.hashAddress);
    assert.equal(web(build('mh', { lines: ['hash_fields: flow', 'hash_seed: 77'] })).svc.hashSeed, 77);
  });
});

describe('plan: the Maglev table', () => {
  const count = (names: string[]) => names.reduce<Record<string, number>>((m, n) => ((m[n] = (m[n] ?? 0) + 1), m), {});

  test('length maglev_size, entries only of live servers, shares by weight', () => {
    for (const size of [251, 65537]) {
      const w = web(build('mh', { lines: [`maglev_size: ${size}`] }));
      assert.equal(w.table.length, size);
      assert.equal(w.svc.schedLen, size);
      const n = count(w.names);
      assert.deepEqual(Object.keys(n).sort(), [A, B], `${size}: only A and B are live (C drained, D down)`);
      // A 1 : B 2, within a slot or two of the exact 1/3 : 2/3.
      assert.ok(Math.abs(n[A]! - size / 3) <= 2, `${size}: A holds ${n[A]} of ${size}`);
    }
    const up = count(web(build('mh', { lines: ['maglev_size: 65537'] }, [])).names);
    assert.deepEqual(Object.keys(up).sort(), [A, B, D], 'D up joins; C (weight 0) never');
    assert.ok(Math.abs(up[D]! - 65537 / 2) <= 3, `D (weight 3 of 6) holds ${up[D]}`);
  });

  test('a table of over a million entries builds (the schema allows up to 10000019)', () => {
    const w = web(build('mh', { lines: ['maglev_size: 1000003'] }));
    assert.equal(w.table.length, 1000003);
    assert.equal(w.svc.schedLen, 1000003);
    const n = count(w.names);
    assert.deepEqual(Object.keys(n).sort(), [A, B]);
    assert.ok(Math.abs(n[A]! - 1000003 / 3) <= 2, `A holds ${n[A]} of 1000003`);
  });

  test('two builds of one config are identical; server order in the file does not matter; the seed does', () => {
    const one = web(build('mh', { lines: ['maglev_size: 65537', 'hash_seed: 9'] }));
    const two = web(build('mh', { lines: ['maglev_size: 65537', 'hash_seed: 9'] }));
    assert.deepEqual(two.table, one.table);
    const reversed = web(build('mh', { lines: ['maglev_size: 65537', 'hash_seed: 9'], servers: [...DEFAULT_SERVERS].reverse() }));
    assert.deepEqual(reversed.names, one.names, 'the table is a function of the servers (by name), not of their order');
    const other = web(build('mh', { lines: ['maglev_size: 65537', 'hash_seed: 10'] }));
    const differ = other.names.filter((n, i) => n !== one.names[i]).length;
    assert.ok(differ > 65537 / 10, `hash_seed 10 changes ${differ} slots of 65537`);
  });

  test('taking a server down changes only its slots and a few others', () => {
    const servers = [A, B, C, D].map((ip) => `{ address: ${ip}, port: 8080 }`);
    const all = web(build('mh', { lines: ['maglev_size: 65537'], servers }, []));
    const bDown = web(build('mh', { lines: ['maglev_size: 65537'], servers }, [B]));
    let others = 0;
    let moved = 0;
    for (let i = 0; i < 65537; i++) {
      assert.notEqual(bDown.names[i], B);
      if (all.names[i] === B) continue;
      others++;
      if (bDown.names[i] !== all.names[i]) moved++;
    }
    assert.ok(moved <= others * 0.02, `${moved} of ${others} slots of the servers still up moved`);
  });
});

describe('plan: no usable server', () => {
  test('every scheduler: all at weight 0, or all down, gives effective weights 0 (and an empty table but for sh)', () => {
    const zero = [`{ address: ${A}, port: 8080, weight: 0 }`, `{ address: ${B}, port: 8080, weight: 0 }`];
    for (const s of ['rr', 'wrr', 'lc', 'wlc', 'mh']) {
      assert.equal(web(build(s, { servers: zero }, [])).svc.schedLen, 0, `${s}: weight 0`);
      assert.equal(web(build(s, { servers: DEFAULT_SERVERS.slice(0, 2) }, [A, B])).svc.schedLen, 0, `${s}: down`);
    }
    for (const s of ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh']) {
      assert.deepEqual(web(build(s, { servers: zero }, [])).weights, [0, 0], `${s}: effective weights, weight 0`);
      assert.deepEqual(web(build(s, { servers: DEFAULT_SERVERS.slice(0, 2) }, [A, B])).weights, [0, 0], `${s}: effective weights, down`);
    }
    // sh keeps its layout; the data plane finds no server with a weight (test/packet/schedulers.test.ts).
    assert.deepEqual(web(build('sh', { servers: zero }, [])).names, [A, B]);
  });
});

describe('plan: persistence', () => {
  test('none: timeout 0; timeout_s alone: netmask 32; both as written', () => {
    for (const s of ['rr', 'wlc', 'mh']) {
      assert.deepEqual([web(build(s)).svc.persistS, web(build(s)).svc.persistPrefix], [0, 32], `${s} without persistence`);
      const p = web(build(s, { lines: ['persistence: { timeout_s: 300 }'] })).svc;
      assert.deepEqual([p.persistS, p.persistPrefix], [300, 32], s);
      const q = web(build(s, { lines: ['persistence: { timeout_s: 60, netmask: 24 }'] })).svc;
      assert.deepEqual([q.persistS, q.persistPrefix], [60, 24], s);
    }
    const z = web(build('rr', { lines: ['persistence: { timeout_s: 1, netmask: 0 }'] })).svc;
    assert.deepEqual([z.persistS, z.persistPrefix], [1, 0]);
  });

  test('persistence: null is the same as none', () => {
    assert.equal(web(build('rr', { lines: ['persistence: null'] })).svc.persistS, 0);
  });
});

describe('config: the new keys', () => {
  /** The error lines parseConfig gives for the config (fails when it loads). */
  function errors(text: string): string[] {
    try {
      parseConfig(text, 'gw.yaml');
    } catch (e) {
      assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
      return e.format().split('\n');
    }
    assert.fail('the config loaded without errors');
  }

  test('an unknown scheduler', () => {
    assert.deepEqual(errors(config('lcx')), ['gw.yaml:14:16: services[1].scheduler: expected one of rr, wrr, lc, wlc, sh, mh, got string "lcx"']);
  });

  test('persistence netmask 33, timeout_s 0 or missing, an unknown key, not a map', () => {
    const at = (line: string) => errors(config('rr', { lines: [line] }));
    assert.deepEqual(at('persistence: { timeout_s: 60, netmask: 33 }'), ['gw.yaml:19:44: services[1].persistence.netmask: expected an integer in 0..32, got 33']);
    assert.deepEqual(at('persistence: { timeout_s: 0 }'), ['gw.yaml:19:31: services[1].persistence.timeout_s: expected an integer in 1..604800, got 0']);
    assert.deepEqual(at('persistence: { netmask: 24 }'), ['gw.yaml:19:18: services[1].persistence.timeout_s: expected number, got nothing (required key is missing)']);
    assert.ok(at('persistence: { timeout_s: 5, timeout: 5 }').some((l) => l.startsWith('gw.yaml:19:34: services[1].persistence.timeout: ') && l.includes('unknown key "timeout"')));
    assert.deepEqual(at('persistence: 30'), ['gw.yaml:19:18: services[1].persistence: expected map, got number 30']);
  });

  test('hash_fields, hash_seed and maglev_size out of range', () => {
    const at = (line: string) => errors(config('mh', { lines: [line] }));
    assert.deepEqual(at('hash_fields: port'), ['gw.yaml:19:18: services[1].hash_fields: expected one of address, flow, got string "port"']);
    assert.deepEqual(at('hash_seed: 4294967296'), ['gw.yaml:19:16: services[1].hash_seed: expected an integer in 0..4294967295, got 4294967296']);
    assert.deepEqual(at('hash_seed: -1'), ['gw.yaml:19:16: services[1].hash_seed: expected an integer in 0..4294967295, got -1']);
    assert.deepEqual(at('maglev_size: 5'), ['gw.yaml:19:18: services[1].maglev_size: expected an integer in 7..10000019, got 5']);
  });

  test('maglev_size that is not prime is a config error at its place', () => {
    // A non-prime size cannot make a Maglev table (a permutation would not
    // visit every slot): it must be refused like any other bad value, with
    // FILE:LINE:COL, not only when the plan is built.
    const lines = errors(config('mh', { lines: ['maglev_size: 65536'] }));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^gw\.yaml:19:18: services\[1\]\.maglev_size: .*prime/);
  });

  test('maglev_size smaller than the number of servers is a config error at its place', () => {
    // 7 slots cannot hold 8 servers: refused when the file is read (not a
    // plain Error from the table builder, which `fullnat check` shows as a crash).
    const servers = Array.from({ length: 8 }, (_, i) => `{ address: 198.19.0.${20 + i}, port: 8080 }`);
    const lines = errors(config('mh', { lines: ['maglev_size: 7'], servers }));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^gw\.yaml:19:18: services\[1\]\.maglev_size: /);
  });
});
