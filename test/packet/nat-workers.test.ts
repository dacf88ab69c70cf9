// NAT mode (DNAT only) with two workers (ring ports; the test picks the RX
// queue, as RSS or af_packet fanout would). The real server answers the
// client's own address, so nothing in the reply names the worker that owns
// the session (FullNAT replies name it in the LIP port): a reply that lands
// on another worker is handed on over the redirect rings, at most N-1 hops,
// until the owner finds it. One file per worker count: EAL initialises once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp } from '../lib/packet';
import { dpdkYaml } from './steering';
import { RingGateway } from './harness';
import { collectAnyQueue, compareFrames, MSS_1460, resolveNeighbours, seg, type Ends } from './fixtures';
import { VIP, LAN_IP, LIP, CLIENT, RS1, WAN_MAC, LAN_MAC } from './addresses';

const YAML = `
${dpdkYaml(2)}
ports:
  - { name: wan, device: "ring:nw2wan", addresses: [198.18.0.254/24] }
  - { name: lan, device: "ring:nw2lan", addresses: [${LAN_IP}/24] }
local_addresses: { pool: { port: lan, addresses: [${LIP}], ports: [2000, 2099] } }
sessions: { max: 256, timeouts: { tcp_syn: 300, tcp_established: 300, udp: 300 } }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, forwarding: nat, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }
`;

describe('NAT mode: replies reach the worker that owns the session (2 workers)', () => {
  let gw: RingGateway;
  const wan = WAN_MAC;
  const lan = LAN_MAC;

  const out = (port: 'wan' | 'lan', n: number, ms?: number) => collectAnyQueue(gw, port, n, ms);

  // NAT mode: the server sees the client's own address and port.
  const c = (sport: number): Ends => ({ ethSrc: CLIENT.mac, ethDst: wan, src: CLIENT.ip, dst: VIP, sport, dport: 80 });
  const toC = (dport: number): Ends => ({ ethSrc: wan, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, sport: 80, dport });
  const toRs = (sport: number): Ends => ({ ethSrc: lan, ethDst: RS1.mac, src: CLIENT.ip, dst: RS1.ip, sport, dport: 8080 });
  const fromRs = (dport: number): Ends => ({ ethSrc: RS1.mac, ethDst: lan, src: RS1.ip, dst: CLIENT.ip, sport: 8080, dport });

  it('a reply arriving on the other worker is handed on once and translated for the client; one on the owner is not handed on', async () => {
    gw = RingGateway.start(YAML);
    process.on('exit', () => gw.stop());
    assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, [RS1]), []);
    await out('wan', 100, 50);
    await out('lan', 100, 50);
    // Session on worker 0: the client's SYN comes in on RX queue 0.
    gw.inject('wan', [buildTcp({ ...c(40000), ...seg({ flags: 'S', seq: 1, ack: 0, id: 1, tcpOptions: MSS_1460 }), ttl: 64 })], 0);
    const [syn] = await out('lan', 1);
    assert.ok(syn, 'the SYN was forwarded');
    assert.deepEqual(compareFrames(syn, buildTcp({ ...toRs(40000), ...seg({ flags: 'S', seq: 1, ack: 0, id: 1, tcpOptions: MSS_1460 }), ttl: 63 })), []);

    const before = gw.counters();
    gw.inject('lan', [buildTcp({ ...fromRs(40000), ...seg({ flags: 'SA', seq: 100, ack: 2, id: 2 }), ttl: 64 })], 1);
    const [sa] = await out('wan', 1);
    const after = gw.counters();
    assert.ok(sa, `no reply on wan; drop_no_service +${after.drop_no_service - before.drop_no_service}`);
    assert.deepEqual(compareFrames(sa, buildTcp({ ...toC(40000), ...seg({ flags: 'SA', seq: 100, ack: 2, id: 2 }), ttl: 63 })), []);
    assert.equal(after.nat_handed_on - before.nat_handed_on, 1, 'worker 1 handed it on once');
    assert.equal(after.redirected - before.redirected, 1);
    assert.equal(after.drop_no_service - before.drop_no_service, 0);

    const b2 = gw.counters();
    gw.inject('lan', [buildTcp({ ...fromRs(40000), ...seg({ flags: 'A', seq: 101, ack: 2, id: 3 }), ttl: 64 })], 0);
    const [a] = await out('wan', 1);
    assert.ok(a, 'the reply on the owner queue is forwarded');
    assert.equal(gw.counters().nat_handed_on - b2.nat_handed_on, 0, 'no hand-on when the receiving worker owns the session');
  });

  it('a packet for an address no session knows goes round the workers once (N-1 hops) and is dropped once as drop_no_service', async () => {
    for (const q of [0, 1]) {
      const before = gw.counters();
      gw.inject('lan', [buildTcp({ ...fromRs(41000 + q), ...seg({ flags: 'A', seq: 5, ack: 5, id: 9 }), ttl: 64 })], q);
      await out('wan', 1, 300);
      const after = gw.counters();
      assert.equal(after.nat_handed_on - before.nat_handed_on, 1, `from queue ${q}: handed on exactly once`);
      assert.equal(after.drop_no_service - before.drop_no_service, 1, `from queue ${q}: dropped exactly once`);
    }
    gw.stop();
  });
});
