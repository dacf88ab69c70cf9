/**
 * Independent IPv4 packet builder/parser used as the test oracle for the
 * gateway's output.
 *
 * Deliberately self-contained: every checksum is computed from scratch as a
 * full RFC 1071 one's-complement sum over the bytes (never incrementally),
 * so that this library shares no logic with the data plane under test.
 *
 * Conventions:
 *  - IPv4 addresses are dotted-quad strings ("10.0.0.1").
 *  - MAC addresses are "aa:bb:cc:dd:ee:ff" strings (parsed output is lowercase).
 *  - IPv4 fragment offsets are the raw header field value, i.e. in units of
 *    8 bytes (as in scapy's `frag`).
 *  - Builders pad frames shorter than 60 bytes with zeros to 60; the IPv4
 *    total length always describes the real datagram.
 */

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

const ETH_HLEN = 14;
const ETH_MIN_FRAME = 60; // without FCS
const IPV4_MIN_HLEN = 20;
const TCP_MIN_HLEN = 20;
const UDP_HLEN = 8;
const ICMP_HLEN = 8;
const ARP_LEN = 28;

// TCP flag bits, in the fixed order used when rendering flag strings.
const TCP_FLAG_BITS: ReadonlyArray<readonly [string, number]> = [
  ['F', 0x01],
  ['S', 0x02],
  ['R', 0x04],
  ['P', 0x08],
  ['A', 0x10],
  ['U', 0x20],
  ['E', 0x40],
  ['C', 0x80],
];

// ---------------------------------------------------------------------------
// Checksums
// ---------------------------------------------------------------------------

/** One's-complement sum (folded to 16 bits, not inverted) over big-endian words. */
function onesSum(buf: Buffer): number {
  let sum = 0;
  const even = buf.length & ~1;
  for (let i = 0; i < even; i += 2) {
    sum += (buf[i]! << 8) | buf[i + 1]!;
  }
  if (buf.length & 1) {
    sum += buf[buf.length - 1]! << 8; // odd trailing byte, zero-padded
  }
  // Doubles are exact far beyond any realistic buffer size; avoid 32-bit ops.
  while (sum > 0xffff) {
    sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  }
  return sum;
}

/**
 * RFC 1071 Internet checksum: the one's complement of the one's-complement
 * sum of all 16-bit big-endian words (an odd trailing byte is padded with a
 * zero byte). Verifying a region that contains its own correct checksum
 * yields 0.
 */
export function checksum16(buf: Buffer): number {
  return ~onesSum(buf) & 0xffff;
}

function pseudoHeader(src: Buffer, dst: Buffer, protocol: number, l4Length: number): Buffer {
  const ph = Buffer.alloc(12);
  src.copy(ph, 0);
  dst.copy(ph, 4);
  ph[8] = 0;
  ph[9] = protocol;
  ph.writeUInt16BE(l4Length, 10);
  return ph;
}

/** Checksum of an L4 segment (with its checksum field as given) plus IPv4 pseudo-header. */
function l4Checksum(src: Buffer, dst: Buffer, protocol: number, segment: Buffer): number {
  return checksum16(Buffer.concat([pseudoHeader(src, dst, protocol, segment.length), segment]));
}

// ---------------------------------------------------------------------------
// Address helpers and validation
// ---------------------------------------------------------------------------

function fail(msg: string): never {
  throw new Error(`packet: ${msg}`);
}

function checkUint(name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    fail(`${name} must be an integer in [0, ${max}], got ${String(v)}`);
  }
  return v;
}

/** "aa:bb:cc:dd:ee:ff" -> 6-byte Buffer. */
export function macToBuffer(mac: string): Buffer {
  const m = /^([0-9a-fA-F]{2}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})$/.exec(mac);
  if (!m) fail(`invalid MAC address ${JSON.stringify(mac)}`);
  return Buffer.from(m.slice(1, 7).map((x) => parseInt(x, 16)));
}

/** 6 bytes -> "aa:bb:cc:dd:ee:ff" (lowercase). */
export function macToString(buf: Buffer): string {
  if (buf.length !== 6) fail(`MAC must be 6 bytes, got ${buf.length}`);
  return Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** "a.b.c.d" -> 4-byte Buffer. */
export function ipToBuffer(ip: string): Buffer {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    fail(`invalid IPv4 address ${JSON.stringify(ip)}`);
  }
  return Buffer.from(parts.map(Number));
}

