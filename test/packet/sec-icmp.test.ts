// Issue 13 (review M2, M5, L7, L9, L12) on the real data plane with two
// workers (ring ports; the test picks the RX queue, as RSS or af_packet
// fanout would; one file per worker count: EAL initialises once):
//  - M2: an ICMP error to the VIP that names no session on the receiving
//    worker goes round the workers only if its quote is from a configured
//    VIP:vport, at most icmp.hand_on_rate_per_s per second per worker, on a
//    hand-on ring of its own; a real client-side error about a session on
//    the other worker still arrives translated.
//  - M5: client-side "fragmentation needed" below icmp.min_path_mtu is not
//    passed to the server (drop_icmp_mtu_floor); at or above it, as before.
//  - L7: a session's tuple is accepted only on its side's port: a server
//    tuple (RS -> LIP) or an error about the server side arriving where
//    clients come in is dropped (drop_wrong_port). One-arm setups (one port
//    for both sides) are fullnat.test.ts's one-arm table, unchanged.
//  - L9: replies follow the client's last hop when its MAC changes.
//  - L12: a plan naming a port the gateway does not have is refused.
// L8 (chained mbufs) is a C test: native/test/parse_test.c.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildIpv4Raw, buildTcp, checksum16, parsePacket } from '../lib/packet';
import { buildPlan } from '../../src/plan/build';
import { dpdkYaml } from './steering';
import { RingGateway } from './harness';
import { collectAnyQueue, compareFrames, MSS_1460, resolveNeighbours, seg, waitUntil, type Ends, type Host } from './fixtures';
import { VIP, WAN_IP, LAN_IP, LIP, CLIENT, RS1, WAN_MAC, LAN_MAC } from './addresses';

const ROUTER_WAN: Host = { ip: '198.18.0.2', mac: '02:00:00:00:01:02' };
const ROUTER_LAN: Host = { ip: '198.19.0.1', mac: '02:00:00:00:02:01' };
/** The client's new last hop (a failed-over upstream router). */
const NEW_HOP_MAC = '02:00:00:00:01:55';
const HAND_ON_RATE = 5;

const YAML = `
${dpdkYaml(2)}
ports:
  - { name: wan, device: "ring:sicwan", addresses: [${WAN_IP}/24] }
  - { name: lan, device: "ring:siclan", addresses: [${LAN_IP}/24] }
local_addresses: { pool: { port: lan, addresses: [${LIP}], ports: [2000, 2099] } }
sessions: { max: 256, timeouts: { tcp_syn: 300, tcp_established: 300, udp: 300 } }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }
icmp: { hand_on_rate_per_s: ${HAND_ON_RATE}, min_path_mtu: 1280 }
`;

/** Bytes 4-7 of an ICMP error: "fragmentation needed" carries the next-hop MTU in 6-7. */
const mtuRest = (mtu: number) => Buffer.from([0, 0, mtu >> 8, mtu & 0xff]);

/** ICMP type/code with `rest` quoting `quote`, in an IPv4 frame. */
function icmpError(o: { ethSrc: string; ethDst: string; src: string; dst: string }, type: number, code: number, rest: Buffer, quote: Buffer, ttl = 64, id = 0x4242): Buffer {
  const m = Buffer.concat([Buffer.from([type, code, 0, 0]), rest, quote]);
  m.writeUInt16BE(checksum16(m), 2);
  return buildIpv4Raw({ ...o, ttl, id, protocol: 1, payload: m });
}

/** The first n bytes of the IPv4 datagram of a built frame (the quote an error carries). */
const quoteOf = (frame: Buffer, n = 28) => Buffer.from(frame.subarray(14, 14 + n));

