// FullNAT packet fixtures on the real data plane (ring ports, one worker):
// two-arm (clients on wan, real servers and LIPs on lan) and one-arm.
//
// Each table is run in order; later inputs rely on the sessions earlier ones
// created, and the expected LIP:lport and real server of every new flow follow
// from the documented picks (rr/wrr in config order, LIPs round-robin, local
// ports FIFO from the low end, freed ports to the back of the FIFO).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildIcmpEcho, buildIpv4Raw, buildTcp, buildUdp, checksum16, ipToBuffer, parsePacket } from '../lib/packet';
import { RingGateway } from './harness';
import {
  arpAnswer,
  arpReplyFrom,
  dgram,
  drop,
  seg,
  tcpFx,
  udpFx,
  type Ends,
  arpRequestFrom,
  bytes,
  drainAll,
  IP_NOPS,
  l4Of,
  MSS_1460,
  resolveNeighbours,
  ringPortMac,
  runFixtures,
  tcpBadIpChecksum,
  withEthertype,
  type Fixture,
  type Host,
} from './fixtures';
import { VIP, WAN_IP, LAN_IP, LIP as LIP10, CLIENT, RS1, WAN_MAC, LAN_MAC } from './addresses';

// ---------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------

const VIP2 = '198.18.0.101';
const LIP11 = '198.19.0.11';
const LIP12 = '198.19.0.12';
const CLIENT2: Host = { ip: '198.18.0.7', mac: '02:00:00:00:01:07' };
const RS2: Host = { ip: '198.19.0.3', mac: '02:00:00:00:02:03' };
const LAN_CLIENT: Host = { ip: '198.19.0.50', mac: '02:00:00:00:03:50' };
/** The MAC RS2 moves to in the ARP-learning fixture. */
const RS2_NEW_MAC = '02:00:00:00:02:33';

// Long timeouts: nothing may expire while the tables run (expiry is limits.test.ts).
const TWO_ARM = `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 4095, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:wan", addresses: [${WAN_IP}/24] }
  - { name: lan, device: "ring:lan", addresses: [${LAN_IP}/24] }
local_addresses:
  pool: { port: lan, addresses: [${LIP10}, ${LIP11}], ports: [2000, 2003] }
  pool2: { port: lan, addresses: [${LIP12}], ports: [3000, 3009] }
sessions:
  max: 64
  # Above these tiny pools' ports on purpose: the tables leave handshakes open
  # (six SYNs to VIP2), and the default (half the smallest pool: 4) would end
  # the oldest ones. Port exhaustion is sec-ports.test.ts's and limits.test.ts's.
  max_half_open: 16
  timeouts: { tcp_syn: 300, tcp_established: 300, tcp_fin: 300, tcp_time_wait: 300, tcp_close: 300, udp: 300 }
# TTL expiry is a plain drop here; its ICMP time exceeded is hardening.test.ts's.
icmp: { rate_per_s: 0 }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }, { address: ${RS2.ip}, port: 8080 }] }
  - { name: dns, vip: ${VIP}, port: 53, protocol: udp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 5353 }] }
  - name: weighted
    vip: ${VIP2}
    port: 80
    protocol: tcp
    scheduler: wrr
    local_addresses: pool2
    real_servers: [{ address: ${RS1.ip}, port: 8080, weight: 3 }, { address: ${RS2.ip}, port: 8081, weight: 1 }]
  - { name: drained, vip: ${VIP}, port: 8443, protocol: tcp, local_addresses: pool2, real_servers: [{ address: ${RS2.ip}, port: 8443, weight: 0 }] }
  - { name: unresolved, vip: ${VIP}, port: 8081, protocol: tcp, local_addresses: pool2, real_servers: [{ address: 198.19.0.9, port: 80 }] }
`;

// ---------------------------------------------------------------------------
// Frame helpers: endpoints and fixtures for a forwarded TCP/UDP packet
// ---------------------------------------------------------------------------

/**
 * A payload (prefix + 2 bytes) for which the UDP checksum of the datagram
 * `e` computes to 0, so it must be sent as 0xffff (RFC 768).
 */
