// SYN proxy packet fixtures on the real data plane (ring ports, one worker):
// the cookie SYN-ACK checked field by field, cookie validation, the server
// handshake done by the gateway, sequence translation both ways, close and
// refusal, a spoofed SYN flood that creates no session, reload toggling.
//
// Cookies are random per process: each test reads the cookie from the
// gateway's SYN-ACK, then builds every expected frame from it independently
// (test/lib/packet.ts computes all checksums from scratch).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildIpv4Raw, buildTcp, checksum16, parsePacket } from '../lib/packet';
import { sessionRow } from '../../src/control/views';
import { RingGateway } from './harness';
import {
  badChecksums,
  collectFrames,
  compareFrames,
  drainAll,
  drop,
  leftovers,
  resolveNeighbours,
  runFixtures,
  seg,
  tcpFx,
  bytes,
  MSS_1460,
  type Ends,
  type Fixture,
  type Host,
  type TcpSeg,
} from './fixtures';
import { VIP, WAN_IP, LAN_IP, LIP, CLIENT, RS1, WAN_MAC, LAN_MAC } from './addresses';


const config = (proxy: boolean, webServer = RS1.ip) => `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 4095, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:wan", addresses: [${WAN_IP}/24] }
  - { name: lan, device: "ring:lan", addresses: [${LAN_IP}/24] }
local_addresses:
  pool: { port: lan, addresses: [${LIP}], ports: [2000, 2063] }
sessions:
  max: 64
  timeouts: { tcp_syn: 300, tcp_established: 300, tcp_fin: 300, tcp_time_wait: 300, tcp_close: 300, udp: 300 }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, syn_proxy: ${proxy}, removed_servers: reset, local_addresses: pool, real_servers: [{ address: ${webServer}, port: 8080 }] }
  - { name: plain, vip: ${VIP}, port: 81, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8081 }] }
  - { name: limited, vip: ${VIP}, port: 83, protocol: tcp, syn_proxy: true, max_conn: 1, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8083 }] }
  - { name: nat, vip: ${VIP}, port: 82, protocol: tcp, syn_proxy: true, forwarding: nat, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8082 }] }
`;

/** TCP option MSS=n (kind 2, length 4). */
const mssOpt = (n: number) => Buffer.from([2, 4, n >> 8, n & 0xff]);
/** The MSS values a cookie can carry (native/dp/syncookie.h). */
const MSS_TABLE = [536, 1200, 1300, 1360, 1400, 1440, 1460, 8960];
const u32 = (n: number) => n >>> 0;

