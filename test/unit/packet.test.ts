import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildArp,
  buildIcmpEcho,
  buildIpv4Raw,
  buildTcp,
  buildUdp,
  checksum16,
  parsePacket,
} from '../lib/packet';

/*
 * Reference frames, generated once with scapy 2.5.0 (Debian python3-scapy):
 *
 *   /usr/bin/python3 -c 'from scapy.all import *; E=dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"); ...'
 *
 * each printed as bytes(pkt).ljust(60, b"\0").hex() (scapy does not pad to
 * the Ethernet minimum; our builders do). The scapy expressions:
 *
 * TCP_SYN:  Ether(**E)/IP(src="10.0.0.1", dst="10.0.0.2", id=1, ttl=64)
 *             /TCP(sport=40000, dport=80, flags="S", seq=1000, ack=0, window=65535, options=[("MSS",1460)])
 * TCP_PSH:  Ether(**E)/IP(src="192.168.1.10", dst="172.16.5.20", id=0xbeef, ttl=63)
 *             /TCP(sport=12345, dport=8080, flags="PA", seq=0xdeadbeef, ack=0x01020304, window=29200)
 *             /Raw(b"GET / HTTP/1.0\r\n\r\n")
 * UDP:      Ether(**E)/IP(src="10.1.2.3", dst="10.4.5.6", id=7, ttl=64)/UDP(sport=5353, dport=53)/Raw(b"hello")
 * ICMP:     Ether(**E)/IP(src="10.0.0.1", dst="10.0.0.2", id=1, ttl=64)/ICMP(type=8, id=0x1234, seq=1)/Raw(b"ping!")
 * ARP:      Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff")
 *             /ARP(op=1, hwsrc="02:00:00:00:00:01", psrc="10.0.0.1", hwdst="00:00:00:00:00:00", pdst="10.0.0.254")
 * UDP_ZERO: Ether(**E)/IP(src="10.0.0.1", dst="10.0.0.2", id=1, ttl=64)/UDP(sport=1000, dport=2000)
 *             /Raw(bytes.fromhex("7a65726f2d6373756d00e55d"))
 *           The last payload word (0xe55d) was chosen in python so that the
 *           one's-complement sum is 0xffff, i.e. the checksum computes to 0;
 *           scapy writes it as 0xffff (RFC 768), as must we.
 */
const VECTORS = {
  TCP_SYN:
    '02000000000202000000000108004500002c00010000400666c90a0000010a0000029c400050000003e8000000006002ffffe3ab0000020405b40000',
  TCP_PSH:
    '02000000000202000000000108004500003abeef00003f0649f8c0a8010aac10051430391f90deadbeef0102030450187210fac60000474554202f20485454502f312e300d0a0d0a',
  UDP: '0200000000020200000000010800450000210007000040115fb80a0102030a04050614e90035000d8bd668656c6c6f00000000000000000000000000',
  ICMP: '02000000000202000000000108004500002100010000400166d90a0000010a0000020800e5f91234000170696e672100000000000000000000000000',
  ARP: 'ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a0000fe000000000000000000000000000000000000',
  UDP_ZERO:
    '02000000000202000000000108004500002800010000401166c20a0000010a00000203e807d00014ffff7a65726f2d6373756d00e55d000000000000',
};

const MAC1 = '02:00:00:00:00:01';
const MAC2 = '02:00:00:00:00:02';
const E = { ethSrc: MAC1, ethDst: MAC2 };

function hex(b: Buffer): string {
  return b.toString('hex');
}

/** Copy of buf with byte at off XOR-ed with mask. */
function corrupt(buf: Buffer, off: number, mask = 0x01): Buffer {
  const c = Buffer.from(buf);
  c[off] = c[off]! ^ mask;
  return c;
}

