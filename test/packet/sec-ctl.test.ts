// The control path under attack (security review M1, M8, L14), on the real
// control plane (Gateway, its logger captured) over ring ports, one worker:
// - a flood of ICMP echo to a VIP is cut on the worker (drop_control_rate)
//   and an ARP request right behind it is still answered;
// - ARP with a broadcast, multicast or zero sender MAC, or an Ethernet source
//   other than the sender MAC, teaches nothing (arp_rejected);
// - a resolved neighbour's MAC does not follow an unsolicited or gratuitous
//   ARP (arp_mac_unconfirmed; the gateway asks again), only the answer to the
//   gateway's own request (arp_mac_changed, logged as a warning);
// - gratuitous ARP for every local address on its port at start and after a
//   reload (arp_gratuitous).
// Waits poll with bounds; nothing asserts how long anything took.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { parseConfig } from '../../src/config/load';
import { Gateway } from '../../src/gateway';
import { loadNative, loadNativeTesting, type Native, type NativeTesting } from '../../src/native';
import { readStats, type Counters } from '../../src/stats';
import { buildArp, buildIcmpEcho, parsePacket, type Parsed } from '../lib/packet';
import { describeFrame } from '../lib/describe-frame';
import { arpAnswer, arpRequestFrom, BROADCAST, compareFrames, ZERO_MAC } from './fixtures';
import { CLIENT, LAN_IP, LAN_MAC, LIP, RS1, VIP, WAN_IP, WAN_MAC } from './addresses';

// RS2 never answers: it stays unresolved (the first-resolution case).
const RS2 = { ip: '198.19.0.3', mac: '02:00:00:00:02:03' };
const VIP2 = '198.18.0.101';
const NEW_MAC = '02:00:00:00:02:99';
const WAN = 0;
const LAN = 1;

const yaml = (extraVip: boolean) => `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 16383, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:secctlwan", addresses: [${WAN_IP}/24] }
  - { name: lan, device: "ring:secctllan", addresses: [${LAN_IP}/24] }
local_addresses: { pool: { port: lan, addresses: [${LIP}], ports: [2000, 2999] } }
sessions: { max: 64 }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }
  - { name: other, vip: ${VIP}, port: 81, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS2.ip}, port: 8080 }] }
${extraVip ? `  - { name: web2, vip: ${VIP2}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }\n` : ''}stats: { interval_s: 0, listen: null }
control: { socket: /tmp/fullnat-secctl-${process.pid}.sock }
`;

type Rec = Record<string, unknown> & { msg: string; level: number };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ipOf = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

function tryParse(f: Buffer): Parsed | null {
  try {
    return parsePacket(f);
  } catch {
    return null;
  }
}

/** A gratuitous ARP request: sender = target. */
const isGarp = (p: Parsed | null) => p?.arp?.op === 'request' && p.arp.senderIp === p.arp.targetIp;

/** What a gratuitous ARP for `ip` from the port with `mac` must be, byte for byte. */
const garpFor = (mac: string, ip: string) =>
  buildArp({ op: 'request', ethSrc: mac, ethDst: BROADCAST, senderMac: mac, senderIp: ip, targetMac: ZERO_MAC, targetIp: ip });

