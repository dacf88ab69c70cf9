// Port exhaustion and bounded picks on the real data plane (issue 13: review
// findings H2 and M3; ring ports, one worker).
//
//  - A LIP pool emptied by unanswered SYNs: a real client's SYN takes the
//    port of the oldest half-open session of that pool (half_open_evicted,
//    lport_reclaimed), established sessions are never touched; with
//    half_open_full: drop_new it is refused (drop_lport_exhausted) as before.
//  - The default max_half_open sits below the pool's ports, so a flood cycles
//    through the bound and never empties the pool.
//  - sessions.max_per_client refuses one address's sessions beyond its cap
//    (drop_client_limit), not another's; spoofed UDP is bounded by it and by
//    the service's max_conn, and TCP on the same pool still gets ports.
//  - lc with every server at max_conn, or every server down: each refused
//    flow counted once under its reason (the work per flow is bounded in
//    native/test/sched_test.c, which counts limit checks).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp, buildUdp } from '../lib/packet';
import { RingGateway } from './harness';
import { dgram, drainAll, drop, MSS_1460, resolveNeighbours, runFixtures, seg, tcpFx, udpFx, waitUntil, type Ends, type Fixture, type Host } from './fixtures';
import { VIP, WAN_IP, LAN_IP, LIP as LIP10, CLIENT, RS1, WAN_MAC, LAN_MAC } from './addresses';

const LIP11 = '198.19.0.11';
const ATTACKER: Host = { ip: '198.18.0.66', mac: '02:00:00:00:01:66' };
const CLIENT2: Host = { ip: '198.18.0.7', mac: '02:00:00:00:01:07' };
const RS2: Host = { ip: '198.19.0.3', mac: '02:00:00:00:02:03' };

const LONG = '{ tcp_syn: 300, tcp_established: 300, tcp_fin: 300, tcp_time_wait: 300, tcp_close: 300, udp: 300 }';

let instance = 0;

function config(o: { sessions: string; services: string; pools?: string }): string {
  instance++;
  return `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 4095, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:pwan${instance}", addresses: [${WAN_IP}/24] }
  - { name: lan, device: "ring:plan${instance}", addresses: [${LAN_IP}/24] }
local_addresses:
${o.pools ?? `  pool: { port: lan, addresses: [${LIP10}], ports: [2000, 2007] }`}
sessions: ${o.sessions}
services:
${o.services}`;
}

const BASIC = `
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }
  - { name: dns, vip: ${VIP}, port: 53, protocol: udp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 5353 }] }
`;

async function withGateway(yaml: string, servers: Host[], body: (gw: RingGateway) => Promise<void>): Promise<void> {
  const gw = RingGateway.start(yaml);
  try {
    assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, servers), [], 'resolving the real servers');
    await drainAll(gw);
    await body(gw);
  } finally {
    gw.stop();
  }
}

const c = (sport: number, dport = 80, h: Host = CLIENT): Ends => ({ ethSrc: h.mac, ethDst: WAN_MAC, src: h.ip, dst: VIP, sport, dport });
const toC = (sport: number, vport = 80, h: Host = CLIENT): Ends => ({ ethSrc: WAN_MAC, ethDst: h.mac, src: VIP, dst: h.ip, sport: vport, dport: sport });
const toRs = (lport: number, rport: number, lip = LIP10, rs: Host = RS1): Ends => ({ ethSrc: LAN_MAC, ethDst: rs.mac, src: lip, dst: rs.ip, sport: lport, dport: rport });
const fromRs = (rport: number, lport: number, lip = LIP10, rs: Host = RS1): Ends => ({ ethSrc: rs.mac, ethDst: LAN_MAC, src: rs.ip, dst: lip, sport: rport, dport: lport });

/** Counters every fixture here must leave alone unless it names them. */
const WATCHED = ['half_open_evicted', 'lport_reclaimed', 'drop_half_open_limit', 'drop_max_conn', 'drop_client_limit', 'client_untracked', 'sessions_expired'] as const;

function strict(table: Fixture[]): Fixture[] {
  return table.map((f) => {
    const dropped = 'dropped' in f.expected ? f.expected.dropped : undefined;
    const counters: Record<string, number> = { ...f.counters };
    for (const k of WATCHED) if (!(k in counters) && k !== dropped) counters[k] = 0;
    return { ...f, counters };
  });
}
const run = (gw: RingGateway, table: Fixture[]) => runFixtures(gw, strict(table));