/** 4 bytes -> "a.b.c.d". */
export function ipToString(buf: Buffer): string {
  if (buf.length !== 4) fail(`IPv4 address must be 4 bytes, got ${buf.length}`);
  return Array.from(buf).join('.');
}

function tcpFlagsToBits(flags: string): number {
  let bits = 0;
  for (const ch of flags.toUpperCase()) {
    const e = TCP_FLAG_BITS.find(([c]) => c === ch);
    if (!e) fail(`unknown TCP flag ${JSON.stringify(ch)} in ${JSON.stringify(flags)} (allowed: FSRPAUEC)`);
    bits |= e[1];
  }
  return bits;
}

function tcpBitsToFlags(bits: number): string {
  return TCP_FLAG_BITS.filter(([, b]) => bits & b).map(([c]) => c).join('');
}

function checkOptions(name: string, opts: Buffer | undefined): Buffer {
  const o = opts ?? Buffer.alloc(0);
  if (o.length % 4 !== 0) fail(`${name} length must be a multiple of 4, got ${o.length}`);
  if (o.length > 40) fail(`${name} length must be at most 40, got ${o.length}`);
  return o;
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

export interface EthOpts {
  ethSrc: string;
  ethDst: string;
}

/** IPv4 header knobs shared by all IPv4 builders. */
export interface IpCommonOpts extends EthOpts {
  src: string;
  dst: string;
  /** Default 64. */
  ttl?: number;
  /** IPv4 identification, default 1. */
  id?: number;
  /** Type of service / DSCP+ECN byte, default 0. */
  tos?: number;
  /** Set the DF bit, default false. */
  dontFragment?: boolean;
  /** Raw IPv4 options, multiple of 4 bytes, at most 40. */
  ipOptions?: Buffer;
}

export interface TcpOpts extends IpCommonOpts {
  sport: number;
  dport: number;
  /** Any of "FSRPAU" (plus "E", "C"), any order, e.g. "SA". */
  flags: string;
  seq?: number;
  ack?: number;
  /** Default 65535. */
  window?: number;
  urgentPointer?: number;
  payload?: Buffer;
  /** Raw TCP options, multiple of 4 bytes, at most 40. */
  tcpOptions?: Buffer;
}

export interface UdpOpts extends IpCommonOpts {
  sport: number;
  dport: number;
  payload?: Buffer;
  /** Write 0 ("no checksum") in the UDP checksum field. */
  zeroChecksum?: boolean;
}

export interface IcmpEchoOpts extends Omit<IpCommonOpts, 'id'> {
  /** 8 = echo request (default), 0 = echo reply. */
  type?: 8 | 0;
  /** ICMP echo identifier (not the IPv4 id; see ipId). */
  id: number;
  /** IPv4 identification, default 1. */
  ipId?: number;
  seq: number;
  payload?: Buffer;
}

export interface ArpOpts extends EthOpts {
  op: 'request' | 'reply';
  senderMac: string;
  senderIp: string;
  /** Default 00:00:00:00:00:00. */
  targetMac?: string;
  targetIp: string;
}

export interface Ipv4RawOpts extends IpCommonOpts {
  protocol: number;
  /** Everything after the IPv4 header, used verbatim. */
  payload: Buffer;
  /** Fragment offset field value, in units of 8 bytes. */
  fragOffset?: number;
  moreFragments?: boolean;
  /** Write a deliberately wrong IPv4 header checksum. */
  badChecksum?: boolean;
}

function ethFrame(o: EthOpts, ethertype: number, body: Buffer): Buffer {
  const dst = macToBuffer(o.ethDst);
  const src = macToBuffer(o.ethSrc);
  const len = Math.max(ETH_HLEN + body.length, ETH_MIN_FRAME);
  const frame = Buffer.alloc(len); // zero-filled => zero padding
  dst.copy(frame, 0);
  src.copy(frame, 6);
  frame.writeUInt16BE(ethertype, 12);
  body.copy(frame, ETH_HLEN);
  return frame;
}

interface Ipv4HeaderFields {
  src: Buffer;
  dst: Buffer;
  protocol: number;
  ttl: number;
  id: number;
  tos: number;
  flags: number;
  fragOffset: number;
  options: Buffer;
  payloadLength: number;
  badChecksum: boolean;
}

function ipv4Header(f: Ipv4HeaderFields): Buffer {
  const hlen = IPV4_MIN_HLEN + f.options.length;
  const total = hlen + f.payloadLength;
  if (total > 0xffff) fail(`IPv4 total length ${total} exceeds 65535`);
  const h = Buffer.alloc(hlen);
  h[0] = 0x40 | (hlen / 4);
  h[1] = f.tos;
  h.writeUInt16BE(total, 2);
  h.writeUInt16BE(f.id, 4);
  h.writeUInt16BE((f.flags << 13) | f.fragOffset, 6);
  h[8] = f.ttl;
  h[9] = f.protocol;
  h.writeUInt16BE(0, 10);
  f.src.copy(h, 12);
  f.dst.copy(h, 16);
  f.options.copy(h, 20);
  let ck = checksum16(h);
  // Flip the low bit: never yields the equivalent encoding (0x0000 <-> 0xffff).
  if (f.badChecksum) ck ^= 0x0001;
  h.writeUInt16BE(ck, 10);
  return h;
}

interface ResolvedIp {
  src: Buffer;
  dst: Buffer;
  ttl: number;
  id: number;
  tos: number;
  df: boolean;
  options: Buffer;
}

function resolveIp(o: IpCommonOpts): ResolvedIp {
  return {
    src: ipToBuffer(o.src),
    dst: ipToBuffer(o.dst),
    ttl: checkUint('ttl', o.ttl ?? 64, 0xff),
    id: checkUint('id', o.id ?? 1, 0xffff),
    tos: checkUint('tos', o.tos ?? 0, 0xff),
    df: o.dontFragment ?? false,
    options: checkOptions('ipOptions', o.ipOptions),
  };
}

function ipv4Frame(
  o: EthOpts,
  ip: ResolvedIp,
  protocol: number,
  l4: Buffer,
  extra?: { fragOffset?: number; moreFragments?: boolean; badChecksum?: boolean },
): Buffer {
  const fragOffset = checkUint('fragOffset', extra?.fragOffset ?? 0, 0x1fff);
  const flags = (ip.df ? 0x2 : 0) | (extra?.moreFragments ? 0x1 : 0);
  const hdr = ipv4Header({
    src: ip.src,
    dst: ip.dst,
    protocol,
    ttl: ip.ttl,
    id: ip.id,
    tos: ip.tos,
    flags,
    fragOffset,
    options: ip.options,
    payloadLength: l4.length,
    badChecksum: extra?.badChecksum ?? false,
  });
  return ethFrame(o, ETHERTYPE_IPV4, Buffer.concat([hdr, l4]));
}

/** Ethernet + IPv4 + TCP frame with correct checksums. */
export function buildTcp(o: TcpOpts): Buffer {
  const ip = resolveIp(o);
  const opts = checkOptions('tcpOptions', o.tcpOptions);
  const payload = o.payload ?? Buffer.alloc(0);
  const hlen = TCP_MIN_HLEN + opts.length;
  const seg = Buffer.alloc(hlen + payload.length);
  seg.writeUInt16BE(checkUint('sport', o.sport, 0xffff), 0);
  seg.writeUInt16BE(checkUint('dport', o.dport, 0xffff), 2);
  seg.writeUInt32BE(checkUint('seq', o.seq ?? 0, 0xffffffff), 4);
  seg.writeUInt32BE(checkUint('ack', o.ack ?? 0, 0xffffffff), 8);
  seg[12] = (hlen / 4) << 4;
  seg[13] = tcpFlagsToBits(o.flags);
  seg.writeUInt16BE(checkUint('window', o.window ?? 65535, 0xffff), 14);
  seg.writeUInt16BE(0, 16);
  seg.writeUInt16BE(checkUint('urgentPointer', o.urgentPointer ?? 0, 0xffff), 18);
  opts.copy(seg, TCP_MIN_HLEN);
  payload.copy(seg, hlen);
  seg.writeUInt16BE(l4Checksum(ip.src, ip.dst, IPPROTO_TCP, seg), 16);
  return ipv4Frame(o, ip, IPPROTO_TCP, seg);
}

/** Ethernet + IPv4 + UDP frame. A computed UDP checksum of 0 is written as 0xffff. */
export function buildUdp(o: UdpOpts): Buffer {
  const ip = resolveIp(o);
  const payload = o.payload ?? Buffer.alloc(0);
  const seg = Buffer.alloc(UDP_HLEN + payload.length);
  if (seg.length > 0xffff) fail(`UDP length ${seg.length} exceeds 65535`);
  seg.writeUInt16BE(checkUint('sport', o.sport, 0xffff), 0);
  seg.writeUInt16BE(checkUint('dport', o.dport, 0xffff), 2);
  seg.writeUInt16BE(seg.length, 4);
  seg.writeUInt16BE(0, 6);
  payload.copy(seg, UDP_HLEN);
  if (!o.zeroChecksum) {
    const ck = l4Checksum(ip.src, ip.dst, IPPROTO_UDP, seg);
    seg.writeUInt16BE(ck === 0 ? 0xffff : ck, 6); // RFC 768
  }
  return ipv4Frame(o, ip, IPPROTO_UDP, seg);
}

/** Ethernet + IPv4 + ICMP echo request (type 8, default) or reply (type 0). */
export function buildIcmpEcho(o: IcmpEchoOpts): Buffer {
  const ip = resolveIp({ ...o, id: o.ipId });
  const type = o.type ?? 8;
  if (type !== 8 && type !== 0) fail(`ICMP echo type must be 8 or 0, got ${String(type)}`);
  const payload = o.payload ?? Buffer.alloc(0);
  const msg = Buffer.alloc(ICMP_HLEN + payload.length);
  msg[0] = type;
  msg[1] = 0;
  msg.writeUInt16BE(0, 2);
  msg.writeUInt16BE(checkUint('id', o.id, 0xffff), 4);
  msg.writeUInt16BE(checkUint('seq', o.seq, 0xffff), 6);
  payload.copy(msg, ICMP_HLEN);
  msg.writeUInt16BE(checksum16(msg), 2);
  return ipv4Frame(o, ip, IPPROTO_ICMP, msg);
}

/** Ethernet + ARP (Ethernet/IPv4) request or reply. */
export function buildArp(o: ArpOpts): Buffer {
  let op: number;
  if (o.op === 'request') op = 1;
  else if (o.op === 'reply') op = 2;
  else fail(`ARP op must be 'request' or 'reply', got ${JSON.stringify(o.op)}`);
  const a = Buffer.alloc(ARP_LEN);
  a.writeUInt16BE(1, 0); // htype Ethernet
  a.writeUInt16BE(ETHERTYPE_IPV4, 2); // ptype IPv4
  a[4] = 6;
  a[5] = 4;
  a.writeUInt16BE(op, 6);
  macToBuffer(o.senderMac).copy(a, 8);
  ipToBuffer(o.senderIp).copy(a, 14);
  macToBuffer(o.targetMac ?? '00:00:00:00:00:00').copy(a, 18);
  ipToBuffer(o.targetIp).copy(a, 24);
  return ethFrame(o, ETHERTYPE_ARP, a);
}

/**
 * Ethernet + IPv4 with an arbitrary payload used verbatim (no L4 checksum is
 * computed), for fragments, unknown protocols and broken headers.
 */
export function buildIpv4Raw(o: Ipv4RawOpts): Buffer {
  const ip = resolveIp(o);
  checkUint('protocol', o.protocol, 0xff);
  return ipv4Frame(o, ip, o.protocol, o.payload, {
    fragOffset: o.fragOffset,
    moreFragments: o.moreFragments,
    badChecksum: o.badChecksum,
  });
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

export interface ParsedEth {
  dst: string;
  src: string;
  /** EtherType, e.g. 0x0800. */
  type: number;
}

export interface ParsedArp {
  /** 'request' (1), 'reply' (2), or the raw opcode otherwise. */
  op: 'request' | 'reply' | number;
  opcode: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export interface ParsedIpv4 {
  version: number;
  /** Header length in 32-bit words. */
  ihl: number;
  tos: number;
  totalLength: number;
  id: number;
  /** 3-bit flags field: 0x2 = DF, 0x1 = MF. */
  flags: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Fragment offset field value, in units of 8 bytes. */
  fragOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  /** Header sums to 0xffff (RFC 1071 verification). */
  checksumOk: boolean;
  src: string;
  dst: string;
  options: Buffer;
  /** Bytes after the header up to totalLength (frame padding excluded). */
  payload: Buffer;
}

export interface ParsedTcp {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  /** Data offset in 32-bit words. */
  dataOffset: number;
  /** Set flags in the fixed order F S R P A U (E C), e.g. "SA". */
  flags: string;
  window: number;
  checksum: number;
  checksumOk: boolean;
  urgentPointer: number;
  options: Buffer;
  payload: Buffer;
}

export interface ParsedUdp {
  sport: number;
  dport: number;
  length: number;
  checksum: number;
  /** True when the checksum verifies or is 0 (not used). */
  checksumOk: boolean;
  payload: Buffer;
}

export interface ParsedIcmp {
  type: number;
  code: number;
  /** Bytes 4-5 of the ICMP header (identifier for echo). */
  id: number;
  /** Bytes 6-7 of the ICMP header (sequence number for echo). */
  seq: number;
  checksum: number;
  checksumOk: boolean;
  payload: Buffer;
}

export interface Parsed {
  eth: ParsedEth;
  arp?: ParsedArp;
  ipv4?: ParsedIpv4;
  tcp?: ParsedTcp;
  udp?: ParsedUdp;
  icmp?: ParsedIcmp;
}

function need(what: string, buf: Buffer, len: number): void {
  if (buf.length < len) fail(`truncated ${what}: need ${len} bytes, have ${buf.length}`);
}

function copy(buf: Buffer): Buffer {
  return Buffer.from(buf); // detach from the input frame
}

/**
 * Parse an Ethernet frame. L4 extent is taken from the IPv4 total length, so
 * trailing Ethernet padding is ignored. TCP/UDP/ICMP are only decoded for
 * unfragmented datagrams (MF clear and offset 0). Checksums are verified by
 * summing the covered bytes from scratch (a correct region sums to 0xffff,
 * accepting both 0x0000 and 0xffff encodings of a zero checksum). Throws on
 * truncation or malformed headers.
 */
export function parsePacket(buf: Buffer): Parsed {
  need('Ethernet header', buf, ETH_HLEN);
  const eth: ParsedEth = {
    dst: macToString(buf.subarray(0, 6)),
    src: macToString(buf.subarray(6, 12)),
    type: buf.readUInt16BE(12),
  };
  const out: Parsed = { eth };
  const body = buf.subarray(ETH_HLEN);
  if (eth.type === ETHERTYPE_ARP) out.arp = parseArp(body);
  else if (eth.type === ETHERTYPE_IPV4) parseIpv4(body, out);
  return out;
}

function parseArp(b: Buffer): ParsedArp {
  need('ARP packet', b, ARP_LEN);
  const htype = b.readUInt16BE(0);
  const ptype = b.readUInt16BE(2);
  if (htype !== 1 || ptype !== ETHERTYPE_IPV4 || b[4] !== 6 || b[5] !== 4) {
    fail(`unsupported ARP: htype=${htype} ptype=0x${ptype.toString(16)} hlen=${b[4]} plen=${b[5]}`);
  }
  const opcode = b.readUInt16BE(6);
  return {
    op: opcode === 1 ? 'request' : opcode === 2 ? 'reply' : opcode,
    opcode,
    senderMac: macToString(b.subarray(8, 14)),
    senderIp: ipToString(b.subarray(14, 18)),
    targetMac: macToString(b.subarray(18, 24)),
    targetIp: ipToString(b.subarray(24, 28)),
  };
}

function parseIpv4(b: Buffer, out: Parsed): void {
  need('IPv4 header', b, IPV4_MIN_HLEN);
  const version = b[0]! >> 4;
  const ihl = b[0]! & 0x0f;
  if (version !== 4) fail(`not IPv4: version ${version}`);
  if (ihl < 5) fail(`bad IPv4 IHL ${ihl} (< 5)`);
  const hlen = ihl * 4;
  need('IPv4 header with options', b, hlen);
  const totalLength = b.readUInt16BE(2);
  if (totalLength < hlen) fail(`bad IPv4 total length ${totalLength} (< header length ${hlen})`);
  need('IPv4 datagram (total length)', b, totalLength);
  const ff = b.readUInt16BE(6);
  const src = b.subarray(12, 16);
  const dst = b.subarray(16, 20);
  const ip: ParsedIpv4 = {
    version,
    ihl,
    tos: b[1]!,
    totalLength,
    id: b.readUInt16BE(4),
    flags: ff >> 13,
    dontFragment: (ff & 0x4000) !== 0,
    moreFragments: (ff & 0x2000) !== 0,
    fragOffset: ff & 0x1fff,
    ttl: b[8]!,
    protocol: b[9]!,
    checksum: b.readUInt16BE(10),
    checksumOk: checksum16(b.subarray(0, hlen)) === 0,
    src: ipToString(src),
    dst: ipToString(dst),
    options: copy(b.subarray(IPV4_MIN_HLEN, hlen)),
    payload: copy(b.subarray(hlen, totalLength)),
  };
  out.ipv4 = ip;
  if (ip.moreFragments || ip.fragOffset !== 0) return;
  const l4 = b.subarray(hlen, totalLength);
  if (ip.protocol === IPPROTO_TCP) out.tcp = parseTcp(l4, src, dst);
  else if (ip.protocol === IPPROTO_UDP) out.udp = parseUdp(l4, src, dst);
  else if (ip.protocol === IPPROTO_ICMP) out.icmp = parseIcmp(l4);
}

function parseTcp(seg: Buffer, src: Buffer, dst: Buffer): ParsedTcp {
  need('TCP header', seg, TCP_MIN_HLEN);
  const dataOffset = seg[12]! >> 4;
  if (dataOffset < 5) fail(`bad TCP data offset ${dataOffset} (< 5)`);
  const hlen = dataOffset * 4;
  need('TCP header with options', seg, hlen);
  return {
    sport: seg.readUInt16BE(0),
    dport: seg.readUInt16BE(2),
    seq: seg.readUInt32BE(4),
    ack: seg.readUInt32BE(8),
    dataOffset,
    flags: tcpBitsToFlags(seg[13]!),
    window: seg.readUInt16BE(14),
    checksum: seg.readUInt16BE(16),
    checksumOk: l4Checksum(src, dst, IPPROTO_TCP, seg) === 0,
    urgentPointer: seg.readUInt16BE(18),
    options: copy(seg.subarray(TCP_MIN_HLEN, hlen)),
    payload: copy(seg.subarray(hlen)),
  };
}

function parseUdp(seg: Buffer, src: Buffer, dst: Buffer): ParsedUdp {
  need('UDP header', seg, UDP_HLEN);
  const length = seg.readUInt16BE(4);
  if (length < UDP_HLEN) fail(`bad UDP length ${length} (< 8)`);
  if (length > seg.length) fail(`truncated UDP datagram: UDP length ${length}, IPv4 payload ${seg.length}`);
  const dgram = seg.subarray(0, length);
  const checksum = seg.readUInt16BE(6);
  return {
    sport: seg.readUInt16BE(0),
    dport: seg.readUInt16BE(2),
    length,
    checksum,
    checksumOk: checksum === 0 || l4Checksum(src, dst, IPPROTO_UDP, dgram) === 0,
    payload: copy(dgram.subarray(UDP_HLEN)),
  };
}

function parseIcmp(msg: Buffer): ParsedIcmp {
  need('ICMP header', msg, ICMP_HLEN);
  return {
    type: msg[0]!,
    code: msg[1]!,
    id: msg.readUInt16BE(4),
    seq: msg.readUInt16BE(6),
    checksum: msg.readUInt16BE(2),
    checksumOk: checksum16(msg) === 0,
    payload: copy(msg.subarray(ICMP_HLEN)),
  };
}