describe('checksum16 (RFC 1071)', () => {
  it('matches the RFC 1071 section 3 example', () => {
    // Words 0001 f203 f4f5 f6f7 sum to 0xddf2 -> checksum 0x220d.
    assert.equal(checksum16(Buffer.from('0001f203f4f5f6f7', 'hex')), 0x220d);
  });
  it('pads an odd trailing byte with zero', () => {
    assert.equal(checksum16(Buffer.from('0001f203f4f5f6', 'hex')), checksum16(Buffer.from('0001f203f4f5f600', 'hex')));
  });
  it('handles empty, all-zero and all-ones input', () => {
    assert.equal(checksum16(Buffer.alloc(0)), 0xffff);
    assert.equal(checksum16(Buffer.alloc(10)), 0xffff);
    assert.equal(checksum16(Buffer.from('ffffffff', 'hex')), 0x0000);
  });
  it('verifies to 0 over a region containing its own checksum', () => {
    const b = Buffer.from('4500003c1c46400040060000ac100a63ac100a0c', 'hex');
    b.writeUInt16BE(checksum16(b), 10);
    assert.equal(b.readUInt16BE(10), 0xb1e6); // classic Wikipedia IPv4 header example
    assert.equal(checksum16(b), 0);
  });
  it('carries correctly over large buffers', () => {
    // 100000 words of 0xffff: one's-complement sum stays 0xffff -> checksum 0.
    assert.equal(checksum16(Buffer.alloc(200000, 0xff)), 0);
  });
});

describe('builders match scapy reference frames', () => {
  it('TCP SYN with MSS option (58 bytes, padded to 60)', () => {
    const f = buildTcp({
      ...E,
      src: '10.0.0.1',
      dst: '10.0.0.2',
      sport: 40000,
      dport: 80,
      flags: 'S',
      seq: 1000,
      window: 65535,
      tcpOptions: Buffer.from('020405b4', 'hex'),
    });
    assert.equal(hex(f), VECTORS.TCP_SYN);
  });
  it('TCP PSH|ACK with odd-length payload (72 bytes, no padding)', () => {
    const f = buildTcp({
      ...E,
      src: '192.168.1.10',
      dst: '172.16.5.20',
      sport: 12345,
      dport: 8080,
      flags: 'AP', // order-insensitive input
      seq: 0xdeadbeef,
      ack: 0x01020304,
      window: 29200,
      ttl: 63,
      id: 0xbeef,
      payload: Buffer.from('GET / HTTP/1.0\r\n\r\n'),
    });
    assert.equal(f.length, 72);
    assert.equal(hex(f), VECTORS.TCP_PSH);
  });
  it('UDP datagram', () => {
    const f = buildUdp({ ...E, src: '10.1.2.3', dst: '10.4.5.6', sport: 5353, dport: 53, id: 7, payload: Buffer.from('hello') });
    assert.equal(hex(f), VECTORS.UDP);
  });
  it('ICMP echo request', () => {
    const f = buildIcmpEcho({ ...E, src: '10.0.0.1', dst: '10.0.0.2', id: 0x1234, seq: 1, payload: Buffer.from('ping!') });
    assert.equal(hex(f), VECTORS.ICMP);
  });
  it('ARP request', () => {
    const f = buildArp({
      op: 'request',
      ethSrc: MAC1,
      ethDst: 'ff:ff:ff:ff:ff:ff',
      senderMac: MAC1,
      senderIp: '10.0.0.1',
      targetIp: '10.0.0.254',
    });
    assert.equal(hex(f), VECTORS.ARP);
  });
  it('reference frames parse with valid checksums', () => {
    for (const [name, v] of Object.entries(VECTORS)) {
      const p = parsePacket(Buffer.from(v, 'hex'));
      if (p.ipv4) assert.ok(p.ipv4.checksumOk, `${name} ip`);
      if (p.tcp) assert.ok(p.tcp.checksumOk, `${name} tcp`);
      if (p.udp) assert.ok(p.udp.checksumOk, `${name} udp`);
      if (p.icmp) assert.ok(p.icmp.checksumOk, `${name} icmp`);
    }
  });
});