const NEW = { fwd_to_server: 1, sessions_created: 1, sessions_active: 1 };
const TO_S = { fwd_to_server: 1, sessions_active: 0 };
const TO_C = { fwd_to_client: 1, sessions_active: 0 };
/** A new session that took the port of the oldest half-open one. */
const RECLAIM = { fwd_to_server: 1, sessions_created: 1, sessions_active: 0, sessions_expired: 1, half_open_evicted: 1, lport_reclaimed: 1 };

const synFx = (what: string, sport: number, lport: number, id: number, counters: Record<string, number>, o: { h?: Host; vport?: number; rport?: number; lip?: string; rs?: Host } = {}) =>
  tcpFx(what, 'wan', c(sport, o.vport ?? 80, o.h), 'lan', toRs(lport, o.rport ?? 8080, o.lip, o.rs), seg({ flags: 'S', seq: sport * 7, ack: 0, id, tcpOptions: MSS_1460 }), counters);
const synDrop = (what: string, sport: number, id: number, reason: string, o: { h?: Host; vport?: number } = {}) =>
  drop(what, 'wan', buildTcp({ ...c(sport, o.vport ?? 80, o.h), ...seg({ flags: 'S', seq: sport * 7, ack: 0, id, tcpOptions: MSS_1460 }), ttl: 64 }), reason, { sessions_active: 0, sessions_created: 0 });

/** One established TCP session (40000 -> lport) and one UDP session (5000 -> udpLport). */
function established(lport: number, udpLport: number): Fixture[] {
  return [
    synFx('client 40000 SYN', 40000, lport, 0x10, NEW),
    tcpFx('40000 SYN-ACK', 'lan', fromRs(8080, lport), 'wan', toC(40000), seg({ flags: 'SA', seq: 9000, ack: 280001, id: 0x11 }), TO_C),
    tcpFx('40000 ACK: established', 'wan', c(40000), 'lan', toRs(lport, 8080), seg({ flags: 'A', seq: 280001, ack: 9001, id: 0x12 }), TO_S),
    udpFx('client 5000 UDP: a session', 'wan', c(5000, 53), 'lan', toRs(udpLport, 5353), dgram({ id: 0x13, payload: Buffer.from('q') }), NEW),
  ];
}

function stillForwarding(lport: number, udpLport: number, id: number): Fixture[] {
  return [
    tcpFx('established 40000 forwards to the server', 'wan', c(40000), 'lan', toRs(lport, 8080), seg({ flags: 'PA', seq: 280001, ack: 9001, id, payload: Buffer.from('GET /') }), TO_S),
    tcpFx('established 40000 forwards to the client', 'lan', fromRs(8080, lport), 'wan', toC(40000), seg({ flags: 'PA', seq: 9001, ack: 280006, id: id + 1, payload: Buffer.from('200 OK') }), TO_C),
    udpFx('UDP 5000 answer reaches the client', 'lan', fromRs(5353, udpLport), 'wan', toC(5000, 53), dgram({ id: id + 2, payload: Buffer.from('a') }), TO_C),
  ];
}

