// Reload without losing a session (issue #4, DESIGN.md §3 "Config publish"),
// on the real data plane (ring ports, one worker).
//
// Every reload goes through RingGateway.apply(), which publishes a new plan
// exactly as a live reload does (atomic pointer swap, RCU wait, old plan
// freed) with the ids kept stable. What is checked, packet by packet:
//  - sessions carry their own rewrite data: after any change (weights, a real
//    server removed, a service removed or added, the scheduler, the LIP pool,
//    timeouts) every existing session still translates both ways exactly as
//    before, while new flows follow the new plan;
//  - draining (weight 0, health down): no new sessions, existing ones go on;
//  - reset: the next packet of a session to a removed server ends it (TCP:
//    RST+ACK to the sender and RST to its peer; UDP: dropped);
//  - LIPs added, removed and re-ranged live without ever handing out a port a
//    live session holds;
//  - 50 reloads in a row while sessions keep talking.
//
// Every frame is built, and every output parsed and checksum-verified, by
// test/lib/packet.ts (the independent oracle). Where the new plan leaves a
// choice (which server of several, which LIP:lport), the output is checked
// to be one of the allowed ones and then compared field by field with the
// frame built for that choice. Waiting for expiry polls counters with a
// generous bound; nothing here asserts how long anything took.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp, buildUdp, parsePacket, type Parsed } from '../lib/packet';
import { describeFrame } from '../lib/describe-frame';
import { sessionRow } from '../../src/control/views';
import { RingGateway } from './harness';
import {
  arpAnswer,
  arpRequestFrom,
  bytes,
  collectFrames,
  compareFrames,
  dgram,
  drainAll,
  drop,
  IP_NOPS,
  leftovers,
  MSS_1460,
  PATH_COUNTERS,
  resolveNeighbours,
  runFixtures,
  seg,
  waitUntil,
  type Ends,
  type Host,
} from './fixtures';
import { VIP, WAN_IP, LAN_IP, LIP as LIP10, CLIENT, RS1 } from './addresses';
import { ringPortMac } from '../lib/packet-table';

// ---------------------------------------------------------------------------
// Addresses and configuration
// ---------------------------------------------------------------------------

const VIP2 = '198.18.0.101';
const LIP11 = '198.19.0.11';
const LIP12 = '198.19.0.12';
const RS2: Host = { ip: '198.19.0.3', mac: '02:00:00:00:02:03' };
const RS3: Host = { ip: '198.19.0.4', mac: '02:00:00:00:02:04' };
const RS4: Host = { ip: '198.19.0.5', mac: '02:00:00:00:02:05' };

type Proto = 'tcp' | 'udp';
type TimeoutName = 'tcp_syn' | 'tcp_established' | 'tcp_fin' | 'tcp_time_wait' | 'tcp_close' | 'udp';

interface RsSpec {
  host: Host;
  port: number;
  weight?: number;
}

interface SvcSpec {
  name: string;
  vip?: string;
  port: number;
  protocol: Proto;
  scheduler?: 'rr' | 'wrr';
  pool?: string;
  rs: RsSpec[];
}

interface PlanSpec {
  pools: Record<string, { lips: string[]; ports: [number, number] }>;
  /** Seconds; every timeout not named is 300 (nothing expires unless a test wants it). */
  timeouts?: Partial<Record<TimeoutName, number>>;
  services: SvcSpec[];
}

const TIMEOUTS: TimeoutName[] = ['tcp_syn', 'tcp_established', 'tcp_fin', 'tcp_time_wait', 'tcp_close', 'udp'];

// Each gateway gets ring devices of its own name (restarting on the same
// names is lifecycle.test.ts's subject). Ports and dpdk never change in a
// reload: only the plan does.
let instance = 0;

function yamlFor(inst: number, p: PlanSpec): string {
  const pools = Object.entries(p.pools)
    .map(([name, q]) => `  ${name}: { port: lan, addresses: [${q.lips.join(', ')}], ports: [${q.ports[0]}, ${q.ports[1]}] }`)
    .join('\n');
  const timeouts = TIMEOUTS.map((k) => `${k}: ${p.timeouts?.[k] ?? 300}`).join(', ');
  const services = p.services
    .map(
      (s) =>
        `  - { name: ${s.name}, vip: ${s.vip ?? VIP}, port: ${s.port}, protocol: ${s.protocol}, scheduler: ${s.scheduler ?? 'rr'}, ` +
        `local_addresses: ${s.pool ?? 'pool'}, real_servers: [${s.rs.map((r) => `{ address: ${r.host.ip}, port: ${r.port}, weight: ${r.weight ?? 1} }`).join(', ')}] }`,
    )
    .join('\n');
  return `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 4095, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:rlwan${inst}", addresses: [${WAN_IP}/24] }
  - { name: lan, device: "ring:rllan${inst}", addresses: [${LAN_IP}/24] }
local_addresses:
${pools}
sessions: { max: 1024, timeouts: { ${timeouts} } }
services:
${services}
`;
}

// ---------------------------------------------------------------------------
// The gateway under test, with its plans and the sessions a test tracks
// ---------------------------------------------------------------------------

interface Sess {
  name: string;
  proto: Proto;
  client: Host;
  cport: number;
  vip: string;
  vport: number;
  rs: Host;
  rport: number;
  lip: string;
  lport: number;
  /** Next TCP sequence number of each side (unused for UDP). */
  cseq: number;
  sseq: number;
  /** The ids its service and server had when it was created: a session keeps them across reloads. */
  svcId: number;
  rsId: number;
}

class Bench {
  readonly m: { wan: string; lan: string };
  plan: PlanSpec;

  constructor(
    readonly gw: RingGateway,
    readonly inst: number,
    plan: PlanSpec,
  ) {
    this.plan = plan;
    // Ring MACs are fixed (ringPortMac of the port's index; the harness checks them at start).
    const idx = (name: string) => gw.cfg.ports.findIndex((p) => p.name === name);
    this.m = { wan: ringPortMac(idx('wan')), lan: ringPortMac(idx('lan')) };
  }

  /** Publishes `plan` as a live reload does; `down`/`reset` name real servers as [service name, host, port]. */
  apply(plan: PlanSpec, opts: { down?: [string, Host, number][]; reset?: [string, Host, number][] } = {}): void {
    const key = ([svc, host, port]: [string, Host, number]) => {
      const s = [...plan.services, ...this.plan.services].find((x) => x.name === svc);
      if (!s) throw new Error(`no service ${svc}`);
      return rsKeyOf(s, host, port);
    };
    this.gw.apply(yamlFor(this.inst, plan), { down: opts.down?.map(key), reset: opts.reset?.map(key) });
    this.plan = plan;
  }

  /** A real server's id: configured, or removed and still draining. */
  rsId(key: string): number {
    const id = this.gw.ids.realServers().get(key) ?? [...this.gw.ids.drainingServers()].find(([, k]) => k === key)?.[0];
    if (id === undefined) throw new Error(`no id for real server ${key}`);
    return id;
  }

  /** { active, created } of a real server by id (summed over workers). */
  rsCount(id: number): { active: number; created: number } {
    const r = this.gw.native.readRealServers(this.gw.ids.realServerIdLimit());
    return { active: r.active[id]!, created: r.created[id]! };
  }
}

function svcKeyOf(s: { vip?: string; port: number; protocol: string }): string {
  return `${s.vip ?? VIP}:${s.port}/${s.protocol}`;
}

function rsKeyOf(s: { vip?: string; port: number; protocol: string }, host: Host, port: number): string {
  return RingGateway.rsKey({ vip: s.vip ?? VIP, port: s.port, protocol: s.protocol }, { address: host.ip, port });
}

async function withBench(plan: PlanSpec, hosts: Host[], body: (b: Bench) => Promise<void>): Promise<void> {
  const inst = ++instance;
  const gw = RingGateway.start(yamlFor(inst, plan));
  try {
    assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, hosts), [], 'resolving the real servers');
    await drainAll(gw);
    await body(new Bench(gw, inst, plan));
  } finally {
    gw.stop();
  }
}

// ---------------------------------------------------------------------------
// Frames of a tracked session
// ---------------------------------------------------------------------------

let ipId = 0;
const nextId = () => (ipId = ipId >= 0xffff ? 1 : ipId + 1);