describe('round trip build -> parse', () => {
  it('TCP with every field, IP and TCP options', () => {
    const ipOptions = Buffer.from('0707040000000000', 'hex'); // RR (7 bytes) + EOL
    const tcpOptions = Buffer.from('020405b4010303070101080a0000000100000000', 'hex');
    const payload = Buffer.from('hello, world!');
    const f = buildTcp({
      ethSrc: 'AA:BB:CC:DD:EE:01',
      ethDst: 'aa:bb:cc:dd:ee:02',
      src: '198.51.100.7',
      dst: '203.0.113.200',
      sport: 65535,
      dport: 1,
      flags: 'UAPRSF',
      seq: 0xffffffff,
      ack: 0x80000001,
      window: 1234,
      payload,
      ttl: 1,
      id: 0xabcd,
      tos: 0xb8,
      dontFragment: true,
      ipOptions,
      tcpOptions,
      urgentPointer: 42,
    });
    const p = parsePacket(f);
    assert.deepEqual(p.eth, { dst: 'aa:bb:cc:dd:ee:02', src: 'aa:bb:cc:dd:ee:01', type: 0x0800 });
    assert.equal(p.arp, undefined);
    assert.equal(p.udp, undefined);
    assert.equal(p.icmp, undefined);
    const ip = p.ipv4!;
    assert.equal(ip.version, 4);
    assert.equal(ip.ihl, 7);
    assert.equal(ip.tos, 0xb8);
    assert.equal(ip.totalLength, 28 + 40 + payload.length);
    assert.equal(ip.id, 0xabcd);
    assert.equal(ip.flags, 0x2);
    assert.equal(ip.dontFragment, true);
    assert.equal(ip.moreFragments, false);
    assert.equal(ip.fragOffset, 0);
    assert.equal(ip.ttl, 1);
    assert.equal(ip.protocol, 6);
    assert.equal(ip.checksum, f.readUInt16BE(14 + 10));
    assert.equal(ip.checksumOk, true);
    assert.equal(ip.src, '198.51.100.7');
    assert.equal(ip.dst, '203.0.113.200');
    assert.deepEqual(ip.options, ipOptions);
    const t = p.tcp!;
    assert.equal(t.sport, 65535);
    assert.equal(t.dport, 1);
    assert.equal(t.seq, 0xffffffff);
    assert.equal(t.ack, 0x80000001);
    assert.equal(t.dataOffset, 10);
    assert.equal(t.flags, 'FSRPAU');
    assert.equal(t.window, 1234);
    assert.equal(t.checksum, f.readUInt16BE(14 + 28 + 16));
    assert.equal(t.checksumOk, true);
    assert.equal(t.urgentPointer, 42);
    assert.deepEqual(t.options, tcpOptions);
    assert.deepEqual(t.payload, payload);
  });
  it('TCP defaults and flag rendering order', () => {
    const p = parsePacket(buildTcp({ ...E, src: '1.2.3.4', dst: '5.6.7.8', sport: 1, dport: 2, flags: 'AS' }));
    assert.equal(p.tcp!.flags, 'SA');
    assert.equal(p.tcp!.seq, 0);
    assert.equal(p.tcp!.ack, 0);
    assert.equal(p.tcp!.window, 65535);
    assert.equal(p.tcp!.payload.length, 0);
    assert.equal(p.ipv4!.ttl, 64);
    assert.equal(p.ipv4!.id, 1);
    assert.equal(p.ipv4!.flags, 0);
    assert.equal(parsePacket(buildTcp({ ...E, src: '1.2.3.4', dst: '5.6.7.8', sport: 1, dport: 2, flags: 'fa' })).tcp!.flags, 'FA');
    assert.equal(parsePacket(buildTcp({ ...E, src: '1.2.3.4', dst: '5.6.7.8', sport: 1, dport: 2, flags: '' })).tcp!.flags, '');
  });
  it('UDP with every field', () => {
    const payload = Buffer.alloc(1400, 0x5a);
    const f = buildUdp({ ...E, src: '10.9.8.7', dst: '10.6.5.4', sport: 33333, dport: 4789, payload, ttl: 200, id: 0 });
    const p = parsePacket(f);
    assert.deepEqual(p.eth, { dst: MAC2, src: MAC1, type: 0x0800 });
    assert.equal(p.ipv4!.protocol, 17);
    assert.equal(p.ipv4!.ttl, 200);
    assert.equal(p.ipv4!.id, 0);
    assert.equal(p.ipv4!.totalLength, 20 + 8 + 1400);
    assert.equal(p.ipv4!.checksumOk, true);
    const u = p.udp!;
    assert.equal(u.sport, 33333);
    assert.equal(u.dport, 4789);
    assert.equal(u.length, 1408);
    assert.equal(u.checksum, f.readUInt16BE(14 + 20 + 6));
    assert.notEqual(u.checksum, 0);
    assert.equal(u.checksumOk, true);
    assert.deepEqual(u.payload, payload);
    assert.equal(p.tcp, undefined);
  });
  it('ICMP echo request and reply', () => {
    for (const type of [8, 0] as const) {
      const payload = Buffer.from('0123456789abcdef0123456789abcdef0123456789abcdef01234567');
      const f = buildIcmpEcho({ ...E, src: '10.0.0.9', dst: '10.0.0.10', type, id: 0xfeed, seq: 65535, payload, ttl: 128 });
      const p = parsePacket(f);
      assert.equal(p.ipv4!.protocol, 1);
      assert.equal(p.ipv4!.ttl, 128);
      assert.equal(p.ipv4!.src, '10.0.0.9');
      assert.equal(p.ipv4!.dst, '10.0.0.10');
      const i = p.icmp!;
      assert.equal(i.type, type);
      assert.equal(i.code, 0);
      assert.equal(i.id, 0xfeed);
      assert.equal(i.seq, 65535);
      assert.equal(i.checksum, f.readUInt16BE(14 + 20 + 2));
      assert.equal(i.checksumOk, true);
      assert.deepEqual(i.payload, payload);
    }
    const d = parsePacket(buildIcmpEcho({ ...E, src: '1.1.1.1', dst: '2.2.2.2', id: 0x4242, seq: 1 }));
    assert.equal(d.icmp!.type, 8);
    assert.equal(d.ipv4!.id, 1); // ICMP id does not leak into the IPv4 id
    assert.equal(parsePacket(buildIcmpEcho({ ...E, src: '1.1.1.1', dst: '2.2.2.2', id: 5, seq: 1, ipId: 77 })).ipv4!.id, 77);
  });
  it('ARP request and reply', () => {
    const req = parsePacket(
      buildArp({ op: 'request', ethSrc: MAC1, ethDst: 'ff:ff:ff:ff:ff:ff', senderMac: MAC1, senderIp: '10.0.0.1', targetIp: '10.0.0.2' }),
    );
    assert.deepEqual(req, {
      eth: { dst: 'ff:ff:ff:ff:ff:ff', src: MAC1, type: 0x0806 },
      arp: { op: 'request', opcode: 1, senderMac: MAC1, senderIp: '10.0.0.1', targetMac: '00:00:00:00:00:00', targetIp: '10.0.0.2' },
    });
    const rep = parsePacket(
      buildArp({ op: 'reply', ethSrc: MAC2, ethDst: MAC1, senderMac: MAC2, senderIp: '10.0.0.2', targetMac: MAC1, targetIp: '10.0.0.1' }),
    );
    assert.deepEqual(rep.arp, { op: 'reply', opcode: 2, senderMac: MAC2, senderIp: '10.0.0.2', targetMac: MAC1, targetIp: '10.0.0.1' });
  });
  it('raw IPv4 fragments are not decoded as L4', () => {
    const payload = Buffer.from('0011223344556677', 'hex');
    const f = buildIpv4Raw({ ...E, src: '10.0.0.1', dst: '10.0.0.2', protocol: 17, payload, id: 999, ttl: 5, fragOffset: 185, moreFragments: true });
    const p = parsePacket(f);
    const ip = p.ipv4!;
    assert.equal(ip.protocol, 17);
    assert.equal(ip.id, 999);
    assert.equal(ip.ttl, 5);
    assert.equal(ip.fragOffset, 185);
    assert.equal(ip.moreFragments, true);
    assert.equal(ip.flags, 0x1);
    assert.equal(ip.checksumOk, true);
    assert.deepEqual(ip.payload, payload);
    assert.equal(p.udp, undefined);
    const first = parsePacket(buildIpv4Raw({ ...E, src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, payload: Buffer.alloc(24), moreFragments: true }));
    assert.equal(first.tcp, undefined);
  });
  it('raw IPv4 with unknown protocol', () => {
    const p = parsePacket(buildIpv4Raw({ ...E, src: '10.0.0.1', dst: '10.0.0.2', protocol: 47, payload: Buffer.from('abc') }));
    assert.equal(p.ipv4!.protocol, 47);
    assert.deepEqual(p.ipv4!.payload, Buffer.from('abc'));
    assert.equal(p.tcp ?? p.udp ?? p.icmp, undefined);
  });
  it('raw IPv4 badChecksum', () => {
    const good = buildIpv4Raw({ ...E, src: '10.0.0.1', dst: '10.0.0.2', protocol: 253, payload: Buffer.alloc(8) });
    const bad = buildIpv4Raw({ ...E, src: '10.0.0.1', dst: '10.0.0.2', protocol: 253, payload: Buffer.alloc(8), badChecksum: true });
    assert.equal(parsePacket(good).ipv4!.checksumOk, true);
    assert.equal(parsePacket(bad).ipv4!.checksumOk, false);
    assert.notEqual(good.readUInt16BE(24), bad.readUInt16BE(24));
    assert.deepEqual(good.subarray(0, 24), bad.subarray(0, 24));
  });
  it('non-IP, non-ARP ethertype yields only eth', () => {
    const f = Buffer.alloc(60);
    f.writeUInt16BE(0x86dd, 12);
    assert.deepEqual(parsePacket(f), { eth: { dst: '00:00:00:00:00:00', src: '00:00:00:00:00:00', type: 0x86dd } });
  });
});

