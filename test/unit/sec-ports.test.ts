// The plan's defence against port exhaustion (issue 13 H2): the default
// half-open bound sits below the smallest pool's local ports, an explicit one
// stays as set, and each service carries its count of usable servers (M3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load';
import { buildPlan, defaultHalfOpenMax } from '../../src/plan/build';

function cfg(o: { sessions?: string; pools: string; services: string }) {
  return parseConfig(`
dpdk: { lcores: { main: 0, workers: [1, 2] }, memory_mb: 4096 }
ports:
  - { name: wan, device: "net_af_packet0,iface=gw0", addresses: [198.18.0.254/24] }
  - { name: lan, device: "0000:03:00.0", addresses: [198.19.0.254/24] }
local_addresses:
${o.pools}
sessions: ${o.sessions ?? '{}'}
services:
${o.services}`, 'sec-ports.yaml');
}

const POOLS = `
  big: { port: lan, addresses: [198.19.0.10, 198.19.0.11], ports: [1024, 65535] }
  small: { port: lan, addresses: [198.19.0.12], ports: [2000, 2007] }
  unused: { port: lan, addresses: [198.19.0.13], ports: [3000, 3001] }`;
const svc = (name: string, pool: string, extra = '') =>
  `  - { name: ${name}, vip: 198.18.0.100, port: ${name === 'a' ? 80 : name === 'b' ? 81 : 82}, protocol: tcp, local_addresses: ${pool}, real_servers: [{ address: 198.19.0.2, port: 8080 }]${extra} }`;

test('default max_half_open: a quarter of sessions.max, at most half the smallest used pool', () => {
  // Only the big pool in use: 2 x 64512 ports, half is 64512; a quarter of 1M is 262144.
  const big = cfg({ pools: POOLS, services: svc('a', 'big') });
  assert.equal(buildPlan(big).plan.halfOpenMax, 64512);
  assert.equal(defaultHalfOpenMax(big), 64512);
  // The small pool (8 ports) decides once a FullNAT service uses it: 4.
  const small = cfg({ pools: POOLS, services: `${svc('a', 'big')}\n${svc('b', 'small')}` });
  assert.equal(buildPlan(small).plan.halfOpenMax, 4);
  // A pool no FullNAT service uses (unused; or a nat-mode service's) plays no part.
  const natOnly = cfg({ pools: POOLS, services: `${svc('a', 'big')}\n${svc('b', 'small', ', forwarding: nat')}` });
  assert.equal(buildPlan(natOnly).plan.halfOpenMax, 64512);
  // A small sessions.max still bounds it.
  const few = cfg({ sessions: '{ max: 1000 }', pools: POOLS, services: svc('a', 'big') });
  assert.equal(buildPlan(few).plan.halfOpenMax, 250);
  // A two-port pool (one per worker): 1, and never 0 (0 means no limit).
  const one = cfg({ pools: '  tiny: { port: lan, addresses: [198.19.0.12], ports: [2000, 2001] }', services: svc('a', 'tiny') });
  assert.equal(buildPlan(one).plan.halfOpenMax, 1);
});

test('an explicit max_half_open stays as set, above the pool too', () => {
  const c = cfg({ sessions: '{ max_half_open: 1000 }', pools: POOLS, services: svc('b', 'small') });
  assert.equal(buildPlan(c).plan.halfOpenMax, 1000);
  assert.equal(buildPlan(c).plan.halfOpenDropNew, false);
});

test('max_per_client: off by default, passed to the plan when set', () => {
  assert.equal(buildPlan(cfg({ pools: POOLS, services: svc('a', 'big') })).plan.maxPerClient, 0);
  assert.equal(buildPlan(cfg({ sessions: '{ max_per_client: 64 }', pools: POOLS, services: svc('a', 'big') })).plan.maxPerClient, 64);
});

test('rsUsable: servers with weight > 0 that are up', () => {
  const c = parseConfig(`
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 4096 }
ports:
  - { name: lan, device: "0000:03:00.0", addresses: [198.19.0.254/24] }
local_addresses: { p: { port: lan, addresses: [198.19.0.10], ports: [2000, 2999] } }
services:
  - name: web
    vip: 198.19.0.100
    port: 80
    protocol: tcp
    scheduler: sh
    local_addresses: p
    real_servers:
      - { address: 198.19.0.2, port: 8080, weight: 2 }
      - { address: 198.19.0.3, port: 8080, weight: 0 }
      - { address: 198.19.0.4, port: 8080, weight: 1 }
`, 'sec-ports.yaml');
  assert.equal(buildPlan(c).plan.services[0]!.rsUsable, 2);
  const down = buildPlan(c, { isUp: (k) => !k.includes('198.19.0.2') });
  assert.equal(down.plan.services[0]!.rsUsable, 1);
});