describe('H2: a LIP pool emptied by unanswered SYNs does not lock real clients out', () => {
  // One LIP, 8 ports; a half-open bound far above them, as a default of
  // sessions.max / 4 was on any pool of fewer than about 5 full LIPs.
  it('evict_oldest: the oldest half-open session of the pool gives way; established sessions untouched', () =>
    withGateway(config({ sessions: `{ max: 64, max_half_open: 1000, timeouts: ${LONG} }`, services: BASIC }), [RS1], async (gw) => {
      const flood: Fixture[] = [];
      for (let i = 0; i < 6; i++) flood.push(synFx(`attacker SYN ${50000 + i} -> :${2002 + i}, never answered`, 50000 + i, 2002 + i, 0x20 + i, NEW, { h: ATTACKER }));
      await run(gw, [
        ...established(2000, 2001),
        ...flood,
        synFx('the pool is empty: client 40001 takes :2002, the oldest half-open (attacker 50000)', 40001, 2002, 0x30, RECLAIM),
        synFx('client 40002 takes :2003 (attacker 50001)', 40002, 2003, 0x31, RECLAIM),
        udpFx('a UDP flow takes :2004 (attacker 50002) too', 'wan', c(5001, 53), 'lan', toRs(2004, 5353), dgram({ id: 0x32, payload: Buffer.from('q2') }), RECLAIM),
        tcpFx('40001 SYN-ACK reaches the client', 'lan', fromRs(8080, 2002), 'wan', toC(40001), seg({ flags: 'SA', seq: 7000, ack: 280008, id: 0x33 }), TO_C),
        tcpFx('attacker 50003 (:2005) is still half-open: its SYN-ACK is translated', 'lan', fromRs(8080, 2005), 'wan', toC(50003, 80, ATTACKER), seg({ flags: 'SA', seq: 7100, ack: 350022, id: 0x34 }), TO_C),
        ...stillForwarding(2000, 2001, 0x40),
      ]);
      const k = gw.counters();
      assert.equal(k.sessions_active, 8, 'every port held: 40000, UDP 5000, 40001, 40002, UDP 5001, attackers 50003..50005');
      assert.equal(k.half_open_evicted, 3);
      assert.equal(k.lport_reclaimed, 3);
      assert.equal(k.drop_lport_exhausted, 0);
    }));

  it('a port is reclaimed only from a half-open session of the same pool; with none, drop_lport_exhausted', () =>
    withGateway(
      config({
        sessions: `{ max: 64, max_half_open: 1000, timeouts: ${LONG} }`,
        pools: `  a: { port: lan, addresses: [${LIP10}], ports: [2000, 2001] }\n  b: { port: lan, addresses: [${LIP11}], ports: [3000, 3001] }`,
        services: `
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: a, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }
  - { name: alt, vip: ${VIP}, port: 81, protocol: tcp, local_addresses: b, real_servers: [{ address: ${RS1.ip}, port: 8081 }] }
`,
      }),
      [RS1],
      async (gw) => {
        const b = { h: ATTACKER, vport: 81, rport: 8081, lip: LIP11 };
        await run(gw, [
          synFx('pool b: attacker 50000 -> .11:3000 (the oldest half-open of all)', 50000, 3000, 0x50, NEW, b),
          synFx('pool b: attacker 50001 -> .11:3001', 50001, 3001, 0x51, NEW, b),
          synFx('pool a: attacker 50002 -> .10:2000', 50002, 2000, 0x52, NEW, { h: ATTACKER }),
          synFx('pool a: client 40000 -> .10:2001', 40000, 2001, 0x53, NEW),
          tcpFx('40000 SYN-ACK', 'lan', fromRs(8080, 2001), 'wan', toC(40000), seg({ flags: 'SA', seq: 9000, ack: 280001, id: 0x54 }), TO_C),
          tcpFx('40000 ACK: established', 'wan', c(40000), 'lan', toRs(2001, 8080), seg({ flags: 'A', seq: 280001, ack: 9001, id: 0x55 }), TO_S),
          synFx('pool a is empty: 40001 passes over pool b\'s older sessions and takes .10:2000 (50002)', 40001, 2000, 0x56, RECLAIM),
          tcpFx('40001 SYN-ACK', 'lan', fromRs(8080, 2000), 'wan', toC(40001), seg({ flags: 'SA', seq: 9100, ack: 280008, id: 0x57 }), TO_C),
          tcpFx('40001 ACK: established', 'wan', c(40001), 'lan', toRs(2000, 8080), seg({ flags: 'A', seq: 280008, ack: 9101, id: 0x58 }), TO_S),
          synDrop('pool a holds only established sessions: drop_lport_exhausted', 40002, 0x59, 'drop_lport_exhausted'),
          synFx('pool b: a client takes .11:3000 from attacker 50000', 40003, 3000, 0x5a, RECLAIM, { vport: 81, rport: 8081, lip: LIP11 }),
          tcpFx('established 40000 forwards', 'wan', c(40000), 'lan', toRs(2001, 8080), seg({ flags: 'PA', seq: 280001, ack: 9001, id: 0x5b, payload: Buffer.from('x') }), TO_S),
        ]);
      },
    ));

  it('half_open_full: drop_new: the new flow is refused as before (drop_lport_exhausted), nothing evicted', () =>
    withGateway(config({ sessions: `{ max: 64, max_half_open: 1000, half_open_full: drop_new, timeouts: ${LONG} }`, services: BASIC }), [RS1], async (gw) => {
      const flood: Fixture[] = [];
      for (let i = 0; i < 6; i++) flood.push(synFx(`attacker SYN ${50000 + i}`, 50000 + i, 2002 + i, 0x60 + i, NEW, { h: ATTACKER }));
      await run(gw, [
        ...established(2000, 2001),
        ...flood,
        synDrop('client 40001: no free port, none reclaimed', 40001, 0x70, 'drop_lport_exhausted'),
        drop('a UDP flow neither', 'wan', buildUdp({ ...c(5001, 53), ttl: 64, id: 0x71, payload: Buffer.from('q') }), 'drop_lport_exhausted'),
        ...stillForwarding(2000, 2001, 0x72),
      ]);
      assert.equal(gw.counters().half_open_evicted, 0);
    }));

  it('the default max_half_open (half the pool: 4 of 8 ports) keeps a flood from emptying the pool', () =>
    withGateway(config({ sessions: `{ max: 64, timeouts: ${LONG} }`, services: BASIC }), [RS1], async (gw) => {
      const EVICT = { fwd_to_server: 1, sessions_created: 1, sessions_active: 0, sessions_expired: 1, half_open_evicted: 1 };
      const flood: Fixture[] = [];
      // 2 ports held by the established sessions; the flood's first 4 SYNs
      // fill the bound, then each one ends the oldest and its port rests in
      // the FIFO (2002.. come back after 2006, 2007 are used).
      const lports = [2002, 2003, 2004, 2005, 2006, 2007, 2002, 2003, 2004, 2005];
      lports.forEach((lp, i) => flood.push(synFx(`attacker SYN ${50000 + i} -> :${lp}`, 50000 + i, lp, 0x80 + i, i < 4 ? NEW : EVICT, { h: ATTACKER })));
      await run(gw, [
        ...established(2000, 2001),
        ...flood,
        synFx('client 40001 gets a port (the bound, not the pool, made room)', 40001, 2006, 0x90, EVICT),
        ...stillForwarding(2000, 2001, 0x91),
      ]);
      const k = gw.counters();
      assert.equal(k.drop_lport_exhausted, 0);
      assert.equal(k.lport_reclaimed, 0);
      assert.equal(k.half_open_evicted, 7);
    }));
});

