// Packet fixtures in Katran's style: a table of { description, input frame on
// a port, expected frame out of a port | expected drop counter } (its types and
// builders in test/lib/packet-table.ts, shared with the bench), and a runner
// that feeds the real data plane (RingGateway) one input at a time and checks
// the output field by field against an independently built expected frame.
//
// Every frame here is built, and every output parsed and checksum-verified, by
// test/lib/packet.ts, which computes checksums from scratch and shares no code
// with the data plane.
import {
  buildArp,
  buildIpv4Raw,
  buildTcp,
  parsePacket,
  type Parsed,
  type TcpOpts,
} from '../lib/packet';
import { describeFrame } from '../lib/describe-frame';
import type { Fixture, Host } from '../lib/packet-table';
import type { RingGateway } from './harness';

export {
  dgram,
  drop,
  reverse,
  ringPortMac,
  seg,
  stepFx,
  tcpConnection,
  tcpFx,
  udpFx,
  type Ends,
  type Expected,
  type Fixture,
  type Flow,
  type Host,
  type TcpSeg,
  type TcpStep,
  type UdpDgram,
} from '../lib/packet-table';

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

/** Counters that tell which path a frame took; unnamed ones must stay put. */
export const PATH_COUNTERS = [
  'fwd_to_server',
  'fwd_to_client',
  'sessions_created',
  'to_control',
  'arp_replies',
  'arp_learned',
  'icmp_echo_replies',
  'drop_not_ipv4',
  'drop_other_host',
  'drop_malformed',
  'drop_bad_checksum',
  'drop_fragment',
  'drop_ttl',
  'drop_no_service',
  'drop_no_session',
  'drop_session_full',
  'drop_bucket_full',
  'drop_lport_exhausted',
  'drop_no_real_server',
  'drop_neigh_unresolved',
  'drop_control_full',
  'drop_unsupported',
  'syn_proxy_syn_ack_sent',
  'syn_proxy_cookie_ok',
  'syn_proxy_established',
  'syn_proxy_held',
  'syn_proxy_server_rst',
  'syn_proxy_client_rst',
  'drop_syn_proxy_bad_cookie',
  'drop_syn_proxy_pending',
  'drop_tcp_out_of_window',
  'tcp_syn_in_session',
] as const;

// ---------------------------------------------------------------------------
// Hosts and frame helpers shared by the fixture files
// ---------------------------------------------------------------------------

export const BROADCAST = 'ff:ff:ff:ff:ff:ff';
export const ZERO_MAC = '00:00:00:00:00:00';

/** TCP option MSS=1460, as a SYN carries it (kind 2, length 4). */
export const MSS_1460 = Buffer.from([0x02, 0x04, 0x05, 0xb4]);
/** IPv4 options: four NOPs (a header of 24 bytes, IHL 6). */
export const IP_NOPS = Buffer.from([0x01, 0x01, 0x01, 0x01]);

/** Deterministic payload of `n` bytes (not all zero, so a checksum bug shows). */
export function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = (x >>> 16) & 0xff;
  }
  return b;
}

/** The same frame with the EtherType replaced (for "not IPv4" inputs). */
export function withEthertype(frame: Buffer, type: number): Buffer {
  const f = Buffer.from(frame);
  f.writeUInt16BE(type, 12);
  return f;
}

/** The TCP segment (header + payload) of a built frame, for raw IPv4 inputs. */
export function l4Of(frame: Buffer): Buffer {
  const p = parsePacket(frame);
  if (!p.ipv4) throw new Error('l4Of: not IPv4');
  return p.ipv4.payload;
}

/** A TCP frame with a deliberately wrong IPv4 header checksum. */
export function tcpBadIpChecksum(o: TcpOpts): Buffer {
  return buildIpv4Raw({ ...o, protocol: 6, payload: l4Of(buildTcp(o)), badChecksum: true });
}

/** ARP reply from `host` to the gateway port `portMac`/`portIp`. */
export function arpReplyFrom(host: Host, portMac: string, portIp: string): Buffer {
  return buildArp({ op: 'reply', ethSrc: host.mac, ethDst: portMac, senderMac: host.mac, senderIp: host.ip, targetMac: portMac, targetIp: portIp });
}