describe('padding', () => {
  it('builders pad short frames to 60 bytes with zeros, IP total length unchanged', () => {
    const f = buildUdp({ ...E, src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 });
    assert.equal(f.length, 60);
    assert.deepEqual(f.subarray(42), Buffer.alloc(18));
    const p = parsePacket(f);
    assert.equal(p.ipv4!.totalLength, 28);
    assert.equal(p.udp!.payload.length, 0);
    assert.equal(p.udp!.checksumOk, true);
  });
  it('parser ignores non-zero trailing padding for L4 extent and checksums', () => {
    const f = Buffer.concat([buildTcp({ ...E, src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, flags: 'S' }), Buffer.alloc(4, 0xee)]);
    f.fill(0xee, 54); // overwrite builder's zero padding with junk
    const p = parsePacket(f);
    assert.equal(p.tcp!.payload.length, 0);
    assert.equal(p.tcp!.checksumOk, true);
    assert.equal(p.ipv4!.payload.length, 20);
  });
  it('frames already >= 60 bytes are not padded', () => {
    const f = buildUdp({ ...E, src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: Buffer.alloc(100) });
    assert.equal(f.length, 14 + 20 + 8 + 100);
  });
});

describe('checksum verification', () => {
  const tcp = buildTcp({ ...E, src: '10.0.0.1', dst: '10.0.0.2', sport: 1000, dport: 80, flags: 'PA', payload: Buffer.from('data!') });
  const udp = buildUdp({ ...E, src: '10.0.0.1', dst: '10.0.0.2', sport: 1000, dport: 53, payload: Buffer.from('query') });
  const icmp = buildIcmpEcho({ ...E, src: '10.0.0.1', dst: '10.0.0.2', id: 7, seq: 9, payload: Buffer.from('ping') });

  it('IPv4 header corruption -> ipv4.checksumOk false', () => {
    assert.equal(parsePacket(corrupt(tcp, 14 + 8)).ipv4!.checksumOk, false); // ttl
    assert.equal(parsePacket(corrupt(tcp, 14 + 8)).tcp!.checksumOk, true); // TTL is not in the pseudo-header
  });
  it('TCP payload / header / pseudo-header corruption -> tcp.checksumOk false', () => {
    assert.equal(parsePacket(corrupt(tcp, 14 + 40 + 4)).tcp!.checksumOk, false); // last payload byte
    assert.equal(parsePacket(corrupt(tcp, tcp.length - 1)).tcp!.checksumOk, true); // frame padding (59 -> 60)
    assert.equal(parsePacket(corrupt(tcp, 14 + 20 + 4)).tcp!.checksumOk, false); // seq
    const p = parsePacket(corrupt(tcp, 14 + 12)); // src IP: breaks IP and TCP (pseudo-header)
    assert.equal(p.ipv4!.checksumOk, false);
    assert.equal(p.tcp!.checksumOk, false);
  });
  it('UDP corruption -> udp.checksumOk false', () => {
    const p = parsePacket(corrupt(udp, 14 + 28 + 2));
    assert.equal(p.udp!.checksumOk, false);
    assert.equal(p.ipv4!.checksumOk, true);
    assert.equal(parsePacket(corrupt(udp, 14 + 16)).udp!.checksumOk, false); // dst IP in pseudo-header
  });
  it('ICMP corruption -> icmp.checksumOk false', () => {
    assert.equal(parsePacket(corrupt(icmp, 14 + 20 + 8)).icmp!.checksumOk, false);
    assert.equal(parsePacket(corrupt(icmp, 14 + 20 + 6)).icmp!.checksumOk, false);
  });
  it('flipped checksum field -> checksumOk false', () => {
    const c = Buffer.from(tcp);
    c.writeUInt16BE(c.readUInt16BE(14 + 20 + 16) ^ 0x8000, 14 + 20 + 16);
    assert.equal(parsePacket(c).tcp!.checksumOk, false);
  });
  it('accepts both 0x0000 and 0xffff when the TCP checksum computes to 0', () => {
    const c = Buffer.from(tcp);
    const ck = c.readUInt16BE(14 + 20 + 16); // = ~S, S = sum with urgent pointer 0
    // Put ck into the (zero) urgent pointer: the sum becomes S + ~S = 0xffff,
    // so the checksum now computes to 0x0000; 0xffff is the equivalent encoding.
    c.writeUInt16BE(ck, 14 + 20 + 18);
    c.writeUInt16BE(0x0000, 14 + 20 + 16);
    assert.equal(parsePacket(c).tcp!.checksumOk, true);
    c.writeUInt16BE(0xffff, 14 + 20 + 16);
    assert.equal(parsePacket(c).tcp!.checksumOk, true);
    c.writeUInt16BE(0x0001, 14 + 20 + 16);
    assert.equal(parsePacket(c).tcp!.checksumOk, false);
  });
});

