// ICMP errors with two workers (ring ports; the test picks the RX queue, as
// RSS or af_packet fanout would): an error must reach the worker that owns
// the session it quotes. From the server side the quoted LIP port names the
// owner (steered like any reply); from the client side nothing in the outer
// header does (RSS hashes the router's address and the VIP, not the client's
// flow), so the error lands on any worker: it is handed on from worker to
// worker over the redirect rings, at most N-1 hops, until one finds it.
// One file per worker count: EAL initialises once per process.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildIpv4Raw, buildTcp, checksum16, parsePacket } from '../lib/packet';
import { dpdkYaml } from './steering';
import { RingGateway } from './harness';
import { collectAnyQueue, compareFrames, MSS_1460, resolveNeighbours, seg, type Ends, type Host } from './fixtures';
import { VIP, LAN_IP, LIP, CLIENT, RS1, WAN_MAC, LAN_MAC } from './addresses';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ROUTER_WAN: Host = { ip: '198.18.0.2', mac: '02:00:00:00:01:02' };
const ROUTER_LAN: Host = { ip: '198.19.0.1', mac: '02:00:00:00:02:01' };

const YAML = `
${dpdkYaml(2)}
ports:
  - { name: wan, device: "ring:hw2wan", addresses: [198.18.0.254/24] }
  - { name: lan, device: "ring:hw2lan", addresses: [${LAN_IP}/24] }
local_addresses: { pool: { port: lan, addresses: [${LIP}], ports: [2000, 2099] } }
sessions: { max: 256, timeouts: { tcp_syn: 300, tcp_established: 300, udp: 300 } }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }
`;

/** ICMP "fragmentation needed" (next-hop MTU 1280) quoting `quote`. */
function icmpFrag(o: { ethSrc: string; ethDst: string; src: string; dst: string }, quote: Buffer, ttl = 64): Buffer {
  const m = Buffer.concat([Buffer.from([3, 4, 0, 0, 0, 0, 0x05, 0x00]), quote]);
  m.writeUInt16BE(checksum16(m), 2);
  return buildIpv4Raw({ ...o, ttl, id: 0x4242, protocol: 1, payload: m });
}

describe('ICMP errors reach the worker that owns the session (2 workers)', () => {
  let gw: RingGateway;
  const wan = WAN_MAC;
  const lan = LAN_MAC;
  let lport = 0;

  const out = (port: 'wan' | 'lan', n: number, ms?: number) => collectAnyQueue(gw, port, n, ms);

  const c = (): Ends => ({ ethSrc: CLIENT.mac, ethDst: wan, src: CLIENT.ip, dst: VIP, sport: 40000, dport: 80 });
  const toC = (): Ends => ({ ethSrc: wan, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, sport: 80, dport: 40000 });
  const toRs = (): Ends => ({ ethSrc: lan, ethDst: RS1.mac, src: LIP, dst: RS1.ip, sport: lport, dport: 8080 });
  const fromRs = (): Ends => ({ ethSrc: RS1.mac, ethDst: lan, src: RS1.ip, dst: LIP, sport: 8080, dport: lport });

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
    // The SYN-ACK arrives on the other worker's queue: steered by its LIP port.
    gw.inject('lan', [buildTcp({ ...fromRs(), ...seg({ flags: 'SA', seq: 100, ack: 2, id: 2 }), ttl: 64 })], 1);
    const [sa] = await out('wan', 1);
    assert.ok(sa, 'the SYN-ACK was steered to worker 0 and forwarded');
    assert.deepEqual(compareFrames(sa, buildTcp({ ...toC(), ...seg({ flags: 'SA', seq: 100, ack: 2, id: 2 }), ttl: 63 })), []);
  });

  it('a server-side error arriving on worker 1 is steered by the quoted LIP port and translated for the client', async () => {
    const before = gw.counters();
    const quote = buildTcp({ ...toRs(), ...seg({ flags: 'A', seq: 2, ack: 101, id: 3 }), ttl: 63 }).subarray(14, 14 + 28);
    const want = buildTcp({ ...c(), ...seg({ flags: 'A', seq: 2, ack: 101, id: 3 }), ttl: 63 }).subarray(14, 14 + 28);
    gw.inject('lan', [icmpFrag({ ethSrc: ROUTER_LAN.mac, ethDst: lan, src: ROUTER_LAN.ip, dst: LIP }, quote)], 1);
    const [e] = await out('wan', 1);
    assert.ok(e, `no translated error on wan; drop_icmp_no_session +${gw.counters().drop_icmp_no_session - before.drop_icmp_no_session}`);
    assert.deepEqual(compareFrames(e, icmpFrag({ ethSrc: wan, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip }, want, 63)), []);
    assert.equal(gw.counters().redirected - before.redirected, 1, 'handed to the owning worker');
    assert.equal(gw.counters().icmp_errors_translated - before.icmp_errors_translated, 1);
  });

  it('a client-side error arriving on worker 1 is handed on to worker 0, which owns the session, and translated for the server', async () => {
    const before = gw.counters();
    const s = seg({ flags: 'A', seq: 100, ack: 2, id: 4 });
    const quote = buildTcp({ ...toC(), ...s, ttl: 63 }).subarray(14, 14 + 28);
    const want = buildTcp({ ...fromRs(), ...s, ttl: 63 }).subarray(14, 14 + 28);
    gw.inject('wan', [icmpFrag({ ethSrc: ROUTER_WAN.mac, ethDst: wan, src: ROUTER_WAN.ip, dst: VIP }, quote)], 1);
    const [e] = await out('lan', 1);
    const after = gw.counters();
    assert.ok(e, `no translated error on lan; drop_icmp_no_session +${after.drop_icmp_no_session - before.drop_icmp_no_session}`);
    assert.deepEqual(compareFrames(e, icmpFrag({ ethSrc: lan, ethDst: RS1.mac, src: LIP, dst: RS1.ip }, want, 63)), []);
    assert.equal(after.icmp_handed_on - before.icmp_handed_on, 1, 'worker 1 handed it on once');
    assert.equal(after.redirected - before.redirected, 1);
    assert.equal(after.icmp_errors_translated - before.icmp_errors_translated, 1);
    assert.equal(after.drop_icmp_no_session - before.drop_icmp_no_session, 0);
  });

  it('a client-side error quoting no session goes round the workers once (N-1 hops) and is dropped once as drop_icmp_no_session', async () => {
    for (const q of [0, 1]) {
      const before = gw.counters();
      const quote = buildTcp({ ...toC(), dport: 40999, ...seg({ flags: 'A', seq: 100, ack: 2, id: 5 + q }), ttl: 63 }).subarray(14, 14 + 28);
      gw.inject('wan', [icmpFrag({ ethSrc: ROUTER_WAN.mac, ethDst: wan, src: ROUTER_WAN.ip, dst: VIP }, quote)], q);
      const end = Date.now() + 3000;
      while (gw.counters().drop_icmp_no_session === before.drop_icmp_no_session && Date.now() < end) await sleep(5);
      const left = [...(await out('wan', 1, 200)), ...(await out('lan', 1, 0))];
      const after = gw.counters();
      assert.equal(left.length, 0, 'nothing translated');
      assert.equal(after.drop_icmp_no_session - before.drop_icmp_no_session, 1, `arriving on worker ${q}: dropped once`);
      assert.equal(after.icmp_handed_on - before.icmp_handed_on, 1, 'one hop with two workers');
      assert.equal(after.redirected - before.redirected, 1);
    }
  });
});
