// Limits and expiry on the real data plane (ring ports, one worker): local
// port exhaustion and its recovery when sessions expire, a full session
// table, and TCP sessions ending (RST, TIME_WAIT) by timeout.
//
// Waiting for the sweeper polls the counters with a generous bound; nothing
// here asserts how long anything took.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp, buildUdp } from '../lib/packet';
import { RingGateway } from './harness';
import {
  dgram,
  drainAll,
  drop,
  MSS_1460,
  resolveNeighbours,
  runFixtures,
  seg,
  tcpFx,
  udpFx,
  waitUntil,
  type Ends,
  type Fixture,
  type Host,
} from './fixtures';
import { VIP, LAN_IP, LIP as LIP10, CLIENT, RS1, WAN_MAC, LAN_MAC } from './addresses';

const LIP11 = '198.19.0.11';

// Each gateway gets ring devices of its own name (restarting on the same
// names is lifecycle.test.ts's subject).
let instance = 0;

function config(o: { lips: string[]; ports: [number, number]; max: number; timeouts: string }): string {
  instance++;
  return `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 4095, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:wan${instance}", addresses: [198.18.0.254/24] }
  - { name: lan, device: "ring:lan${instance}", addresses: [${LAN_IP}/24] }
local_addresses: { pool: { port: lan, addresses: [${o.lips.join(', ')}], ports: [${o.ports[0]}, ${o.ports[1]}] } }
sessions: { max: ${o.max}, timeouts: ${o.timeouts} }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }
  - { name: dns, vip: ${VIP}, port: 53, protocol: udp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 5353 }] }
`;
}

async function withGateway(yaml: string, body: (gw: RingGateway, m: { wan: string; lan: string }) => Promise<void>): Promise<void> {
  const gw = RingGateway.start(yaml);
  try {
    assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, [RS1]), [], 'resolving the real server');
    await drainAll(gw);
    await body(gw, { wan: WAN_MAC, lan: LAN_MAC });
  } finally {
    gw.stop();
  }
}

function ends(m: { wan: string; lan: string }) {
  return {
    c: (sport: number, dport: number): Ends => ({ ethSrc: CLIENT.mac, ethDst: m.wan, src: CLIENT.ip, dst: VIP, sport, dport }),
    toC: (sport: number, vport: number): Ends => ({ ethSrc: m.wan, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, sport: vport, dport: sport }),
    toRs: (lip: string, lport: number, rport: number): Ends => ({ ethSrc: m.lan, ethDst: RS1.mac, src: lip, dst: RS1.ip, sport: lport, dport: rport }),
    fromRs: (rport: number, lip: string, lport: number): Ends => ({ ethSrc: RS1.mac, ethDst: m.lan, src: RS1.ip, dst: lip, sport: rport, dport: lport }),
  };
}

const NEW = { fwd_to_server: 1, sessions_created: 1, sessions_active: 1 };
const TO_S = { fwd_to_server: 1 };
const TO_C = { fwd_to_client: 1 };