describe('UDP checksum special cases', () => {
  it('zeroChecksum writes 0 and parses as checksumOk', () => {
    const f = buildUdp({ ...E, src: '10.0.0.1', dst: '10.0.0.2', sport: 7, dport: 9, payload: Buffer.from('no checksum'), zeroChecksum: true });
    assert.equal(f.readUInt16BE(14 + 20 + 6), 0);
    const p = parsePacket(f);
    assert.equal(p.udp!.checksum, 0);
    assert.equal(p.udp!.checksumOk, true);
    // Still ok after payload corruption: checksum not in use.
    assert.equal(parsePacket(corrupt(f, 14 + 28)).udp!.checksumOk, true);
  });
  it('a checksum computing to 0 is written as 0xffff (RFC 768), matching scapy', () => {
    const f = buildUdp({
      ...E,
      src: '10.0.0.1',
      dst: '10.0.0.2',
      sport: 1000,
      dport: 2000,
      payload: Buffer.from('7a65726f2d6373756d00e55d', 'hex'),
    });
    assert.equal(f.readUInt16BE(14 + 20 + 6), 0xffff);
    assert.equal(hex(f), VECTORS.UDP_ZERO);
    const p = parsePacket(f);
    assert.equal(p.udp!.checksum, 0xffff);
    assert.equal(p.udp!.checksumOk, true);
    // Independent check: with the field zeroed, the pseudo-header + datagram sums to 0xffff.
    const pseudo = Buffer.concat([f.subarray(26, 34), Buffer.from([0, 17]), f.subarray(38, 40)]);
    const dgram = Buffer.from(f.subarray(34, 34 + 20));
    dgram.writeUInt16BE(0, 6);
    assert.equal(checksum16(Buffer.concat([pseudo, dgram])), 0);
  });
});

