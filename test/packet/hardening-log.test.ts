// LIP port exhaustion as an operator sees it: the Gateway (the real control
// plane on ring ports, its own process) logs a warning naming the pool, its
// LIPs, its port range and the services hit, at most once per pool per 10 s,
// while new flows are dropped (drop_lport_exhausted) and existing ones keep
// forwarding. Waiting for the log ticks polls with a bound; nothing asserts
// how long anything took except the documented 10 s rate limit.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { parseConfig } from '../../src/config/load';
import { Gateway } from '../../src/gateway';
import { loadNative, loadNativeTesting, type Native, type NativeTesting } from '../../src/native';
import { buildArp, buildUdp, parsePacket } from '../lib/packet';
import { compareFrames } from './fixtures';
import { VIP, LAN_IP } from './addresses';

const CLIENT = { ip: '198.18.0.1', mac: '02:00:00:00:01:01' };
const RS1 = { ip: '198.19.0.2', mac: '02:00:00:00:02:02' };

// Two pools of two ports each (one LIP each): two flows fill a pool.
const YAML = `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 4095, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:xwan", addresses: [198.18.0.254/24] }
  - { name: lan, device: "ring:xlan", addresses: [${LAN_IP}/24] }
local_addresses:
  tiny-a: { port: lan, addresses: [198.19.0.10], ports: [2000, 2001] }
  tiny-b: { port: lan, addresses: [198.19.0.11], ports: [3000, 3001] }
sessions: { max: 64, timeouts: { udp: 300 } }
services:
  - { name: dns-a, vip: ${VIP}, port: 53, protocol: udp, local_addresses: tiny-a, real_servers: [{ address: ${RS1.ip}, port: 5353 }] }
  - { name: dns-a2, vip: ${VIP}, port: 54, protocol: udp, local_addresses: tiny-a, real_servers: [{ address: ${RS1.ip}, port: 5354 }] }
  - { name: dns-b, vip: ${VIP}, port: 55, protocol: udp, local_addresses: tiny-b, real_servers: [{ address: ${RS1.ip}, port: 5355 }] }
stats: { interval_s: 0 }
`;