describe('sessions.max_per_client', () => {
  it('refuses the N+1th session of one address, not another address\'s first; a session ending makes room', () =>
    withGateway(
      config({ sessions: '{ max: 64, max_per_client: 3, timeouts: { tcp_syn: 300, tcp_established: 300, tcp_fin: 300, tcp_time_wait: 300, tcp_close: 300, udp: 2 } }', services: BASIC, pools: `  pool: { port: lan, addresses: [${LIP10}], ports: [2000, 2015] }` }),
      [RS1],
      async (gw) => {
        await run(gw, [
          synFx('client TCP 40000: 1 of 3', 40000, 2000, 0xa0, NEW),
          udpFx('client UDP 5000: 2 of 3', 'wan', c(5000, 53), 'lan', toRs(2001, 5353), dgram({ id: 0xa1, payload: Buffer.from('a') }), NEW),
          udpFx('client UDP 5001: 3 of 3', 'wan', c(5001, 53), 'lan', toRs(2002, 5353), dgram({ id: 0xa2, payload: Buffer.from('b') }), NEW),
          drop('client UDP 5002: a 4th, refused', 'wan', buildUdp({ ...c(5002, 53), ttl: 64, id: 0xa3, payload: Buffer.from('c') }), 'drop_client_limit'),
          synDrop('client TCP 40001: a 4th, refused (all services count)', 40001, 0xa4, 'drop_client_limit'),
          synFx('another address\'s first session is admitted', 40000, 2003, 0xa5, NEW, { h: CLIENT2 }),
          udpFx('existing UDP 5000 still forwards', 'wan', c(5000, 53), 'lan', toRs(2001, 5353), dgram({ id: 0xa6, payload: Buffer.from('a2') }), TO_S),
        ]);
        // The two UDP sessions (udp: 2 s) expire: the client has room for two more.
        const k = await waitUntil(gw, (x) => x.sessions_active === 2, 15000);
        assert.equal(k.sessions_active, 2, 'the UDP sessions expired');
        const e = k.sessions_expired;
        await run(gw, [
          udpFx('client UDP 5003: 2 of 3 again', 'wan', c(5003, 53), 'lan', toRs(2004, 5353), dgram({ id: 0xa7, payload: Buffer.from('d') }), NEW),
          udpFx('client UDP 5004: 3 of 3', 'wan', c(5004, 53), 'lan', toRs(2005, 5353), dgram({ id: 0xa8, payload: Buffer.from('e') }), NEW),
          drop('client UDP 5005: refused again', 'wan', buildUdp({ ...c(5005, 53), ttl: 64, id: 0xa9, payload: Buffer.from('f') }), 'drop_client_limit'),
        ]);
        const end = gw.counters();
        assert.equal(end.sessions_expired, e);
        assert.equal(end.drop_client_limit, 3);
        assert.equal(end.client_untracked, 0);
      },
    ));

  it('a UDP flood: one address is bounded by max_per_client, spoofed addresses by the service\'s max_conn; TCP on the pool still gets ports', () =>
    withGateway(
      config({
        sessions: `{ max: 64, max_per_client: 4, timeouts: ${LONG} }`,
        pools: `  pool: { port: lan, addresses: [${LIP10}], ports: [2000, 2015] }`,
        services: `
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }
  - { name: dns, vip: ${VIP}, port: 53, protocol: udp, max_conn: 8, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 5353 }] }
`,
      }),
      [RS1],
      async (gw) => {
        const table: Fixture[] = [];
        let lport = 2000;
        // One host, many source ports: 4 sessions, then drop_client_limit.
        for (let i = 0; i < 10; i++) {
          const f = buildUdp({ ...c(6000 + i, 53, ATTACKER), ttl: 64, id: 0xb0 + i, payload: Buffer.from('x') });
          table.push(i < 4 ? udpFx(`attacker UDP ${6000 + i}`, 'wan', c(6000 + i, 53, ATTACKER), 'lan', toRs(lport++, 5353), dgram({ id: 0xb0 + i, payload: Buffer.from('x') }), NEW) : drop(`attacker UDP ${6000 + i}: over its cap`, 'wan', f, 'drop_client_limit'));
        }
        // Spoofed sources, one datagram each: the service's max_conn (8) holds.
        for (let i = 0; i < 10; i++) {
          const h: Host = { ip: `198.18.0.${150 + i}`, mac: ATTACKER.mac };
          table.push(
            i < 4
              ? udpFx(`spoofed ${h.ip}`, 'wan', c(7000, 53, h), 'lan', toRs(lport++, 5353), dgram({ id: 0xc0 + i, payload: Buffer.from('y') }), NEW)
              : drop(`spoofed ${h.ip}: dns at max_conn`, 'wan', buildUdp({ ...c(7000, 53, h), ttl: 64, id: 0xc0 + i, payload: Buffer.from('y') }), 'drop_max_conn'),
          );
        }
        table.push(synFx('a real TCP client still gets a port', 40000, lport, 0xd0, NEW));
        await run(gw, table);
        const k = gw.counters();
        assert.equal(k.drop_client_limit, 6);
        assert.equal(k.drop_max_conn, 6);
        assert.equal(k.drop_lport_exhausted, 0);
        assert.equal(k.sessions_active, 9);
      },
    ));
});