describe('truncation and malformed input', () => {
  const tcp = buildTcp({
    ...E,
    src: '10.0.0.1',
    dst: '10.0.0.2',
    sport: 1,
    dport: 2,
    flags: 'S',
    tcpOptions: Buffer.from('020405b4', 'hex'),
    payload: Buffer.alloc(40, 1),
  });
  const udp = buildUdp({ ...E, src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: Buffer.alloc(40) });
  const arp = buildArp({ op: 'request', ethSrc: MAC1, ethDst: MAC2, senderMac: MAC1, senderIp: '1.1.1.1', targetIp: '2.2.2.2' });

  it('short Ethernet header', () => {
    assert.throws(() => parsePacket(Buffer.alloc(13)), /truncated Ethernet header/);
    assert.throws(() => parsePacket(Buffer.alloc(0)), /truncated/);
  });
  it('short ARP', () => {
    assert.throws(() => parsePacket(arp.subarray(0, 14 + 27)), /truncated ARP/);
  });
  it('short IPv4 header and datagram', () => {
    assert.throws(() => parsePacket(tcp.subarray(0, 14 + 19)), /truncated IPv4 header/);
    assert.throws(() => parsePacket(tcp.subarray(0, tcp.length - 1)), /truncated IPv4 datagram/);
  });
  it('IPv4 options beyond the frame', () => {
    const f = Buffer.from(tcp.subarray(0, 14 + 20));
    f[14] = 0x4f; // ihl 15 = 60 bytes
    assert.throws(() => parsePacket(f), /truncated IPv4 header with options/);
  });
  it('TCP header/options beyond total length', () => {
    const f = buildIpv4Raw({ ...E, src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, payload: Buffer.alloc(19) });
    assert.throws(() => parsePacket(f), /truncated TCP header/);
    const g = Buffer.from(tcp.subarray(14 + 20, 14 + 20 + 20));
    g[12] = 0xf0; // data offset 15
    const h = buildIpv4Raw({ ...E, src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, payload: g });
    assert.throws(() => parsePacket(h), /truncated TCP header with options/);
  });
  it('UDP header and UDP length beyond IP payload', () => {
    const f = buildIpv4Raw({ ...E, src: '10.0.0.1', dst: '10.0.0.2', protocol: 17, payload: Buffer.alloc(7) });
    assert.throws(() => parsePacket(f), /truncated UDP header/);
    const seg = Buffer.from(udp.subarray(34));
    seg.writeUInt16BE(seg.length + 1, 4);
    const g = buildIpv4Raw({ ...E, src: '10.0.0.1', dst: '10.0.0.2', protocol: 17, payload: seg });
    assert.throws(() => parsePacket(g), /truncated UDP datagram/);
  });
  it('short ICMP header', () => {
    const f = buildIpv4Raw({ ...E, src: '10.0.0.1', dst: '10.0.0.2', protocol: 1, payload: Buffer.alloc(4) });
    assert.throws(() => parsePacket(f), /truncated ICMP header/);
  });
  it('malformed headers', () => {
    const v6 = Buffer.from(tcp);
    v6[14] = 0x65;
    assert.throws(() => parsePacket(v6), /not IPv4/);
    const ihl = Buffer.from(tcp);
    ihl[14] = 0x44;
    assert.throws(() => parsePacket(ihl), /bad IPv4 IHL/);
    const tl = Buffer.from(tcp);
    tl.writeUInt16BE(19, 16);
    assert.throws(() => parsePacket(tl), /bad IPv4 total length/);
    const doff = Buffer.from(tcp);
    doff[14 + 20 + 12] = 0x40;
    assert.throws(() => parsePacket(doff), /bad TCP data offset/);
    const ulen = Buffer.from(udp);
    ulen.writeUInt16BE(7, 14 + 20 + 4);
    assert.throws(() => parsePacket(ulen), /bad UDP length/);
  });
});