describe('local ports: exhaustion and recovery by expiry', () => {
  // Two LIPs with one port each: two flows fill the pool. UDP idle timeout 2 s
  // (a margin so nothing expires while the pool is being filled).
  it('drops new flows with drop_lport_exhausted until expiry frees the ports', () =>
    withGateway(config({ lips: [LIP10, LIP11], ports: [2000, 2000], max: 64, timeouts: '{ udp: 2 }' }), async (gw, m) => {
      const { c, toC, toRs, fromRs } = ends(m);
      const udpTo = (sport: number, id: number) => buildUdp({ ...c(sport, 53), ttl: 64, id, payload: Buffer.from('q') });
      const fill: Fixture[] = [
        udpFx('flow A takes LIP .10:2000', 'wan', c(5000, 53), 'lan', toRs(LIP10, 2000, 5353), dgram({ id: 1, payload: Buffer.from('a') }), NEW),
        udpFx('flow B takes LIP .11:2000 (the last port)', 'wan', c(5001, 53), 'lan', toRs(LIP11, 2000, 5353), dgram({ id: 2, payload: Buffer.from('b') }), NEW),
        drop('flow C finds no free port on either LIP', 'wan', udpTo(5002, 3), 'drop_lport_exhausted'),
        drop('a TCP SYN on the same pool finds none either', 'wan', buildTcp({ ...c(40000, 80), ...seg({ flags: 'S', seq: 1, ack: 0, id: 4 }), ttl: 64 }), 'drop_lport_exhausted'),
        udpFx('flow A still works while the pool is empty', 'lan', fromRs(5353, LIP10, 2000), 'wan', toC(5000, 53), dgram({ id: 5, payload: Buffer.from('reply') }), TO_C),
      ];
      const before = gw.counters();
      await runFixtures(gw, fill);

      const after = await waitUntil(gw, (x) => x.sessions_active === 0, 15000);
      assert.equal(after.sessions_active, 0, 'both sessions expire');
      assert.equal(after.sessions_expired - before.sessions_expired, 2, 'sessions_expired counts both');

      const again: Fixture[] = [
        udpFx('after expiry flow C gets LIP .10:2000', 'wan', c(5002, 53), 'lan', toRs(LIP10, 2000, 5353), dgram({ id: 6, payload: Buffer.from('c') }), NEW),
        udpFx('flow D gets LIP .11:2000', 'wan', c(5003, 53), 'lan', toRs(LIP11, 2000, 5353), dgram({ id: 7, payload: Buffer.from('d') }), NEW),
        udpFx('a reply to .11:2000 now belongs to flow D', 'lan', fromRs(5353, LIP11, 2000), 'wan', toC(5003, 53), dgram({ id: 8, payload: Buffer.from('to-d') }), TO_C),
        drop('flow E: the pool is full again', 'wan', udpTo(5004, 9), 'drop_lport_exhausted'),
      ];
      await runFixtures(gw, again);
    }));
});

describe('session table: full', () => {
  // sessions.max 16 (the minimum); 32 local ports so the table fills first.
  it('drops new flows with drop_session_full while existing ones keep forwarding', () =>
    withGateway(config({ lips: [LIP10, LIP11], ports: [2000, 2015], max: 16, timeouts: '{ udp: 300, tcp_syn: 300 }' }), async (gw, m) => {
      const { c, toC, toRs, fromRs } = ends(m);
      const fill: Fixture[] = [];
      for (let i = 0; i < 16; i++) {
        const lip = i % 2 === 0 ? LIP10 : LIP11;
        const lport = 2000 + (i >> 1);
        fill.push(udpFx(`flow ${i} -> ${lip}:${lport}`, 'wan', c(6000 + i, 53), 'lan', toRs(lip, lport, 5353), dgram({ id: 0x100 + i, payload: Buffer.from(`flow ${i}`) }), NEW));
      }
      await runFixtures(gw, fill);
      assert.equal(gw.counters().sessions_active, 16);

      const full: Fixture[] = [
        drop('a 17th flow (TCP SYN) is dropped: table full', 'wan', buildTcp({ ...c(40000, 80), ...seg({ flags: 'S', seq: 1, ack: 0, id: 0x200, tcpOptions: MSS_1460 }), ttl: 64 }), 'drop_session_full'),
        udpFx('flow 0 is still translated client -> server', 'wan', c(6000, 53), 'lan', toRs(LIP10, 2000, 5353), dgram({ id: 0x201, payload: Buffer.from('more') }), TO_S),
        udpFx('flow 0 is still translated server -> client', 'lan', fromRs(5353, LIP10, 2000), 'wan', toC(6000, 53), dgram({ id: 0x202, payload: Buffer.from('answer 0') }), TO_C),
        drop('an 18th flow (UDP) is dropped: table full', 'wan', buildUdp({ ...c(6016, 53), ttl: 64, id: 0x203, payload: Buffer.from('x') }), 'drop_session_full'),
        udpFx('flow 15 is still translated server -> client', 'lan', fromRs(5353, LIP11, 2007), 'wan', toC(6015, 53), dgram({ id: 0x204, payload: Buffer.from('answer 15') }), TO_C),
        udpFx('flow 15 is still translated client -> server', 'wan', c(6015, 53), 'lan', toRs(LIP11, 2007, 5353), dgram({ id: 0x205, payload: Buffer.from('more 15') }), TO_S),
      ];
      await runFixtures(gw, full);
      const x = gw.counters();
      assert.equal(x.sessions_active, 16);
      assert.equal(x.sessions_created, 16);
      assert.equal(x.drop_session_full, 2);
    }));
});