describe('sec-icmp: ICMP hand-on, path-MTU floor, ingress port, client MAC, plan ports (2 workers)', () => {
  let gw: RingGateway;
  let lport = 0;
  const wan = WAN_MAC;
  const lan = LAN_MAC;
  const out = (port: 'wan' | 'lan', n: number, ms?: number) => collectAnyQueue(gw, port, n, ms);
  const delta = (b: Record<string, number>, a: Record<string, number>, k: string) => (a[k] ?? NaN) - (b[k] ?? NaN);

  const c = (): Ends => ({ ethSrc: CLIENT.mac, ethDst: wan, src: CLIENT.ip, dst: VIP, sport: 40000, dport: 80 });
  const toC = (): Ends => ({ ethSrc: wan, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, sport: 80, dport: 40000 });
  const toRs = (): Ends => ({ ethSrc: lan, ethDst: RS1.mac, src: LIP, dst: RS1.ip, sport: lport, dport: 8080 });
  const fromRs = (): Ends => ({ ethSrc: RS1.mac, ethDst: lan, src: RS1.ip, dst: LIP, sport: 8080, dport: lport });
  const fromRouterWan = { ethSrc: ROUTER_WAN.mac, ethDst: wan, src: ROUTER_WAN.ip, dst: VIP };

  // Teardown, not a test: the data plane stops whether or not the tests passed.
  after(() => gw?.stop());

  it('sets up a session on worker 0 (client packets on RX queue 0)', async () => {
    gw = RingGateway.start(YAML);
    process.on('exit', () => gw.stop());
    assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, [RS1]), []);
    await out('wan', 100, 50);
    await out('lan', 100, 50);
    gw.inject('wan', [buildTcp({ ...c(), ...seg({ flags: 'S', seq: 1, ack: 0, id: 1, tcpOptions: MSS_1460 }), ttl: 64 })], 0);
    const [syn] = await out('lan', 1);
    assert.ok(syn, 'the SYN was forwarded');
    lport = parsePacket(syn).tcp!.sport;
    assert.equal(lport % 2, 0, `worker 0 hands out even local ports (got ${lport})`);
    gw.inject('lan', [buildTcp({ ...fromRs(), ...seg({ flags: 'SA', seq: 100, ack: 2, id: 2 }), ttl: 64 })], 0);
    const [sa] = await out('wan', 1);
    assert.ok(sa, 'the SYN-ACK was forwarded');
    assert.deepEqual(compareFrames(sa, buildTcp({ ...toC(), ...seg({ flags: 'SA', seq: 100, ack: 2, id: 2 }), ttl: 63 })), []);
  });

  it('M2: an error to the VIP quoting no VIP:vport is dropped where it lands, never handed on', async () => {
    const before = gw.counters();
    // VIP:9999 is no service: no worker can have a session for it.
    const quote = quoteOf(buildTcp({ ...toC(), sport: 9999, ...seg({ flags: 'A', seq: 100, ack: 2, id: 3 }), ttl: 63 }));
    gw.inject('wan', [icmpError(fromRouterWan, 3, 4, mtuRest(1400), quote)], 1);
    const a = await waitUntil(gw, (k) => k.drop_icmp_not_service! > (before.drop_icmp_not_service ?? 0) || k.drop_icmp_no_session! > before.drop_icmp_no_session!, 3000);
    const left = [...(await out('wan', 1, 100)), ...(await out('lan', 1, 0))];
    assert.equal(left.length, 0, 'nothing translated');
    assert.equal(delta(before, a, 'icmp_handed_on'), 0, 'not handed on');
    assert.equal(delta(before, a, 'redirected'), 0);
    assert.equal(delta(before, a, 'drop_icmp_not_service'), 1, 'counted as not about a service');
    assert.equal(delta(before, a, 'drop_icmp_no_session'), 0);
  });

  it(`M2: a flood of errors quoting VIP:80 but no session starts at most ${HAND_ON_RATE} rounds per worker; the rest are counted`, async () => {
    const before = gw.counters();
    // 20 at once on worker 0 (its bucket is full: one second of burst), each quoting a client port no session uses.
    const flood = Array.from({ length: 20 }, (_, i) =>
      icmpError(fromRouterWan, 3, 3, Buffer.alloc(4), quoteOf(buildTcp({ ...toC(), dport: 41000 + i, ...seg({ flags: 'A', seq: 7, ack: 7, id: 0x100 + i }), ttl: 63 })), 64, 0x500 + i),
    );
    gw.inject('wan', flood, 0);
    const a = await waitUntil(gw, (k) => k.drop_icmp_no_session! - before.drop_icmp_no_session! >= HAND_ON_RATE && (k.drop_icmp_hand_on_limit ?? 0) - (before.drop_icmp_hand_on_limit ?? 0) >= 20 - HAND_ON_RATE, 3000);
    await out('lan', 1, 100);
    const z = gw.counters();
    assert.equal(delta(before, z, 'icmp_handed_on'), HAND_ON_RATE, 'the bucket\'s worth went round');
    assert.equal(delta(before, z, 'drop_icmp_hand_on_limit'), 20 - HAND_ON_RATE, 'over the bucket: dropped and counted');
    assert.equal(delta(before, z, 'redirected'), HAND_ON_RATE);
    assert.equal(delta(before, z, 'drop_icmp_no_session'), HAND_ON_RATE, 'dropped once each, by the last worker');
    assert.equal(delta(before, z, 'drop_hand_on_full'), 0);
    assert.equal(delta(before, z, 'drop_redirect_full'), 0);
    assert.equal(delta(before, a, 'icmp_errors_translated'), 0);
  });

  it('M2: a client-side error about the session on worker 0, landing on worker 1, is handed on and translated for the server', async () => {
    const before = gw.counters();
    const s = seg({ flags: 'PA', seq: 100, ack: 2, id: 4, payload: Buffer.alloc(1200, 7) });
    const quote = quoteOf(buildTcp({ ...toC(), ...s, ttl: 63 }), 548);
    const want = quoteOf(buildTcp({ ...fromRs(), ...s, ttl: 63 }), 548);
    gw.inject('wan', [icmpError(fromRouterWan, 3, 4, mtuRest(1400), quote)], 1);
    const [e] = await out('lan', 1);
    const a = gw.counters();
    assert.ok(e, 'translated error on lan');
    assert.deepEqual(compareFrames(e, icmpError({ ethSrc: lan, ethDst: RS1.mac, src: LIP, dst: RS1.ip }, 3, 4, mtuRest(1400), want, 63)), []);
    assert.equal(delta(before, a, 'icmp_handed_on'), 1);
    assert.equal(delta(before, a, 'redirected'), 1);
    assert.equal(delta(before, a, 'icmp_errors_translated'), 1);
  });

  it('M5: client-side frag needed with MTU 576 about the live session is not passed to the server; MTU 1280 and 1400 are', async () => {
    const s = seg({ flags: 'PA', seq: 100, ack: 2, id: 5, payload: Buffer.alloc(1400, 9) });
    const quote = quoteOf(buildTcp({ ...toC(), ...s, ttl: 63 }));
    const want = quoteOf(buildTcp({ ...fromRs(), ...s, ttl: 63 }));
    const before = gw.counters();
    gw.inject('wan', [icmpError(fromRouterWan, 3, 4, mtuRest(576), quote)], 0);
    const a = await waitUntil(gw, (k) => (k.drop_icmp_mtu_floor ?? 0) > (before.drop_icmp_mtu_floor ?? 0) || k.icmp_errors_translated! > before.icmp_errors_translated!, 3000);
    const left = await out('lan', 1, 150);
    assert.equal(left.length, 0, 'nothing reached the server');
    assert.equal(delta(before, a, 'drop_icmp_mtu_floor'), 1);
    assert.equal(delta(before, a, 'icmp_errors_translated'), 0);
    for (const mtu of [1280, 1400]) {
      const b = gw.counters();
      gw.inject('wan', [icmpError(fromRouterWan, 3, 4, mtuRest(mtu), quote)], 0);
      const [e] = await out('lan', 1);
      assert.ok(e, `MTU ${mtu}: forwarded`);
      assert.deepEqual(compareFrames(e, icmpError({ ethSrc: lan, ethDst: RS1.mac, src: LIP, dst: RS1.ip }, 3, 4, mtuRest(mtu), want, 63)), []);
      assert.equal(delta(b, gw.counters(), 'icmp_errors_translated'), 1);
      assert.equal(delta(b, gw.counters(), 'drop_icmp_mtu_floor'), 0);
    }
  });

  it('M5: server-side frag needed below the floor still reaches the client (the floor guards the shared LIP only)', async () => {
    const s = seg({ flags: 'PA', seq: 2, ack: 101, id: 6, payload: Buffer.alloc(600, 1) });
    const quote = quoteOf(buildTcp({ ...toRs(), ...s, ttl: 63 }));
    const want = quoteOf(buildTcp({ ...c(), ...s, ttl: 63 }));
    gw.inject('lan', [icmpError({ ethSrc: ROUTER_LAN.mac, ethDst: lan, src: ROUTER_LAN.ip, dst: LIP }, 3, 4, mtuRest(576), quote)], 0);
    const [e] = await out('wan', 1);
    assert.ok(e, 'translated for the client');
    assert.deepEqual(compareFrames(e, icmpError({ ethSrc: wan, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip }, 3, 4, mtuRest(576), want, 63)), []);
  });

  it('L7: a server-side tuple (RS -> LIP) arriving on the client port is dropped and counted; the real reply on lan translates', async () => {
    const before = gw.counters();
    const spoof = buildTcp({ ...fromRs(), ethSrc: ROUTER_WAN.mac, ethDst: wan, ...seg({ flags: 'PA', seq: 101, ack: 2, id: 7, payload: Buffer.from('spoofed') }), ttl: 64 });
    gw.inject('wan', [spoof], 0);
    const a = await waitUntil(gw, (k) => (k.drop_wrong_port ?? 0) > (before.drop_wrong_port ?? 0) || k.fwd_to_client! > before.fwd_to_client!, 3000);
    const left = [...(await out('wan', 1, 150)), ...(await out('lan', 1, 0))];
    assert.equal(left.length, 0, 'nothing forwarded');
    assert.equal(delta(before, a, 'drop_wrong_port'), 1);
    assert.equal(delta(before, a, 'fwd_to_client'), 0);

    // The same segment from the server's port is the real reply.
    gw.inject('lan', [buildTcp({ ...fromRs(), ...seg({ flags: 'PA', seq: 101, ack: 2, id: 8, payload: Buffer.from('real') }), ttl: 64 })], 0);
    const [r] = await out('wan', 1);
    assert.ok(r, 'the real reply was forwarded');
    assert.deepEqual(compareFrames(r, buildTcp({ ...toC(), ...seg({ flags: 'PA', seq: 101, ack: 2, id: 8, payload: Buffer.from('real') }), ttl: 63 })), []);
  });

  it('L7: an ICMP error about the server side of the session, arriving on the client port, is dropped and counted', async () => {
    const before = gw.counters();
    const quote = quoteOf(buildTcp({ ...toRs(), ...seg({ flags: 'A', seq: 2, ack: 101, id: 9 }), ttl: 63 }));
    gw.inject('wan', [icmpError({ ethSrc: ROUTER_WAN.mac, ethDst: wan, src: ROUTER_WAN.ip, dst: LIP }, 3, 1, Buffer.alloc(4), quote)], 0);
    const a = await waitUntil(gw, (k) => (k.drop_wrong_port ?? 0) > (before.drop_wrong_port ?? 0) || k.icmp_errors_translated! > before.icmp_errors_translated!, 3000);
    const left = [...(await out('wan', 1, 150)), ...(await out('lan', 1, 0))];
    assert.equal(left.length, 0, 'nothing translated');
    assert.equal(delta(before, a, 'drop_wrong_port'), 1);
    assert.equal(delta(before, a, 'icmp_errors_translated'), 0);
  });

  it('L9: after the client\'s packets come from a new last-hop MAC, replies go to that MAC', async () => {
    const s = seg({ flags: 'A', seq: 2, ack: 105, id: 10 });
    gw.inject('wan', [buildTcp({ ...c(), ethSrc: NEW_HOP_MAC, ...s, ttl: 64 })], 0);
    const [f] = await out('lan', 1);
    assert.ok(f, 'forwarded to the server');
    assert.deepEqual(compareFrames(f, buildTcp({ ...toRs(), ...s, ttl: 63 })), []);
    const r = seg({ flags: 'PA', seq: 105, ack: 2, id: 11, payload: Buffer.from('to the new hop') });
    gw.inject('lan', [buildTcp({ ...fromRs(), ...r, ttl: 64 })], 0);
    const [e] = await out('wan', 1);
    assert.ok(e, 'the reply was forwarded');
    assert.deepEqual(compareFrames(e, buildTcp({ ...toC(), ethDst: NEW_HOP_MAC, ...r, ttl: 63 })), []);
  });

  it('L12: a plan naming a port index the gateway does not have is refused, and the running one stays', async () => {
    const { plan } = buildPlan(gw.cfg, { ids: gw.ids });
    const badRs = { ...plan, realServers: plan.realServers.map((r) => ({ ...r, portIdx: 5 })) };
    assert.throws(() => gw.native.apply(badRs), /real server 0: port index 5, but the gateway has 2 ports/);
    const badLip = { ...plan, lips: plan.lips.map((l) => ({ ...l, portIdx: 2 })) };
    assert.throws(() => gw.native.apply(badLip), /LIP 0: port index 2, but the gateway has 2 ports/);
    // The session still forwards on the plan that runs.
    const r = seg({ flags: 'PA', seq: 119, ack: 2, id: 12, payload: Buffer.from('still') });
    gw.inject('lan', [buildTcp({ ...fromRs(), ...r, ttl: 64 })], 0);
    const [e] = await out('wan', 1);
    assert.ok(e, 'the reply was forwarded');
    assert.deepEqual(compareFrames(e, buildTcp({ ...toC(), ethDst: NEW_HOP_MAC, ...r, ttl: 63 })), []);
  });
});