/** A payload that starts with a readable tag and has a length that varies (odd and even). */
function payloadFor(tag: string, id: number): Buffer {
  return Buffer.concat([Buffer.from(tag), bytes(1 + (id % 13), id)]);
}

function ends(b: Bench, s: Sess) {
  return {
    fromC: { ethSrc: s.client.mac, ethDst: b.m.wan, src: s.client.ip, dst: s.vip, sport: s.cport, dport: s.vport } as Ends,
    toC: { ethSrc: b.m.wan, ethDst: s.client.mac, src: s.vip, dst: s.client.ip, sport: s.vport, dport: s.cport } as Ends,
    toRs: { ethSrc: b.m.lan, ethDst: s.rs.mac, src: s.lip, dst: s.rs.ip, sport: s.lport, dport: s.rport } as Ends,
    fromRs: { ethSrc: s.rs.mac, ethDst: b.m.lan, src: s.rs.ip, dst: s.lip, sport: s.rport, dport: s.lport } as Ends,
  };
}

interface Pkt {
  what: string;
  inPort: 'wan' | 'lan';
  input: Buffer;
  outPort: 'wan' | 'lan';
  want: Buffer;
}

/** One data packet of the session in one direction: the input and the frame that must come out. */
function dataPkt(b: Bench, s: Sess, dir: 'c2s' | 's2c', what: string): Pkt {
  const e = ends(b, s);
  const id = nextId();
  const payload = payloadFor(`${s.name} ${dir} ${what}`, id);
  const [from, to, inPort, outPort] = dir === 'c2s' ? [e.fromC, e.toRs, 'wan', 'lan'] as const : [e.fromRs, e.toC, 'lan', 'wan'] as const;
  if (s.proto === 'udp') {
    const d = dgram({ id, payload });
    return { what: `${s.name} ${dir}: ${what}`, inPort, input: buildUdp({ ...from, ...d, ttl: 64 }), outPort, want: buildUdp({ ...to, ...d, ttl: 63 }) };
  }
  const sg =
    dir === 'c2s'
      ? seg({ flags: 'PA', seq: s.cseq, ack: s.sseq, id, payload })
      : seg({ flags: 'PA', seq: s.sseq, ack: s.cseq, id, payload });
  if (dir === 'c2s') s.cseq = (s.cseq + payload.length) >>> 0;
  else s.sseq = (s.sseq + payload.length) >>> 0;
  return { what: `${s.name} ${dir}: ${what}`, inPort, input: buildTcp({ ...from, ...sg, ttl: 64 }), outPort, want: buildTcp({ ...to, ...sg, ttl: 63 }) };
}

/** A first packet to a service from a client port no session has. */
function firstPacket(b: Bench, proto: Proto, cport: number, vport: number, vip = VIP): Buffer {
  const e: Ends = { ethSrc: CLIENT.mac, ethDst: b.m.wan, src: CLIENT.ip, dst: vip, sport: cport, dport: vport };
  const id = nextId();
  return proto === 'tcp'
    ? buildTcp({ ...e, ...seg({ flags: 'S', seq: cport * 1000, ack: 0, id, tcpOptions: MSS_1460 }), ttl: 64 })
    : buildUdp({ ...e, ...dgram({ id, payload: payloadFor(`first ${cport}`, id) }), ttl: 64 });
}

// ---------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------

function moved(before: Record<string, number>, after: Record<string, number>): string {
  const d = Object.keys(after)
    .filter((k) => after[k] !== before[k])
    .map((k) => `${k}${after[k]! - before[k]! >= 0 ? '+' : ''}${after[k]! - before[k]!}`);
  return d.length ? d.join(' ') : 'none';
}

/** Problems with the counter deltas: every PATH counter not in `want` must stay put. */
function counterProblems(before: Record<string, number>, after: Record<string, number>, want: Record<string, number>): string[] {
  const w: Record<string, number> = {};
  for (const c of PATH_COUNTERS) w[c] = 0;
  Object.assign(w, want);
  const out: string[] = [];
  for (const [name, delta] of Object.entries(w)) {
    if (!(name in after)) out.push(`no counter named ${name}`);
    else if (after[name]! - before[name]! !== delta) out.push(`counter ${name}: moved by ${after[name]! - before[name]!}, expected ${delta}`);
  }
  if (out.length) out.push(`(counters moved: ${moved(before, after)})`);
  return out;
}

async function noLeftovers(b: Bench, ms = 30): Promise<string[]> {
  const left = await leftovers(b.gw, ms);
  return [...left].map(([port, frames]) => `unexpected frame(s) left ${port}: ${frames.map(describeFrame).join('; ')}`);
}

// ---------------------------------------------------------------------------
// Exchanges
// ---------------------------------------------------------------------------

function flowKey(p: Parsed): string {
  const l4 = p.tcp ?? p.udp;
  return `${p.tcp ? 'tcp' : 'udp'} ${p.ipv4?.src}:${l4?.sport} > ${p.ipv4?.dst}:${l4?.dport}`;
}

/**
 * Injects all packets at once (client side first, then server side), collects
 * as many frames from each port as must leave it, and matches each output to
 * the input it translates (by its translated 5-tuple: a session sends one
 * packet per direction per batch). Counters: exactly one forward per packet,
 * nothing dropped, no session created. `whileInFlight` runs right after the
 * injection, while the worker is still translating the batch.
 */
async function exchange(b: Bench, pkts: Pkt[], label: string, whileInFlight?: () => void): Promise<void> {
  const before = b.gw.counters();
  const problems: string[] = [];
  const want = new Map<string, Pkt[]>();
  for (const p of pkts) {
    const k = flowKey(parsePacket(p.want));
    want.set(k, [...(want.get(k) ?? []), p]);
  }
  const wan = pkts.filter((p) => p.inPort === 'wan').map((p) => p.input);
  const lan = pkts.filter((p) => p.inPort === 'lan').map((p) => p.input);
  if (wan.length) b.gw.inject('wan', wan);
  if (lan.length) b.gw.inject('lan', lan);
  whileInFlight?.();
  for (const port of ['wan', 'lan'] as const) {
    const n = pkts.filter((p) => p.outPort === port).length;
    if (n === 0) continue;
    const got = await collectFrames(b.gw, port, n, 5000);
    if (got.length < n) problems.push(`${port}: ${got.length} of ${n} frames left`);
    for (const f of got) {
      let k: string;
      try {
        k = flowKey(parsePacket(f));
      } catch (e) {
        problems.push(`${port}: unparseable output ${(e as Error).message}`);
        continue;
      }
      const p = want.get(k)?.shift();
      if (!p || p.outPort !== port) {
        problems.push(`${port}: a frame no input asked for: ${describeFrame(f)}`);
        continue;
      }
      problems.push(...compareFrames(f, p.want).map((x) => `${p.what}: ${x}`));
    }
  }
  for (const list of want.values()) for (const p of list) problems.push(`${p.what}: no translated frame left ${p.outPort}`);
  problems.push(...(await noLeftovers(b, 20)));
  const after = b.gw.counters();
  problems.push(
    ...counterProblems(before, after, {
      rx_packets: pkts.length,
      fwd_to_server: pkts.filter((p) => p.outPort === 'lan').length,
      fwd_to_client: pkts.filter((p) => p.outPort === 'wan').length,
    }),
  );
  if (problems.length) assert.fail(`${label}: ${problems.length} problem(s):\n    ${problems.slice(0, 40).join('\n    ')}`);
}

/** Every session sends one packet each way; all must come out translated exactly as before. */
function bothWays(b: Bench, sessions: Sess[], label: string, whileInFlight?: () => void): Promise<void> {
  return exchange(
    b,
    sessions.flatMap((s) => [dataPkt(b, s, 'c2s', label), dataPkt(b, s, 's2c', label)]),
    `existing sessions ${whileInFlight ? 'during' : 'after'} ${label}`,
    whileInFlight,
  );
}

interface OpenOpts {
  name: string;
  proto: Proto;
  cport: number;
  vport: number;
  vip?: string;
  /** The servers the new plan allows for this flow. */
  servers: { host: Host; port: number }[];
  /** The LIPs and the port range the new plan allows. */
  lips: string[];
  lports: [number, number];
  /** Complete the TCP handshake (default true). */
  handshake?: boolean;
}

