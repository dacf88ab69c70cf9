// Reply steering with several workers (DESIGN.md §3), on ring ports: the
// shared body of steering-{2,3,4}.test.ts (one file per worker count, since
// EAL initialises once per process with a fixed set of lcores).
//
// Ring ports do no RSS, so the test decides which worker receives what: the
// clients' first packets are spread over all RX queues (worker i polls RX
// queue i of every port and transmits on TX queue i). The worker that
// receives a new flow creates the session and takes the local port from its
// own slice, so owner(lport) = lport % N. Every real-server answer is then
// delivered once to EVERY RX queue of the LIP port: once to the owner and
// N-1 times to workers without the session, which must hand it over to the
// owner. Each copy is distinguishable (its own TCP sequence number or UDP
// payload tag) and must leave the client port exactly once, translated, on
// the owner's TX queue.
//
// Every frame is built, and every output parsed and checksum-verified, by
// test/lib/packet.ts (the independent oracle). Waits are bounded polls, never
// timing assertions.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp, buildUdp, parsePacket, type Parsed } from '../lib/packet';
import { describeFrame } from '../lib/describe-frame';
import { readStats, type Counters } from '../../src/stats';
import { RingGateway } from './harness';
import { ringPortMac } from '../lib/packet-table';
import { bytes, compareFrames, isGatewayArpProbe, MSS_1460, resolveNeighbours, type Ends, type Host } from './fixtures';

// ---------------------------------------------------------------------------
// Addresses and configuration
// ---------------------------------------------------------------------------

export const VIP = '198.18.0.100';
export const WAN_IP = '198.18.0.254';
export const LAN_IP = '198.19.0.254';
export const LIPS = ['198.19.0.10', '198.19.0.11'];
const CLIENTS: Host[] = [1, 2, 3, 4, 5].map((i) => ({ ip: `198.18.0.${i}`, mac: `02:00:00:00:01:0${i}` }));
interface RealServer {
  host: Host;
  tcp: number;
  udp: number;
}
const RSS: RealServer[] = [
  { host: { ip: '198.19.0.2', mac: '02:00:00:00:02:02' }, tcp: 8080, udp: 5353 },
  { host: { ip: '198.19.0.3', mac: '02:00:00:00:02:03' }, tcp: 8081, udp: 5354 },
];

/**
 * The dpdk section for `n` workers on this 2-CPU machine: worker lcores
 * 1..n all placed on CPU 1, idle backoff on so they yield to each other.
 */
export function dpdkYaml(n: number): string {
  const workers = Array.from({ length: n }, (_, i) => i + 1);
  const cpus = workers.map((w) => `${w}: 1`).join(', ');
  return `dpdk: { lcores: { main: 0, workers: [${workers.join(', ')}], cpus: { ${cpus} } }, idle_sleep_us: 20, memory_mb: 512, mbufs: 16383, rx_desc: 256, tx_desc: 256 }`;
}

let instance = 0;

function config(n: number): string {
  instance++;
  const rs = (proto: 'tcp' | 'udp') => RSS.map((r) => `{ address: ${r.host.ip}, port: ${r[proto]} }`).join(', ');
  return `
${dpdkYaml(n)}
ports:
  - { name: wan, device: "ring:stwan${n}x${instance}", addresses: [${WAN_IP}/24] }
  - { name: lan, device: "ring:stlan${n}x${instance}", addresses: [${LAN_IP}/24] }
local_addresses: { pool: { port: lan, addresses: [${LIPS.join(', ')}], ports: [1024, 65535] } }
sessions:
  max: 16384
  timeouts: { tcp_syn: 600, tcp_established: 600, tcp_fin: 600, tcp_time_wait: 600, tcp_close: 600, udp: 600 }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [${rs('tcp')}] }
  - { name: dns, vip: ${VIP}, port: 53, protocol: udp, local_addresses: pool, real_servers: [${rs('udp')}] }
`;
}

// ---------------------------------------------------------------------------
// Sessions and the frames of each phase
// ---------------------------------------------------------------------------