describe('SYN proxy (syn_proxy: true)', () => {
  let gw: RingGateway;
  const wan = WAN_MAC;
  const lan = LAN_MAC;
  let nextLport = 2000; // local ports are handed out FIFO from the low end and none is freed here

  const c = (sport: number, dport = 80, h: Host = CLIENT): Ends => ({ ethSrc: h.mac, ethDst: wan, src: h.ip, dst: VIP, sport, dport });
  const toC = (sport: number, vport = 80, h: Host = CLIENT): Ends => ({ ethSrc: wan, ethDst: h.mac, src: VIP, dst: h.ip, sport: vport, dport: sport });
  const toRs = (lport: number, rport = 8080, src = LIP): Ends => ({ ethSrc: lan, ethDst: RS1.mac, src, dst: RS1.ip, sport: lport, dport: rport });
  const fromRs = (lport: number, rport = 8080, dst = LIP): Ends => ({ ethSrc: RS1.mac, ethDst: lan, src: RS1.ip, dst, sport: rport, dport: lport });

  /** In on one side with one segment, out on the other with another (TTL one less). */
  const fx = (description: string, inPort: string, from: Ends, sIn: TcpSeg, outPort: string, to: Ends, sOut: TcpSeg, counters: Record<string, number>): Fixture => ({
    description,
    inPort,
    input: buildTcp({ ...from, ...sIn, ttl: 64 }),
    expected: { outPort, frame: buildTcp({ ...to, ...sOut, ttl: 63 }) },
    counters,
  });

  /**
   * A client SYN (MSS option mss, or none) to VIP:vport: exactly one SYN-ACK
   * leaves wan, equal in every field to one built here around the cookie it
   * carries, with no session created. Returns the cookie.
   */
  async function synAck(sport: number, cisn: number, mss: number | null, o: { vport?: number; h?: Host; id?: number } = {}): Promise<number> {
    const h = o.h ?? CLIENT;
    const vport = o.vport ?? 80;
    const before = gw.counters();
    gw.inject('wan', [buildTcp({ ...c(sport, vport, h), ...seg({ flags: 'S', seq: cisn, ack: 0, id: o.id ?? 0x4242, tcpOptions: mss === null ? Buffer.alloc(0) : mssOpt(mss) }), ttl: 64 })]);
    const got = await collectFrames(gw, 'wan', 1);
    assert.equal(got.length, 1, `a SYN-ACK for the SYN from port ${sport}`);
    const p = parsePacket(got[0]!);
    assert.ok(p.tcp, 'the answer is TCP');
    const cookie = p.tcp.seq;
    const want = MSS_TABLE.filter((m) => m <= (mss ?? 536)).pop() ?? 536;
    // Independent rebuild: only the ISN (the cookie) is taken from the output.
    const expected = buildTcp({
      ...toC(sport, vport, h),
      flags: 'SA',
      seq: cookie,
      ack: u32(cisn + 1),
      window: want,
      ttl: 64,
      id: 0,
      tos: 0,
      dontFragment: true,
      tcpOptions: mssOpt(want),
    });
    assert.deepEqual(compareFrames(got[0]!, expected), [], `SYN-ACK for the SYN from port ${sport}`);
    assert.equal((cookie >>> 24) & 7, MSS_TABLE.indexOf(want), 'the cookie carries the MSS index in bits 24..26');
    assert.deepEqual([...(await leftovers(gw, 20))], [], 'nothing else leaves');
    const after = gw.counters();
    assert.equal(after.syn_proxy_syn_ack_sent! - before.syn_proxy_syn_ack_sent!, 1, 'syn_proxy_syn_ack_sent');
    assert.equal(after.sessions_created! - before.sessions_created!, 0, 'a SYN creates no session');
    assert.equal(after.fwd_to_server! - before.fwd_to_server!, 0, 'nothing goes to a server');
    return cookie;
  }

  /** The client's ACK with the cookie opens the session: a SYN to the RS from the LIP, with the cookie's MSS. */
  function openFx(desc: string, sport: number, cisn: number, cookie: number, mss: number, lport: number, o: { dport?: number; rport?: number; src?: string; extra?: Record<string, number> } = {}): Fixture {
    return fx(
      desc,
      'wan',
      c(sport, o.dport ?? 80),
      seg({ flags: 'A', seq: u32(cisn + 1), ack: u32(cookie + 1), window: 502, id: 0x0701 }),
      'lan',
      toRs(lport, o.rport ?? 8080, o.src ?? LIP),
      seg({ flags: 'S', seq: cisn, ack: 0, window: 502, id: 0x0701, tcpOptions: mssOpt(mss) }),
      { syn_proxy_cookie_ok: 1, sessions_created: 1, sessions_active: 1, fwd_to_server: 1, ...o.extra },
    );
  }

  /** The server's SYN-ACK is answered by the gateway with the ACK the client would send; the client sees nothing. */
  function spliceFx(desc: string, lport: number, cisn: number, sisn: number, o: { rport?: number; dst?: string } = {}): Fixture {
    return {
      description: desc,
      inPort: 'lan',
      input: buildTcp({ ...fromRs(lport, o.rport ?? 8080, o.dst ?? LIP), ...seg({ flags: 'SA', seq: sisn, ack: u32(cisn + 1), window: 65160, id: 0x0801, tcpOptions: MSS_1460 }), ttl: 64 }),
      expected: { outPort: 'lan', frame: buildTcp({ ...toRs(lport, o.rport ?? 8080, o.dst ?? LIP), flags: 'A', seq: u32(cisn + 1), ack: u32(sisn + 1), window: 502, ttl: 64, id: 0, dontFragment: true }) },
      counters: { syn_proxy_established: 1 },
    };
  }

  before(async () => {
    gw = RingGateway.start(config(true));
    assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, [RS1]), [], 'resolving the real server');
    await drainAll(gw);
  });
  after(() => {
    gw?.testing.synProxyClockSkew(0);
    gw?.stop();
  });

  it('answers a SYN with a cookie SYN-ACK carrying the client MSS rounded down, and keeps no state', async () => {
    const sessions = gw.native.sessions({}, 100).length;
    await synAck(41000, 1000, 1460);
    await synAck(41001, 0xffffffff, 1400); // the ack wraps to 0
    await synAck(41002, 77, 1450); // -> 1440
    await synAck(41003, 78, null); // no option: 536
    await synAck(41004, 79, 9000); // -> 8960
    await synAck(41005, 80, 100); // below the table: 536
    assert.equal(gw.native.sessions({}, 100).length, sessions, 'no session for any of them');
    // The same SYN again gets the same cookie (nothing random per SYN, nothing stored).
    const a = await synAck(41006, 5000, 1460);
    const b = await synAck(41006, 5000, 1460);
    assert.equal(a, b, 'a retransmitted SYN gets the same cookie');
    const d = await synAck(41007, 5000, 1460);
    assert.notEqual(a, d, 'another client port gets another cookie');
  });

  it('opens the server connection on a valid ACK, splices the handshakes, translates seq/ack both ways, closes', async () => {
    const cisn = 0x10000000;
    const SISN = 0xfffffff0; // the server's sequence numbers wrap within the connection
    const cookie = await synAck(42000, cisn, 1460);
    const lport = nextLport++;
    const delta = u32(SISN - cookie);
    const sv = (x: number) => u32(x + delta); // client's view of the server's seq -> server's own
    const REQ = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const RESP = bytes(100, 9);
    await runFixtures(gw, [
      openFx('client ACK with the cookie -> SYN from LIP to RS1, seq = client ISN, MSS 1460', 42000, cisn, cookie, 1460, lport),
      spliceFx('RS1 SYN-ACK -> the gateway ACKs it (seq ISN+1, ack server ISN+1); nothing to the client', lport, cisn, SISN),
      fx('client request: ack translated into the server sequence space', 'wan', c(42000), seg({ flags: 'PA', seq: u32(cisn + 1), ack: u32(cookie + 1), id: 0x0702, payload: REQ }), 'lan', toRs(lport), seg({ flags: 'PA', seq: u32(cisn + 1), ack: u32(SISN + 1), id: 0x0702, payload: REQ }), { fwd_to_server: 1 }),
      fx('server response (100 bytes across the 2^32 wrap): seq translated into the cookie space', 'lan', fromRs(lport), seg({ flags: 'PA', seq: u32(SISN + 1), ack: u32(cisn + 1 + REQ.length), id: 0x0802, payload: RESP }), 'wan', toC(42000), seg({ flags: 'PA', seq: u32(cookie + 1), ack: u32(cisn + 1 + REQ.length), id: 0x0802, payload: RESP }), { fwd_to_client: 1 }),
      fx('client ACK of the response (past the wrap)', 'wan', c(42000), seg({ flags: 'A', seq: u32(cisn + 1 + REQ.length), ack: u32(cookie + 1 + 100), id: 0x0703 }), 'lan', toRs(lport), seg({ flags: 'A', seq: u32(cisn + 1 + REQ.length), ack: sv(cookie + 1 + 100), id: 0x0703 }), { fwd_to_server: 1 }),
      fx('server FIN', 'lan', fromRs(lport), seg({ flags: 'FA', seq: sv(cookie + 101), ack: u32(cisn + 1 + REQ.length), id: 0x0803 }), 'wan', toC(42000), seg({ flags: 'FA', seq: u32(cookie + 101), ack: u32(cisn + 1 + REQ.length), id: 0x0803 }), { fwd_to_client: 1 }),
      fx('client FIN-ACK', 'wan', c(42000), seg({ flags: 'FA', seq: u32(cisn + 1 + REQ.length), ack: u32(cookie + 102), id: 0x0704 }), 'lan', toRs(lport), seg({ flags: 'FA', seq: u32(cisn + 1 + REQ.length), ack: sv(cookie + 102), id: 0x0704 }), { fwd_to_server: 1 }),
      fx('server final ACK', 'lan', fromRs(lport), seg({ flags: 'A', seq: sv(cookie + 102), ack: u32(cisn + 2 + REQ.length), id: 0x0804 }), 'wan', toC(42000), seg({ flags: 'A', seq: u32(cookie + 102), ack: u32(cisn + 2 + REQ.length), id: 0x0804 }), { fwd_to_client: 1 }),
    ]);
    const s = gw.native.sessions({}, 100).map(sessionRow).find((x) => x.client === `${CLIENT.ip}:42000`);
    assert.ok(s, 'the session exists');
    assert.equal(s.state, 'TIME_WAIT', 'closed by the FIN exchange');
  });

  it('drops and counts ACKs whose cookie is forged, for another flow, another ISN, or stale; accepts the previous slot', async () => {
    const cisn = 0x20000000;
    const cookie = await synAck(43000, cisn, 1460);
    const ack = (sport: number, seq: number, a: number, id: number) => buildTcp({ ...c(sport), ...seg({ flags: 'A', seq: u32(seq), ack: u32(a), id }), ttl: 64 });
    const BAD = 'drop_syn_proxy_bad_cookie';
    await runFixtures(gw, [
      drop('ACK with an arbitrary ack number', 'wan', ack(43000, cisn + 1, 0x12345678, 0x0901), BAD),
      drop('ACK with the cookie but one sequence number further (bound to the client ISN)', 'wan', ack(43000, cisn + 2, cookie + 1, 0x0902), BAD),
      drop('ACK with the cookie from another client port', 'wan', ack(43001, cisn + 1, cookie + 1, 0x0903), BAD),
      drop('ACK with the cookie, its MSS bits changed', 'wan', ack(43000, cisn + 1, u32((cookie ^ (1 << 24)) + 1), 0x0904), BAD),
      drop('ACK with the cookie, its time bits changed', 'wan', ack(43000, cisn + 1, u32((cookie ^ (1 << 27)) + 1), 0x0905), BAD),
      drop('ACK with the cookie, one hash bit flipped', 'wan', ack(43000, cisn + 1, u32((cookie ^ 1) + 1), 0x0906), BAD),
      drop('RST with no session to the proxied service', 'wan', buildTcp({ ...c(43000), ...seg({ flags: 'R', seq: cisn + 1, ack: 0, id: 0x0907 }), ttl: 64 }), 'drop_no_session'),
      drop('SYN-ACK with no session to the proxied service', 'wan', buildTcp({ ...c(43000), ...seg({ flags: 'SA', seq: cisn, ack: 1, id: 0x0908 }), ttl: 64 }), 'drop_no_session'),
    ]);
    // Stale: a cookie made two slots (128 s) ago is refused, whatever the phase of the clock.
    gw.testing.synProxyClockSkew(-128);
    const old = await synAck(43002, cisn, 1460);
    gw.testing.synProxyClockSkew(0);
    await runFixtures(gw, [drop('ACK with a cookie two time slots old', 'wan', ack(43002, cisn + 1, old + 1, 0x0909), BAD)]);

    // Previous slot (64 s ago) is accepted. If the clock crossed a slot
    // boundary between the SYN and the ACK the cookie is two slots old: the
    // SYN's slot bits tell, and the pair is retried once.
    for (let attempt = 0; ; attempt++) {
      gw.testing.synProxyClockSkew(-64);
      const prev = await synAck(43003 + attempt, cisn, 1460);
      gw.testing.synProxyClockSkew(0);
      const before = gw.counters();
      gw.inject('wan', [ack(43003 + attempt, cisn + 1, prev + 1, 0x090a)]);
      const got = await collectFrames(gw, 'lan', 1, 1000);
      if (got.length === 0 && attempt === 0) {
        gw.testing.synProxyClockSkew(-64);
        const probe = await synAck(43010, cisn, 1460);
        gw.testing.synProxyClockSkew(0);
        if (probe >>> 27 !== prev >>> 27) continue; // the slot moved under the test: retry
      }
      const lport = nextLport++;
      assert.equal(got.length, 1, 'a cookie from the previous slot opens the connection');
      assert.deepEqual(compareFrames(got[0]!, buildTcp({ ...toRs(lport), ...seg({ flags: 'S', seq: cisn, ack: 0, window: 64240, id: 0x090a, tcpOptions: mssOpt(1460) }), ttl: 63 })), []);
      assert.equal(gw.counters().syn_proxy_cookie_ok! - before.syn_proxy_cookie_ok!, 1);
      break;
    }
  });

  it('10,000 spoofed SYNs get 10,000 cookie SYN-ACKs and create no session', async () => {
    const before = gw.counters();
    const sessions = gw.native.sessions({}, 100).length;
    const SPOOF = '02:00:00:00:09:09';
    let answered = 0;
    const problems: string[] = [];
    for (let batch = 0; batch < 50; batch++) {
      const frames: Buffer[] = [];
      const want = new Map<string, number>();
      for (let i = 0; i < 200; i++) {
        const n = batch * 200 + i;
        const ip = `198.18.${1 + (n >> 8)}.${n & 0xff}`;
        const sport = 1024 + ((n * 7919) % 60000);
        const cisn = u32(n * 2654435761);
        want.set(`${ip}:${sport}`, u32(cisn + 1));
        frames.push(buildTcp({ ethSrc: SPOOF, ethDst: wan, src: ip, dst: VIP, sport, dport: 80, flags: 'S', seq: cisn, ttl: 64, id: n & 0xffff, tcpOptions: MSS_1460 }));
      }
      gw.inject('wan', frames);
      const got = await collectFrames(gw, 'wan', 200, 5000);
      for (const f of got) {
        const p = parsePacket(f);
        const key = `${p.ipv4?.dst}:${p.tcp?.dport}`;
        if (p.eth.dst !== SPOOF || p.ipv4?.src !== VIP || p.tcp?.flags !== 'SA' || want.get(key) !== p.tcp.ack) problems.push(`unexpected answer ${key} ${p.tcp?.flags} ack ${p.tcp?.ack}`);
        problems.push(...badChecksums(p));
        want.delete(key);
      }
      answered += got.length;
    }
    assert.deepEqual(problems.slice(0, 5), []);
    assert.equal(answered, 10000, 'every SYN answered');
    assert.deepEqual([...(await leftovers(gw, 50))], [], 'nothing to the real servers');
    const after = gw.counters();
    assert.equal(after.syn_proxy_syn_ack_sent! - before.syn_proxy_syn_ack_sent!, 10000);
    assert.equal(after.sessions_created! - before.sessions_created!, 0, 'no session created');
    assert.equal(after.fwd_to_server! - before.fwd_to_server!, 0, 'nothing forwarded');
    assert.equal(gw.native.sessions({}, 100).length, sessions, 'the session table is as it was');
  });

  it('passes a server RST during the server handshake to the client, in the client sequence space', async () => {
    const cisn = 0x30000000;
    const cookie = await synAck(44000, cisn, 1460);
    const lport = nextLport++;
    await runFixtures(gw, [
      openFx('client ACK -> SYN to RS1', 44000, cisn, cookie, 1460, lport),
      fx('RS1 refuses (RST-ACK, seq 0) -> the client gets a RST from the VIP with seq = cookie + 1', 'lan', fromRs(lport), seg({ flags: 'RA', seq: 0, ack: u32(cisn + 1), window: 0, id: 0x0a01 }), 'wan', toC(44000), seg({ flags: 'RA', seq: u32(cookie + 1), ack: u32(cisn + 1), window: 0, id: 0x0a01 }), { fwd_to_client: 1, syn_proxy_server_rst: 1 }),
    ]);
    const s = gw.native.sessions({}, 100).map(sessionRow).find((x) => x.client === `${CLIENT.ip}:44000`);
    assert.equal(s?.state, 'CLOSE');
  });

  it('keeps client data sent before the server answered and replays it after the server handshake', async () => {
    // Data on the handshake's ACK itself.
    const cisn = 0x40000000;
    const SISN = 0x00001000;
    const cookie = await synAck(45000, cisn, 1460);
    const lport = nextLport++;
    const REQ = Buffer.from('GET /held HTTP/1.1\r\n\r\n');
    await runFixtures(gw, [
      fx('client ACK carrying the request -> SYN to RS1 (the data is kept)', 'wan', c(45000), seg({ flags: 'PA', seq: u32(cisn + 1), ack: u32(cookie + 1), window: 1000, id: 0x0b01, payload: REQ }), 'lan', toRs(lport), seg({ flags: 'S', seq: cisn, ack: 0, window: 1000, id: 0x0b01, tcpOptions: mssOpt(1460) }), { syn_proxy_cookie_ok: 1, sessions_created: 1, sessions_active: 1, fwd_to_server: 1 }),
      drop('a second data segment before the server answered is dropped (the client retransmits)', 'wan', buildTcp({ ...c(45000), ...seg({ flags: 'PA', seq: u32(cisn + 1 + REQ.length), ack: u32(cookie + 1), id: 0x0b02, payload: Buffer.from('more') }), ttl: 64 }), 'drop_syn_proxy_pending'),
    ]);
    const before = gw.counters();
    gw.inject('lan', [buildTcp({ ...fromRs(lport), ...seg({ flags: 'SA', seq: SISN, ack: u32(cisn + 1), id: 0x0c01 }), ttl: 64 })]);
    const got = await collectFrames(gw, 'lan', 2);
    assert.equal(got.length, 2, 'the ACK and then the kept request leave towards RS1');
    assert.deepEqual(compareFrames(got[0]!, buildTcp({ ...toRs(lport), flags: 'A', seq: u32(cisn + 1), ack: SISN + 1, window: 1000, ttl: 64, id: 0, dontFragment: true })), [], 'the ACK');
    assert.deepEqual(compareFrames(got[1]!, buildTcp({ ...toRs(lport), ...seg({ flags: 'PA', seq: u32(cisn + 1), ack: SISN + 1, window: 1000, id: 0x0b01, payload: REQ }), ttl: 63 })), [], 'the request, ack translated');
    assert.deepEqual([...(await leftovers(gw, 20))], [], 'nothing to the client');
    const after = gw.counters();
    assert.equal(after.syn_proxy_established! - before.syn_proxy_established!, 1);
    assert.equal(after.fwd_to_server! - before.fwd_to_server!, 1);

    // A pure ACK first, then data while the server handshake runs: the data is kept.
    const cisn2 = 0x50000000;
    const cookie2 = await synAck(45001, cisn2, 1400);
    const lport2 = nextLport++;
    await runFixtures(gw, [
      openFx('second connection: pure ACK -> SYN with MSS 1400', 45001, cisn2, cookie2, 1400, lport2),
      { description: 'data before the server answered is kept (nothing leaves yet)', inPort: 'wan', input: buildTcp({ ...c(45001), ...seg({ flags: 'PA', seq: u32(cisn2 + 1), ack: u32(cookie2 + 1), id: 0x0b11, payload: REQ }), ttl: 64 }), expected: { dropped: 'syn_proxy_held' } },
      drop('a retransmitted ACK meanwhile is dropped', 'wan', buildTcp({ ...c(45001), ...seg({ flags: 'A', seq: u32(cisn2 + 1), ack: u32(cookie2 + 1), id: 0x0b12 }), ttl: 64 }), 'drop_syn_proxy_pending'),
      drop('a server segment other than SYN-ACK meanwhile is dropped', 'lan', buildTcp({ ...fromRs(lport2), ...seg({ flags: 'A', seq: 5, ack: u32(cisn2 + 1), id: 0x0c11 }), ttl: 64 }), 'drop_syn_proxy_pending'),
    ]);
    gw.inject('lan', [buildTcp({ ...fromRs(lport2), ...seg({ flags: 'SA', seq: 9, ack: u32(cisn2 + 1), id: 0x0c12 }), ttl: 64 })]);
    const got2 = await collectFrames(gw, 'lan', 2);
    assert.equal(got2.length, 2);
    assert.deepEqual(compareFrames(got2[1]!, buildTcp({ ...toRs(lport2), ...seg({ flags: 'PA', seq: u32(cisn2 + 1), ack: 10, window: 64240, id: 0x0b11, payload: REQ }), ttl: 63 })), []);
  });

  it('leaves a service without syn_proxy alone', async () => {
    const lport = nextLport++;
    await runFixtures(gw, [
      tcpFx('SYN to the plain service is forwarded as it is', 'wan', c(46000, 81), 'lan', toRs(lport, 8081), seg({ flags: 'S', seq: 1, ack: 0, id: 0x0d01, tcpOptions: MSS_1460 }), { fwd_to_server: 1, sessions_created: 1, sessions_active: 1 }),
      tcpFx('its SYN-ACK reaches the client untouched', 'lan', fromRs(lport, 8081), 'wan', toC(46000, 81), seg({ flags: 'SA', seq: 777, ack: 2, id: 0x0e01, tcpOptions: MSS_1460 }), { fwd_to_client: 1 }),
      tcpFx('its data is not translated', 'wan', c(46000, 81), 'lan', toRs(lport, 8081), seg({ flags: 'PA', seq: 2, ack: 778, id: 0x0d02, payload: Buffer.from('hi') }), { fwd_to_server: 1 }),
      drop('an ACK without a session to the plain service is no cookie question', 'wan', buildTcp({ ...c(46001, 81), ...seg({ flags: 'A', seq: 1, ack: 1, id: 0x0d03 }), ttl: 64 }), 'drop_no_session'),
    ]);
  });

  it('tells the client with a RST when its valid ACK cannot become a session (here: max_conn)', async () => {
    const a = await synAck(52000, 0xa0000000, 1460, { vport: 83 });
    const lport = nextLport++;
    await runFixtures(gw, [openFx('the first connection takes the one slot of max_conn: 1', 52000, 0xa0000000, a, 1460, lport, { dport: 83, rport: 8083 })]);
    const b = await synAck(52001, 0xb0000000, 1460, { vport: 83 });
    await runFixtures(gw, [
      {
        description: 'the second one passes the cookie check, hits the limit: RST from the VIP with seq = cookie + 1',
        inPort: 'wan',
        input: buildTcp({ ...c(52001, 83), ...seg({ flags: 'A', seq: 0xb0000001, ack: u32(b + 1), id: 0x1401 }), ttl: 64 }),
        expected: { outPort: 'wan', frame: buildTcp({ ...toC(52001, 83), flags: 'R', seq: u32(b + 1), ack: 0, window: 0, ttl: 64, id: 0, dontFragment: true }) },
        counters: { syn_proxy_cookie_ok: 1, drop_max_conn: 1, syn_proxy_client_rst: 1, sessions_created: 0 },
      },
    ]);
  });

  it('works in NAT mode too (the client address stays)', async () => {
    const cisn = 0x60000000;
    const cookie = await synAck(47000, cisn, 1460, { vport: 82 });
    const SISN = 0x7000;
    await runFixtures(gw, [
      openFx('NAT mode: ACK -> SYN from the client address to RS1', 47000, cisn, cookie, 1460, 47000, { dport: 82, rport: 8082, src: CLIENT.ip }),
      spliceFx('NAT mode: RS1 SYN-ACK answered by the gateway', 47000, cisn, SISN, { rport: 8082, dst: CLIENT.ip }),
      fx('NAT mode: server data, seq translated', 'lan', fromRs(47000, 8082, CLIENT.ip), seg({ flags: 'PA', seq: SISN + 1, ack: u32(cisn + 1), id: 0x0f01, payload: Buffer.from('abc') }), 'wan', toC(47000, 82), seg({ flags: 'PA', seq: u32(cookie + 1), ack: u32(cisn + 1), id: 0x0f01, payload: Buffer.from('abc') }), { fwd_to_client: 1 }),
    ]);
  });

  it('translates the sequence numbers quoted by ICMP errors about a proxied session, both ways', async () => {
    const cisn = 0x80000000;
    const SISN = 0xabcdef00;
    const cookie = await synAck(49000, cisn, 1460);
    const lport = nextLport++;
    await runFixtures(gw, [openFx('proxied connection for the ICMP cases', 49000, cisn, cookie, 1460, lport), spliceFx('spliced', lport, cisn, SISN)]);
    const ipOf = (f: Buffer) => f.subarray(14, 14 + f.readUInt16BE(16));
    const icmp = (o: { ethSrc: string; ethDst: string; src: string; dst: string; ttl: number }, type: number, code: number, rest: Buffer, quote: Buffer) => {
      const m = Buffer.concat([Buffer.from([type, code, 0, 0]), rest, quote]);
      m.writeUInt16BE(checksum16(m), 2);
      return buildIpv4Raw({ ...o, protocol: 1, id: 0x7701, payload: m });
    };
    const MTU = Buffer.from([0, 0, 0x05, 0x00]);
    const DATA = Buffer.from('response bytes');
    // A router on the client side cannot pass the server's data (seq in the client's view): the server must read its own seq.
    const toClient = buildTcp({ ...toC(49000), ...seg({ flags: 'PA', seq: u32(cookie + 1), ack: u32(cisn + 1), id: 0x1101, payload: DATA }), ttl: 63 });
    const asServerSent = buildTcp({ ...fromRs(lport), ...seg({ flags: 'PA', seq: u32(SISN + 1), ack: u32(cisn + 1), id: 0x1101, payload: DATA }), ttl: 63 });
    // A router on the server side cannot pass the client's segment (ack in the server's space): the client must read its own ack.
    const toServer = buildTcp({ ...toRs(lport), ...seg({ flags: 'PA', seq: u32(cisn + 1), ack: u32(SISN + 1), id: 0x1201, payload: DATA }), ttl: 63 });
    const asClientSent = buildTcp({ ...c(49000), ...seg({ flags: 'PA', seq: u32(cisn + 1), ack: u32(cookie + 1), id: 0x1201, payload: DATA }), ttl: 63 });
    await runFixtures(gw, [
      {
        description: 'frag-needed from the client side about server data -> to the server, quoted seq in its own space',
        inPort: 'wan',
        input: icmp({ ethSrc: CLIENT.mac, ethDst: wan, src: '198.18.0.250', dst: VIP, ttl: 64 }, 3, 4, MTU, ipOf(toClient)),
        expected: { outPort: 'lan', frame: icmp({ ethSrc: lan, ethDst: RS1.mac, src: LIP, dst: RS1.ip, ttl: 63 }, 3, 4, MTU, ipOf(asServerSent)) },
        counters: { icmp_errors_translated: 1 },
      },
      {
        description: 'frag-needed from the server side about client data -> to the client, quoted ack in its own space',
        inPort: 'lan',
        input: icmp({ ethSrc: RS1.mac, ethDst: lan, src: '198.19.0.1', dst: LIP, ttl: 64 }, 3, 4, MTU, ipOf(toServer)),
        expected: { outPort: 'wan', frame: icmp({ ethSrc: wan, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, ttl: 63 }, 3, 4, MTU, ipOf(asClientSent)) },
        counters: { icmp_errors_translated: 1 },
      },
    ]);
  });

  it('reload toggles syn_proxy for new connections; existing sessions keep their translation', async () => {
    const cisn = 0x70000000;
    const SISN = 0x12345678;
    const cookie = await synAck(48000, cisn, 1460);
    const lport = nextLport++;
    await runFixtures(gw, [openFx('proxied connection opened before the reload', 48000, cisn, cookie, 1460, lport), spliceFx('and spliced', lport, cisn, SISN)]);

    gw.apply(config(false));
    const direct = nextLport++;
    await runFixtures(gw, [
      fx('after turning it off: the proxied session still translates (server -> client)', 'lan', fromRs(lport), seg({ flags: 'PA', seq: SISN + 1, ack: u32(cisn + 1), id: 0x1001, payload: Buffer.from('x') }), 'wan', toC(48000), seg({ flags: 'PA', seq: u32(cookie + 1), ack: u32(cisn + 1), id: 0x1001, payload: Buffer.from('x') }), { fwd_to_client: 1 }),
      fx('and client -> server', 'wan', c(48000), seg({ flags: 'A', seq: u32(cisn + 1), ack: u32(cookie + 2), id: 0x1002 }), 'lan', toRs(lport), seg({ flags: 'A', seq: u32(cisn + 1), ack: SISN + 2, id: 0x1002 }), { fwd_to_server: 1 }),
      tcpFx('a new SYN goes straight to the server', 'wan', c(48001), 'lan', toRs(direct), seg({ flags: 'S', seq: 5, ack: 0, id: 0x1003, tcpOptions: MSS_1460 }), { fwd_to_server: 1, sessions_created: 1, sessions_active: 1 }),
      tcpFx('and its SYN-ACK straight to the client', 'lan', fromRs(direct), 'wan', toC(48001), seg({ flags: 'SA', seq: 900, ack: 6, id: 0x1004 }), { fwd_to_client: 1 }),
    ]);

    gw.apply(config(true));
    await synAck(48002, 1, 1460); // new SYNs are proxied again
    await runFixtures(gw, [
      tcpFx('after turning it back on: the direct session stays untranslated', 'wan', c(48001), 'lan', toRs(direct), seg({ flags: 'PA', seq: 6, ack: 901, id: 0x1005, payload: Buffer.from('y') }), { fwd_to_server: 1 }),
      fx('and the proxied one still translates', 'lan', fromRs(lport), seg({ flags: 'A', seq: SISN + 2, ack: u32(cisn + 1), id: 0x1006 }), 'wan', toC(48000), seg({ flags: 'A', seq: u32(cookie + 2), ack: u32(cisn + 1), id: 0x1006 }), { fwd_to_client: 1 }),
    ]);
  });

  it('a proxied session reset by a reload: the client gets a RST in its own sequence space', async () => {
    const cisn = 0x90000000;
    const SISN = 0x01020304;
    const cookie = await synAck(50000, cisn, 1460);
    const lport = nextLport++;
    await runFixtures(gw, [openFx('proxied connection for the reset', 50000, cisn, cookie, 1460, lport), spliceFx('spliced', lport, cisn, SISN)]);
    // RS1 leaves the web service with removed_servers: reset.
    gw.apply(config(true, '198.19.0.3'), { reset: [RingGateway.rsKey({ vip: VIP, port: 80, protocol: 'tcp' }, { address: RS1.ip, port: 8080 })] });
    const before = gw.counters();
    const DATA = Buffer.from('late data');
    gw.inject('lan', [buildTcp({ ...fromRs(lport), ...seg({ flags: 'PA', seq: SISN + 1, ack: u32(cisn + 1), id: 0x1301, payload: DATA }), ttl: 64 })]);
    const toServer = await collectFrames(gw, 'lan', 1);
    const toClient = await collectFrames(gw, 'wan', 1);
    const check = (f: Buffer | undefined, e: { src: string; dst: string; sport: number; dport: number }, flags: string, seq: number, ack: number, what: string) => {
      assert.ok(f, `${what}: a RST`);
      const p = parsePacket(f);
      assert.deepEqual(badChecksums(p), [], `${what}: checksums`);
      assert.deepEqual(
        { src: p.ipv4?.src, dst: p.ipv4?.dst, sport: p.tcp?.sport, dport: p.tcp?.dport, flags: p.tcp?.flags, seq: p.tcp?.seq, ack: p.tcp?.ack },
        { ...e, flags, seq, ack },
        what,
      );
    };
    check(toServer[0], { src: LIP, dst: RS1.ip, sport: lport, dport: 8080 }, 'RA', u32(cisn + 1), u32(SISN + 1 + DATA.length), 'RST to the server (its own numbers)');
    check(toClient[0], { src: VIP, dst: CLIENT.ip, sport: 80, dport: 50000 }, 'RA', u32(cookie + 1), u32(cisn + 1), 'RST to the client: seq = cookie + 1, what it expects');
    assert.equal(gw.counters().sessions_reset! - before.sessions_reset!, 1);
  });
});