/**
 * Opens a new flow: its first packet must leave lan translated to one of the
 * allowed servers from one of the allowed LIPs, identical in every other
 * field to the frame built for that choice, with exactly one session created.
 * TCP then completes the handshake (exact fixtures both ways).
 */
async function open(b: Bench, o: OpenOpts): Promise<Sess> {
  const vip = o.vip ?? VIP;
  const svc = b.plan.services.find((s) => (s.vip ?? VIP) === vip && s.port === o.vport && s.protocol === o.proto);
  const input = firstPacket(b, o.proto, o.cport, o.vport, vip);
  const inP = parsePacket(input);
  const before = b.gw.counters();
  b.gw.inject('wan', [input]);
  const got = await collectFrames(b.gw, 'lan', 1);
  const problems: string[] = [];
  if (got.length === 0) {
    const left = await leftovers(b.gw, 0);
    assert.fail(
      `${o.name}: the first packet did not leave lan (left instead: ${[...left].map(([p, f]) => `${p}: ${f.map(describeFrame).join('; ')}`).join(', ') || 'nothing'}; counters moved: ${moved(before, b.gw.counters())})`,
    );
  }
  const p = parsePacket(got[0]!);
  const l4 = p.tcp ?? p.udp;
  const rs = o.servers.find((r) => r.host.ip === p.ipv4?.dst && r.port === l4?.dport);
  const lip = p.ipv4?.src ?? '?';
  const lport = l4?.sport ?? 0;
  if (!rs) problems.push(`sent to ${p.ipv4?.dst}:${l4?.dport}, expected one of ${o.servers.map((r) => `${r.host.ip}:${r.port}`).join(', ')}`);
  if (!o.lips.includes(lip)) problems.push(`from LIP ${lip}, expected one of ${o.lips.join(', ')}`);
  if (lport < o.lports[0] || lport > o.lports[1]) problems.push(`local port ${lport} outside [${o.lports[0]}, ${o.lports[1]}]`);
  const s: Sess = {
    name: o.name,
    proto: o.proto,
    client: CLIENT,
    cport: o.cport,
    vip,
    vport: o.vport,
    rs: rs?.host ?? { ip: p.ipv4?.dst ?? '?', mac: '00:00:00:00:00:00' },
    rport: rs?.port ?? l4?.dport ?? 0,
    lip,
    lport,
    cseq: inP.tcp ? (inP.tcp.seq + 1) >>> 0 : 0,
    sseq: (o.cport * 7919 + 1) >>> 0,
    svcId: svc ? b.gw.ids.serviceId(svcKeyOf(svc)) : -1,
    rsId: svc && rs ? b.rsId(rsKeyOf(svc, rs.host, rs.port)) : -1,
  };
  if (rs && problems.length === 0) {
    const e = ends(b, s);
    const want =
      o.proto === 'tcp'
        ? buildTcp({ ...e.toRs, ...seg({ flags: 'S', seq: inP.tcp!.seq, ack: 0, id: inP.ipv4!.id, tcpOptions: MSS_1460 }), ttl: 63 })
        : buildUdp({ ...e.toRs, ...dgram({ id: inP.ipv4!.id, payload: inP.udp!.payload }), ttl: 63 });
    problems.push(...compareFrames(got[0]!, want));
  }
  if (got.length > 1) problems.push(`extra frames on lan: ${got.slice(1).map(describeFrame).join('; ')}`);
  problems.push(...(await noLeftovers(b, 20)));
  problems.push(...counterProblems(before, b.gw.counters(), { rx_packets: 1, fwd_to_server: 1, sessions_created: 1, sessions_active: 1 }));
  if (problems.length) assert.fail(`${o.name} (new ${o.proto} flow to ${vip}:${o.vport}):\n    ${problems.join('\n    ')}`);

  if (o.proto === 'tcp' && o.handshake !== false) await handshake(b, s);
  return s;
}

/** SYN-ACK from the server and the client's ACK, both translated exactly. */
async function handshake(b: Bench, s: Sess): Promise<void> {
  const e = ends(b, s);
  const siss = (s.sseq - 1) >>> 0;
  const id1 = nextId();
  const id2 = nextId();
  await runFixtures(b.gw, [
    {
      description: `${s.name}: SYN-ACK`,
      inPort: 'lan',
      input: buildTcp({ ...e.fromRs, ...seg({ flags: 'SA', seq: siss, ack: s.cseq, id: id1 }), ttl: 64 }),
      expected: { outPort: 'wan', frame: buildTcp({ ...e.toC, ...seg({ flags: 'SA', seq: siss, ack: s.cseq, id: id1 }), ttl: 63 }) },
      counters: { fwd_to_client: 1 },
    },
    {
      description: `${s.name}: ACK`,
      inPort: 'wan',
      input: buildTcp({ ...e.fromC, ...seg({ flags: 'A', seq: s.cseq, ack: s.sseq, id: id2 }), ttl: 64 }),
      expected: { outPort: 'lan', frame: buildTcp({ ...e.toRs, ...seg({ flags: 'A', seq: s.cseq, ack: s.sseq, id: id2 }), ttl: 63 }) },
      counters: { fwd_to_server: 1 },
    },
  ]);
}

