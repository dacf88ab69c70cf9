// Review finding M4 (issue 13 item 3): TCP state that off-path packets cannot
// change. A RST or FIN whose sequence number is outside the session's window
// is dropped and counted and the session stays as it was; a SYN on a live
// session goes to the same server unchanged (RFC 5961 §4: the server answers
// with a challenge ACK); only a close the window check believed lets a new
// SYN on the same tuple open a new session (and be balanced afresh).
//
// Local ports are handed out FIFO from the low end (freed ones to the back)
// and rr picks RS1, RS2, RS1, ... in the order the tests open connections.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp, parsePacket } from '../lib/packet';
import { sessionRow } from '../../src/control/views';
import { RingGateway } from './harness';
import { collectFrames, compareFrames, drainAll, drop, leftovers, resolveNeighbours, runFixtures, seg, tcpFx, MSS_1460, type Ends, type Fixture, type Host, type TcpSeg } from './fixtures';
import { VIP, WAN_IP, LAN_IP, LIP, CLIENT, RS1, WAN_MAC, LAN_MAC } from './addresses';

const RS2: Host = { ip: '198.19.0.3', mac: '02:00:00:00:02:03' };
const LIP2 = '198.19.0.12';

const CONFIG = `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 4095, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:wan", addresses: [${WAN_IP}/24] }
  - { name: lan, device: "ring:lan", addresses: [${LAN_IP}/24] }
local_addresses:
  pool: { port: lan, addresses: [${LIP}], ports: [2000, 2063] }
  proxied: { port: lan, addresses: [${LIP2}], ports: [3000, 3009] }
sessions:
  max: 64
  timeouts: { tcp_syn: 300, tcp_established: 300, tcp_fin: 300, tcp_time_wait: 300, tcp_close: 300, udp: 300 }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }, { address: ${RS2.ip}, port: 8080 }] }
  - { name: proxied, vip: ${VIP}, port: 81, protocol: tcp, syn_proxy: true, local_addresses: proxied, real_servers: [{ address: ${RS1.ip}, port: 8081 }] }
`;

const u32 = (n: number) => n >>> 0;
const OUT = 'drop_tcp_out_of_window';
/** SYN options: MSS 1460, then NOP + window scale `ws` (RFC 7323). */
const synOpts = (ws: number | null) => (ws === null ? MSS_1460 : Buffer.concat([MSS_1460, Buffer.from([1, 3, 3, ws])]));