describe('M3: picks when every server is full or down', () => {
  it('lc with every server at max_conn: each refused flow counted once as drop_max_conn; all down: drop_no_real_server', () =>
    withGateway(
      config({
        sessions: `{ max: 64, timeouts: ${LONG} }`,
        pools: `  pool: { port: lan, addresses: [${LIP10}], ports: [2000, 2015] }`,
        services: `
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, scheduler: lc, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080, max_conn: 1 }, { address: ${RS2.ip}, port: 8080, max_conn: 1 }] }
  - { name: dns, vip: ${VIP}, port: 53, protocol: udp, scheduler: sh, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 5353, weight: 0 }, { address: ${RS2.ip}, port: 5353, weight: 0 }] }
`,
      }),
      [RS1, RS2],
      async (gw) => {
        await run(gw, [
          synFx('SYN 40000 -> RS1 (least)', 40000, 2000, 0xe0, NEW),
          synFx('SYN 40001 -> RS2 (the other is at its max_conn)', 40001, 2001, 0xe1, NEW, { rs: RS2 }),
          synDrop('SYN 40002: both at max_conn', 40002, 0xe2, 'drop_max_conn'),
          synDrop('SYN 40003: again, once', 40003, 0xe3, 'drop_max_conn'),
          drop('UDP to a service whose servers all have weight 0', 'wan', buildUdp({ ...c(5000, 53), ttl: 64, id: 0xe4, payload: Buffer.from('q') }), 'drop_no_real_server'),
        ]);
        const k = gw.counters();
        assert.equal(k.drop_max_conn, 2);
        assert.equal(k.drop_no_real_server, 1);
      },
    ));
});