type Rec = Record<string, unknown> & { msg: string; level: number; time: number };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LIP port exhaustion is logged, naming the pool, rate-limited per pool', () => {
  const records: Rec[] = [];
  let native: Native;
  let testing: NativeTesting;
  let gw: Gateway;
  let wanMac = '';
  let lanMac = '';

  const exhausted = (pool: string) => records.filter((r) => r.msg.startsWith('local ports exhausted') && r.pool === pool);
  const udpTo = (sport: number, dport: number) => buildUdp({ ethSrc: CLIENT.mac, ethDst: wanMac, src: CLIENT.ip, dst: VIP, sport, dport, ttl: 64, id: sport, payload: Buffer.from(`flow ${sport}`) });
  const inject = (frames: Buffer[], port = 0) => assert.equal(testing.ringInject(port, 0, frames), frames.length);
  const counters = () => {
    const names = native.counterNames();
    const flat = native.readCounters();
    const out: Record<string, number> = {};
    names.forEach((n, i) => {
      let s = 0;
      for (let t = 0; t * names.length < flat.length; t++) s += flat[t * names.length + i]!;
      out[n] = s;
    });
    return out;
  };
  async function until<T>(what: string, ms: number, f: () => T | undefined | false): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = f();
      if (v) return v;
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms; log: ${JSON.stringify(records.slice(-10))}`);
      await sleep(20);
    }
  }

  before(async () => {
    const log = pino({ level: 'info', base: undefined }, { write: (s: string) => void records.push(JSON.parse(s) as Rec) });
    native = loadNative();
    testing = loadNativeTesting();
    gw = new Gateway(parseConfig(YAML, 'exhaustion.yaml'), native, log);
    gw.start();
    wanMac = native.portInfo(0)!.mac;
    lanMac = native.portInfo(1)!.mac;
    // Answer the gateway's ARP requests for RS1 until it is resolved.
    await until('RS1 resolved', 5000, () => {
      for (const f of testing.ringDrain(1, 0)) {
        const p = parsePacket(f);
        if (p.arp?.op === 'request' && p.arp.targetIp === RS1.ip) {
          inject([buildArp({ op: 'reply', ethSrc: RS1.mac, ethDst: lanMac, senderMac: RS1.mac, senderIp: RS1.ip, targetMac: lanMac, targetIp: LAN_IP })], 1);
        }
      }
      return native.neighbours().some((n) => n.resolved);
    });
    testing.ringDrain(0, 0);
    testing.ringDrain(1, 0);
  });
  after(() => gw?.stop());

  it('logs one warning for the first refused flow, then at most one per 10 s per pool with the count; other pools log on their own; sessions keep forwarding', async () => {
    // Fill tiny-a (two flows), then one more flow is refused.
    inject([udpTo(5000, 53), udpTo(5001, 54)]);
    await until('the two flows forwarded', 3000, () => counters().fwd_to_server === 2);
    assert.equal(exhausted('tiny-a').length, 0, 'no warning before anything was refused');
    inject([udpTo(5002, 53)]);
    await until('drop_lport_exhausted', 3000, () => counters().drop_lport_exhausted === 1);
    const first = await until('the first exhaustion warning', 5000, () => exhausted('tiny-a')[0]);
    assert.equal(first.level, 40, 'a warning');
    assert.match(first.msg, /local ports exhausted in pool tiny-a/);
    assert.deepEqual(first.lips, ['198.19.0.10']);
    assert.deepEqual(first.ports, [2000, 2001]);
    assert.deepEqual(first.services, ['dns-a']);
    assert.equal(first.dropped, 1);

    // More refusals right away, on both services of the pool: no second line within 10 s of the first.
    inject([udpTo(5003, 53), udpTo(5004, 54), udpTo(5005, 54)]);
    await until('three more drops', 3000, () => counters().drop_lport_exhausted === 4);

    // Another pool is not held back by tiny-a's rate limit.
    inject([udpTo(6000, 55), udpTo(6001, 55), udpTo(6002, 55)]);
    await until('tiny-b full', 3000, () => counters().drop_lport_exhausted === 5);
    const bDropped = Date.now();
    const b = await until('tiny-b warning', 5000, () => exhausted('tiny-b')[0]);
    assert.deepEqual(b.services, ['dns-b']);
    assert.equal(b.dropped, 1);
    // A limiter shared by all pools would hold tiny-b back until tiny-a's window ends.
    // Only telling when tiny-b's drop came well inside that window (a loaded machine may be slower).
    if (bDropped < first.time + 8000) assert.ok(b.time < first.time + 10_000, 'tiny-b logged inside tiny-a\'s 10 s window');

    // The existing flows are untouched while the pools are empty: a reply reaches the client.
    testing.ringDrain(0, 0);
    const reply = buildUdp({ ethSrc: RS1.mac, ethDst: lanMac, src: RS1.ip, dst: '198.19.0.10', sport: 5353, dport: 2000, ttl: 64, id: 77, payload: Buffer.from('answer') });
    inject([reply], 1);
    const got = await until('the reply to flow 5000', 3000, () => testing.ringDrain(0, 0)[0]);
    assert.deepEqual(compareFrames(got, buildUdp({ ethSrc: wanMac, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, sport: 53, dport: 5000, ttl: 63, id: 77, payload: Buffer.from('answer') })), []);

    // The second tiny-a line comes only once 10 s have passed since the first, and sums what it held back.
    // Told by the lines' own timestamps: sampling the count at a wall-clock moment failed when a loaded
    // machine overslept the sampling point past the 10 s mark.
    const second = await until('the second tiny-a warning', 15_000, () => exhausted('tiny-a')[1]);
    assert.deepEqual(
      exhausted('tiny-a').filter((r) => r.time - first.time < 10_000).map((r) => r.time - first.time),
      [0],
      'no second tiny-a line within 10 s of the first',
    );
    assert.ok(second.time - first.time >= 10_000, `second line ${second.time - first.time} ms after the first`);
    assert.equal(second.dropped, 3);
    assert.deepEqual([...(second.services as string[])].sort(), ['dns-a', 'dns-a2']);
    assert.equal(exhausted('tiny-b').length, 1);
  });
});