describe('TCP state off-path packets cannot change (review M4)', () => {
  let gw: RingGateway;
  const wan = WAN_MAC;
  const lan = LAN_MAC;
  let nextLport = 2000;
  let nextRs = 0; // rr over [RS1, RS2]
  let id = 0x100;

  const c = (sport: number, dport = 80): Ends => ({ ethSrc: CLIENT.mac, ethDst: wan, src: CLIENT.ip, dst: VIP, sport, dport });
  const toC = (sport: number, vport = 80): Ends => ({ ethSrc: wan, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, sport: vport, dport: sport });
  const toRs = (k: Conn): Ends => ({ ethSrc: lan, ethDst: k.rs.mac, src: k.lip, dst: k.rs.ip, sport: k.lport, dport: k.rport });
  const fromRs = (k: Conn): Ends => ({ ethSrc: k.rs.mac, ethDst: lan, src: k.rs.ip, dst: k.lip, sport: k.rport, dport: k.lport });

  interface Conn {
    sport: number;
    vport: number;
    lport: number;
    lip: string;
    rs: Host;
    rport: number;
  }

  const s = (flags: string, seq: number, ack: number, o: Partial<TcpSeg> = {}) => seg({ flags, seq: u32(seq), ack: u32(ack), id: id++, ...o });
  /** Client -> server, forwarded translated. */
  const up = (d: string, k: Conn, g: TcpSeg, counters: Record<string, number> = { fwd_to_server: 1 }) => tcpFx(d, 'wan', c(k.sport, k.vport), 'lan', toRs(k), g, counters);
  /** Server -> client, forwarded translated. */
  const down = (d: string, k: Conn, g: TcpSeg, counters: Record<string, number> = { fwd_to_client: 1 }) => tcpFx(d, 'lan', fromRs(k), 'wan', toC(k.sport, k.vport), g, counters);
  const dropUp = (d: string, k: Conn, g: TcpSeg): Fixture => drop(d, 'wan', buildTcp({ ...c(k.sport, k.vport), ...g, ttl: 64 }), OUT);
  const dropDown = (d: string, k: Conn, g: TcpSeg): Fixture => drop(d, 'lan', buildTcp({ ...fromRs(k), ...g, ttl: 64 }), OUT);

  /** The next web connection's LIP:lport and server, as the picks go. */
  function conn(sport: number): Conn {
    const rs = nextRs++ % 2 === 0 ? RS1 : RS2;
    return { sport, vport: 80, lport: nextLport++, lip: LIP, rs, rport: 8080 };
  }

  /** A web connection through its handshake (window scales ws, or none). */
  async function open(sport: number, cisn: number, sisn: number, ws: { client: number | null; server: number | null } = { client: null, server: null }): Promise<Conn> {
    const k = conn(sport);
    await runFixtures(gw, [
      up(`${sport}: client SYN`, k, s('S', cisn, 0, { tcpOptions: synOpts(ws.client) }), { fwd_to_server: 1, sessions_created: 1, sessions_active: 1 }),
      down(`${sport}: server SYN-ACK`, k, s('SA', sisn, cisn + 1, { tcpOptions: synOpts(ws.server) })),
      up(`${sport}: client ACK`, k, s('A', cisn + 1, sisn + 1)),
    ]);
    assert.equal(state(sport), 'ESTABLISHED');
    return k;
  }

  const row = (sport: number, vport = 80) => {
    const rows = gw.native.sessions({}, 100).map(sessionRow).filter((x) => x.client === `${CLIENT.ip}:${sport}` && x.vip === `${VIP}:${vport}`);
    assert.ok(rows.length <= 1, `one session for client port ${sport}`);
    return rows[0];
  };
  const state = (sport: number, vport = 80) => row(sport, vport)?.state;
  /** What a session is, without its expiry (which every packet moves). */
  const identity = (sport: number) => {
    const r = row(sport);
    assert.ok(r, `a session for client port ${sport}`);
    const { expiresMs: _e, ...rest } = r;
    return rest;
  };

  before(async () => {
    gw = RingGateway.start(CONFIG);
    assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, [RS1, RS2]), [], 'resolving the real servers');
    await drainAll(gw);
  });
  after(() => gw?.stop());

  it('drops and counts a RST or FIN far outside the window from either side; the session stays ESTABLISHED and keeps forwarding', async () => {
    const cisn = 0x10000000;
    const sisn = 0x80000000;
    const k = await open(50000, cisn, sisn);
    const was = identity(50000);
    await runFixtures(gw, [
      dropUp('client-side RST with seq 0xdeadbeef', k, s('R', 0xdeadbeef, 0)),
      dropUp('client-side RST-ACK with a seq 1 GiB ahead', k, s('RA', cisn + 1 + 0x40000000, sisn + 1)),
      dropUp('client-side RST one window (64 KiB, no scaling) and two blocks behind', k, s('R', cisn + 1 - 0x30000, 0)),
      dropDown('server-side RST with seq 0xdeadbeef', k, s('R', 0xdeadbeef, 0)),
      dropDown('server-side RST-ACK with a seq 1 GiB ahead', k, s('RA', sisn + 1 + 0x40000000, cisn + 1)),
      dropUp('client-side FIN 2 GiB away', k, s('FA', cisn + 1 + 0x80000000, sisn + 1)),
      dropDown('server-side FIN 1 GiB away', k, s('FA', sisn + 1 + 0x40000000, cisn + 1)),
    ]);
    assert.equal(state(50000), 'ESTABLISHED', 'nothing moved the state');
    assert.deepEqual(identity(50000), was, 'nor the session');
    await runFixtures(gw, [
      up('client data still goes to the same server and LIP:lport', k, s('PA', cisn + 1, sisn + 1, { payload: Buffer.from('GET /') })),
      down('server data still reaches the client', k, s('PA', sisn + 1, cisn + 6, { payload: Buffer.from('200') })),
    ]);
    assert.equal(state(50000), 'ESTABLISHED');
  });

  it('a SYN on the established tuple goes to the same server unchanged, counted; the spoofed RST + SYN of the review moves nothing', async () => {
    const cisn = 0x20000000;
    const sisn = 0x90000000;
    const k = await open(50001, cisn, sisn);
    const was = identity(50001);
    await runFixtures(gw, [
      up('a new SYN on the established tuple: forwarded to the same server as it is', k, s('S', 0x12345678, 0, { tcpOptions: MSS_1460 }), { fwd_to_server: 1, tcp_syn_in_session: 1 }),
      dropUp('the review: RST seq 0xdeadbeef ...', k, s('R', 0xdeadbeef, 0)),
      up('... then a SYN: still the same server and LIP:lport, no new session', k, s('S', 0xdeadbeef, 0, { tcpOptions: MSS_1460 }), { fwd_to_server: 1, tcp_syn_in_session: 1, sessions_created: 0 }),
    ]);
    assert.deepEqual(identity(50001), was, 'server, LIP:lport and state as before');
    // The server answers the SYN with a challenge ACK; a client that really
    // lost the connection resets it with its ack as seq (exact): believed.
    await runFixtures(gw, [
      down('the server challenge ACK', k, s('A', sisn + 1, cisn + 1)),
      up('the client RST, seq = the challenge ACK ack: accepted', k, s('R', cisn + 1, 0)),
    ]);
    assert.equal(state(50001), 'CLOSE');
    const k2 = conn(50001);
    await runFixtures(gw, [up('after that real close a SYN on the tuple opens a new session, balanced afresh', k2, s('S', 0x12345678, 0, { tcpOptions: MSS_1460 }), { fwd_to_server: 1, sessions_created: 1 })]);
    assert.equal(state(50001), 'SYN_SENT');
    assert.notDeepEqual(identity(50001), was, 'a new session');
  });

  it('accepts a FIN exchange in the window (data moved it), then a SYN on the closed tuple opens a new session', async () => {
    const cisn = 0xfffff000; // the client's sequence numbers wrap within the connection
    const sisn = 0x00fff000;
    const k = await open(50002, cisn, sisn);
    const REQ = Buffer.alloc(1000, 0x61);
    const table: Fixture[] = [];
    // 200 KB from the client in steps below the 64 KiB window, each acknowledged: the window follows the ACKs.
    let cseq = cisn + 1;
    for (let i = 0; i < 4; i++) {
      table.push(up(`client data at +${u32(cseq - cisn - 1)}`, k, s('PA', cseq, sisn + 1, { payload: REQ })));
      cseq += 50000;
      table.push(down(`server ACK to +${u32(cseq - cisn - 1)}`, k, s('A', sisn + 1, cseq)));
    }
    table.push(
      dropUp('a client RST at the ISN (the window moved 200 KB on)', k, s('R', cisn + 1, 0)),
      dropUp('a client FIN at the ISN', k, s('FA', cisn + 1, sisn + 1)),
      up('client FIN at what the server acknowledged: FIN_WAIT', k, s('FA', cseq, sisn + 1)),
      down('server FIN-ACK: LAST_ACK', k, s('FA', sisn + 1, cseq + 1)),
      up('client retransmits its FIN (behind the window start, within a window): passed', k, s('FA', cseq, sisn + 2)),
      up('client last ACK: TIME_WAIT', k, s('A', cseq + 1, sisn + 2)),
    );
    await runFixtures(gw, table);
    assert.equal(state(50002), 'TIME_WAIT');
    const k2 = conn(50002);
    await runFixtures(gw, [up('a new SYN on the closed tuple: new session', k2, s('S', 7, 0, { tcpOptions: MSS_1460 }), { fwd_to_server: 1, sessions_created: 1 })]);
    assert.equal(row(50002)?.local, `${LIP}:${k2.lport}`);
    assert.equal(row(50002)?.server, `${k2.rs.ip}:8080`);
  });

  it('accepts a RST in the window from either side (not only the exact next seq)', async () => {
    const a = await open(50003, 0x30000000, 0x40000000);
    await runFixtures(gw, [up('client RST-ACK 30 KB ahead of the server ACK: forwarded', a, s('RA', 0x30000001 + 30000, 0x40000001))]);
    assert.equal(state(50003), 'CLOSE');
    const b = await open(50004, 0x50000000, 0x60000000);
    await runFixtures(gw, [down('server RST exactly at its next seq: forwarded', b, s('R', 0x60000001, 0))]);
    assert.equal(state(50004), 'CLOSE');
  });

  it('takes the window scale from the SYNs: a RST 4 MB ahead passes with scale 7 both ways, not with one side unscaled', async () => {
    const a = await open(50005, 0x01000000, 0x02000000, { client: 7, server: 7 });
    await runFixtures(gw, [up('scale 7 (windows up to 8 MB): client RST 4 MB ahead', a, s('R', 0x01000001 + 0x400000, 0))]);
    assert.equal(state(50005), 'CLOSE');
    const b = await open(50006, 0x03000000, 0x04000000, { client: 7, server: null });
    await runFixtures(gw, [dropUp('the server offered no scale, so none applies: the same RST is out', b, s('R', 0x03000001 + 0x400000, 0))]);
    assert.equal(state(50006), 'ESTABLISHED');
  });

  it('in the handshake a server RST or SYN-ACK must acknowledge the client SYN', async () => {
    const k = conn(50007);
    await runFixtures(gw, [
      up('client SYN', k, s('S', 0x70000000, 0, { tcpOptions: MSS_1460 }), { fwd_to_server: 1, sessions_created: 1, sessions_active: 1 }),
      dropDown('server RST-ACK acknowledging something else', k, s('RA', 0, 0x12345678)),
      dropDown('server RST without ACK', k, s('R', 0, 0)),
      dropDown('server SYN-ACK acknowledging something else', k, s('SA', 0x100, 0x12345678)),
    ]);
    assert.equal(state(50007), 'SYN_SENT');
    await runFixtures(gw, [down('the server refuses: RST-ACK, seq 0, ack = ISN + 1', k, s('RA', 0, 0x70000001, { window: 0 }))]);
    assert.equal(state(50007), 'CLOSE');
  });

  it('simultaneous open still works (server SYN, client SYN-ACK, server SYN-ACK, client ACK)', async () => {
    const k = conn(50008);
    const cisn = 0x0a000000;
    const sisn = 0x0b000000;
    await runFixtures(gw, [
      up('client SYN', k, s('S', cisn, 0, { tcpOptions: MSS_1460 }), { fwd_to_server: 1, sessions_created: 1, sessions_active: 1 }),
      down('server SYN (crossing)', k, s('S', sisn, 0, { tcpOptions: MSS_1460 })),
      up('client SYN-ACK', k, s('SA', cisn, sisn + 1, { tcpOptions: MSS_1460 })),
      down('server SYN-ACK', k, s('SA', sisn, cisn + 1, { tcpOptions: MSS_1460 })),
      up('client ACK', k, s('A', cisn + 1, sisn + 1)),
    ]);
    assert.equal(state(50008), 'ESTABLISHED');
    await runFixtures(gw, [
      dropDown('server RST out of its window', k, s('R', sisn + 0x10000000, 0)),
      down('server RST at its next seq', k, s('R', sisn + 1, 0)),
    ]);
    assert.equal(state(50008), 'CLOSE');
  });

  it('a proxied session (server sequence space shifted) checks the server RST/FIN in its own space; its legitimate FIN and RST pass', async () => {
    const p: Conn = { sport: 51000, vport: 81, lport: 3000, lip: LIP2, rs: RS1, rport: 8081 };
    const cisn = 0x11110000;
    gw.inject('wan', [buildTcp({ ...c(51000, 81), ...s('S', cisn, 0, { tcpOptions: MSS_1460 }), ttl: 64 })]);
    const got = await collectFrames(gw, 'wan', 1);
    assert.equal(got.length, 1, 'the cookie SYN-ACK');
    const cookie = parsePacket(got[0]!).tcp!.seq;
    assert.deepEqual([...(await leftovers(gw, 20))], []);
    const sisn = u32(cookie + 0x80000000); // delta 2^31: the client-view seq is as far from the server's as can be
    const sv = (x: number) => u32(x + 0x80000000); // client view -> server space
    const ackId = id++;
    await runFixtures(gw, [
      {
        description: 'client ACK with the cookie -> SYN to the server',
        inPort: 'wan',
        input: buildTcp({ ...c(51000, 81), ...seg({ flags: 'A', seq: cisn + 1, ack: u32(cookie + 1), id: ackId }), ttl: 64 }),
        expected: { outPort: 'lan', frame: buildTcp({ ...toRs(p), ...seg({ flags: 'S', seq: cisn, ack: 0, id: ackId, tcpOptions: MSS_1460 }), ttl: 63 }) },
        counters: { syn_proxy_cookie_ok: 1, sessions_created: 1, sessions_active: 1, fwd_to_server: 1 },
      },
      {
        description: 'server SYN-ACK, answered by the gateway',
        inPort: 'lan',
        input: buildTcp({ ...fromRs(p), ...seg({ flags: 'SA', seq: sisn, ack: cisn + 1, id: 0x0801, tcpOptions: MSS_1460 }), ttl: 64 }),
        expected: { outPort: 'lan', frame: buildTcp({ ...toRs(p), flags: 'A', seq: cisn + 1, ack: u32(sisn + 1), window: 64240, ttl: 64, id: 0, dontFragment: true }) },
        counters: { syn_proxy_established: 1 },
      },
    ]);
    assert.equal(state(51000, 81), 'ESTABLISHED');
    const fx = (d: string, inPort: string, from: Ends, gIn: TcpSeg, outPort: string, to: Ends, gOut: TcpSeg, counters: Record<string, number>): Fixture => ({
      description: d,
      inPort,
      input: buildTcp({ ...from, ...gIn, ttl: 64 }),
      expected: { outPort, frame: buildTcp({ ...to, ...gOut, ttl: 63 }) },
      counters,
    });
    const fid = () => id++;
    const i1 = fid();
    const i2 = fid();
    const i3 = fid();
    await runFixtures(gw, [
      dropDown('server RST with the client-view seq (not its own space): out', p, s('R', cookie + 1, 0)),
      dropDown('server FIN with the client-view seq: out', p, s('FA', cookie + 1, cisn + 1)),
      fx('server FIN in its own space: passed, seq translated', 'lan', fromRs(p), seg({ flags: 'FA', seq: sv(cookie + 1), ack: cisn + 1, id: i1 }), 'wan', toC(51000, 81), seg({ flags: 'FA', seq: u32(cookie + 1), ack: cisn + 1, id: i1 }), { fwd_to_client: 1 }),
      fx('client FIN-ACK', 'wan', c(51000, 81), seg({ flags: 'FA', seq: cisn + 1, ack: u32(cookie + 2), id: i2 }), 'lan', toRs(p), seg({ flags: 'FA', seq: cisn + 1, ack: sv(cookie + 2), id: i2 }), { fwd_to_server: 1 }),
      fx('server RST in its own space after all: passed', 'lan', fromRs(p), seg({ flags: 'R', seq: sv(cookie + 2), ack: 0, id: i3 }), 'wan', toC(51000, 81), seg({ flags: 'R', seq: u32(cookie + 2), ack: 0, id: i3 }), { fwd_to_client: 1 }),
    ]);
    assert.equal(state(51000, 81), 'CLOSE');
  });

  it('a proxied session: the client RST in the window passes, one outside does not', async () => {
    const p: Conn = { sport: 51001, vport: 81, lport: 3001, lip: LIP2, rs: RS1, rport: 8081 };
    const cisn = 0x22220000;
    gw.inject('wan', [buildTcp({ ...c(51001, 81), ...s('S', cisn, 0, { tcpOptions: MSS_1460 }), ttl: 64 })]);
    const got = await collectFrames(gw, 'wan', 1);
    const cookie = parsePacket(got[0]!).tcp!.seq;
    const sisn = 0x5000;
    const i0 = id++;
    await runFixtures(gw, [
      {
        description: 'client ACK with the cookie -> SYN to the server',
        inPort: 'wan',
        input: buildTcp({ ...c(51001, 81), ...seg({ flags: 'A', seq: cisn + 1, ack: u32(cookie + 1), id: i0 }), ttl: 64 }),
        expected: { outPort: 'lan', frame: buildTcp({ ...toRs(p), ...seg({ flags: 'S', seq: cisn, ack: 0, id: i0, tcpOptions: MSS_1460 }), ttl: 63 }) },
        counters: { syn_proxy_cookie_ok: 1, sessions_created: 1, sessions_active: 1, fwd_to_server: 1 },
      },
      {
        description: 'server SYN-ACK, answered by the gateway',
        inPort: 'lan',
        input: buildTcp({ ...fromRs(p), ...seg({ flags: 'SA', seq: sisn, ack: cisn + 1, id: 0x0802 }), ttl: 64 }),
        expected: { outPort: 'lan', frame: buildTcp({ ...toRs(p), flags: 'A', seq: cisn + 1, ack: sisn + 1, window: 64240, ttl: 64, id: 0, dontFragment: true }) },
        counters: { syn_proxy_established: 1 },
      },
      dropUp('client RST 1 GiB ahead', p, s('R', cisn + 1 + 0x40000000, 0)),
    ]);
    const i1 = id++;
    await runFixtures(gw, [
      {
        description: 'client RST at its next seq: passed (ack translated into the server space)',
        inPort: 'wan',
        input: buildTcp({ ...c(51001, 81), ...seg({ flags: 'RA', seq: cisn + 1, ack: u32(cookie + 1), id: i1 }), ttl: 64 }),
        expected: { outPort: 'lan', frame: buildTcp({ ...toRs(p), ...seg({ flags: 'RA', seq: cisn + 1, ack: sisn + 1, id: i1 }), ttl: 63 }) },
        counters: { fwd_to_server: 1 },
      },
    ]);
    assert.equal(state(51001, 81), 'CLOSE');
  });
});