describe('the control path: ARP priority, echo rate limit, ARP learning, gratuitous ARP', () => {
  const records: Rec[] = [];
  let native: Native;
  let testing: NativeTesting;
  let gw: Gateway;
  /** Every frame that left each port, in order, as the pump saw them. */
  const seen: Buffer[][] = [[], []];
  let answerRs1 = true;
  let lastRs1Probe = 0;

  const stats = () => readStats(native);
  const total = (): Counters => stats().total;
  const delta = (a: Counters, b: Counters, n: string) => (b[n] ?? NaN) - (a[n] ?? NaN);
  const inject = (port: number, frames: Buffer[]) => assert.equal(testing.ringInject(port, 0, frames), frames.length, 'all frames taken');
  const rs1Mac = () => native.neighbours().find((n) => ipOf(n.ip) === RS1.ip)?.mac ?? null;
  const rs2 = () => native.neighbours().find((n) => ipOf(n.ip) === RS2.ip);

  /** Drains both ports into `seen`, answering the gateway's requests for RS1 (as RS1) while answerRs1. */
  function pump(): Buffer[][] {
    const got: Buffer[][] = [[], []];
    for (const port of [WAN, LAN]) {
      for (const f of testing.ringDrain(port, 0)) {
        seen[port]!.push(f);
        got[port]!.push(f);
        const p = tryParse(f);
        if (port === LAN && p?.arp?.op === 'request' && p.arp.targetIp === RS1.ip && !isGarp(p)) {
          lastRs1Probe = Date.now();
          if (answerRs1) {
            inject(LAN, [buildArp({ op: 'reply', ethSrc: RS1.mac, ethDst: LAN_MAC, senderMac: RS1.mac, senderIp: RS1.ip, targetMac: LAN_MAC, targetIp: LAN_IP })]);
          }
        }
      }
    }
    return got;
  }

  async function until<T>(what: string, ms: number, f: () => T | undefined | null | false): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      pump();
      const v = f();
      if (v) return v;
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms (counters: ${JSON.stringify(total())})`);
      await sleep(2);
    }
  }

  /** Gratuitous ARPs in seen[port][from..], by address. */
  function garps(port: number, from: number): Map<string, Buffer[]> {
    const out = new Map<string, Buffer[]>();
    for (const f of seen[port]!.slice(from)) {
      const p = tryParse(f);
      if (isGarp(p)) out.set(p!.arp!.senderIp, [...(out.get(p!.arp!.senderIp) ?? []), f]);
    }
    return out;
  }

  /** Each address's gratuitous ARPs on its port, field by field, and how many there were. */
  function checkGarps(from: [number, number], want: [string, string[]][]): number {
    let n = 0;
    const problems: string[] = [];
    for (const [i, port] of [WAN, LAN].entries()) {
      const mac = port === WAN ? WAN_MAC : LAN_MAC;
      const got = garps(port, from[i]!);
      const expected = want[i]![1];
      assert.deepEqual([...got.keys()].sort(), [...expected].sort(), `addresses announced on ${want[i]![0]}`);
      for (const [ip, frames] of got) {
        n += frames.length;
        for (const f of frames) problems.push(...compareFrames(f, garpFor(mac, ip)).map((x) => `gratuitous ARP for ${ip} on ${want[i]![0]}: ${x}`));
        if (frames.length > 3) problems.push(`${frames.length} gratuitous ARPs for ${ip} on ${want[i]![0]}, expected at most 3`);
      }
    }
    assert.deepEqual(problems, []);
    return n;
  }

  before(async () => {
    const log = pino({ level: 'info', base: undefined }, { write: (s: string) => void records.push(JSON.parse(s) as Rec) });
    native = loadNative();
    testing = loadNativeTesting();
    gw = new Gateway(parseConfig(yaml(false), 'sec-ctl.yaml'), native, log);
    gw.start();
    assert.equal(native.portInfo(WAN)!.mac, WAN_MAC);
    assert.equal(native.portInfo(LAN)!.mac, LAN_MAC);
    await until('RS1 resolved', 5000, () => rs1Mac() === RS1.mac);
  });
  after(() => gw?.stop());

  it('announces every local address on its port with gratuitous ARP after start (sender = target, broadcast), counted', async () => {
    // Three rounds a second apart: wait for the last one.
    const want: [string, string[]][] = [
      ['wan', [VIP, WAN_IP]],
      ['lan', [LIP, LAN_IP]],
    ];
    await until('gratuitous ARP at start', 6000, () => garps(WAN, 0).get(VIP)?.length === 3 && garps(LAN, 0).get(LIP)?.length === 3);
    await until('the last round complete', 2000, () => [...garps(WAN, 0).values(), ...garps(LAN, 0).values()].every((f) => f.length === 3));
    const n = checkGarps([0, 0], want);
    assert.equal(n, 12, 'three rounds of four addresses');
    assert.equal(total().arp_gratuitous, n, 'arp_gratuitous counts every one sent');
  });

  it('cuts a flood of ICMP echo to the VIP on the worker (drop_control_rate) and answers the ARP request behind it', async () => {
    // Nothing else reaches the control thread meanwhile: RS1's requests go unanswered from here on.
    answerRs1 = false;
    const N = 5000;
    const echoes = Array.from({ length: N }, (_, i) =>
      buildIcmpEcho({ ethSrc: CLIENT.mac, ethDst: WAN_MAC, src: CLIENT.ip, dst: VIP, ttl: 64, id: 7, seq: i, payload: Buffer.from('flood') }),
    );
    const a = stats();
    const t0 = Date.now();
    // One go: the ARP request is the last frame on the ring, behind every echo.
    inject(WAN, [...echoes, arpRequestFrom(CLIENT, VIP)]);
    await until('every frame received', 10000, () => delta(a.total, total(), 'rx_packets') >= N + 1);
    const elapsedMs = Date.now() - t0;
    const arp = await until('the ARP reply for the VIP', 5000, () =>
      seen[WAN]!.find((f) => {
        const p = tryParse(f);
        return p?.arp?.op === 'reply' && p.arp.senderIp === VIP;
      }),
    );
    assert.deepEqual(compareFrames(arp, arpAnswer(CLIENT, VIP, WAN_MAC)), [], 'the ARP reply, field by field');

    const w0 = (c: Counters, n: string) => c[n] ?? NaN;
    const wa = a.workers[0]!;
    // The echoes the worker let through are answered, or refused by worker
    // 0's full from_ctl ring (a burst of replies; counted by the control
    // thread, which also counts its own ARP requests refused there).
    const b = await until('the control thread done with what passed', 5000, () => {
      const s = stats();
      const passed = w0(s.workers[0]!, 'to_control') - w0(wa, 'to_control') - 1;
      const done = delta(a.control, s.control, 'icmp_echo_replies') + delta(a.control, s.control, 'drop_control_full');
      return done >= passed ? s : null;
    });
    const wb = b.workers[0]!;
    const rate = w0(wb, 'drop_control_rate') - w0(wa, 'drop_control_rate');
    const passed = w0(wb, 'to_control') - w0(wa, 'to_control') - 1;
    const full = w0(wb, 'drop_control_full') - w0(wa, 'drop_control_full');
    assert.equal(rate + passed + full, N, `every echo accounted for on the worker (rate-limited ${rate}, passed ${passed}, ring full ${full})`);
    // control.rate_per_s defaults to 10000 a second per worker, a tenth of a
    // second of burst: at most 1000 + 10 per elapsed ms may pass.
    assert.ok(passed <= 1000 + 10 * elapsedMs + 10, `at most the bucket passed: ${passed} in ${elapsedMs} ms`);
    assert.ok(rate >= N - 1000 - 10 * elapsedMs - 10, `the excess is counted as drop_control_rate: ${rate}`);
    assert.equal(delta(a.total, b.total, 'arp_replies'), 1);
    const replies = seen[WAN]!.filter((f) => tryParse(f)?.icmp?.type === 0).length;
    assert.ok(replies > 0 && replies <= passed, `echo replies sent for what passed: ${replies}`);
  });

  it('learns nothing from ARP with a broadcast, multicast or zero sender MAC, or an Ethernet source other than it (arp_rejected), and does not answer it', async () => {
    const arpFrom = (op: 'request' | 'reply', ethSrc: string, sha: string, sip: string) =>
      op === 'reply'
        ? buildArp({ op, ethSrc, ethDst: LAN_MAC, senderMac: sha, senderIp: sip, targetMac: LAN_MAC, targetIp: LAN_IP })
        : buildArp({ op, ethSrc, ethDst: BROADCAST, senderMac: sha, senderIp: sip, targetIp: LIP });
    const bad: [string, Buffer][] = [];
    for (const who of [RS2, RS1]) {
      bad.push(
        [`${who.ip} reply, sha broadcast`, arpFrom('reply', who.mac, BROADCAST, who.ip)],
        [`${who.ip} reply, sha multicast`, arpFrom('reply', who.mac, '01:00:5e:00:00:01', who.ip)],
        [`${who.ip} reply, sha zero`, arpFrom('reply', who.mac, ZERO_MAC, who.ip)],
        [`${who.ip} reply, eth.src differs from sha`, arpFrom('reply', '02:00:00:00:66:66', NEW_MAC, who.ip)],
        [`${who.ip} request for the LIP, sha broadcast`, arpFrom('request', who.mac, BROADCAST, who.ip)],
        [`${who.ip} request for the LIP, eth.src differs from sha`, arpFrom('request', who.mac, NEW_MAC, who.ip)],
      );
    }
    assert.equal(rs2()?.resolved, false, 'RS2 unresolved before');
    const a = total();
    const from = seen[LAN]!.length;
    inject(LAN, bad.map(([, f]) => f));
    await until('every bad ARP passed to the control thread', 3000, () => delta(a, total(), 'to_control') >= bad.length);
    await until('every bad ARP handled', 3000, () => delta(a, total(), 'arp_rejected') >= bad.length || delta(a, total(), 'arp_learned') > 0);
    await sleep(100);
    pump();
    const b = total();
    assert.equal(rs2()?.resolved, false, `RS2 still unresolved: ${JSON.stringify(rs2())}`);
    assert.equal(rs1Mac(), RS1.mac, 'RS1 keeps its MAC');
    assert.equal(delta(a, b, 'arp_learned'), 0);
    const answers = seen[LAN]!.slice(from).filter((f) => tryParse(f)?.arp?.op === 'reply');
    assert.deepEqual(answers.map(describeFrame), [], 'no ARP reply left lan');
    assert.equal(delta(a, b, 'arp_replies'), 0, 'none answered');
    assert.equal(delta(a, b, 'arp_rejected'), bad.length, 'each one counted as arp_rejected');
  });

  it('keeps a resolved MAC on an unsolicited reply or a gratuitous ARP (arp_mac_unconfirmed, asks again), changes it on the answer to its own request (arp_mac_changed, logged)', async () => {
    // No request of the gateway for RS1 may be pending: the one after
    // resolution was answered, the next is 30 s away.
    await until('no recent request for RS1', 5000, () => Date.now() - lastRs1Probe > 1300);
    const a = total();
    const from = seen[LAN]!.length;
    const newHost = { ip: RS1.ip, mac: NEW_MAC };
    const reply = buildArp({ op: 'reply', ethSrc: NEW_MAC, ethDst: LAN_MAC, senderMac: NEW_MAC, senderIp: RS1.ip, targetMac: LAN_MAC, targetIp: LAN_IP });

    // An unsolicited reply with a new MAC: ignored, counted, and the gateway asks who has RS1.
    inject(LAN, [reply]);
    await until('the unsolicited reply handled', 3000, () => delta(a, total(), 'arp_mac_unconfirmed') === 1 || rs1Mac() !== RS1.mac);
    assert.equal(rs1Mac(), RS1.mac, 'an unsolicited reply does not change the MAC');
    assert.equal(delta(a, total(), 'arp_mac_unconfirmed'), 1);
    const ask = await until('the gateway asks for RS1', 3000, () =>
      seen[LAN]!.slice(from).find((f) => {
        const p = tryParse(f);
        return p?.arp?.op === 'request' && p.arp.targetIp === RS1.ip;
      }),
    );
    assert.deepEqual(
      compareFrames(ask, buildArp({ op: 'request', ethSrc: LAN_MAC, ethDst: BROADCAST, senderMac: LAN_MAC, senderIp: LAN_IP, targetMac: ZERO_MAC, targetIp: RS1.ip })),
      [],
      'the request for RS1, field by field',
    );

    // A gratuitous ARP (request, sender = target) with the new MAC: ignored too.
    inject(LAN, [buildArp({ op: 'request', ethSrc: NEW_MAC, ethDst: BROADCAST, senderMac: NEW_MAC, senderIp: RS1.ip, targetIp: RS1.ip })]);
    await until('the gratuitous ARP handled', 3000, () => delta(a, total(), 'arp_mac_unconfirmed') === 2);
    assert.equal(rs1Mac(), RS1.mac, 'a gratuitous ARP does not change the MAC');
    assert.equal(delta(a, total(), 'arp_mac_changed'), 0);

    // The answer to the gateway's request: the MAC changes.
    inject(LAN, [reply]);
    await until('the MAC changed', 3000, () => rs1Mac() === NEW_MAC);
    const b = total();
    assert.equal(delta(a, b, 'arp_mac_changed'), 1);
    assert.equal(delta(a, b, 'arp_learned'), 1);
    assert.equal(delta(a, b, 'arp_mac_unconfirmed'), 2);
    assert.equal(delta(a, b, 'arp_rejected'), 0);
    const warn = await until('the change logged', 3000, () => records.find((r) => r.msg.startsWith('neighbour MAC changed')));
    assert.equal(warn.level, 40, 'a warning');
    assert.equal(warn.ip, RS1.ip);
    assert.equal(warn.port, 'lan');
    assert.equal(warn.oldMac, RS1.mac);
    assert.equal(warn.mac, NEW_MAC);
    // RS1 (now at NEW_MAC) keeps answering ARP for the LIP as before.
    inject(LAN, [arpRequestFrom(newHost, LIP)]);
    const ans = await until('ARP for the LIP answered', 3000, () =>
      seen[LAN]!.slice(from).find((f) => {
        const p = tryParse(f);
        return p?.arp?.op === 'reply' && p.arp.senderIp === LIP;
      }),
    );
    assert.deepEqual(compareFrames(ans, arpAnswer(newHost, LIP, LAN_MAC)), []);
  });

  it('announces every local address again after a reload, the new VIP included', async () => {
    const from: [number, number] = [seen[WAN]!.length, seen[LAN]!.length];
    const a = total();
    const r = gw.reload(parseConfig(yaml(true), 'sec-ctl.yaml'));
    assert.ok(r.ok, `reload: ${JSON.stringify(r)}`);
    await until('gratuitous ARP after the reload', 6000, () => garps(WAN, from[0]).get(VIP2)?.length === 3 && garps(LAN, from[1]).get(LIP)?.length === 3);
    await until('the last round complete', 2000, () => [...garps(WAN, from[0]).values(), ...garps(LAN, from[1]).values()].every((f) => f.length === 3));
    const n = checkGarps(from, [
      ['wan', [VIP, VIP2, WAN_IP]],
      ['lan', [LIP, LAN_IP]],
    ]);
    assert.equal(n, 15, 'three rounds of five addresses');
    assert.equal(delta(a, total(), 'arp_gratuitous'), n);
  });
});
