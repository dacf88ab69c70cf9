// A burst of 100,000 hostile frames (seeded: random bytes, random headers,
// truncations and bit flips of valid frames) fed to the real data plane
// (ring ports, one worker) while a live TCP session exchanges packets in
// both directions between the garbage.
//
// What must hold throughout and after:
//  - every packet of the live session leaves translated, in order, each
//    field and checksum as the oracle (test/lib/packet.ts) computes it;
//  - the worker accounts for every frame it received, exactly:
//      rx_packets = fwd_to_server + fwd_to_client + icmp_errors_translated
//                   + to_control + redirected + sessions_reset + sum(drop_*)
//    (worker counters; each received frame ends in exactly one of these);
//  - every frame that left a port was counted: frames drained = tx_packets,
//    tx_dropped = 0, and tx_packets = fwd_to_server + fwd_to_client +
//    icmp_errors_translated + what the control thread sent (ARP replies,
//    requests and gratuitous ARP, echo replies);
//  - the session table stays within sessions.max (the garbage fills it);
//  - the gateway keeps forwarding afterwards (fixtures on a new session).
// Mbuf leaks are checked exactly by the fuzzer (native/fuzz), which can
// count the mempool; here a leak would show as ringInject refusing frames.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildArp, buildIcmpEcho, buildIpv4Raw, buildTcp, buildUdp, checksum16, parsePacket } from '../lib/packet';
import { RingGateway } from './harness';
import { readStats, type Counters } from '../../src/stats';
import {
  collectFrames,
  compareFrames,
  drainAll,
  isGatewayArpProbe,
  MSS_1460,
  resolveNeighbours,
  runFixtures,
  seg,
  tcpFx,
  waitUntil,
  type Ends,
  type Host,
} from './fixtures';
import { VIP, WAN_IP, LAN_IP, LIP, CLIENT, RS1, WAN_MAC, LAN_MAC } from './addresses';
import { prng } from '../lib/prng';

const SESSIONS_MAX = 64;

const YAML = `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 4095, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:bwan", addresses: [${WAN_IP}/24] }
  - { name: lan, device: "ring:blan", addresses: [${LAN_IP}/24] }
local_addresses: { pool: { port: lan, addresses: [${LIP}], ports: [2000, 2999] } }
sessions: { max: ${SESSIONS_MAX}, timeouts: { tcp_syn: 2, tcp_established: 300, tcp_fin: 2, tcp_time_wait: 2, tcp_close: 2, udp: 2 } }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }
  - { name: dns, vip: ${VIP}, port: 53, protocol: udp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 5353 }] }
`;

const TOTAL_GARBAGE = 100_000;
const ROUND = 500; // garbage frames per round (plus one session packet each way)
const SEED = 0x5eed1e55;


/** Counters that end a received frame's life in the worker (one per frame). */
function outcomes(c: Counters): number {
  let n = c.fwd_to_server! + c.fwd_to_client! + c.icmp_errors_translated! + c.to_control! + c.redirected! + c.sessions_reset!;
  for (const [k, v] of Object.entries(c)) if (k.startsWith('drop_')) n += v;
  return n;
}

const diff = (a: Counters, b: Counters): Counters => Object.fromEntries(Object.keys(a).map((k) => [k, a[k]! - (b[k] ?? 0)]));