describe('TCP sessions end by timeout after RST or TIME_WAIT', () => {
  it('expires closed and TIME_WAIT sessions, keeps an established one, reuses ports FIFO', () =>
    withGateway(
      config({ lips: [LIP10], ports: [2000, 2003], max: 64, timeouts: '{ tcp_close: 1, tcp_time_wait: 1, tcp_syn: 300, tcp_established: 300, tcp_fin: 300 }' }),
      async (gw, m) => {
        const { c, toC, toRs, fromRs } = ends(m);
        const open = (sport: number, lport: number, iss: number, id: number): Fixture[] => [
          tcpFx(`${sport}: SYN -> .10:${lport}`, 'wan', c(sport, 80), 'lan', toRs(LIP10, lport, 8080), seg({ flags: 'S', seq: iss, ack: 0, id, tcpOptions: MSS_1460 }), NEW),
          tcpFx(`${sport}: SYN-ACK`, 'lan', fromRs(8080, LIP10, lport), 'wan', toC(sport, 80), seg({ flags: 'SA', seq: 100 * iss, ack: iss + 1, id: id + 1 }), TO_C),
          tcpFx(`${sport}: ACK`, 'wan', c(sport, 80), 'lan', toRs(LIP10, lport, 8080), seg({ flags: 'A', seq: iss + 1, ack: 100 * iss + 1, id: id + 2 }), TO_S),
        ];
        const table: Fixture[] = [
          ...open(40000, 2000, 10, 0x10),
          tcpFx('40000: client RST is forwarded', 'wan', c(40000, 80), 'lan', toRs(LIP10, 2000, 8080), seg({ flags: 'R', seq: 11, ack: 0, id: 0x20, dontFragment: false }), TO_S),
          ...open(40001, 2001, 20, 0x30),
          tcpFx('40001: client FIN', 'wan', c(40001, 80), 'lan', toRs(LIP10, 2001, 8080), seg({ flags: 'FA', seq: 21, ack: 2001, id: 0x40 }), TO_S),
          tcpFx('40001: server FIN+ACK', 'lan', fromRs(8080, LIP10, 2001), 'wan', toC(40001, 80), seg({ flags: 'FA', seq: 2001, ack: 22, id: 0x41 }), TO_C),
          tcpFx('40001: client final ACK', 'wan', c(40001, 80), 'lan', toRs(LIP10, 2001, 8080), seg({ flags: 'A', seq: 22, ack: 2002, id: 0x42 }), TO_S),
          ...open(40002, 2002, 30, 0x50),
        ];
        const before = gw.counters();
        await runFixtures(gw, table);

        const after = await waitUntil(gw, (x) => x.sessions_expired - before.sessions_expired >= 2, 15000);
        assert.equal(after.sessions_expired - before.sessions_expired, 2, 'the RST and TIME_WAIT sessions expire');
        assert.equal(after.sessions_active, 1, 'the established session stays');

        const later: Fixture[] = [
          drop('40000 (closed by RST, expired): client ACK has no session', 'wan', buildTcp({ ...c(40000, 80), ...seg({ flags: 'A', seq: 11, ack: 1001, id: 0x60 }), ttl: 64 }), 'drop_no_session'),
          drop('40000: the server side finds nothing either', 'lan', buildTcp({ ...fromRs(8080, LIP10, 2000), ...seg({ flags: 'A', seq: 1001, ack: 11, id: 0x61 }), ttl: 64 }), 'drop_no_service'),
          drop('40001 (TIME_WAIT, expired): client ACK has no session', 'wan', buildTcp({ ...c(40001, 80), ...seg({ flags: 'A', seq: 22, ack: 2002, id: 0x62 }), ttl: 64 }), 'drop_no_session'),
          tcpFx('40002 (established) still forwards data', 'wan', c(40002, 80), 'lan', toRs(LIP10, 2002, 8080), seg({ flags: 'PA', seq: 31, ack: 3001, id: 0x63, payload: Buffer.from('still here') }), TO_S),
          tcpFx('a new connection takes the never-used port 2003 before the freed ones', 'wan', c(40003, 80), 'lan', toRs(LIP10, 2003, 8080), seg({ flags: 'S', seq: 40, ack: 0, id: 0x64 }), NEW),
        ];
        await runFixtures(gw, later);
      },
    ));
});
