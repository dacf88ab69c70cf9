// Which reply-steering mode each port ends up in (DESIGN.md §3), as
// portInfo() reports it, and the start errors when `steering: flow` cannot be
// honoured. Ring ports cannot validate rte_flow rules, so `auto` falls back
// to the software redirect on a port with LIPs; a port without LIPs, or a
// single worker, needs no steering at all.
//
// EAL initialises once per process with a fixed set of lcores: the before
// hook starts (and stops) a 3-worker gateway first, so every later config
// (1, 2 or 3 workers) uses lcores EAL already has.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp, parsePacket } from '../lib/packet';
import { readStats } from '../../src/stats';
import { RingGateway } from './harness';
import { compareFrames, isGatewayArpProbe, MSS_1460, resolveNeighbours, ringPortMac, type Host } from './fixtures';
import { dpdkYaml } from './steering';
import { VIP, LIP, CLIENT } from './addresses';

const FRONT_IP = '198.18.0.254';
const BACK_IP = '198.19.0.254';
const RS: Host = { ip: '198.19.0.2', mac: '02:00:00:00:02:02' };

type Steering = 'auto' | 'flow' | 'redirect';

let instance = 0;

/** Two ports: "front" (clients, no LIP) and "backend" (LIP pool, real server). */
function config(workers: number, o: { backend?: Steering; front?: Steering; devices?: string } = {}): string {
  const d = o.devices ?? `m${++instance}`;
  return `
${dpdkYaml(workers)}
ports:
  - { name: front, device: "ring:front${d}", addresses: [${FRONT_IP}/24], steering: ${o.front ?? 'auto'} }
  - { name: backend, device: "ring:back${d}", addresses: [${BACK_IP}/24], steering: ${o.backend ?? 'auto'} }
local_addresses: { pool: { port: backend, addresses: [${LIP}], ports: [1024, 65535] } }
sessions: { max: 1024, timeouts: { tcp_syn: 600, tcp_established: 600 } }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS.ip}, port: 8080 }] }
`;
}

interface Info {
  steering: string;
  steeringReason: string;
}

/** Starts, reads both ports' steering, runs `body`, stops. */
async function withGateway(yaml: string, body?: (gw: RingGateway) => Promise<void>): Promise<{ front: Info; backend: Info }> {
  const gw = RingGateway.start(yaml);
  try {
    const info = (i: number): Info => {
      const p = gw.native.portInfo(i);
      assert.ok(p, `port ${i} is up`);
      return { steering: p.steering, steeringReason: p.steeringReason };
    };
    const out = { front: info(0), backend: info(1) };
    if (body) await body(gw);
    return out;
  } finally {
    gw.stop();
  }
}

/** start() must throw; returns its message. */
function startError(yaml: string): string {
  let gw: RingGateway | undefined;
  try {
    gw = RingGateway.start(yaml);
  } catch (e) {
    return (e as Error).message;
  }
  gw.stop();
  assert.fail('start() succeeded, expected it to refuse the config');
}

/** Frames that left `port` on TX queue `q` within a bounded wait, ARP probes set aside. */
async function collectQ(gw: RingGateway, port: string, q: number, n: number, ms = 3000): Promise<Buffer[]> {
  const mac = gw.mac(port);
  const out: Buffer[] = [];
  const end = Date.now() + ms;
  while (out.length < n && Date.now() < end) out.push(...(await gw.collect(port, 1, 20, q)).filter((f) => !isGatewayArpProbe(f, mac)));
  return out;
}