describe('a burst of 100,000 malformed and random frames during a live TCP session', () => {
  it('translates every packet of the session, accounts for every frame, keeps the table bounded, keeps running', async () => {
    const gw = RingGateway.start(YAML);
    try {
      assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, [RS1]), [], 'resolving the real server');
      await drainAll(gw);
      const wan = WAN_MAC;
      const lan = LAN_MAC;
      const c = (sport: number, dport = 80): Ends => ({ ethSrc: CLIENT.mac, ethDst: wan, src: CLIENT.ip, dst: VIP, sport, dport });
      const toC = (sport: number): Ends => ({ ethSrc: wan, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, sport: 80, dport: sport });
      const toRs = (lport: number): Ends => ({ ethSrc: lan, ethDst: RS1.mac, src: LIP, dst: RS1.ip, sport: lport, dport: 8080 });
      const fromRs = (lport: number): Ends => ({ ethSrc: RS1.mac, ethDst: lan, src: RS1.ip, dst: LIP, sport: 8080, dport: lport });

      // The live session: CLIENT:40000 <-> RS1:8080 via LIP:2000.
      await runFixtures(gw, [
        tcpFx('live session: SYN', 'wan', c(40000), 'lan', toRs(2000), seg({ flags: 'S', seq: 1, ack: 0, id: 1, tcpOptions: MSS_1460 }), { fwd_to_server: 1, sessions_created: 1 }),
        tcpFx('live session: SYN-ACK', 'lan', fromRs(2000), 'wan', toC(40000), seg({ flags: 'SA', seq: 1000, ack: 2, id: 1 }), { fwd_to_client: 1 }),
        tcpFx('live session: ACK', 'wan', c(40000), 'lan', toRs(2000), seg({ flags: 'A', seq: 2, ack: 1001, id: 2 }), { fwd_to_server: 1 }),
      ]);

      // ---- garbage ----
      const rnd = prng(SEED);
      const int = (n: number) => Math.floor(rnd() * n);
      const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
      const randBytes = (n: number) => {
        const b = Buffer.alloc(n);
        for (let i = 0; i < n; i++) b[i] = int(256);
        return b;
      };
      const spoof = () => `198.18.0.${50 + int(150)}`; // never the live client (198.18.0.1)
      const smac = () => `02:00:00:00:05:${(16 + int(200)).toString(16).padStart(2, '0')}`;
      const liveQuoteToRs = buildTcp({ ...toRs(2000), ...seg({ flags: 'PA', seq: 2, ack: 1001, id: 9, payload: Buffer.from('data') }), ttl: 63 }).subarray(14, 14 + 20 + 20 + 4);
      const liveQuoteToC = buildTcp({ ...toC(40000), ...seg({ flags: 'PA', seq: 1001, ack: 2, id: 9, payload: Buffer.from('data') }), ttl: 63 }).subarray(14, 14 + 20 + 20 + 4);
      const icmpErr = (o: { ethSrc: string; ethDst: string; src: string; dst: string }, quote: Buffer) => {
        const msg = Buffer.concat([Buffer.from([3, 4, 0, 0, 0, 0, 0x05, 0x00]), quote]);
        msg.writeUInt16BE(checksum16(msg), 2);
        return buildIpv4Raw({ ...o, ttl: 64, id: int(65536), protocol: 1, payload: msg });
      };
      // Valid frames the mutations start from (none on the live session's own tuple).
      const templates: Array<() => { port: 'wan' | 'lan'; frame: Buffer }> = [
        () => ({ port: 'wan', frame: buildTcp({ ethSrc: smac(), ethDst: wan, src: spoof(), dst: VIP, sport: 1024 + int(30000), dport: 80, flags: pick(['S', 'A', 'PA', 'FA', 'R', 'SA']), seq: int(2 ** 32), ack: int(2 ** 32), id: int(65536), ttl: 64, tcpOptions: MSS_1460, payload: randBytes(int(64)) }) }),
        () => ({ port: 'wan', frame: buildUdp({ ethSrc: smac(), ethDst: wan, src: spoof(), dst: VIP, sport: 1024 + int(30000), dport: pick([53, 54]), id: int(65536), ttl: 64, payload: randBytes(int(100)) }) }),
        () => ({ port: 'wan', frame: buildIcmpEcho({ ethSrc: smac(), ethDst: wan, src: spoof(), dst: pick([VIP, WAN_IP]), id: int(65536), seq: int(65536), payload: randBytes(int(64)) }) }),
        () => ({ port: 'wan', frame: buildArp({ op: 'request', ethSrc: smac(), ethDst: 'ff:ff:ff:ff:ff:ff', senderMac: smac(), senderIp: spoof(), targetIp: pick([VIP, WAN_IP, '198.18.0.77']) }) }),
        () => ({ port: 'wan', frame: icmpErr({ ethSrc: smac(), ethDst: wan, src: spoof(), dst: VIP }, liveQuoteToC) }),
        () => ({ port: 'lan', frame: icmpErr({ ethSrc: RS1.mac, ethDst: lan, src: '198.19.0.1', dst: LIP }, liveQuoteToRs) }),
        () => ({ port: 'wan', frame: icmpErr({ ethSrc: smac(), ethDst: wan, src: spoof(), dst: VIP }, buildTcp({ ...toC(41000 + int(1000)), ...seg({ flags: 'A', seq: 1, ack: 1, id: 9 }), ttl: 63 }).subarray(14, 14 + 28)) }),
        () => ({ port: 'lan', frame: buildTcp({ ethSrc: RS1.mac, ethDst: lan, src: RS1.ip, dst: LIP, sport: 8080, dport: 3000 + int(500), flags: pick(['SA', 'A', 'R', 'FA']), seq: int(2 ** 32), ack: int(2 ** 32), id: int(65536), ttl: 64 }) }),
        () => ({ port: 'lan', frame: buildUdp({ ethSrc: RS1.mac, ethDst: lan, src: RS1.ip, dst: LIP, sport: 5353, dport: 3000 + int(500), id: int(65536), ttl: 64, payload: randBytes(int(40)) }) }),
      ];
      /** One garbage frame and the port it goes in on. */
      const garbage = (): { port: 'wan' | 'lan'; frame: Buffer } => {
        const kind = int(6);
        if (kind === 0) return { port: pick(['wan', 'lan'] as const), frame: randBytes(int(200)) }; // anything at all
        if (kind === 1) {
          // An Ethernet header for us (or broadcast) and random IPv4-ish bytes.
          const port = pick(['wan', 'lan'] as const);
          const f = randBytes(14 + int(1500));
          Buffer.from((rnd() < 0.8 ? (port === 'wan' ? wan : lan) : 'ff:ff:ff:ff:ff:ff').split(':').map((x) => parseInt(x, 16))).copy(f, 0);
          f.writeUInt16BE(pick([0x0800, 0x0800, 0x0800, 0x0806, 0x86dd, 0x8100]), 12);
          return { port, frame: f };
        }
        if (kind === 2) {
          // A valid IPv4 header (checksum right) to one of our addresses, random fields and payload.
          const port = pick(['wan', 'lan'] as const);
          const f = buildIpv4Raw({
            ethSrc: smac(),
            ethDst: port === 'wan' ? wan : lan,
            src: port === 'wan' ? spoof() : `198.19.0.${1 + int(9)}`,
            dst: pick([VIP, LIP, WAN_IP, LAN_IP, '198.18.0.200']),
            ttl: int(4),
            id: int(65536),
            tos: int(256),
            dontFragment: rnd() < 0.5,
            moreFragments: rnd() < 0.2,
            fragOffset: rnd() < 0.2 ? int(8192) : 0,
            protocol: pick([1, 6, 17, 6, 17, 47, int(256)]),
            payload: randBytes(int(120)),
          });
          return { port, frame: f };
        }
        const t = pick(templates)();
        if (kind === 3) return { port: t.port, frame: Buffer.from(t.frame.subarray(0, int(t.frame.length))) }; // truncated
        const f = Buffer.from(t.frame);
        if (kind === 4) {
          for (let n = 1 + int(8); n > 0; n--) f[int(f.length)]! ^= 1 << int(8); // bit flips
          return { port: t.port, frame: f };
        }
        // A byte of the IPv4 header replaced and its checksum made right again (reaches the deeper checks).
        if (f.readUInt16BE(12) === 0x0800) {
          f[14 + int(20)] = int(256);
          const hl = Math.min((f[14]! & 0x0f) * 4, f.length - 14);
          f.writeUInt16BE(0, 24);
          f.writeUInt16BE(checksum16(f.subarray(14, 14 + hl)), 24);
        }
        return { port: t.port, frame: f };
      };

      // ---- the burst ----
      const start = readStats(gw.native);
      const drained = { wan: [] as Buffer[], lan: [] as Buffer[] };
      const drainPorts = () => {
        for (const p of ['wan', 'lan'] as const) {
          for (;;) {
            const got = gw.testing.ringDrain(p === 'wan' ? 0 : 1, 0, 1024);
            drained[p].push(...got);
            if (got.length < 1024) break;
          }
        }
      };
      const wantToRs: Buffer[] = [];
      const wantToC: Buffer[] = [];
      let injected = 0;
      let cseq = 2;
      let sseq = 1001;
      let maxActive = 0;
      let sent = 0;
      for (let round = 0; sent < TOTAL_GARBAGE; round++) {
        const n = Math.min(ROUND, TOTAL_GARBAGE - sent);
        const batch = { wan: [] as Buffer[], lan: [] as Buffer[] };
        for (let i = 0; i < n; i++) {
          const g = garbage();
          batch[g.port].push(g.frame);
        }
        sent += n;
        // One packet of the live session each way, somewhere in the middle of the garbage.
        const cdata = Buffer.from(`client ${round}`);
        const sdata = Buffer.from(`server ${round} `.repeat(1 + (round % 40)));
        const cs = seg({ flags: 'PA', seq: cseq, ack: sseq, id: (round * 2) & 0xffff, payload: cdata });
        const ss = seg({ flags: 'PA', seq: sseq, ack: cseq + cdata.length, id: (round * 2 + 1) & 0xffff, payload: sdata });
        batch.wan.splice(int(batch.wan.length + 1), 0, buildTcp({ ...c(40000), ...cs, ttl: 64 }));
        batch.lan.splice(int(batch.lan.length + 1), 0, buildTcp({ ...fromRs(2000), ...ss, ttl: 64 }));
        wantToRs.push(buildTcp({ ...toRs(2000), ...cs, ttl: 63 }));
        wantToC.push(buildTcp({ ...toC(40000), ...ss, ttl: 63 }));
        cseq += cdata.length;
        sseq += sdata.length;
        gw.inject('wan', batch.wan);
        gw.inject('lan', batch.lan);
        injected += batch.wan.length + batch.lan.length;
        // Wait for the worker to take all of it, draining what it sends meanwhile.
        const deadline = Date.now() + 10_000;
        for (;;) {
          drainPorts();
          const w = readStats(gw.native).workers[0]!;
          if (w.rx_packets! - start.workers[0]!.rx_packets! >= injected) break;
          assert.ok(Date.now() < deadline, `round ${round}: the worker took ${w.rx_packets! - start.workers[0]!.rx_packets!} of ${injected} frames within 10 s`);
          await new Promise((r) => setTimeout(r, 1));
        }
        const active = gw.counters().sessions_active!;
        maxActive = Math.max(maxActive, active);
        assert.ok(active <= SESSIONS_MAX, `round ${round}: ${active} sessions active > sessions.max ${SESSIONS_MAX}`);
      }

      // Quiet: the control thread has answered what it will; counters settle.
      let end = readStats(gw.native);
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 20));
        drainPorts();
        const now = readStats(gw.native);
        const settled = JSON.stringify(now) === JSON.stringify(end);
        end = now;
        if (settled && i > 5) break;
      }
      const w = diff(end.workers[0]!, start.workers[0]!);
      const ctl = diff(end.control, start.control);

      // The live session: exactly its packets, in order, each as the oracle builds it.
      const live = (f: Buffer, src: string, sport: number, dst: string, dport: number) => {
        try {
          const p = parsePacket(f);
          return !!p.tcp && p.ipv4!.src === src && p.tcp.sport === sport && p.ipv4!.dst === dst && p.tcp.dport === dport;
        } catch {
          return false;
        }
      };
      const gotToRs = drained.lan.filter((f) => live(f, LIP, 2000, RS1.ip, 8080));
      const gotToC = drained.wan.filter((f) => live(f, VIP, 80, CLIENT.ip, 40000));
      assert.equal(gotToRs.length, wantToRs.length, 'every client packet of the live session reached the server side');
      assert.equal(gotToC.length, wantToC.length, 'every server packet of the live session reached the client side');
      const problems: string[] = [];
      gotToRs.forEach((f, i) => problems.push(...compareFrames(f, wantToRs[i]!).map((p) => `client packet ${i}: ${p}`)));
      gotToC.forEach((f, i) => problems.push(...compareFrames(f, wantToC[i]!).map((p) => `server packet ${i}: ${p}`)));
      assert.deepEqual(problems.slice(0, 20), [], 'live-session packets translated exactly');

      // Accounting.
      const rounds = wantToRs.length;
      assert.equal(injected, TOTAL_GARBAGE + 2 * rounds);
      assert.equal(w.rx_packets, injected, 'the worker received every injected frame');
      assert.equal(outcomes(w), w.rx_packets, `every received frame has exactly one outcome: ${JSON.stringify(Object.fromEntries(Object.entries(w).filter(([, v]) => v)))}`);
      const out = drained.wan.length + drained.lan.length;
      assert.equal(w.tx_dropped, 0, 'no frame refused by a port');
      assert.equal(out, w.tx_packets, 'frames drained = tx_packets');
      assert.equal(
        w.tx_packets,
        w.fwd_to_server! + w.fwd_to_client! + w.icmp_errors_translated! + w.icmp_time_exceeded! + ctl.arp_replies! + ctl.arp_requests! + ctl.arp_gratuitous! + ctl.icmp_echo_replies!,
        'every frame sent is a translation, a time exceeded, or an answer of the control thread',
      );
      const ctlOut = ctl.arp_replies! + ctl.icmp_echo_replies! + ctl.drop_malformed! + ctl.drop_unsupported! + ctl.drop_control_full! + ctl.to_kernel!;
      assert.ok(ctlOut <= w.to_control!, `control thread outcomes ${ctlOut} <= frames handed to it ${w.to_control}`);
      const probes = [...drained.wan.filter((f) => isGatewayArpProbe(f, wan)), ...drained.lan.filter((f) => isGatewayArpProbe(f, lan))].length;
      // Requests for next hops and gratuitous ARPs for our own addresses (both broadcast from the port).
      assert.equal(probes, ctl.arp_requests! + ctl.arp_gratuitous!, 'ARP requests counted = ARP requests sent');

      // The garbage reached every kind of drop the header checks have, and filled the table.
      for (const k of ['drop_not_ipv4', 'drop_other_host', 'drop_malformed', 'drop_bad_checksum', 'drop_fragment', 'drop_ttl', 'drop_no_service', 'drop_no_session', 'drop_unsupported', 'drop_bad_tcp_flags', 'drop_icmp_no_session']) {
        assert.ok(w[k]! > 0, `${k} never moved: the garbage does not reach that check (${JSON.stringify(w)})`);
      }
      assert.ok(w.drop_session_full! + w.drop_half_open_limit! + w.half_open_evicted! > 0, 'the garbage filled the session table or its half-open share');
      assert.ok(w.fwd_to_server! > rounds, 'some garbage was valid enough to be forwarded');
      assert.ok(maxActive <= SESSIONS_MAX);
      console.log(`# burst: ${injected} frames in, ${out} out; worker: ${JSON.stringify(Object.fromEntries(Object.entries(w).filter(([k, v]) => v && k !== 'busy_cycles')))}; control: ${JSON.stringify(Object.fromEntries(Object.entries(ctl).filter(([, v]) => v)))}; max sessions active ${maxActive}`);

      // Still forwarding: the live session, and a brand-new one once the garbage's sessions expired.
      await drainAll(gw);
      await runFixtures(gw, [
        tcpFx('after the burst: live session client -> server', 'wan', c(40000), 'lan', toRs(2000), seg({ flags: 'A', seq: cseq, ack: sseq, id: 0x7000 }), { fwd_to_server: 1 }),
        tcpFx('after the burst: live session server -> client', 'lan', fromRs(2000), 'wan', toC(40000), seg({ flags: 'PA', seq: sseq, ack: cseq, id: 0x7001, payload: Buffer.from('bye') }), { fwd_to_client: 1 }),
      ]);
      const idle = await waitUntil(gw, (x) => x.sessions_active === 1, 15_000);
      assert.equal(idle.sessions_active, 1, 'the garbage\'s sessions expire; the live one stays');
      await drainAll(gw);
      gw.inject('wan', [buildTcp({ ...c(40001), ...seg({ flags: 'S', seq: 7, ack: 0, id: 0x7002, tcpOptions: MSS_1460 }), ttl: 64 })]);
      const [fwd] = await collectFrames(gw, 'lan', 1);
      assert.ok(fwd, 'a new connection after the burst is forwarded');
      assert.deepEqual(compareFrames(fwd, buildTcp({ ...toRs(parsePacket(fwd).tcp?.sport ?? 0), ...seg({ flags: 'S', seq: 7, ack: 0, id: 0x7002, tcpOptions: MSS_1460 }), ttl: 63 })), []);
    } finally {
      gw.stop();
    }
  });
});