describe('builder input validation', () => {
  const base = { ...E, src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 };
  it('rejects bad addresses, ranges, flags and options', () => {
    assert.throws(() => buildUdp({ ...base, src: '10.0.0.256' }), /invalid IPv4 address/);
    assert.throws(() => buildUdp({ ...base, dst: '10.0.0' }), /invalid IPv4 address/);
    assert.throws(() => buildUdp({ ...base, ethSrc: '02:00:00:00:00' }), /invalid MAC/);
    assert.throws(() => buildUdp({ ...base, sport: 65536 }), /sport/);
    assert.throws(() => buildUdp({ ...base, ttl: 256 }), /ttl/);
    assert.throws(() => buildTcp({ ...base, flags: 'SX' }), /unknown TCP flag/);
    assert.throws(() => buildTcp({ ...base, flags: 'S', seq: 2 ** 32 }), /seq/);
    assert.throws(() => buildTcp({ ...base, flags: 'S', tcpOptions: Buffer.alloc(3) }), /multiple of 4/);
    assert.throws(() => buildTcp({ ...base, flags: 'S', ipOptions: Buffer.alloc(44) }), /at most 40/);
    assert.throws(() => buildIpv4Raw({ ...E, src: '1.1.1.1', dst: '2.2.2.2', protocol: 6, payload: Buffer.alloc(0), fragOffset: 0x2000 }), /fragOffset/);
    assert.throws(() => buildUdp({ ...base, payload: Buffer.alloc(65536) }), /exceeds 65535/);
  });
});