/** ARP request from `host` for `targetIp`, broadcast. */
export function arpRequestFrom(host: Host, targetIp: string): Buffer {
  return buildArp({ op: 'request', ethSrc: host.mac, ethDst: BROADCAST, senderMac: host.mac, senderIp: host.ip, targetIp });
}

/** The gateway's answer to arpRequestFrom(host, ip) on a port with MAC `portMac`. */
export function arpAnswer(host: Host, ip: string, portMac: string): Buffer {
  return buildArp({ op: 'reply', ethSrc: portMac, ethDst: host.mac, senderMac: portMac, senderIp: ip, targetMac: host.mac, targetIp: host.ip });
}

// ---------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------

function show(v: unknown): string {
  if (Buffer.isBuffer(v)) return v.length > 24 ? `<${v.length} bytes ${v.subarray(0, 24).toString('hex')}...>` : `<${v.toString('hex') || 'empty'}>`;
  if (typeof v === 'number') return `${v} (0x${v.toString(16)})`;
  return JSON.stringify(v);
}

/** Field-by-field differences between two parsed values, as "path: got X, expected Y". */
export function diffFields(got: unknown, want: unknown, path = ''): string[] {
  if (Buffer.isBuffer(got) || Buffer.isBuffer(want)) {
    if (Buffer.isBuffer(got) && Buffer.isBuffer(want) && got.equals(want)) return [];
    let at = '';
    if (Buffer.isBuffer(got) && Buffer.isBuffer(want)) {
      let i = 0;
      while (i < got.length && i < want.length && got[i] === want[i]) i++;
      at = ` (lengths ${got.length}/${want.length}, first difference at byte ${i})`;
    }
    return [`${path}: got ${show(got)}, expected ${show(want)}${at}`];
  }
  if (typeof got === 'object' && got !== null && typeof want === 'object' && want !== null) {
    const keys = new Set([...Object.keys(got), ...Object.keys(want)]);
    const out: string[] = [];
    for (const k of keys) {
      out.push(...diffFields((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
    }
    return out;
  }
  return Object.is(got, want) ? [] : [`${path}: got ${show(got)}, expected ${show(want)}`];
}

/** Checksums that do not verify in a parsed frame (layer names). */
export function badChecksums(p: Parsed): string[] {
  const bad: string[] = [];
  if (p.ipv4 && !p.ipv4.checksumOk) bad.push(`ipv4 header checksum 0x${p.ipv4.checksum.toString(16)}`);
  if (p.tcp && !p.tcp.checksumOk) bad.push(`tcp checksum 0x${p.tcp.checksum.toString(16)}`);
  if (p.udp && !p.udp.checksumOk) bad.push(`udp checksum 0x${p.udp.checksum.toString(16)}`);
  if (p.icmp && !p.icmp.checksumOk) bad.push(`icmp checksum 0x${p.icmp.checksum.toString(16)}`);
  return bad;
}

/**
 * Problems with `got` as the expected frame `want`: unparseable, a checksum
 * that does not verify, any parsed field that differs, or a different frame
 * length. Empty when they match.
 */
export function compareFrames(got: Buffer, want: Buffer): string[] {
  let pg: Parsed;
  try {
    pg = parsePacket(got);
  } catch (e) {
    return [`output does not parse: ${(e as Error).message} (frame ${got.toString('hex')})`];
  }
  const pw = parsePacket(want);
  const problems = badChecksums(pg).map((c) => `checksum does not verify: ${c}`);
  // With an L4 layer decoded on both sides, the raw IPv4 payload only repeats its differences.
  const l4 = (p: Parsed) => p.tcp ?? p.udp ?? p.icmp;
  const strip = (p: Parsed) => (l4(pg) && l4(pw) && p.ipv4 ? { ...p, ipv4: { ...p.ipv4, payload: undefined } } : p);
  problems.push(...diffFields(strip(pg), strip(pw)));
  if (got.length !== want.length) problems.push(`frame length: got ${got.length}, expected ${want.length}`);
  return problems;
}

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The ARP requests the control thread keeps sending for its next hops are a
 * background activity, not an answer to any fixture input: set them aside.
 */
export function isGatewayArpProbe(frame: Buffer, portMac: string): boolean {
  try {
    const p = parsePacket(frame);
    return p.arp?.op === 'request' && p.eth.src === portMac && p.arp.senderMac === portMac && p.eth.dst === BROADCAST;
  } catch {
    return false;
  }
}

function portNames(gw: RingGateway): string[] {
  return gw.cfg.ports.map((p) => p.name);
}

/**
 * Frames that left `port` on any of the workers' TX queues (probes set
 * aside) until n arrived or ms passed: with several workers a frame may
 * leave from whichever worker owns its session.
 */
export async function collectAnyQueue(gw: RingGateway, port: string, n: number, ms = 1500): Promise<Buffer[]> {
  const idx = portNames(gw).indexOf(port);
  const mac = gw.mac(port);
  const queues = gw.cfg.dpdk.lcores.workers.length;
  const got: Buffer[] = [];
  const end = Date.now() + ms;
  while (got.length < n && Date.now() < end) {
    for (let q = 0; q < queues; q++) got.push(...gw.testing.ringDrain(idx, q).filter((f) => !isGatewayArpProbe(f, mac)));
    if (got.length < n) await sleep(5);
  }
  return got;
}

/** Frames that left `port` (probes set aside) until n arrived or timeout. */
export async function collectFrames(gw: RingGateway, port: string, n: number, timeoutMs = 2000): Promise<Buffer[]> {
  const mac = gw.mac(port);
  const out: Buffer[] = [];
  const end = Date.now() + timeoutMs;
  while (out.length < n && Date.now() < end) {
    const got = await gw.collect(port, 1, Math.max(1, Math.min(50, end - Date.now())));
    out.push(...got.filter((f) => !isGatewayArpProbe(f, mac)));
  }
  return out;
}

/** What left any port within ms (probes set aside), by port. */
export async function leftovers(gw: RingGateway, ms: number): Promise<Map<string, Buffer[]>> {
  await sleep(ms);
  const out = new Map<string, Buffer[]>();
  for (const port of portNames(gw)) {
    const mac = gw.mac(port);
    const frames = (await gw.quiet(port, 0)).filter((f) => !isGatewayArpProbe(f, mac));
    if (frames.length) out.set(port, frames);
  }
  return out;
}

/** Empties every port's TX ring (before a table, after setup). */
export async function drainAll(gw: RingGateway): Promise<void> {
  for (const port of portNames(gw)) await gw.quiet(port, 0);
}

function moved(before: Record<string, number>, after: Record<string, number>): string {
  const d = Object.keys(after)
    .filter((k) => after[k] !== before[k])
    .map((k) => `${k}${after[k]! - before[k]! >= 0 ? '+' : ''}${after[k]! - before[k]!}`);
  return d.length ? d.join(' ') : 'none';
}

/**
 * Polls the counters until `cond` holds or the timeout passes (a bound on
 * waiting for something asynchronous, such as the sweeper: never a timing
 * assertion). Returns the last counters read.
 */
export async function waitUntil(gw: RingGateway, cond: (c: Record<string, number>) => boolean, timeoutMs: number): Promise<Record<string, number>> {
  const end = Date.now() + timeoutMs;
  let c = gw.counters();
  while (!cond(c) && Date.now() < end) {
    await sleep(20);
    c = gw.counters();
  }
  return c;
}

async function waitForCounter(gw: RingGateway, name: string, atLeast: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && (gw.counters()[name] ?? 0) < atLeast) await sleep(2);
}

/** Runs one fixture; returns its problems (empty when it passed). */
export async function runFixture(gw: RingGateway, f: Fixture): Promise<string[]> {
  const problems: string[] = [];
  const before = gw.counters();
  gw.inject(f.inPort, [f.input]);

  const want: Record<string, number> = { rx_packets: 1 };
  for (const c of PATH_COUNTERS) want[c] = 0;
  const exp = f.expected;
  if ('dropped' in exp) {
    if (!(exp.dropped in before)) problems.push(`no counter named ${exp.dropped}`);
    want[exp.dropped] = 1;
    Object.assign(want, f.counters);
    await waitForCounter(gw, exp.dropped, (before[exp.dropped] ?? 0) + 1, 2000);
    const left = await leftovers(gw, 60);
    for (const [port, frames] of left) {
      problems.push(`expected a drop, but ${frames.length} frame(s) left ${port}: ${frames.map(describeFrame).join('; ')}`);
    }
  } else {
    Object.assign(want, f.counters);
    const got = await collectFrames(gw, exp.outPort, 1);
    if (got.length === 0) {
      const left = await leftovers(gw, 0);
      const elsewhere = [...left].map(([p, fr]) => `${p}: ${fr.map(describeFrame).join('; ')}`).join(', ');
      problems.push(
        `no frame left ${exp.outPort}${elsewhere ? ` (left instead: ${elsewhere})` : ''} (counters moved: ${moved(before, gw.counters())})`,
      );
    } else {
      problems.push(...compareFrames(got[0]!, exp.frame));
      if (got.length > 1) problems.push(`${got.length - 1} extra frame(s) left ${exp.outPort}: ${got.slice(1).map(describeFrame).join('; ')}`);
      const left = await leftovers(gw, 20);
      for (const [port, frames] of left) problems.push(`extra frame(s) left ${port}: ${frames.map(describeFrame).join('; ')}`);
    }
  }

  const after = gw.counters();
  for (const [name, delta] of Object.entries(want)) {
    if (!(name in after)) {
      problems.push(`no counter named ${name}`);
      continue;
    }
    const d = after[name]! - before[name]!;
    if (d !== delta) problems.push(`counter ${name}: moved by ${d}, expected ${delta}`);
  }
  if (problems.length && !problems.some((p) => p.startsWith('no frame left'))) problems.push(`(counters moved: ${moved(before, after)})`);
  return problems;
}

/**
 * Runs the table in order (later inputs rely on the sessions earlier ones
 * made). Throws one error listing every failed fixture by description.
 */
export async function runFixtures(gw: RingGateway, table: Fixture[]): Promise<void> {
  const failures: string[] = [];
  for (const f of table) {
    const problems = await runFixture(gw, f);
    if (problems.length) failures.push(`✗ ${f.description}\n    ${problems.join('\n    ')}`);
  }
  if (failures.length) throw new Error(`${failures.length} of ${table.length} fixtures failed:\n${failures.join('\n')}`);
}

// ---------------------------------------------------------------------------
// Neighbour resolution (the first thing every table needs)
// ---------------------------------------------------------------------------

/**
 * Answers the gateway's ARP requests for `hosts` on `port` until the data
 * plane reports all of them resolved. Each request is checked field by field:
 * broadcast from the port's MAC, asking for the host from `senderIp` (the
 * port's address in that subnet). Returns problems (empty when fine).
 */
export async function resolveNeighbours(gw: RingGateway, port: string, senderIp: string, hosts: Host[], timeoutMs = 5000): Promise<string[]> {
  const mac = gw.mac(port);
  const problems: string[] = [];
  const pending = new Map(hosts.map((h) => [h.ip, h]));
  const asked = new Set<string>();
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const f of await gw.collect(port, 1, 50)) {
      let p: Parsed;
      try {
        p = parsePacket(f);
      } catch (e) {
        problems.push(`unparseable frame on ${port} while resolving: ${(e as Error).message}`);
        continue;
      }
      const host = p.arp?.op === 'request' ? pending.get(p.arp.targetIp) : undefined;
      if (!host) continue;
      if (!asked.has(host.ip)) {
        const want = buildArp({ op: 'request', ethSrc: mac, ethDst: BROADCAST, senderMac: mac, senderIp, targetMac: ZERO_MAC, targetIp: host.ip });
        problems.push(...compareFrames(f, want).map((x) => `ARP request for ${host.ip} on ${port}: ${x}`));
        asked.add(host.ip);
      }
      gw.inject(port, [arpReplyFrom(host, mac, senderIp)]);
    }
    const resolved = gw.native.neighbours().filter((n) => n.resolved);
    const ipOf = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    if (hosts.every((h) => resolved.some((n) => ipOf(n.ip) === h.ip && n.mac === h.mac))) {
      for (const h of hosts) if (!asked.has(h.ip)) problems.push(`the gateway never sent an ARP request for ${h.ip} on ${port}`);
      return problems;
    }
  }
  problems.push(`neighbours on ${port} not all resolved within ${timeoutMs} ms: ${JSON.stringify(gw.native.neighbours())}`);
  return problems;
}