type Proto = 'tcp' | 'udp';
type PortName = 'wan' | 'lan';

interface Sess {
  idx: number;
  proto: Proto;
  client: Host;
  cport: number;
  vport: number;
  /** RX queue (= worker) the client's packets arrive on. */
  rxq: number;
  // Learned from the translated first packet:
  lip?: string;
  lport?: number;
  rs?: { ip: string; mac: string; port: number };
  /** The worker that created the session: the TX queue its first packet left on. */
  worker?: number;
}

/** A unique tag per packet: TCP sequence number or the first 4 bytes of the UDP payload. */
function tagOf(phase: number, s: Sess, q: number): number {
  return phase * 0x1000000 + s.idx * 8 + q;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** Tagged payload of an odd-or-even length that varies with the tag (so checksum bugs show). */
function payload(tag: number, min: number): Buffer {
  return Buffer.concat([u32(tag), bytes(min + (tag % 97), tag)]);
}

/** Everything but endpoints and TTL, the same before and after translation. */
type Body = Record<string, unknown>;

function build(proto: Proto, ends: Ends, body: Body, ttl: number): Buffer {
  return proto === 'tcp' ? buildTcp({ ...ends, ...(body as object), ttl } as Parameters<typeof buildTcp>[0]) : buildUdp({ ...ends, ...(body as object), ttl } as Parameters<typeof buildUdp>[0]);
}

function keyOf(p: Parsed): string | undefined {
  if (p.tcp) return `t${p.tcp.seq}`;
  if (p.udp && p.udp.payload.length >= 4) return `u${p.udp.payload.readUInt32BE(0)}`;
  return undefined;
}

function keyFor(proto: Proto, tag: number): string {
  return `${proto === 'tcp' ? 't' : 'u'}${tag}`;
}

// ---------------------------------------------------------------------------
// Running a phase: inject in batches on chosen RX queues, collect from every
// TX queue of both ports, match each output to the one input it answers.
// ---------------------------------------------------------------------------

interface Item {
  inPort: PortName;
  inQ: number;
  frame: Buffer;
  key: string;
  outPort: PortName;
  /** The TX queue it must leave on (undefined: checked by `check`). */
  outQ: number;
  /** Problems with the output frame (empty when right). */
  check: (out: Buffer, q: number) => string[];
  what: string;
}

/** At most this many frames in flight per batch: far below a ring port queue (8192), the redirect ring (4096) and the mbuf pool. */
const BATCH = 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Run {
  readonly portIdx: Record<PortName, number>;
  readonly mac: Record<PortName, string>;
  problems: string[] = [];
  private problemCount = 0;
  private pending = new Map<string, Item>();
  private done = new Set<string>();
  /** Inputs of a phase that was given up (a previous test failed): late outputs are ignored. */
  private abandoned = new Set<string>();
  matched = 0;
  framesOut = 0;

  constructor(
    readonly gw: RingGateway,
    readonly n: number,
  ) {
    const idx = (name: string) => gw.cfg.ports.findIndex((p) => p.name === name);
    this.portIdx = { wan: idx('wan'), lan: idx('lan') };
    // Ring MACs are fixed (ringPortMac of the port's index; the harness checks them at start).
    this.mac = { wan: ringPortMac(this.portIdx.wan), lan: ringPortMac(this.portIdx.lan) };
  }

  problem(p: string): void {
    this.problemCount++;
    if (this.problems.length < 40) this.problems.push(p);
  }

  takeProblems(): string[] {
    const out = [...this.problems];
    if (this.problemCount > this.problems.length) out.push(`... and ${this.problemCount - this.problems.length} more`);
    this.problems = [];
    this.problemCount = 0;
    return out;
  }

  /** Reads everything that left either port on any TX queue and matches it. */
  drain(): number {
    let got = 0;
    for (const port of ['wan', 'lan'] as const) {
      for (let q = 0; q < this.n; q++) {
        for (;;) {
          const frames = this.gw.testing.ringDrain(this.portIdx[port], q, 256);
          for (const f of frames) this.take(port, q, f);
          got += frames.length;
          if (frames.length < 256) break;
        }
      }
    }
    return got;
  }

  private take(port: PortName, q: number, f: Buffer): void {
    if (isGatewayArpProbe(f, this.mac[port])) {
      // Control-thread frames leave through worker 0.
      if (q !== 0) this.problem(`the gateway's ARP probe left ${port} on TX queue ${q}, expected queue 0 (worker 0 carries control frames)`);
      return;
    }
    this.framesOut++;
    let p: Parsed;
    try {
      p = parsePacket(f);
    } catch (e) {
      this.problem(`unparseable frame on ${port} queue ${q}: ${(e as Error).message}`);
      return;
    }
    const key = keyOf(p);
    const item = key === undefined ? undefined : this.pending.get(key);
    if (!item && key !== undefined && this.abandoned.has(key)) return;
    if (!item) {
      if (key !== undefined && this.done.has(key)) this.problem(`duplicate: ${describeFrame(f)} left ${port} queue ${q} a second time`);
      else this.problem(`unexpected frame on ${port} queue ${q}: ${describeFrame(f)}`);
      return;
    }
    this.pending.delete(item.key);
    this.done.add(item.key);
    this.matched++;
    const where: string[] = [];
    if (port !== item.outPort) where.push(`left ${port}, expected ${item.outPort}`);
    if (q !== item.outQ) where.push(`left on TX queue ${q}, expected the owner's queue ${item.outQ}`);
    const problems = [...where, ...item.check(f, q)];
    if (problems.length) this.problem(`${item.what}:\n      ${problems.join('\n      ')}`);
  }

  /**
   * Injects the items in batches (each on its own RX queue), collecting as it
   * goes; every item must produce exactly one output. Throws on outputs that
   * never came (bounded wait), then checks for late duplicates.
   */
  async phase(items: Item[]): Promise<{ injected: number }> {
    this.drain();
    for (const k of this.pending.keys()) this.abandoned.add(k);
    this.pending.clear();
    const start = this.matched;
    for (let b = 0; b < items.length; b += BATCH) {
      const batch = items.slice(b, b + BATCH);
      const byPort = new Map<string, Buffer[]>();
      for (const it of batch) {
        if (this.pending.has(it.key) || this.done.has(it.key)) throw new Error(`test bug: tag ${it.key} used twice`);
        this.pending.set(it.key, it);
        const k = `${it.inPort}/${it.inQ}`;
        if (!byPort.has(k)) byPort.set(k, []);
        byPort.get(k)!.push(it.frame);
      }
      for (const [k, frames] of byPort) {
        const [port, q] = k.split('/') as [PortName, string];
        this.gw.inject(port, frames, Number(q));
      }
      const target = start + b + batch.length;
      const end = Date.now() + 15000;
      while (this.matched < target && Date.now() < end) {
        if (this.drain() === 0) await sleep(1);
      }
      if (this.matched < target) {
        const missing = [...this.pending.values()];
        const c = readStats(this.gw.native).total;
        const moved = Object.entries(c).filter(([k, v]) => v !== 0 && (k.startsWith('drop_') || k === 'redirected' || k === 'tx_dropped'));
        throw new Error(
          `${missing.length} inputs (batch ${b}..${b + batch.length - 1} of ${items.length} in this phase) produced no output within 15 s; first: ${missing
            .slice(0, 8)
            .map((m) => m.what)
            .join('; ')}\n  drop counters since start: ${JSON.stringify(Object.fromEntries(moved))}\n  other problems:\n    ${this.takeProblems().join('\n    ')}`,
        );
      }
    }
    // Anything arriving late is a duplicate or an unexpected frame.
    await sleep(100);
    this.drain();
    return { injected: items.length };
  }
}

// ---------------------------------------------------------------------------
// Counters per worker
// ---------------------------------------------------------------------------

function workers(gw: RingGateway): Counters[] {
  return readStats(gw.native).workers;
}

function delta(a: Counters[], b: Counters[], name: string): number[] {
  return b.map((w, i) => w[name]! - a[i]![name]!);
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

/** Problems with drop and tx-drop counters that moved between two readings. */
function noDrops(a: Counters[], b: Counters[]): string[] {
  const out: string[] = [];
  for (const name of Object.keys(b[0]!)) {
    if (!name.startsWith('drop_') && name !== 'tx_dropped') continue;
    const d = delta(a, b, name);
    if (sum(d) !== 0) out.push(`${name} moved per worker by [${d.join(', ')}], expected none`);
  }
  return out;
}

// ---------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------

export interface SteeringOptions {
  tcpSessions?: number;
  udpSessions?: number;
}

/**
 * Registers the reply-steering tests for `n` workers (call once per file).
 * The its run in order and build on each other: sessions, replies to every
 * queue, client data, more replies, more client data.
 */
export function steeringSuite(n: number, o: SteeringOptions = {}): void {
  const tcpN = o.tcpSessions ?? 3000;
  const udpN = o.udpSessions ?? 600;
  const total = tcpN + udpN;

  describe(`reply steering with ${n} workers (software redirect on ring ports)`, () => {
    let gw: RingGateway;
    let run: Run;
    const sessions: Sess[] = [];
    // UDP interleaved evenly among TCP; RX queues by a hash of the index so
    // every queue gets both protocols whatever n is.
    for (let i = 0; i < total; i++) {
      const proto: Proto = Math.floor(((i + 1) * udpN) / total) > Math.floor((i * udpN) / total) ? 'udp' : 'tcp';
      const rxq = ((Math.imul(i + 1, 2654435761) >>> 0) >>> 16) % n;
      sessions.push({ idx: i, proto, client: CLIENTS[i % CLIENTS.length]!, cport: 1024 + i, vport: proto === 'tcp' ? 80 : 53, rxq });
    }
    /** Reply phases whose every check passed. */
    const delivered = new Set<number>();
    const owned = (w: number) => sessions.filter((s) => s.worker === w).length;

    const ends = {
      fromClient: (s: Sess): Ends => ({ ethSrc: s.client.mac, ethDst: run.mac.wan, src: s.client.ip, dst: VIP, sport: s.cport, dport: s.vport }),
      toClient: (s: Sess): Ends => ({ ethSrc: run.mac.wan, ethDst: s.client.mac, src: VIP, dst: s.client.ip, sport: s.vport, dport: s.cport }),
      toServer: (s: Sess): Ends => ({ ethSrc: run.mac.lan, ethDst: s.rs!.mac, src: s.lip!, dst: s.rs!.ip, sport: s.lport!, dport: s.rs!.port }),
      fromServer: (s: Sess): Ends => ({ ethSrc: s.rs!.mac, ethDst: run.mac.lan, src: s.rs!.ip, dst: s.lip!, sport: s.rs!.port, dport: s.lport! }),
    };
    const ttlOf = (s: Sess, q: number) => 2 + ((s.idx * 7 + q * 31) % 253);

    /** Client -> server for every session on the queue its flow arrives on; must leave lan on the owner's queue from the session's LIP:lport. */
    function clientItems(phase: number, body: (s: Sess, tag: number) => Body): Item[] {
      return sessions.map((s) => {
        const tag = tagOf(phase, s, s.rxq);
        const b = body(s, tag);
        const ttl = ttlOf(s, s.rxq);
        return {
          inPort: 'wan',
          inQ: s.rxq,
          frame: build(s.proto, ends.fromClient(s), b, ttl),
          key: keyFor(s.proto, tag),
          outPort: 'lan',
          outQ: s.worker!,
          check: (out) => compareFrames(out, build(s.proto, ends.toServer(s), b, ttl - 1)),
          what: `session ${s.idx} (${s.proto} ${s.client.ip}:${s.cport}, ${s.lip}:${s.lport}, worker ${s.worker}) phase ${phase} client packet`,
        };
      });
    }

    /** One server answer per session per RX queue of lan, each tagged by its queue; each must leave wan once on the owner's queue. */
    function replyItems(phase: number, body: (s: Sess, tag: number, q: number) => Body): Item[] {
      const items: Item[] = [];
      for (const s of sessions) {
        for (let q = 0; q < n; q++) {
          const tag = tagOf(phase, s, q);
          const b = body(s, tag, q);
          const ttl = ttlOf(s, q);
          items.push({
            inPort: 'lan',
            inQ: q,
            frame: build(s.proto, ends.fromServer(s), b, ttl),
            key: keyFor(s.proto, tag),
            outPort: 'wan',
            outQ: s.worker!,
            check: (out) => compareFrames(out, build(s.proto, ends.toClient(s), b, ttl - 1)),
            what: `session ${s.idx} (${s.proto} ${s.lip}:${s.lport}, owner ${s.worker}) phase ${phase} reply delivered to RX queue ${q}${q === s.worker ? ' (the owner)' : ' (misdelivered)'}`,
          });
        }
      }
      return items;
    }

    /** Runs a phase of server answers on every queue and checks the hand-over counters exactly. */
    async function replies(phase: number, body: (s: Sess, tag: number, q: number) => Body): Promise<void> {
      const before = workers(gw);
      const outBefore = run.framesOut;
      const items = replyItems(phase, body);
      await run.phase(items);
      const after = workers(gw);
      const problems = run.takeProblems();
      assert.deepEqual(problems, [], `phase ${phase}: problems with the translated replies`);
      assert.equal(run.framesOut - outBefore, total * n, 'every reply left exactly once');

      const redirected = delta(before, after, 'redirected');
      // Worker w received one reply per session on its queue; it owns owned(w) of them.
      const wantRedirected = Array.from({ length: n }, (_, w) => total - owned(w));
      assert.deepEqual(redirected, wantRedirected, 'redirected per worker: every reply it received for a session another worker owns');
      assert.equal(sum(redirected), total * (n - 1), 'redirected equals the number of misdelivered replies');
      assert.deepEqual(delta(before, after, 'drop_redirect_full'), new Array(n).fill(0), 'drop_redirect_full');
      assert.deepEqual(
        delta(before, after, 'fwd_to_client'),
        Array.from({ length: n }, (_, w) => owned(w) * n),
        'fwd_to_client per worker: the owner translates every copy',
      );
      assert.deepEqual(delta(before, after, 'fwd_to_server'), new Array(n).fill(0), 'fwd_to_server');
      assert.deepEqual(delta(before, after, 'sessions_created'), new Array(n).fill(0), 'no session created by a reply');
      assert.equal(sum(delta(before, after, 'rx_packets')), items.length, 'rx_packets counts each received frame once (a hand-over is not a second receive)');
      assert.deepEqual(
        delta(before, after, 'rx_packets'),
        Array.from({ length: n }, () => total),
        'rx_packets per worker: one reply per session on every queue',
      );
      assert.deepEqual(noDrops(before, after), [], 'no drops');
      delivered.add(phase);
    }

    /** Client -> server for every session, after the reply phase `afterReplies` (which must have passed: the point is "after redirection"). */
    async function clientData(phase: number, afterReplies: number, body: (s: Sess, tag: number) => Body): Promise<void> {
      assert.ok(delivered.has(afterReplies), `precondition: the answers of phase ${afterReplies} were all redirected and delivered`);
      const before = workers(gw);
      const outBefore = run.framesOut;
      await run.phase(clientItems(phase, body));
      const after = workers(gw);
      assert.deepEqual(run.takeProblems(), [], `phase ${phase}: problems with the translated client packets`);
      assert.equal(run.framesOut - outBefore, total, 'every client packet left exactly once');
      assert.deepEqual(
        delta(before, after, 'fwd_to_server'),
        Array.from({ length: n }, (_, w) => owned(w)),
        'fwd_to_server per worker',
      );
      assert.deepEqual(delta(before, after, 'redirected'), new Array(n).fill(0), 'client packets are never redirected');
      assert.deepEqual(delta(before, after, 'sessions_created'), new Array(n).fill(0), 'no new session');
      assert.deepEqual(noDrops(before, after), [], 'no drops');
    }

    before(async () => {
      gw = RingGateway.start(config(n));
      run = new Run(gw, n);
      assert.deepEqual(
        await resolveNeighbours(
          gw,
          'lan',
          LAN_IP,
          RSS.map((r) => r.host),
        ),
        [],
        'resolving the real servers',
      );
      await sleep(50);
      run.drain();
      assert.deepEqual(run.takeProblems(), [], 'nothing but ARP probes after resolution');
    });

    after(() => gw?.stop());

    it('uses software redirect on the LIP port (ring ports cannot take flow rules)', () => {
      const lan = gw.native.portInfo(run.portIdx.lan)!;
      assert.equal(lan.steering, 'redirect', `lan steering (${lan.steeringReason})`);
      assert.match(lan.steeringReason, /^fallback:/);
      assert.equal(gw.native.portInfo(run.portIdx.wan)!.steering, 'none', 'wan has no LIP');
      assert.equal(workers(gw).length, n, 'one counter block per worker');
    });

    it(`creates ${tcpN} TCP and ${udpN} UDP sessions on the receiving workers, each with an lport from its own slice (lport % ${n} == worker)`, async () => {
      const before = workers(gw);
      const items: Item[] = sessions.map((s) => {
        const tag = tagOf(1, s, s.rxq);
        const b: Body =
          s.proto === 'tcp'
            ? { flags: 'S', seq: tag, ack: 0, id: s.idx & 0xffff, window: 64240, dontFragment: true, tcpOptions: MSS_1460 }
            : { id: s.idx & 0xffff, payload: payload(tag, 8) };
        const ttl = ttlOf(s, s.rxq);
        return {
          inPort: 'wan',
          inQ: s.rxq,
          frame: build(s.proto, ends.fromClient(s), b, ttl),
          key: keyFor(s.proto, tag),
          outPort: 'lan',
          outQ: s.rxq,
          what: `session ${s.idx} (${s.proto} ${s.client.ip}:${s.cport} on RX queue ${s.rxq}) first packet`,
          check: (out, q) => {
            const p = parsePacket(out);
            const ip = p.ipv4!;
            const l4 = (p.tcp ?? p.udp)!;
            const problems: string[] = [];
            if (!LIPS.includes(ip.src)) problems.push(`source ${ip.src} is not a LIP of the pool`);
            const rs = RSS.find((r) => r.host.ip === ip.dst && r[s.proto] === l4.dport);
            if (!rs) problems.push(`destination ${ip.dst}:${l4.dport} is not a real server of the ${s.proto} service`);
            if (l4.sport < 1024) problems.push(`lport ${l4.sport} outside the pool range [1024, 65535]`);
            s.lip = ip.src;
            s.lport = l4.sport;
            s.rs = { ip: ip.dst, mac: rs?.host.mac ?? '00:00:00:00:00:00', port: l4.dport };
            s.worker = q;
            if (l4.sport % n !== q) problems.push(`lport ${l4.sport} % ${n} = ${l4.sport % n}, but worker ${q} created the session`);
            problems.push(...compareFrames(out, build(s.proto, ends.toServer(s), b, ttl - 1)));
            return problems;
          },
        };
      });
      await run.phase(items);
      const after = workers(gw);
      assert.deepEqual(run.takeProblems(), [], 'problems with the translated first packets');
      assert.equal(sessions.filter((s) => s.worker === undefined).length, 0, 'every session opened');

      const seen = new Map<string, number>();
      const dup: string[] = [];
      for (const s of sessions) {
        const k = `${s.lip}:${s.lport}`;
        if (seen.has(k)) dup.push(`${k}: sessions ${seen.get(k)} and ${s.idx}`);
        seen.set(k, s.idx);
      }
      assert.deepEqual(dup, [], 'every session has its own LIP:lport');

      const created = delta(before, after, 'sessions_created');
      const perQueue = Array.from({ length: n }, (_, w) => sessions.filter((s) => s.rxq === w).length);
      assert.deepEqual(created, perQueue, 'sessions_created per worker: the worker that received each first packet');
      assert.ok(
        created.every((c) => c > 0),
        `every worker created sessions: ${created.join(', ')}`,
      );
      assert.equal(sum(created), total);
      for (let w = 0; w < n; w++) {
        for (const proto of ['tcp', 'udp'] as const) assert.ok(sessions.some((s) => s.worker === w && s.proto === proto), `worker ${w} has ${proto} sessions (test setup)`);
      }
      assert.deepEqual(
        after.map((w) => w.sessions_active),
        perQueue,
        'sessions_active per worker',
      );
      for (const r of RSS) assert.ok(sessions.some((s) => s.rs!.ip === r.host.ip), `real server ${r.host.ip} got sessions`);
      for (const l of LIPS) assert.ok(sessions.some((s) => s.lip === l), `LIP ${l} is used`);
      assert.deepEqual(delta(before, after, 'redirected'), new Array(n).fill(0), 'nothing redirected');
      assert.deepEqual(noDrops(before, after), [], 'no drops');
    });

    it(`delivers each server answer (SYN-ACK / first reply) to all ${n} queues: each leaves once, translated, on the owner's queue; redirected = ${total} x ${n - 1}`, () =>
      replies(2, (s, tag, q) =>
        s.proto === 'tcp'
          ? { flags: 'SA', seq: tag, ack: tagOf(1, s, s.rxq) + 1, id: (s.idx * 8 + q) & 0xffff, window: 65160, dontFragment: true, tcpOptions: MSS_1460 }
          : { id: (s.idx * 8 + q) & 0xffff, payload: payload(tag, 20 + q), zeroChecksum: s.idx % 5 === 0 },
      ));

    it('client data after the redirected answers goes to the same real server from the same LIP:lport (the session is intact)', () =>
      clientData(3, 2, (s, tag) =>
        s.proto === 'tcp'
          ? { flags: 'PA', seq: tag, ack: tagOf(2, s, s.worker!) + 1, id: (s.idx + 0x4000) & 0xffff, window: 502, dontFragment: true, payload: payload(tag, 40) }
          : { id: (s.idx + 0x4000) & 0xffff, payload: payload(tag, 30), dontFragment: true },
      ));

    it('server data delivered to every queue again: each copy leaves once on the owner\'s queue, correctly translated', () =>
      replies(4, (s, tag, q) =>
        s.proto === 'tcp'
          ? { flags: 'PA', seq: tag, ack: tagOf(3, s, s.rxq), id: (s.idx * 8 + q + 0x8000) & 0xffff, window: 509, dontFragment: true, payload: payload(tag, 100 + q) }
          : { id: (s.idx * 8 + q + 0x8000) & 0xffff, payload: payload(tag, 200 + q), tos: 0x10 },
      ));

    it('client data after the second round still reaches the same real server from the same LIP:lport', async () => {
      await clientData(5, 4, (s, tag) =>
        s.proto === 'tcp'
          ? { flags: 'A', seq: tag, ack: tagOf(4, s, s.worker!), id: (s.idx + 0xc000) & 0xffff, window: 501, dontFragment: true }
          : { id: (s.idx + 0xc000) & 0xffff, payload: payload(tag, 1) },
      );
      // Nothing late or extra on any queue of any port.
      await sleep(200);
      run.drain();
      assert.deepEqual(run.takeProblems(), [], 'nothing left any port afterwards');
      const w = workers(gw);
      assert.deepEqual(
        w.map((x) => x.sessions_active),
        Array.from({ length: n }, (_, i) => owned(i)),
        'every session still active on its owner',
      );
      assert.equal(sum(w.map((x) => x.sessions_created)), total, 'sessions_created sums to the session count');
    });
  });
}