/** Each session as the data plane lists it: same client, server and LIP:lport, ids unchanged. */
function checkListed(b: Bench, sessions: Sess[], label: string): void {
  const listed = b.gw.native.sessions({}, 4096).map(sessionRow);
  const problems: string[] = [];
  for (const s of sessions) {
    const l = listed.find((x) => x.proto === s.proto && x.client === `${s.client.ip}:${s.cport}` && x.vip === `${s.vip}:${s.vport}`);
    if (!l) {
      problems.push(`${s.name}: not listed`);
      continue;
    }
    const want = {
      server: `${s.rs.ip}:${s.rport}`,
      local: `${s.lip}:${s.lport}`,
      serviceId: s.svcId,
      realServerId: s.rsId,
    };
    const got = { server: l.server, local: l.local, serviceId: l.serviceId, realServerId: l.realServerId };
    if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${s.name}: listed as ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  if (listed.length !== sessions.length) problems.push(`${listed.length} sessions listed, ${sessions.length} tracked`);
  if (problems.length) assert.fail(`session list ${label}:\n    ${problems.join('\n    ')}`);
}

/** A packet with no session whose fate is a drop counter (and nothing leaves). */
async function expectDrop(b: Bench, description: string, inPort: 'wan' | 'lan', input: Buffer, counter: string): Promise<void> {
  await runFixtures(b.gw, [drop(description, inPort, input, counter)]);
}

/** ARP for `ip` from `host` on `port` is answered from the port's MAC. */
async function expectArp(b: Bench, description: string, port: 'wan' | 'lan', host: Host, ip: string): Promise<void> {
  await runFixtures(b.gw, [
    { description, inPort: port, input: arpRequestFrom(host, ip), expected: { outPort: port, frame: arpAnswer(host, ip, b.m[port]) }, counters: { to_control: 1, arp_replies: 1 } },
  ]);
}

const countBy = <T>(xs: T[], f: (x: T) => string): Record<string, number> =>
  xs.reduce<Record<string, number>>((acc, x) => ((acc[f(x)] = (acc[f(x)] ?? 0) + 1), acc), {});

// ---------------------------------------------------------------------------
// 1. Every kind of change, one reload at a time
// ---------------------------------------------------------------------------

describe('reload: existing sessions keep their translation, new flows follow the new plan', () => {
  const web = (rs: RsSpec[], scheduler: 'rr' | 'wrr' = 'rr'): SvcSpec => ({ name: 'web', port: 80, protocol: 'tcp', scheduler, rs });
  const dns = (rs: RsSpec[], scheduler: 'rr' | 'wrr' = 'wrr'): SvcSpec => ({ name: 'dns', port: 53, protocol: 'udp', scheduler, rs });
  const ssh: SvcSpec = { name: 'ssh', port: 22, protocol: 'tcp', rs: [{ host: RS3, port: 2222 }] };
  const https: SvcSpec = { name: 'https', port: 443, protocol: 'tcp', rs: [{ host: RS4, port: 8443 }] };
  const web2: SvcSpec = { name: 'web2', vip: VIP2, port: 80, protocol: 'tcp', rs: [{ host: RS3, port: 8080 }] };
  const pool10 = { pool: { lips: [LIP10], ports: [2000, 2099] as [number, number] } };
  const pool1112 = { pool: { lips: [LIP11, LIP12], ports: [3000, 3099] as [number, number] } };
  const W1 = { host: RS1, port: 8080 };
  const W2 = { host: RS2, port: 8080 };
  const D1 = { host: RS1, port: 5353 };
  const D2 = { host: RS2, port: 5353 };

  const A: PlanSpec = { pools: pool10, services: [web([W1, W2]), dns([D1, D2]), ssh] };

  it('weights, scheduler, a server removed, a service removed, services added, the LIP pool replaced, and back', () =>
    withBench(A, [RS1, RS2, RS3], async (b) => {
      const all: Sess[] = [];
      let cport = 41000;
      const openAll = async (n: number, o: Omit<OpenOpts, 'name' | 'cport'>, tag: string) => {
        const out: Sess[] = [];
        for (let i = 0; i < n; i++) {
          const c = cport++;
          out.push(await open(b, { ...o, name: `${tag}#${i} (${o.proto} ${c})`, cport: c }));
        }
        all.push(...out);
        return out;
      };
      const on10 = { lips: [LIP10], lports: [2000, 2099] as [number, number] };

      // Under plan A: two web sessions (one per server: rr), two dns, one ssh.
      const a = [
        ...(await openAll(2, { proto: 'tcp', vport: 80, servers: [W1, W2], ...on10 }, 'A web')),
        ...(await openAll(2, { proto: 'udp', vport: 53, servers: [D1, D2], ...on10 }, 'A dns')),
        ...(await openAll(1, { proto: 'tcp', vport: 22, servers: [{ host: RS3, port: 2222 }], ...on10 }, 'A ssh')),
      ];
      assert.deepEqual(countBy(a.slice(0, 2), (s) => s.rs.ip), { [RS1.ip]: 1, [RS2.ip]: 1 }, 'rr: one web session per server');
      await bothWays(b, all, 'plan A');

      // 1. Weights: dns wrr 1:3. Over one cycle of 4 new flows: RS1 once, RS2 three times.
      b.apply({ ...A, services: [web([W1, W2]), dns([{ ...D1, weight: 1 }, { ...D2, weight: 3 }]), ssh] });
      await bothWays(b, all, 'the weight change');
      const w = await openAll(4, { proto: 'udp', vport: 53, servers: [D1, D2], ...on10 }, 'weights dns');
      assert.deepEqual(countBy(w, (s) => s.rs.ip), { [RS1.ip]: 1, [RS2.ip]: 3 }, 'new dns flows follow the new weights 1:3');

      // 2. Scheduler: dns rr with the same weights (rr ignores them): 2:2.
      b.apply({ ...A, services: [web([W1, W2]), dns([{ ...D1, weight: 1 }, { ...D2, weight: 3 }], 'rr'), ssh] });
      await bothWays(b, all, 'the scheduler change');
      const r = await openAll(4, { proto: 'udp', vport: 53, servers: [D1, D2], ...on10 }, 'rr dns');
      assert.deepEqual(countBy(r, (s) => s.rs.ip), { [RS1.ip]: 2, [RS2.ip]: 2 }, 'new dns flows follow rr');

      // 3. RS1 removed from web (drain): its web session goes on, new web flows all go to RS2.
      const B3: PlanSpec = { ...A, services: [web([W2]), dns([D1, D2], 'rr'), ssh] };
      b.apply(B3);
      await bothWays(b, all, 'removing RS1 from web');
      await openAll(3, { proto: 'tcp', vport: 80, servers: [W2], ...on10 }, 'no RS1 web');

      // 4. ssh removed: its session goes on both ways, a new flow to :22 finds no service.
      const B4: PlanSpec = { ...B3, services: [web([W2]), dns([D1, D2], 'rr')] };
      b.apply(B4);
      await bothWays(b, all, 'removing service ssh');
      await expectDrop(b, 'a SYN to the removed service :22 from a new client port', 'wan', firstPacket(b, 'tcp', cport++, 22), 'drop_no_service');
      await expectDrop(
        b,
        'a non-SYN to the removed service :22 from a new client port',
        'wan',
        buildTcp({ ...ends(b, a[4]!).fromC, sport: cport++, ...seg({ flags: 'A', seq: 5, ack: 6, id: nextId() }), ttl: 64 }),
        'drop_no_service',
      );

      // 5. Services added: https (VIP:443 -> RS4, a host the gateway must resolve first) and web2 on a new VIP.
      const B5: PlanSpec = { ...B4, services: [web([W2]), dns([D1, D2], 'rr'), https, web2] };
      b.apply(B5);
      assert.deepEqual(await resolveNeighbours(b.gw, 'lan', LAN_IP, [RS4]), [], 'resolving the new real server RS4');
      await bothWays(b, all, 'adding services');
      await expectArp(b, 'ARP for the new VIP2 is answered on wan', 'wan', CLIENT, VIP2);
      await openAll(2, { proto: 'tcp', vport: 443, servers: [{ host: RS4, port: 8443 }], ...on10 }, 'new https');
      await openAll(2, { proto: 'tcp', vport: 80, vip: VIP2, servers: [{ host: RS3, port: 8080 }], ...on10 }, 'new web2');
      await bothWays(b, all, 'the new services took flows');

      // 6. The LIP pool replaced: .10 gone, .11/.12 with other ports. Sessions on .10 go on (replies to .10 translate).
      const B6: PlanSpec = { ...B5, pools: pool1112 };
      b.apply(B6);
      await bothWays(b, all, 'replacing the LIP pool');
      const on1112 = { lips: [LIP11, LIP12], lports: [3000, 3099] as [number, number] };
      const p6 = [
        ...(await openAll(2, { proto: 'tcp', vport: 80, servers: [W2], ...on1112 }, 'new pool web')),
        ...(await openAll(2, { proto: 'udp', vport: 53, servers: [D1, D2], ...on1112 }, 'new pool dns')),
      ];
      assert.deepEqual(countBy(p6, (s) => s.lip), { [LIP11]: 2, [LIP12]: 2 }, 'new flows round-robin over the new LIPs');

      // 7. Back to plan A: everything created under every plan goes on; new flows follow A again.
      b.apply(A);
      await bothWays(b, all, 'going back to plan A');
      await openAll(1, { proto: 'tcp', vport: 22, servers: [{ host: RS3, port: 2222 }], ...on10 }, 'ssh again');
      const back = await openAll(2, { proto: 'tcp', vport: 80, servers: [W1, W2], ...on10 }, 'A web again');
      assert.deepEqual(countBy(back, (s) => s.rs.ip), { [RS1.ip]: 1, [RS2.ip]: 1 }, 'web is rr over RS1 and RS2 again');
      await expectDrop(b, 'https (not in A) is gone for new flows', 'wan', firstPacket(b, 'tcp', cport++, 443), 'drop_no_service');
      await bothWays(b, all, 'plan A again (all sessions)');

      checkListed(b, all, 'after seven reloads');
      const c = b.gw.counters();
      assert.equal(c.sessions_active, all.length, 'no session was lost');
      assert.equal(c.sessions_expired, 0, 'no session expired');
      assert.equal(c.sessions_reset, 0, 'no session was reset');
    }));
});

// ---------------------------------------------------------------------------
// 2. Draining: weight 0 and health down
// ---------------------------------------------------------------------------

describe('reload: draining servers', () => {
  const servers = [RS1, RS2, RS3, RS4].map((host) => ({ host, port: 8080 }));
  const webWith = (weights: number[]): SvcSpec => ({ name: 'web', port: 80, protocol: 'tcp', rs: servers.map((r, i) => ({ ...r, weight: weights[i] })) });
  const plan = (weights: number[]): PlanSpec => ({ pools: { pool: { lips: [LIP10], ports: [2000, 2999] } }, services: [webWith(weights)] });
  const lips = { lips: [LIP10], lports: [2000, 2999] as [number, number] };

  it('a server at weight 0 or marked down gets no new sessions, its existing ones go on; all drained: drop_no_real_server', () =>
    withBench(plan([1, 1, 1, 1]), [RS1, RS2, RS3, RS4], async (b) => {
      const all: Sess[] = [];
      let cport = 42000;
      const openN = async (n: number, allowed: typeof servers, tag: string) => {
        const out: Sess[] = [];
        for (let i = 0; i < n; i++) out.push(await open(b, { name: `${tag}#${i}`, proto: 'tcp', cport: cport++, vport: 80, servers: allowed, ...lips }));
        all.push(...out);
        return out;
      };
      const keys = servers.map((r) => rsKeyOf({ port: 80, protocol: 'tcp' }, r.host, r.port));
      const counts = () => keys.map((k) => b.rsCount(b.rsId(k)));

      const first = await openN(4, servers, 'before');
      assert.deepEqual(countBy(first, (s) => s.rs.ip), Object.fromEntries(servers.map((r) => [r.host.ip, 1])), 'rr: one session per server');
      assert.deepEqual(counts(), [1, 1, 1, 1].map((n) => ({ active: n, created: n })));

      // RS3 to weight 0, RS4 marked down by health.
      b.apply(plan([1, 1, 0, 1]), { down: [['web', RS4, 8080]] });
      await bothWays(b, all, 'draining RS3 (weight 0) and RS4 (down)');
      const drained = await openN(6, servers.slice(0, 2), 'while draining');
      assert.deepEqual(countBy(drained, (s) => s.rs.ip), { [RS1.ip]: 3, [RS2.ip]: 3 }, 'new flows only to RS1 and RS2');
      assert.deepEqual(
        counts(),
        [
          { active: 4, created: 4 },
          { active: 4, created: 4 },
          { active: 1, created: 1 },
          { active: 1, created: 1 },
        ],
        'per-server counts: drained servers keep their one session, the others grow',
      );
      await bothWays(b, all, 'new flows while draining');

      // Everything drained: new flows have no server, existing ones go on.
      b.apply(plan([0, 0, 0, 1]), { down: [['web', RS4, 8080]] });
      await expectDrop(b, 'a new flow when every server is drained', 'wan', firstPacket(b, 'tcp', cport++, 80), 'drop_no_real_server');
      await bothWays(b, all, 'draining every server');

      // Back up: every server takes new flows again, RS3 and RS4 included.
      b.apply(plan([1, 1, 1, 1]));
      const again = await openN(4, servers, 'back up');
      assert.deepEqual(countBy(again, (s) => s.rs.ip), Object.fromEntries(servers.map((r) => [r.host.ip, 1])), 'rr over all four again');
      await bothWays(b, all, 'all servers back up');
      assert.deepEqual(counts().map((c) => c.active), [5, 5, 2, 2], 'active per server');
      checkListed(b, all, 'after draining');
    }));
});

// ---------------------------------------------------------------------------
// 3. Reset: a removed server's sessions end at their next packet
// ---------------------------------------------------------------------------

describe('reload: removed servers with reset', () => {
  const web = (rs: Host[]): SvcSpec => ({ name: 'web', port: 80, protocol: 'tcp', rs: rs.map((host) => ({ host, port: 8080 })) });
  const dns = (rs: Host[]): SvcSpec => ({ name: 'dns', port: 53, protocol: 'udp', rs: rs.map((host) => ({ host, port: 5353 })) });
  // The same server RS1:8080 in another service: another key, another id, not reset.
  const alt: SvcSpec = { name: 'alt', port: 81, protocol: 'tcp', rs: [{ host: RS1, port: 8080 }] };
  const pool = { pool: { lips: [LIP10], ports: [2000, 2999] as [number, number] } };
  const planBefore: PlanSpec = { pools: pool, services: [web([RS1, RS2]), dns([RS1, RS2]), alt] };
  const planAfter: PlanSpec = { pools: pool, services: [web([RS2]), dns([RS2]), alt] };
  const lips = { lips: [LIP10], lports: [2000, 2999] as [number, number] };

  /** A bare RST as `ends` says, the fields that are the gateway's choice (TTL, IP id, TOS, DF, window) taken from `got`. */
  function rstProblems(got: Buffer, ends: Ends, flags: 'RA' | 'R', seq: number, ack: number): string[] {
    const p = parsePacket(got);
    const want = buildTcp({
      ...ends,
      flags,
      seq,
      ack,
      window: p.tcp?.window ?? 0,
      ttl: p.ipv4?.ttl ?? 64,
      id: p.ipv4?.id ?? 0,
      tos: p.ipv4?.tos ?? 0,
      dontFragment: p.ipv4?.dontFragment ?? false,
    });
    // A bare 54-byte frame is fine on a ring (a NIC pads it): the IPv4 datagram is what counts.
    return compareFrames(got, want).filter((x) => !/^frame length: got 54, expected 60$/.test(x));
  }

  /** Frames that left `port` (gateway ARP probes set aside) within a short wait, at most `n` awaited. */
  async function framesOn(b: Bench, port: 'wan' | 'lan', n: number): Promise<Buffer[]> {
    return collectFrames(b.gw, port, n, 1000);
  }

  /**
   * Injects a TCP packet of a session whose server was reset. The session ends
   * (sessions_reset +1, sessions_active -1, nothing forwarded) and both ends
   * hear of it at once:
   *  - the sender gets RST+ACK from the address it spoke to: seq = the
   *    packet's ack, ack = its seq + its length (SYN and FIN count one);
   *  - the peer gets a RST from the address it knows, with the sequence
   *    number it expects next from the sender (the packet's seq, +1 for a SYN:
   *    the peer's RCV.NXT, which RFC 5961 requires a RST to match exactly).
   */
  async function expectRst(
    b: Bench,
    description: string,
    inPort: 'wan' | 'lan',
    input: Buffer,
    rst: Ends,
    peer: { port: 'wan' | 'lan'; ends: Ends },
  ): Promise<void> {
    const t = parsePacket(input).tcp!;
    const syn = t.flags.includes('S') ? 1 : 0;
    const len = t.payload.length + syn + (t.flags.includes('F') ? 1 : 0);
    const before = b.gw.counters();
    b.gw.inject(inPort, [input]);
    const problems: string[] = [];
    const toSender = await framesOn(b, inPort, 1);
    if (toSender.length === 0) problems.push(`no RST to the sender left ${inPort}`);
    else problems.push(...rstProblems(toSender[0]!, rst, 'RA', t.flags.includes('A') ? t.ack : 0, (t.seq + len) >>> 0).map((x) => `RST to the sender: ${x}`));
    if (toSender.length > 1) problems.push(`extra frames on ${inPort}: ${toSender.slice(1).map(describeFrame).join('; ')}`);
    const toPeer = await framesOn(b, peer.port, 1);
    // The peer's RST carries the sender's next sequence number, and the
    // sender's ACK when it had one (a peer in SYN-SENT accepts only that).
    const acked = t.flags.includes('A');
    if (toPeer.length === 0) problems.push(`no RST to the peer left ${peer.port}`);
    else problems.push(...rstProblems(toPeer[0]!, peer.ends, acked ? 'RA' : 'R', (t.seq + syn) >>> 0, acked ? t.ack : 0).map((x) => `RST to the peer: ${x}`));
    if (toPeer.length > 1) problems.push(`extra frames on ${peer.port}: ${toPeer.slice(1).map(describeFrame).join('; ')}`);
    problems.push(...(await noLeftovers(b, 30)));
    problems.push(...counterProblems(before, b.gw.counters(), { rx_packets: 1, sessions_reset: 1, sessions_active: -1 }));
    if (problems.length) assert.fail(`${description}:\n    ${problems.join('\n    ')}`);
  }

  /**
   * Injects `input`; the session ends (sessions_reset +1), nothing goes back
   * to the sender. With `peer`, the peer may get the packet's RST translated
   * (passing on a RST is fine), and nothing else.
   */
  async function expectSilentReset(b: Bench, description: string, inPort: 'wan' | 'lan', input: Buffer, peer?: { port: 'wan' | 'lan'; ends: Ends }): Promise<void> {
    const before = b.gw.counters();
    b.gw.inject(inPort, [input]);
    await waitUntil(b.gw, (c) => c.sessions_reset > before.sessions_reset!, 2000);
    const problems: string[] = [];
    const left = await leftovers(b.gw, 60);
    for (const [port, frames] of left) {
      const t = parsePacket(input).tcp;
      const ok = peer && t && port === peer.port && frames.length === 1 && rstProblems(frames[0]!, peer.ends, t.flags.includes('A') ? 'RA' : 'R', t.seq, t.ack).length === 0;
      if (!ok) problems.push(`unexpected frame(s) left ${port}: ${frames.map(describeFrame).join('; ')}`);
    }
    problems.push(...counterProblems(before, b.gw.counters(), { rx_packets: 1, sessions_reset: 1, sessions_active: -1 }));
    if (problems.length) assert.fail(`${description}:\n    ${problems.join('\n    ')}`);
  }

  it('TCP: RST to both ends when either speaks; UDP: dropped; other servers and services untouched', () =>
    withBench(planBefore, [RS1, RS2], async (b) => {
      let cport = 43000;
      const tcp: Sess[] = [];
      const udp: Sess[] = [];
      for (let i = 0; i < 10; i++) tcp.push(await open(b, { name: `web#${i}`, proto: 'tcp', cport: cport++, vport: 80, servers: [RS1, RS2].map((host) => ({ host, port: 8080 })), ...lips }));
      for (let i = 0; i < 4; i++) udp.push(await open(b, { name: `dns#${i}`, proto: 'udp', cport: cport++, vport: 53, servers: [RS1, RS2].map((host) => ({ host, port: 5353 })), ...lips }));
      const altS = await open(b, { name: 'alt', proto: 'tcp', cport: cport++, vport: 81, servers: [{ host: RS1, port: 8080 }], ...lips });
      const t1 = tcp.filter((s) => s.rs.ip === RS1.ip);
      const t2 = tcp.filter((s) => s.rs.ip === RS2.ip);
      const u1 = udp.filter((s) => s.rs.ip === RS1.ip);
      const u2 = udp.filter((s) => s.rs.ip === RS2.ip);
      assert.equal(t1.length, 5, 'rr: five web sessions on RS1');
      assert.equal(u1.length, 2, 'rr: two dns sessions on RS1');
      // Ids taken before the reload: a removed server keeps its id while its sessions drain.
      const webRs1 = b.rsId(rsKeyOf({ port: 80, protocol: 'tcp' }, RS1, 8080));
      const dnsRs1 = b.rsId(rsKeyOf({ port: 53, protocol: 'udp' }, RS1, 5353));
      const altRs1 = b.rsId(rsKeyOf({ port: 81, protocol: 'tcp' }, RS1, 8080));
      assert.deepEqual(b.rsCount(webRs1), { active: 5, created: 5 }, 'RS1 holds 5 web sessions');
      assert.deepEqual(b.rsCount(dnsRs1), { active: 2, created: 2 }, 'RS1 holds 2 dns sessions');

      b.apply(planAfter, { reset: [['web', RS1, 8080], ['dns', RS1, 5353]] });

      // Sessions to RS2, and RS1's session in the other service, are untouched.
      await bothWays(b, [...t2, ...u2, altS], 'the reset reload');

      // TCP, the client speaks: RST+ACK from VIP:80 to the client, RST from LIP:lport to RS1.
      {
        const s = t1[0]!;
        const e = ends(b, s);
        const data = buildTcp({ ...e.fromC, ...seg({ flags: 'PA', seq: s.cseq, ack: s.sseq, id: nextId(), payload: payloadFor('after reset', ipId) }), ttl: 64 });
        await expectRst(b, `${s.name}: client data after the reset`, 'wan', data, e.toC, { port: 'lan', ends: e.toRs });
        await expectDrop(b, `${s.name}: the client's next packet has no session`, 'wan', buildTcp({ ...e.fromC, ...seg({ flags: 'A', seq: s.cseq, ack: s.sseq, id: nextId() }), ttl: 64 }), 'drop_no_session');
        await expectDrop(b, `${s.name}: the server's next packet finds nothing`, 'lan', buildTcp({ ...e.fromRs, ...seg({ flags: 'A', seq: s.sseq, ack: s.cseq, id: nextId() }), ttl: 64 }), 'drop_no_service');
      }
      // TCP, the server speaks: RST+ACK from LIP:lport to RS1, RST from VIP:80 to the client.
      {
        const s = t1[1]!;
        const e = ends(b, s);
        const data = buildTcp({ ...e.fromRs, ...seg({ flags: 'PA', seq: s.sseq, ack: s.cseq, id: nextId(), payload: payloadFor('late answer', ipId) }), ttl: 64 });
        await expectRst(b, `${s.name}: server data after the reset`, 'lan', data, e.toRs, { port: 'wan', ends: e.toC });
        await expectDrop(b, `${s.name}: the server's next packet finds nothing`, 'lan', buildTcp({ ...e.fromRs, ...seg({ flags: 'A', seq: s.sseq, ack: s.cseq, id: nextId() }), ttl: 64 }), 'drop_no_service');
        await expectDrop(b, `${s.name}: the client's next packet has no session`, 'wan', buildTcp({ ...e.fromC, ...seg({ flags: 'A', seq: s.cseq, ack: s.sseq, id: nextId() }), ttl: 64 }), 'drop_no_session');
      }
      // TCP with IP options, TCP options and a payload: both RSTs are bare headers.
      {
        const s = t1[2]!;
        const e = ends(b, s);
        const data = buildTcp({
          ...e.fromC,
          ...seg({ flags: 'PA', seq: s.cseq, ack: s.sseq, id: nextId(), ipOptions: IP_NOPS, tcpOptions: Buffer.from([1, 1, 1, 0]), payload: bytes(301, 7) }),
          ttl: 64,
        });
        await expectRst(b, `${s.name}: client data with IP and TCP options`, 'wan', data, e.toC, { port: 'lan', ends: e.toRs });
      }
      // A FIN from the server: the RST to it acknowledges the FIN too.
      {
        const s = t1[3]!;
        const e = ends(b, s);
        await expectRst(b, `${s.name}: server FIN`, 'lan', buildTcp({ ...e.fromRs, ...seg({ flags: 'FA', seq: s.sseq, ack: s.cseq, id: nextId() }), ttl: 64 }), e.toRs, { port: 'wan', ends: e.toC });
      }
      // A RST is never answered with a RST: the session just ends (passing it on to RS1 is fine).
      {
        const s = t1[4]!;
        const e = ends(b, s);
        await expectSilentReset(b, `${s.name}: client RST`, 'wan', buildTcp({ ...e.fromC, ...seg({ flags: 'RA', seq: s.cseq, ack: s.sseq, id: nextId() }), ttl: 64 }), { port: 'lan', ends: e.toRs });
      }
      // UDP, client side: dropped, the session ends; the next datagram is a new flow to RS2.
      {
        const s = u1[0]!;
        await expectSilentReset(b, `${s.name}: client datagram after the reset`, 'wan', dataPkt(b, s, 'c2s', 'after reset').input);
        const again = await open(b, { name: `${s.name} again`, proto: 'udp', cport: s.cport, vport: 53, servers: [{ host: RS2, port: 5353 }], ...lips });
        u2.push(again);
      }
      // UDP, server side: dropped, the session ends; a later answer finds nothing.
      {
        const s = u1[1]!;
        await expectSilentReset(b, `${s.name}: server datagram after the reset`, 'lan', dataPkt(b, s, 's2c', 'after reset').input);
        await expectDrop(b, `${s.name}: a later answer finds nothing`, 'lan', dataPkt(b, s, 's2c', 'later').input, 'drop_no_service');
      }

      assert.deepEqual(b.rsCount(webRs1), { active: 0, created: 5 }, 'RS1 web: every session ended');
      assert.deepEqual(b.rsCount(dnsRs1), { active: 0, created: 2 }, 'RS1 dns: every session ended');
      assert.deepEqual(b.rsCount(altRs1), { active: 1, created: 1 }, 'RS1 in service alt: untouched');
      const c = b.gw.counters();
      assert.equal(c.sessions_reset, 7, 'sessions_reset: 5 TCP + 2 UDP');
      assert.equal(c.sessions_active, c.sessions_created - c.sessions_expired, 'sessions_active = created - expired');

      // New flows go to RS2; everything not reset still works.
      const n = await open(b, { name: 'web after reset', proto: 'tcp', cport: cport++, vport: 80, servers: [{ host: RS2, port: 8080 }], ...lips });
      await bothWays(b, [...t2, ...u2, altS, n], 'the resets');
      checkListed(b, [...t2, ...u2, altS, n], 'after the resets');
    }));

  // The client retransmits a SYN the removed server never answered. The
  // server (in SYN_RECV if it got the first SYN) expects ISS + 1 next: a RST
  // with seq = ISS is outside its window and ignored (RFC 793; RFC 5961 wants
  // an exact match), so the half-open connection would linger on RS1.
  it('TCP: a retransmitted SYN of a reset session: RST+ACK to the client (seq 0, ack ISS+1), RST to the server (seq ISS+1)', () =>
    withBench(planBefore, [RS1, RS2], async (b) => {
      const s = await open(b, { name: 'SYN only', proto: 'tcp', cport: 43500, vport: 80, servers: [{ host: RS1, port: 8080 }], ...lips, handshake: false });
      b.apply(planAfter, { reset: [['web', RS1, 8080]] });
      const e = ends(b, s);
      const iss = (s.cseq - 1) >>> 0;
      await expectRst(b, `${s.name}: retransmitted SYN`, 'wan', buildTcp({ ...e.fromC, ...seg({ flags: 'S', seq: iss, ack: 0, id: nextId(), tcpOptions: MSS_1460 }), ttl: 64 }), e.toC, { port: 'lan', ends: e.toRs });
    }));
});

// ---------------------------------------------------------------------------
// 4. LIPs: added, removed, re-ranged live
// ---------------------------------------------------------------------------

describe('reload: local addresses', () => {
  const svcs = (): SvcSpec[] => [
    { name: 'web', port: 80, protocol: 'tcp', rs: [{ host: RS1, port: 8080 }] },
    { name: 'dns', port: 53, protocol: 'udp', rs: [{ host: RS1, port: 5353 }] },
  ];
  const W = [{ host: RS1, port: 8080 }];
  const D = [{ host: RS1, port: 5353 }];
  const pool = (lips: string[], ports: [number, number], timeouts?: PlanSpec['timeouts']): PlanSpec => ({ pools: { pool: { lips, ports } }, services: svcs(), timeouts });

  /** No two live sessions share a LIP:lport (from the data plane's own list). */
  function assertPortsUnique(b: Bench, label: string): void {
    const locals = b.gw.native.sessions({}, 4096).map((s) => sessionRow(s).local);
    const dup = locals.filter((l, i) => locals.indexOf(l) !== i);
    assert.deepEqual(dup, [], `${label}: a LIP:lport held by two sessions`);
  }

  it('a LIP added takes new sessions round-robin; a LIP removed keeps its sessions; re-added, its held ports stay held', () =>
    withBench(pool([LIP10], [2000, 2009]), [RS1], async (b) => {
      const all: Sess[] = [];
      let cport = 44000;
      const openN = async (n: number, lips: string[], tag: string) => {
        const out: Sess[] = [];
        for (let i = 0; i < n; i++) {
          const proto: Proto = i % 2 ? 'udp' : 'tcp';
          out.push(await open(b, { name: `${tag}#${i}`, proto, cport: cport++, vport: proto === 'tcp' ? 80 : 53, servers: proto === 'tcp' ? W : D, lips, lports: [2000, 2009] }));
        }
        all.push(...out);
        return out;
      };
      const held = () => new Set(all.map((s) => `${s.lip}:${s.lport}`));
      const fresh = (out: Sess[], before: Set<string>, label: string) =>
        assert.deepEqual(out.filter((s) => before.has(`${s.lip}:${s.lport}`)).map((s) => `${s.name} ${s.lip}:${s.lport}`), [], `${label}: a new session took a held port`);

      await openN(2, [LIP10], 'one LIP');

      b.apply(pool([LIP10, LIP11], [2000, 2009]));
      await expectArp(b, 'ARP for the added LIP .11 is answered on lan', 'lan', RS1, LIP11);
      await bothWays(b, all, 'adding LIP .11');
      let h = held();
      const two = await openN(4, [LIP10, LIP11], 'two LIPs');
      fresh(two, h, 'adding .11');
      assert.deepEqual(countBy(two, (s) => s.lip), { [LIP10]: 2, [LIP11]: 2 }, 'new sessions spread over both LIPs');
      assert.ok(two.every((s, i) => i === 0 || s.lip !== two[i - 1]!.lip), `round-robin: ${two.map((s) => s.lip).join(', ')}`);

      b.apply(pool([LIP11], [2000, 2009]));
      await bothWays(b, all, 'removing LIP .10 (replies to .10 still translate)');
      h = held();
      const only11 = await openN(3, [LIP11], 'after removing .10');
      fresh(only11, h, 'removing .10');

      b.apply(pool([LIP10, LIP11], [2000, 2009]));
      await bothWays(b, all, 're-adding LIP .10');
      h = held();
      const readded = await openN(6, [LIP10, LIP11], 're-added .10');
      fresh(readded, h, 're-adding .10');
      assertPortsUnique(b, 'after re-adding .10');
      await bothWays(b, all, 'new sessions on the re-added LIP');
      checkListed(b, all, 'after the LIP changes');
    }));

  it('a LIP removed from the pool still answers ARP while its sessions live (the real server must reach it)', () =>
    withBench(pool([LIP10], [2000, 2009]), [RS1], async (b) => {
      const s = await open(b, { name: 'on .10', proto: 'tcp', cport: 44500, vport: 80, servers: W, lips: [LIP10], lports: [2000, 2009] });
      b.apply(pool([LIP11], [2000, 2009]));
      await bothWays(b, [s], 'removing LIP .10');
      await expectArp(b, 'ARP from the real server for the removed LIP .10, which a live session still uses', 'lan', RS1, LIP10);
    }));

  it('re-ranging a LIP never hands out a held port; ports outside the new range retire, inside it they come back', () =>
    withBench(pool([LIP10], [2000, 2003]), [RS1], async (b) => {
      let cport = 45000;
      const openU = (tag: string, lports: [number, number]) => open(b, { name: tag, proto: 'udp', cport: cport++, vport: 53, servers: D, lips: [LIP10], lports });
      const noPort = (label: string) => expectDrop(b, label, 'wan', firstPacket(b, 'udp', cport++, 53), 'drop_lport_exhausted');
      const lportsOf = (xs: Sess[]) => xs.map((s) => s.lport).sort((x, y) => x - y);

      const old: Sess[] = [];
      for (let i = 0; i < 4; i++) old.push(await openU(`old#${i}`, [2000, 2003]));
      assert.deepEqual(lportsOf(old), [2000, 2001, 2002, 2003], 'the pool [2000, 2003] is full');
      await noPort('a fifth flow finds no port in [2000, 2003]');

      // [2000, 2003] -> [2002, 2005] while all four are held: only 2004 and 2005 are free.
      b.apply(pool([LIP10], [2002, 2005]));
      await bothWays(b, old, 're-ranging to [2002, 2005] (2000 and 2001 now outside the range)');
      const mid = [await openU('mid#0', [2004, 2005]), await openU('mid#1', [2004, 2005])];
      assert.deepEqual(lportsOf(mid), [2004, 2005], 'new sessions get the two free ports of the new range');
      await noPort('2002 and 2003 are held: no port left');
      assertPortsUnique(b, 'after re-ranging');

      // A short UDP timeout (and one packet on each session to pick it up), then wait for all to expire.
      const before = b.gw.counters();
      b.apply(pool([LIP10], [2002, 2005], { udp: 1 }));
      await bothWays(b, [...old, ...mid], 'the udp timeout going to 1 s');
      const c = await waitUntil(b.gw, (x) => x.sessions_active === 0, 20000);
      assert.equal(c.sessions_active, 0, 'every session expired');
      assert.equal(c.sessions_expired - before.sessions_expired, 6, 'six sessions expired');

      // Long timeout again so nothing expires while the pool is refilled: exactly [2002, 2005] come back.
      b.apply(pool([LIP10], [2002, 2005]));
      const refill: Sess[] = [];
      for (let i = 0; i < 4; i++) refill.push(await openU(`refill#${i}`, [2002, 2005]));
      assert.deepEqual(lportsOf(refill), [2002, 2003, 2004, 2005], 'the new range, and only it, is handed out');
      await noPort('2000 and 2001 retired: no port left');

      // Growing the range back over the retired ports hands them out again (the rest are held).
      b.apply(pool([LIP10], [2000, 2005]));
      const grown = [await openU('grown#0', [2000, 2001]), await openU('grown#1', [2000, 2001])];
      assert.deepEqual(lportsOf(grown), [2000, 2001], 'the retired ports come back with the range');
      await noPort('[2000, 2005] all held');
      assertPortsUnique(b, 'after growing the range');
      await bothWays(b, [...refill, ...grown], 're-ranging (all live sessions)');
      checkListed(b, [...refill, ...grown], 'after re-ranging');
    }));
});

// ---------------------------------------------------------------------------
// 5. Timeouts changed live
// ---------------------------------------------------------------------------

describe('reload: timeouts', () => {
  const plan = (timeouts: PlanSpec['timeouts']): PlanSpec => ({
    pools: { pool: { lips: [LIP10], ports: [2000, 2099] } },
    timeouts,
    services: [
      { name: 'web', port: 80, protocol: 'tcp', rs: [{ host: RS1, port: 8080 }] },
      { name: 'dns', port: 53, protocol: 'udp', rs: [{ host: RS1, port: 5353 }] },
    ],
  });
  const lips = { lips: [LIP10], lports: [2000, 2099] as [number, number] };
  const W = [{ host: RS1, port: 8080 }];
  const D = [{ host: RS1, port: 5353 }];

  it('shorter: a session takes the new timeout at its next packet, an idle one keeps the old', () =>
    withBench(plan({ udp: 60, tcp_established: 60 }), [RS1], async (b) => {
      const u1 = await open(b, { name: 'udp touched', proto: 'udp', cport: 46000, vport: 53, servers: D, ...lips });
      const u2 = await open(b, { name: 'udp idle', proto: 'udp', cport: 46001, vport: 53, servers: D, ...lips });
      const t1 = await open(b, { name: 'tcp touched', proto: 'tcp', cport: 46002, vport: 80, servers: W, ...lips });
      const t2 = await open(b, { name: 'tcp idle', proto: 'tcp', cport: 46003, vport: 80, servers: W, ...lips });

      const before = b.gw.counters();
      b.apply(plan({ udp: 1, tcp_established: 1 }));
      await exchange(b, [dataPkt(b, u1, 'c2s', 'touch'), dataPkt(b, t1, 'c2s', 'touch')], 'touching two sessions');
      const c = await waitUntil(b.gw, (x) => x.sessions_expired - before.sessions_expired >= 2, 20000);
      assert.equal(c.sessions_expired - before.sessions_expired, 2, 'the two touched sessions expire by the new 1 s timeout');
      checkListed(b, [u2, t2], 'after the touched ones expired');
      await bothWays(b, [u2, t2], 'the idle sessions (still on the old timeout)');
      await expectDrop(b, 'udp touched: an answer after expiry finds nothing', 'lan', dataPkt(b, u1, 's2c', 'late').input, 'drop_no_service');
      await expectDrop(b, 'tcp touched: client data after expiry has no session', 'wan', dataPkt(b, t1, 'c2s', 'late').input, 'drop_no_session');
    }));

  it('longer: after the next packet a session outlives the old timeout', () =>
    // Created with 3 s (ample for the setup), waited on for 5 s (past 3 s and a sweep).
    withBench(plan({ udp: 3, tcp_established: 3 }), [RS1], async (b) => {
      const u = await open(b, { name: 'udp', proto: 'udp', cport: 46100, vport: 53, servers: D, ...lips });
      const t = await open(b, { name: 'tcp', proto: 'tcp', cport: 46101, vport: 80, servers: W, ...lips });
      b.apply(plan({ udp: 300, tcp_established: 300 }));
      await bothWays(b, [u, t], 'the timeouts going to 300 s');
      // Well past the old 3 s timeout and a sweep: with the old timeout both would be gone.
      await new Promise((r) => setTimeout(r, 5000));
      assert.equal(b.gw.counters().sessions_expired, 0, 'nothing expired');
      checkListed(b, [u, t], 'past the old timeout');
      await bothWays(b, [u, t], 'past the old timeout');
    }));
});

// ---------------------------------------------------------------------------
// 6. Many reloads while sessions keep talking
// ---------------------------------------------------------------------------

describe('reload: 50 reloads in a row', () => {
  const X: PlanSpec = {
    pools: { pool: { lips: [LIP10, LIP11], ports: [2000, 2999] } },
    services: [
      { name: 'web', port: 80, protocol: 'tcp', rs: [{ host: RS1, port: 8080 }, { host: RS2, port: 8080 }] },
      { name: 'dns', port: 53, protocol: 'udp', rs: [{ host: RS1, port: 5353 }, { host: RS2, port: 5353 }] },
    ],
  };
  const Y: PlanSpec = {
    pools: { pool: { lips: [LIP11, LIP12], ports: [2500, 3499] } },
    timeouts: { udp: 250, tcp_established: 250 },
    services: [
      { name: 'web', port: 80, protocol: 'tcp', scheduler: 'wrr', rs: [{ host: RS2, port: 8080, weight: 2 }, { host: RS3, port: 8080, weight: 1 }] },
      { name: 'dns', port: 53, protocol: 'udp', rs: [{ host: RS3, port: 5353 }] },
      { name: 'alt', port: 8443, protocol: 'tcp', rs: [{ host: RS3, port: 443 }] },
    ],
  };
  const allowed = (p: PlanSpec, name: string) => {
    const s = p.services.find((x) => x.name === name)!;
    const pool = p.pools.pool!;
    return { servers: s.rs.map((r) => ({ host: r.host, port: r.port })), lips: pool.lips, lports: pool.ports };
  };

  it('nothing lost or mistranslated; rx_packets = forwarded + expected drops', () =>
    withBench(X, [RS1, RS2], async (b) => {
      const all: Sess[] = [];
      let cport = 47000;
      const openIn = async (p: PlanSpec, svc: 'web' | 'dns' | 'alt', tag: string) => {
        const vport = { web: 80, dns: 53, alt: 8443 }[svc];
        const s = await open(b, { name: `${tag} ${svc}`, proto: svc === 'dns' ? 'udp' : 'tcp', cport: cport++, vport, ...allowed(p, svc) });
        all.push(s);
      };
      for (let i = 0; i < 4; i++) await openIn(X, i % 2 ? 'dns' : 'web', `X#${i}`);
      b.apply(Y);
      assert.deepEqual(await resolveNeighbours(b.gw, 'lan', LAN_IP, [RS3]), [], 'resolving RS3');
      for (let i = 0; i < 4; i++) await openIn(Y, (['web', 'dns', 'alt'] as const)[i % 3], `Y#${i}`);
      await bothWays(b, all, 'the first reload');

      const start = b.gw.counters();
      let expectedDrops = 0;
      for (let round = 0; round < 50; round++) {
        const p = round % 2 === 0 ? X : Y;
        // The reload is published while the worker is translating a batch of every session's packets.
        await bothWays(b, all, `reload ${round + 1}`, () => b.apply(p));
        await openIn(p, 'web', `round ${round}`);
        if (p === X) {
          await openIn(p, 'dns', `round ${round}`);
          await expectDrop(b, `round ${round}: alt is not in X`, 'wan', firstPacket(b, 'tcp', cport++, 8443), 'drop_no_service');
          expectedDrops++;
        } else {
          await openIn(p, 'alt', `round ${round}`);
        }
        await bothWays(b, all, `after reload ${round + 1}`);
        const locals = all.map((s) => `${s.lip}:${s.lport}`);
        assert.deepEqual(locals.filter((l, i) => locals.indexOf(l) !== i), [], `reload ${round + 1}: a LIP:lport handed out twice`);
      }
      const end = b.gw.counters();
      const d = (k: string) => end[k]! - start[k]!;
      assert.equal(d('rx_packets'), d('fwd_to_server') + d('fwd_to_client') + expectedDrops, `rx_packets = forwarded + drops (moved: ${moved(start, end)})`);
      assert.equal(d('drop_no_service'), expectedDrops, 'the only drops: new flows to alt while X was live');
      for (const k of PATH_COUNTERS.filter((x) => x.startsWith('drop_') && x !== 'drop_no_service')) assert.equal(d(k), 0, `${k} did not move`);
      assert.equal(d('sessions_expired'), 0, 'no session expired');
      assert.equal(d('sessions_reset'), 0, 'no session reset');
      assert.equal(end.sessions_active, all.length, 'every session is alive');
      checkListed(b, all, 'after 50 reloads');
    }));
});