function zeroSumPayload(e: Pick<Ends, 'src' | 'dst' | 'sport' | 'dport'>, prefix: Buffer): Buffer {
  if (prefix.length % 2) throw new Error('prefix must have even length');
  const payload = Buffer.concat([prefix, Buffer.alloc(2)]);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(e.sport, 0);
  udp.writeUInt16BE(e.dport, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const pseudo = Buffer.concat([ipToBuffer(e.src), ipToBuffer(e.dst), Buffer.from([0, 17]), Buffer.from([(8 + payload.length) >> 8, (8 + payload.length) & 255])]);
  // With the two bytes at 0 the sum is s; filling in ~s (= checksum16) makes it 0xffff.
  payload.writeUInt16BE(checksum16(Buffer.concat([pseudo, udp, payload])), prefix.length);
  return payload;
}

/** Flips the low bit of the ICMP checksum of an echo frame (no IPv4 options). */
function badIcmpChecksum(frame: Buffer): Buffer {
  const f = Buffer.from(frame);
  f[14 + 20 + 3]! ^= 0x01;
  return f;
}

/** The same frame with one byte replaced (checksums left as they were). */
function patchByte(frame: Buffer, offset: number, value: number): Buffer {
  const f = Buffer.from(frame);
  f[offset] = value;
  return f;
}

/** Rewrites a 16-bit field of the IPv4 header and fixes the header checksum. */
function patchIpv4(frame: Buffer, offset: number, value: number): Buffer {
  const f = Buffer.from(frame);
  f.writeUInt16BE(value, 14 + offset);
  f.writeUInt16BE(0, 14 + 10);
  f.writeUInt16BE(checksum16(f.subarray(14, 34)), 14 + 10);
  return f;
}

// ---------------------------------------------------------------------------
// Two-arm tables
// ---------------------------------------------------------------------------

interface Macs {
  wan: string;
  lan: string;
}

function twoArm(m: Macs) {
  /** client -> VIP, arriving on wan. */
  const c = (sport: number, vip = VIP, dport = 80, h: Host = CLIENT): Ends => ({ ethSrc: h.mac, ethDst: m.wan, src: h.ip, dst: vip, sport, dport });
  /** VIP -> client, leaving wan. */
  const toC = (sport: number, vip = VIP, vport = 80, h: Host = CLIENT): Ends => ({ ethSrc: m.wan, ethDst: h.mac, src: vip, dst: h.ip, sport: vport, dport: sport });
  /** LIP -> real server, leaving lan. */
  const toRs = (lip: string, lport: number, rs: Host, rport: number, rsMac = rs.mac): Ends => ({ ethSrc: m.lan, ethDst: rsMac, src: lip, dst: rs.ip, sport: lport, dport: rport });
  /** real server -> LIP, arriving on lan. */
  const fromRs = (rs: Host, rport: number, lip: string, lport: number): Ends => ({ ethSrc: rs.mac, ethDst: m.lan, src: rs.ip, dst: lip, sport: rport, dport: lport });

  /** A client on the lan side talking to VIP2. */
  const fromLanClient = (sport: number): Ends => ({ ethSrc: LAN_CLIENT.mac, ethDst: m.lan, src: LAN_CLIENT.ip, dst: VIP2, sport, dport: 80 });
  const toLanClient = (sport: number): Ends => ({ ethSrc: m.lan, ethDst: LAN_CLIENT.mac, src: VIP2, dst: LAN_CLIENT.ip, sport: 80, dport: sport });

  const NEW = { fwd_to_server: 1, sessions_created: 1, sessions_active: 1 };
  const TO_S = { fwd_to_server: 1, sessions_active: 0 };
  const TO_C = { fwd_to_client: 1, sessions_active: 0 };
  const ARP = { to_control: 1, arp_replies: 1 };
  const PING = { to_control: 1, icmp_echo_replies: 1 };

  const ping = (h: Host, dst: string, ethDst: string, o: { id: number; seq: number; ipId: number; payload: Buffer; ttl?: number; tos?: number }) =>
    buildIcmpEcho({ ethSrc: h.mac, ethDst, src: h.ip, dst, type: 8, ttl: o.ttl ?? 64, tos: o.tos ?? 0, dontFragment: true, id: o.id, seq: o.seq, ipId: o.ipId, payload: o.payload });
  const pong = (h: Host, src: string, ethSrc: string, o: { id: number; seq: number; ipId: number; payload: Buffer; tos?: number }) =>
    buildIcmpEcho({ ethSrc, ethDst: h.mac, src, dst: h.ip, type: 0, ttl: 64, tos: o.tos ?? 0, dontFragment: true, id: o.id, seq: o.seq, ipId: o.ipId, payload: o.payload });

  const own: Fixture[] = [
    { description: 'ARP request for the VIP on wan is answered from the wan MAC', inPort: 'wan', input: arpRequestFrom(CLIENT, VIP), expected: { outPort: 'wan', frame: arpAnswer(CLIENT, VIP, m.wan) }, counters: ARP },
    { description: 'ARP request for the second VIP on wan is answered', inPort: 'wan', input: arpRequestFrom(CLIENT, VIP2), expected: { outPort: 'wan', frame: arpAnswer(CLIENT, VIP2, m.wan) }, counters: ARP },
    { description: 'ARP request for the wan port address is answered', inPort: 'wan', input: arpRequestFrom(CLIENT, WAN_IP), expected: { outPort: 'wan', frame: arpAnswer(CLIENT, WAN_IP, m.wan) }, counters: ARP },
    { description: 'ARP request for LIP .10 on lan is answered from the lan MAC', inPort: 'lan', input: arpRequestFrom(RS1, LIP10), expected: { outPort: 'lan', frame: arpAnswer(RS1, LIP10, m.lan) }, counters: ARP },
    { description: 'ARP request for LIP .11 on lan is answered', inPort: 'lan', input: arpRequestFrom(RS2, LIP11), expected: { outPort: 'lan', frame: arpAnswer(RS2, LIP11, m.lan) }, counters: ARP },
    { description: 'ARP request for LIP .12 (second pool) on lan is answered', inPort: 'lan', input: arpRequestFrom(RS1, LIP12), expected: { outPort: 'lan', frame: arpAnswer(RS1, LIP12, m.lan) }, counters: ARP },
    { description: 'ARP request for the lan port address is answered', inPort: 'lan', input: arpRequestFrom(RS1, LAN_IP), expected: { outPort: 'lan', frame: arpAnswer(RS1, LAN_IP, m.lan) }, counters: ARP },
    drop('ARP request for an unknown address on wan is not answered', 'wan', arpRequestFrom(CLIENT, '198.18.0.99'), 'drop_unsupported', { to_control: 1 }),
    drop('ARP request for the VIP on lan (not its subnet) is not answered', 'lan', arpRequestFrom(RS1, VIP), 'drop_unsupported', { to_control: 1 }),
    drop('ARP request for a LIP on wan (not its pool port) is not answered', 'wan', arpRequestFrom(CLIENT, LIP10), 'drop_unsupported', { to_control: 1 }),
    {
      description: 'ping to the VIP is answered on wan (odd payload, TTL 64, tos and id kept)',
      inPort: 'wan',
      input: ping(CLIENT, VIP, m.wan, { id: 0x1234, seq: 1, ipId: 0x4242, payload: Buffer.from('ping!'), ttl: 50, tos: 0x10 }),
      expected: { outPort: 'wan', frame: pong(CLIENT, VIP, m.wan, { id: 0x1234, seq: 1, ipId: 0x4242, payload: Buffer.from('ping!'), tos: 0x10 }) },
      counters: PING,
    },
    {
      description: 'ping to LIP .10 from a real server is answered on lan',
      inPort: 'lan',
      input: ping(RS1, LIP10, m.lan, { id: 7, seq: 9, ipId: 0x0707, payload: bytes(56, 3) }),
      expected: { outPort: 'lan', frame: pong(RS1, LIP10, m.lan, { id: 7, seq: 9, ipId: 0x0707, payload: bytes(56, 3) }) },
      counters: PING,
    },
    {
      description: 'ping to the wan port address is answered',
      inPort: 'wan',
      input: ping(CLIENT, WAN_IP, m.wan, { id: 1, seq: 2, ipId: 3, payload: bytes(1001, 4) }),
      expected: { outPort: 'wan', frame: pong(CLIENT, WAN_IP, m.wan, { id: 1, seq: 2, ipId: 3, payload: bytes(1001, 4) }) },
      counters: PING,
    },
    drop('ping to an address that is not ours is dropped', 'wan', ping(CLIENT, '198.18.0.200', m.wan, { id: 1, seq: 1, ipId: 1, payload: Buffer.from('x') }), 'drop_unsupported'),
    drop('ping to the VIP with a bad ICMP checksum is not answered', 'wan', badIcmpChecksum(ping(CLIENT, VIP, m.wan, { id: 1, seq: 1, ipId: 1, payload: Buffer.from('bad') })), 'drop_unsupported', { to_control: 1 }),
    drop(
      'ICMP echo reply to the VIP is not answered',
      'wan',
      buildIcmpEcho({ ethSrc: CLIENT.mac, ethDst: m.wan, src: CLIENT.ip, dst: VIP, type: 0, id: 1, seq: 1, payload: Buffer.from('pong') }),
      'drop_unsupported',
      { to_control: 1 },
    ),
  ];

  const HELLO = Buffer.from('hello, world!'); // 13 bytes: odd
  const BIG = bytes(1459, 7); // odd
  // conn1: CLIENT:40000 -> VIP:80 -> rr picks RS1, LIP .10 port 2000. Client closes first.
  const conn1: Fixture[] = [
    tcpFx('conn1 SYN to VIP:80 -> SYN from LIP .10:2000 to RS1:8080', 'wan', c(40000), 'lan', toRs(LIP10, 2000, RS1, 8080), seg({ flags: 'S', seq: 1000, ack: 0, id: 0x0101, tcpOptions: MSS_1460 }), NEW),
    tcpFx('conn1 SYN-ACK from RS1 -> back to the client from VIP:80', 'lan', fromRs(RS1, 8080, LIP10, 2000), 'wan', toC(40000), seg({ flags: 'SA', seq: 5000, ack: 1001, window: 65160, id: 0x0202, tcpOptions: MSS_1460 }), TO_C),
    tcpFx('conn1 client ACK', 'wan', c(40000), 'lan', toRs(LIP10, 2000, RS1, 8080), seg({ flags: 'A', seq: 1001, ack: 5001, id: 0x0103 }), TO_S),
    tcpFx('conn1 client data (13 bytes, tos 0x10)', 'wan', c(40000), 'lan', toRs(LIP10, 2000, RS1, 8080), seg({ flags: 'PA', seq: 1001, ack: 5001, id: 0x0104, tos: 0x10, payload: HELLO }), TO_S),
    tcpFx('conn1 server data (1459 bytes, no DF)', 'lan', fromRs(RS1, 8080, LIP10, 2000), 'wan', toC(40000), seg({ flags: 'PA', seq: 5001, ack: 1014, id: 0x0203, dontFragment: false, payload: BIG }), TO_C),
    tcpFx('conn1 client ACK of the data', 'wan', c(40000), 'lan', toRs(LIP10, 2000, RS1, 8080), seg({ flags: 'A', seq: 1014, ack: 6460, id: 0x0105 }), TO_S),
    tcpFx('conn1 client FIN', 'wan', c(40000), 'lan', toRs(LIP10, 2000, RS1, 8080), seg({ flags: 'FA', seq: 1014, ack: 6460, id: 0x0106 }), TO_S),
    tcpFx('conn1 server ACK of the FIN', 'lan', fromRs(RS1, 8080, LIP10, 2000), 'wan', toC(40000), seg({ flags: 'A', seq: 6460, ack: 1015, id: 0x0204 }), TO_C),
    tcpFx('conn1 server FIN', 'lan', fromRs(RS1, 8080, LIP10, 2000), 'wan', toC(40000), seg({ flags: 'FA', seq: 6460, ack: 1015, id: 0x0205 }), TO_C),
    tcpFx('conn1 client final ACK', 'wan', c(40000), 'lan', toRs(LIP10, 2000, RS1, 8080), seg({ flags: 'A', seq: 1015, ack: 6461, id: 0x0107 }), TO_S),
  ];

  // conn2: CLIENT:40001 -> rr now picks RS2, LIP alternates to .11 port 2000. Server closes first.
  const conn2: Fixture[] = [
    tcpFx('conn2 SYN -> rr picks RS2, LIP .11:2000', 'wan', c(40001), 'lan', toRs(LIP11, 2000, RS2, 8080), seg({ flags: 'S', seq: 2000, ack: 0, id: 0x0111, tcpOptions: MSS_1460 }), NEW),
    tcpFx('conn2 retransmitted SYN -> same RS and LIP:lport, no new session', 'wan', c(40001), 'lan', toRs(LIP11, 2000, RS2, 8080), seg({ flags: 'S', seq: 2000, ack: 0, id: 0x0112, tcpOptions: MSS_1460 }), TO_S),
    tcpFx('conn2 SYN-ACK from RS2', 'lan', fromRs(RS2, 8080, LIP11, 2000), 'wan', toC(40001), seg({ flags: 'SA', seq: 7000, ack: 2001, id: 0x0211 }), TO_C),
    tcpFx('conn2 client ACK', 'wan', c(40001), 'lan', toRs(LIP11, 2000, RS2, 8080), seg({ flags: 'A', seq: 2001, ack: 7001, id: 0x0113 }), TO_S),
    tcpFx('conn2 server data (7 bytes) with FIN', 'lan', fromRs(RS2, 8080, LIP11, 2000), 'wan', toC(40001), seg({ flags: 'FPA', seq: 7001, ack: 2001, id: 0x0212, payload: Buffer.from('bye now') }), TO_C),
    tcpFx('conn2 client ACK of the server FIN', 'wan', c(40001), 'lan', toRs(LIP11, 2000, RS2, 8080), seg({ flags: 'A', seq: 2001, ack: 7009, id: 0x0114 }), TO_S),
    tcpFx('conn2 client FIN', 'wan', c(40001), 'lan', toRs(LIP11, 2000, RS2, 8080), seg({ flags: 'FA', seq: 2001, ack: 7009, id: 0x0115 }), TO_S),
    tcpFx('conn2 server final ACK', 'lan', fromRs(RS2, 8080, LIP11, 2000), 'wan', toC(40001), seg({ flags: 'A', seq: 7009, ack: 2002, id: 0x0213 }), TO_C),
  ];

  // UDP to dns (VIP:53 -> RS1:5353): flow A from CLIENT:5000 gets .10:2001, flow B from CLIENT2:5001 gets .11:2001.
  const dA = toRs(LIP10, 2001, RS1, 5353);
  const dAback = toC(5000, VIP, 53);
  const zeroOut = zeroSumPayload(dA, Buffer.from('ck'));
  const zeroBack = zeroSumPayload(dAback, Buffer.from('ck'));
  const udp: Fixture[] = [
    udpFx('UDP flow A to VIP:53 -> LIP .10:2001 to RS1:5353', 'wan', c(5000, VIP, 53), 'lan', dA, dgram({ id: 0x0301, payload: Buffer.from('query') }), NEW),
    udpFx('UDP flow A reply -> client from VIP:53 (77 bytes)', 'lan', fromRs(RS1, 5353, LIP10, 2001), 'wan', dAback, dgram({ id: 0x0401, payload: bytes(77, 5), dontFragment: true }), TO_C),
    udpFx('UDP flow A datagram with checksum 0 keeps checksum 0', 'wan', c(5000, VIP, 53), 'lan', dA, dgram({ id: 0x0302, payload: Buffer.from('zero'), zeroChecksum: true }), TO_S),
    udpFx('UDP flow A reply with checksum 0 keeps checksum 0', 'lan', fromRs(RS1, 5353, LIP10, 2001), 'wan', dAback, dgram({ id: 0x0402, payload: Buffer.from('nocsum!'), zeroChecksum: true }), TO_C),
    udpFx('UDP flow A datagram whose new checksum computes to 0 is sent as 0xffff', 'wan', c(5000, VIP, 53), 'lan', dA, dgram({ id: 0x0303, payload: zeroOut }), TO_S),
    udpFx('UDP flow A reply whose new checksum computes to 0 is sent as 0xffff', 'lan', fromRs(RS1, 5353, LIP10, 2001), 'wan', dAback, dgram({ id: 0x0403, payload: zeroBack }), TO_C),
    udpFx('UDP flow B from a second client -> LIP .11:2001', 'wan', c(5001, VIP, 53, CLIENT2), 'lan', toRs(LIP11, 2001, RS1, 5353), dgram({ id: 0x0311, payload: Buffer.from('q2') }), NEW),
    udpFx('UDP flow B reply -> the second client\'s MAC', 'lan', fromRs(RS1, 5353, LIP11, 2001), 'wan', toC(5001, VIP, 53, CLIENT2), dgram({ id: 0x0411, payload: Buffer.from('a2') }), TO_C),
  ];

  // conn3: CLIENT:40002 -> rr back to RS1, LIP .10 port 2002. IP options, TTL boundaries.
  const conn3: Fixture[] = [
    tcpFx('conn3 SYN with IPv4 options (IHL 6) and tos 0x28: options kept', 'wan', c(40002), 'lan', toRs(LIP10, 2002, RS1, 8080), seg({ flags: 'S', seq: 3000, ack: 0, id: 0x0121, tos: 0x28, ipOptions: IP_NOPS, tcpOptions: MSS_1460 }), NEW),
    tcpFx('conn3 SYN-ACK with TTL 2 leaves with TTL 1', 'lan', fromRs(RS1, 8080, LIP10, 2002), 'wan', toC(40002), seg({ flags: 'SA', seq: 8000, ack: 3001, id: 0x0221 }), TO_C, 2),
    drop('conn3 client ACK with TTL 1 is dropped', 'wan', buildTcp({ ...c(40002), ...seg({ flags: 'A', seq: 3001, ack: 8001, id: 0x0122 }), ttl: 1 }), 'drop_ttl'),
    drop('conn3 server data with TTL 1 is dropped', 'lan', buildTcp({ ...fromRs(RS1, 8080, LIP10, 2002), ...seg({ flags: 'PA', seq: 8001, ack: 3001, id: 0x0222, payload: HELLO }), ttl: 1 }), 'drop_ttl'),
    drop('a new SYN with TTL 1 is dropped and makes no session', 'wan', buildTcp({ ...c(40003), ...seg({ flags: 'S', seq: 1, ack: 0, id: 0x0123 }), ttl: 1 }), 'drop_ttl'),
    drop('a new SYN with TTL 0 is dropped', 'wan', buildTcp({ ...c(40003), ...seg({ flags: 'S', seq: 1, ack: 0, id: 0x0124 }), ttl: 0 }), 'drop_ttl'),
  ];

  // conn1's tuple again after its TIME_WAIT: the old session is replaced.
  // rr: RS1, RS2, RS1 so far -> RS2. LIPs: .10 .11 .10 .11 .10 -> .11, whose FIFO is at 2002.
  const reuse: Fixture[] = [
    tcpFx('SYN reusing conn1\'s tuple (TIME_WAIT) -> new session to RS2 from LIP .11:2002', 'wan', c(40000), 'lan', toRs(LIP11, 2002, RS2, 8080), seg({ flags: 'S', seq: 9000, ack: 0, id: 0x0131, tcpOptions: MSS_1460 }), {
      fwd_to_server: 1,
      sessions_created: 1,
      sessions_expired: 1,
      sessions_active: 0,
    }),
    tcpFx('SYN-ACK of the new session from RS2', 'lan', fromRs(RS2, 8080, LIP11, 2002), 'wan', toC(40000), seg({ flags: 'SA', seq: 9500, ack: 9001, id: 0x0231 }), TO_C),
    drop('a late packet on the replaced session (RS1 -> .10:2000) finds nothing', 'lan', buildTcp({ ...fromRs(RS1, 8080, LIP10, 2000), ...seg({ flags: 'A', seq: 6461, ack: 1015, id: 0x0232 }), ttl: 64 }), 'drop_no_service'),
  ];

  // wrr 3:1 (smooth): RS1, RS1, RS2, RS1; pool2 has one LIP, ports FIFO from 3000.
  const wrr: Fixture[] = [
    tcpFx('wrr SYN 1 -> RS1:8080 from LIP .12:3000', 'wan', c(41000, VIP2), 'lan', toRs(LIP12, 3000, RS1, 8080), seg({ flags: 'S', seq: 100, ack: 0, id: 0x0141 }), NEW),
    tcpFx('wrr SYN 2 -> RS1:8080 from .12:3001', 'wan', c(41001, VIP2), 'lan', toRs(LIP12, 3001, RS1, 8080), seg({ flags: 'S', seq: 200, ack: 0, id: 0x0142 }), NEW),
    tcpFx('wrr SYN 3 -> RS2:8081 from .12:3002', 'wan', c(41002, VIP2), 'lan', toRs(LIP12, 3002, RS2, 8081), seg({ flags: 'S', seq: 300, ack: 0, id: 0x0143 }), NEW),
    tcpFx('wrr SYN 4 -> RS1:8080 from .12:3003', 'wan', c(41003, VIP2), 'lan', toRs(LIP12, 3003, RS1, 8080), seg({ flags: 'S', seq: 400, ack: 0, id: 0x0144 }), NEW),
    tcpFx('wrr SYN-ACK from RS2:8081 -> client from VIP2:80', 'lan', fromRs(RS2, 8081, LIP12, 3002), 'wan', toC(41002, VIP2), seg({ flags: 'SA', seq: 600, ack: 301, id: 0x0241 }), TO_C),
    // The cycle starts over. ECE and CWR (an ECN-setup SYN) still make a SYN.
    tcpFx('wrr SYN 5 with ECE+CWR -> RS1:8080 from .12:3004', 'wan', c(41004, VIP2), 'lan', toRs(LIP12, 3004, RS1, 8080), seg({ flags: 'SEC', seq: 500, ack: 0, id: 0x0145 }), NEW),
    // A client behind lan: its replies leave lan (the port its SYN came in on), to its MAC.
    tcpFx('SYN to VIP2 from a client on lan -> RS1:8080 from .12:3005', 'lan', fromLanClient(41005), 'lan', toRs(LIP12, 3005, RS1, 8080), seg({ flags: 'S', seq: 700, ack: 0, id: 0x0146 }), NEW),
    tcpFx('its SYN-ACK goes back out lan to that client from VIP2:80', 'lan', fromRs(RS1, 8080, LIP12, 3005), 'lan', toLanClient(41005), seg({ flags: 'SA', seq: 800, ack: 701, id: 0x0246 }), TO_C),
  ];

  const synTo = (dst: string, dport: number, sport = 40099) => buildTcp({ ...c(sport, dst, dport), ...seg({ flags: 'S', seq: 1, ack: 0, id: 0x0999 }), ttl: 64 });
  const synSeg = { ...c(40097), ...seg({ flags: 'S', seq: 1, ack: 0, id: 0x0998 }), ttl: 64 };
  const longUdpLen = (() => {
    const f = buildUdp({ ...c(5099, VIP, 53), id: 1, payload: Buffer.from('abcd') });
    f.writeUInt16BE(200, 14 + 20 + 4); // UDP length beyond the IPv4 payload
    return f;
  })();
  const drops: Fixture[] = [
    drop('ACK to VIP:80 without a session', 'wan', buildTcp({ ...c(40099), ...seg({ flags: 'A', seq: 1, ack: 1, id: 0x0901 }), ttl: 64 }), 'drop_no_session'),
    drop('SYN-ACK to VIP:80 without a session', 'wan', buildTcp({ ...c(40098), ...seg({ flags: 'SA', seq: 1, ack: 1, id: 0x0902 }), ttl: 64 }), 'drop_no_session'),
    drop('RST to VIP:80 without a session', 'wan', buildTcp({ ...c(40098), ...seg({ flags: 'R', seq: 1, ack: 0, id: 0x0903 }), ttl: 64 }), 'drop_no_session'),
    drop('SYN to an address that is not a VIP', 'wan', synTo('198.18.0.200', 80), 'drop_no_service'),
    drop('SYN to the VIP on a port without a service', 'wan', synTo(VIP, 81), 'drop_no_service'),
    drop('UDP to the VIP on a port without a service', 'wan', buildUdp({ ...c(5099, VIP, 54), id: 1, payload: Buffer.from('x') }), 'drop_no_service'),
    drop('TCP from RS1 to a LIP port no session uses', 'lan', buildTcp({ ...fromRs(RS1, 8080, LIP10, 2003), ...seg({ flags: 'A', seq: 1, ack: 1, id: 0x0904 }), ttl: 64 }), 'drop_no_service'),
    drop('SYN to the VIP with a bad IPv4 header checksum', 'wan', tcpBadIpChecksum(synSeg), 'drop_bad_checksum'),
    drop('first fragment (MF) of a SYN to the VIP', 'wan', buildIpv4Raw({ ...synSeg, protocol: 6, payload: l4Of(buildTcp(synSeg)), moreFragments: true }), 'drop_fragment'),
    drop('non-first fragment (offset 185) to the VIP', 'wan', buildIpv4Raw({ ...synSeg, protocol: 6, payload: bytes(64, 9), fragOffset: 185 }), 'drop_fragment'),
    drop('an IPv6 EtherType frame', 'wan', withEthertype(buildTcp(synSeg), 0x86dd), 'drop_not_ipv4'),
    drop('a SYN to the VIP sent to another station\'s MAC', 'wan', buildTcp({ ...synSeg, ethDst: '02:00:00:00:99:99' }), 'drop_other_host'),
    drop('a TCP header cut short (10 bytes)', 'wan', buildIpv4Raw({ ...synSeg, protocol: 6, payload: l4Of(buildTcp(synSeg)).subarray(0, 10) }), 'drop_malformed'),
    drop('a UDP length beyond the IPv4 payload', 'wan', longUdpLen, 'drop_malformed'),
    drop('an IPv4 total length beyond the frame', 'wan', patchIpv4(buildTcp(synSeg), 2, 400), 'drop_malformed'),
    drop('a frame shorter than an Ethernet header', 'wan', Buffer.from(buildTcp(synSeg).subarray(0, 10)), 'drop_malformed'),
    drop('an IPv4 EtherType with 10 bytes of header', 'wan', Buffer.from(buildTcp(synSeg).subarray(0, 24)), 'drop_malformed'),
    drop('an IPv4 header with IHL 4', 'wan', patchByte(buildTcp(synSeg), 14, 0x44), 'drop_malformed'),
    drop('version 6 inside an IPv4 EtherType', 'wan', patchByte(buildTcp(synSeg), 14, 0x65), 'drop_malformed'),
    drop('a TCP data offset of 4 words', 'wan', patchByte(buildTcp(synSeg), 14 + 20 + 12, 0x40), 'drop_malformed'),
    drop('a truncated ARP request (30 bytes)', 'wan', Buffer.from(arpRequestFrom(CLIENT, VIP).subarray(0, 30)), 'drop_malformed', { to_control: 1 }),
    drop('GRE to the VIP', 'wan', buildIpv4Raw({ ...synSeg, protocol: 47, payload: bytes(24, 2) }), 'drop_unsupported'),
    drop('SYN to a service whose only real server has weight 0', 'wan', synTo(VIP, 8443), 'drop_no_real_server'),
    drop('SYN to a service whose real server never answered ARP', 'wan', synTo(VIP, 8081), 'drop_neigh_unresolved'),
  ];

  // RS2 announces a new MAC (an ARP request for its LIP): the gateway answers
  // but does not take the MAC from an unsolicited frame (review M8); it asks
  // who has RS2, and RS2's answer to that request changes the MAC. The reused
  // conn1 session (to RS2) follows at once. (Until issue 13 the request alone
  // changed the MAC: that is what a forger on the segment needed.)
  const learn: Fixture[] = [
    {
      description: 'ARP request from RS2 with a new MAC is answered, the MAC not taken (the gateway asks for RS2)',
      inPort: 'lan',
      input: arpRequestFrom({ ip: RS2.ip, mac: RS2_NEW_MAC }, LIP11),
      expected: { outPort: 'lan', frame: arpAnswer({ ip: RS2.ip, mac: RS2_NEW_MAC }, LIP11, m.lan) },
      counters: ARP,
    },
    drop('RS2 answers the gateway\'s request with its new MAC: learnt', 'lan', arpReplyFrom({ ip: RS2.ip, mac: RS2_NEW_MAC }, m.lan, LAN_IP), 'arp_mac_changed', { to_control: 1, arp_learned: 1 }),
    tcpFx('traffic to RS2 now goes to its new MAC', 'wan', c(40000), 'lan', toRs(LIP11, 2002, RS2, 8080, RS2_NEW_MAC), seg({ flags: 'A', seq: 9001, ack: 9501, id: 0x0132 }), TO_S),
  ];

  return { own, conn1, conn2, udp, conn3, reuse, wrr, drops, learn, zeroOut, zeroBack, dA, dAback };
}

// ---------------------------------------------------------------------------

// Plain data, built before any gateway runs: ring MACs are fixed.
const t = twoArm({ wan: WAN_MAC, lan: LAN_MAC });

describe('two-arm FullNAT (wan: clients, lan: LIPs and real servers)', () => {
  let gw: RingGateway;

  before(async () => {
    gw = RingGateway.start(TWO_ARM);
    const problems = await resolveNeighbours(gw, 'lan', LAN_IP, [RS1, RS2]);
    assert.deepEqual(problems, [], 'resolving the real servers');
    await drainAll(gw);
  });
  after(() => gw?.stop());

  it('ring ports have the documented MACs 02:66:6e:00:00:<port index>', () => {
    assert.equal(gw.mac('wan'), '02:66:6e:00:00:00');
    assert.equal(gw.mac('lan'), '02:66:6e:00:00:01');
  });

  it('the checksum-0xffff fixtures are what they claim', () => {
    // The expected outputs carry 0xffff (computed 0), the inputs an ordinary checksum.
    const out = parsePacket(buildUdp({ ...t.dA, id: 1, payload: t.zeroOut })).udp!;
    const back = parsePacket(buildUdp({ ...t.dAback, id: 1, payload: t.zeroBack })).udp!;
    assert.equal(out.checksum, 0xffff);
    assert.equal(back.checksum, 0xffff);
    const inp = parsePacket(buildUdp({ ethSrc: CLIENT.mac, ethDst: WAN_MAC, src: CLIENT.ip, dst: VIP, sport: 5000, dport: 53, id: 1, payload: t.zeroOut })).udp!;
    assert.ok(inp.checksum !== 0 && inp.checksum !== 0xffff, `input checksum 0x${inp.checksum.toString(16)}`);
  });

  it('answers ARP and ping for its own addresses only, on the right port', () => runFixtures(gw, t.own));
  it('TCP: SYN, SYN-ACK, data both ways, client FIN first, final ACK', () => runFixtures(gw, t.conn1));
  it('TCP: rr picks the second server and the LIP alternates; server FIN first', () => runFixtures(gw, t.conn2));
  it('UDP both ways, checksum 0 stays 0, computed 0 becomes 0xffff, a second client', () => runFixtures(gw, t.udp));
  it('IPv4 options kept; TTL 2 forwarded as 1; TTL 1 and 0 dropped', () => runFixtures(gw, t.conn3));
  it('a SYN reusing a TIME_WAIT tuple replaces the session; freed ports go to the back', () => runFixtures(gw, t.reuse));
  it('wrr 3:1 picks RS1, RS1, RS2, RS1 from the second pool, then starts over; a client on lan', () => runFixtures(gw, t.wrr));
  it('drops what it must, each under its own counter', () => runFixtures(gw, t.drops));
  it('learns a real server\'s new MAC from its answer to the gateway\'s request, not from its unsolicited ARP', () => runFixtures(gw, t.learn));

  it('the counters add up over the whole run', () => {
    const c = gw.counters();
    // conn1, conn2, UDP A and B, conn3, the reuse, six SYNs to VIP2.
    assert.equal(c.sessions_created, 12);
    assert.equal(c.sessions_expired, 1);
    assert.equal(c.sessions_active, 11);
    assert.equal(c.tx_dropped, 0);
  });
});

// ---------------------------------------------------------------------------
// One-arm: clients, VIP, LIP and the real server all on one port.
// ---------------------------------------------------------------------------

const ARM_IP = '198.18.0.254';
const ARM_LIP = '198.18.0.10';
const ARM_RS: Host = { ip: '198.18.0.2', mac: '02:00:00:00:02:02' };
const ONE_ARM = `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 4095, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: arm, device: "ring:arm", addresses: [${ARM_IP}/24] }
local_addresses: { pool: { port: arm, addresses: [${ARM_LIP}], ports: [2000, 2003] } }
sessions: { max: 16 }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${ARM_RS.ip}, port: 8080 }] }
  - { name: dns, vip: ${VIP}, port: 53, protocol: udp, local_addresses: pool, real_servers: [{ address: ${ARM_RS.ip}, port: 5353 }] }
`;

function oneArm(arm: string): Fixture[] {
  const c = (sport: number, dport = 80): Ends => ({ ethSrc: CLIENT.mac, ethDst: arm, src: CLIENT.ip, dst: VIP, sport, dport });
  const toC = (sport: number, vport = 80): Ends => ({ ethSrc: arm, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, sport: vport, dport: sport });
  const toRs = (lport: number, rport: number): Ends => ({ ethSrc: arm, ethDst: ARM_RS.mac, src: ARM_LIP, dst: ARM_RS.ip, sport: lport, dport: rport });
  const fromRs = (rport: number, lport: number): Ends => ({ ethSrc: ARM_RS.mac, ethDst: arm, src: ARM_RS.ip, dst: ARM_LIP, sport: rport, dport: lport });
  const NEW = { fwd_to_server: 1, sessions_created: 1, sessions_active: 1 };
  const ARP = { to_control: 1, arp_replies: 1 };
  return [
    { description: 'one-arm: ARP for the VIP is answered on the arm', inPort: 'arm', input: arpRequestFrom(CLIENT, VIP), expected: { outPort: 'arm', frame: arpAnswer(CLIENT, VIP, arm) }, counters: ARP },
    { description: 'one-arm: ARP for the LIP is answered on the arm', inPort: 'arm', input: arpRequestFrom(ARM_RS, ARM_LIP), expected: { outPort: 'arm', frame: arpAnswer(ARM_RS, ARM_LIP, arm) }, counters: ARP },
    tcpFx('one-arm: SYN to the VIP leaves the same port from the LIP to the RS', 'arm', c(40000), 'arm', toRs(2000, 8080), seg({ flags: 'S', seq: 1, ack: 0, id: 0x0501, tcpOptions: MSS_1460 }), NEW),
    tcpFx('one-arm: SYN-ACK leaves the same port to the client from the VIP', 'arm', fromRs(8080, 2000), 'arm', toC(40000), seg({ flags: 'SA', seq: 50, ack: 2, id: 0x0601, tcpOptions: MSS_1460 }), { fwd_to_client: 1 }),
    tcpFx('one-arm: client ACK with data', 'arm', c(40000), 'arm', toRs(2000, 8080), seg({ flags: 'PA', seq: 2, ack: 51, id: 0x0502, payload: Buffer.from('GET /\r\n') }), { fwd_to_server: 1 }),
    tcpFx('one-arm: server data', 'arm', fromRs(8080, 2000), 'arm', toC(40000), seg({ flags: 'PA', seq: 51, ack: 9, id: 0x0602, payload: bytes(333, 8) }), { fwd_to_client: 1 }),
    udpFx('one-arm: UDP to the VIP -> LIP:2001 to the RS', 'arm', c(6000, 53), 'arm', toRs(2001, 5353), dgram({ id: 0x0503, payload: Buffer.from('q') }), NEW),
    udpFx('one-arm: UDP reply', 'arm', fromRs(5353, 2001), 'arm', toC(6000, 53), dgram({ id: 0x0603, payload: Buffer.from('answer') }), { fwd_to_client: 1 }),
    {
      description: 'one-arm: ping to the VIP',
      inPort: 'arm',
      input: buildIcmpEcho({ ethSrc: CLIENT.mac, ethDst: arm, src: CLIENT.ip, dst: VIP, ttl: 64, id: 5, seq: 6, ipId: 7, payload: Buffer.from('abc') }),
      expected: { outPort: 'arm', frame: buildIcmpEcho({ ethSrc: arm, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, type: 0, ttl: 64, id: 5, seq: 6, ipId: 7, payload: Buffer.from('abc') }) },
      counters: { to_control: 1, icmp_echo_replies: 1 },
    },
    {
      description: 'one-arm: ping to the LIP',
      inPort: 'arm',
      input: buildIcmpEcho({ ethSrc: ARM_RS.mac, ethDst: arm, src: ARM_RS.ip, dst: ARM_LIP, ttl: 64, id: 8, seq: 9, ipId: 10, payload: Buffer.from('defg') }),
      expected: { outPort: 'arm', frame: buildIcmpEcho({ ethSrc: arm, ethDst: ARM_RS.mac, src: ARM_LIP, dst: ARM_RS.ip, type: 0, ttl: 64, id: 8, seq: 9, ipId: 10, payload: Buffer.from('defg') }) },
      counters: { to_control: 1, icmp_echo_replies: 1 },
    },
  ];
}

const ONE_ARM_TABLE = oneArm(ringPortMac(0));

describe('one-arm FullNAT (one port carries clients, VIP, LIP and the server)', () => {
  let gw: RingGateway;

  before(async () => {
    gw = RingGateway.start(ONE_ARM);
    const problems = await resolveNeighbours(gw, 'arm', ARM_IP, [ARM_RS]);
    assert.deepEqual(problems, [], 'resolving the real server');
    await drainAll(gw);
  });
  after(() => gw?.stop());

  it('translates both directions on the one port; answers ARP and ping there', () => runFixtures(gw, ONE_ARM_TABLE));
});