describe('reply steering mode per port', () => {
  before(async () => {
    await withGateway(config(3, { backend: 'redirect' }));
  });

  it('2 workers, steering auto: the LIP port falls back to software redirect, the port without LIPs needs none', async () => {
    const info = await withGateway(config(2), async (gw) => {
      // The fallback is really in effect: a reply delivered to the wrong worker reaches the owner.
      assert.deepEqual(await resolveNeighbours(gw, 'backend', BACK_IP, [RS]), [], 'resolving the real server');
      const front = ringPortMac(0);
      const back = ringPortMac(1);
      await gw.quiet('backend', 20, 0);
      gw.inject('front', [buildTcp({ ethSrc: CLIENT.mac, ethDst: front, src: CLIENT.ip, dst: VIP, sport: 40000, dport: 80, flags: 'S', seq: 7, tcpOptions: MSS_1460 })], 0);
      const syn = await collectQ(gw, 'backend', 0, 1);
      assert.equal(syn.length, 1, 'the SYN leaves backend on worker 0');
      const lport = parsePacket(syn[0]!).tcp!.sport;
      assert.equal(lport % 2, 0, `lport ${lport} belongs to worker 0`);
      const before = readStats(gw.native).workers;
      gw.inject('backend', [buildTcp({ ethSrc: RS.mac, ethDst: back, src: RS.ip, dst: LIP, sport: 8080, dport: lport, flags: 'SA', seq: 100, ack: 8, ttl: 64 })], 1);
      const out = await collectQ(gw, 'front', 0, 1);
      assert.equal(out.length, 1, 'the SYN-ACK delivered to worker 1 leaves front on worker 0');
      assert.deepEqual(
        compareFrames(out[0]!, buildTcp({ ethSrc: front, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, sport: 80, dport: 40000, flags: 'SA', seq: 100, ack: 8, ttl: 63 })),
        [],
      );
      assert.deepEqual(await gw.quiet('front', 50, 1), [], 'nothing on worker 1');
      const after = readStats(gw.native).workers;
      assert.deepEqual(
        after.map((w, i) => w.redirected! - before[i]!.redirected!),
        [0, 1],
        'worker 1 handed it over',
      );
    });
    assert.equal(info.backend.steering, 'redirect', `backend: ${info.backend.steeringReason}`);
    assert.match(info.backend.steeringReason, /^fallback:/);
    assert.equal(info.front.steering, 'none', `front: ${info.front.steeringReason}`);
    assert.doesNotMatch(info.front.steeringReason, /^fallback:/);
  });

  it('2 workers, steering: flow on the LIP port: start() fails naming the port; the same devices start fine afterwards', async () => {
    const msg = startError(config(2, { backend: 'flow', devices: 'reuse' }));
    assert.match(msg, /\bbackend\b/, `the error names the port: ${msg}`);
    assert.doesNotMatch(msg, /\bfront\b/, `and only that port: ${msg}`);
    assert.match(msg, /steering/, msg);
    // Nothing left behind by the failed start: the same ring devices come up.
    const info = await withGateway(config(2, { devices: 'reuse' }));
    assert.equal(info.backend.steering, 'redirect');
  });

  it('3 workers, steering: flow: start() fails naming the port and the power-of-two requirement', () => {
    const msg = startError(config(3, { backend: 'flow' }));
    assert.match(msg, /\bbackend\b/, msg);
    assert.match(msg, /power-of-two/, msg);
  });

  it('3 workers, steering auto: fallback to redirect, the reason says why (power-of-two)', async () => {
    const info = await withGateway(config(3));
    assert.equal(info.backend.steering, 'redirect');
    assert.match(info.backend.steeringReason, /^fallback:.*power-of-two/);
    assert.equal(info.front.steering, 'none');
  });

  it('steering: redirect: the reason is "configured" (2 and 3 workers)', async () => {
    for (const n of [2, 3]) {
      const info = await withGateway(config(n, { backend: 'redirect' }));
      assert.deepEqual(info.backend, { steering: 'redirect', steeringReason: 'configured' }, `${n} workers`);
      assert.equal(info.front.steering, 'none', `${n} workers: front`);
    }
  });

  it('steering: flow on a port without LIPs needs no rules: starts, reports none', async () => {
    const info = await withGateway(config(2, { front: 'flow' }));
    assert.equal(info.front.steering, 'none', info.front.steeringReason);
    assert.equal(info.backend.steering, 'redirect');
  });

  it('1 worker: no steering on any port, whatever is configured', async () => {
    for (const backend of ['auto', 'flow', 'redirect'] as const) {
      const info = await withGateway(config(1, { backend }));
      assert.equal(info.backend.steering, 'none', `steering: ${backend}: ${info.backend.steeringReason}`);
      assert.equal(info.front.steering, 'none', `steering: ${backend}: front`);
    }
  });
});
