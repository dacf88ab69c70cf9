// What a bench child process does: start one gateway on ring ports, create
// sessions, pump traffic with benchPump, and read the worker's busy_cycles and
// packet counters. One gateway per process (EAL initialises once per process).
// TCP frames are the inputs of the packet tests' tcpConnection() table
// (test/lib/packet-table.ts); UDP ones come from bench/frames.ts's writer
// (checked against the same oracle), fast enough for 10M flows.
//
// Cost per packet = busy_cycles / packets handled: busy_cycles only counts
// poll-loop passes that had packets, so idle polling does not pollute it.
// Mpps per worker = packets / (busy_cycles / tsc_hz). The generator and sink
// run on the main lcore; the worker is alone on its lcore.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FRAME_LEN, frameSet, writeUdp, macBytes, type L4Frame } from './frames';
import { stepInput, tcpConnection, type TcpStep } from '../test/lib/packet-table';
import { BenchGateway, ealResidentKb, rssKb } from './gateway';
import { benchFlow, CLIENT_MAC, cip, cport, gatewayConfig, ISN, LAN_IP, lipOf, RS_IP, RS_MAC, RS_PORT, vip, vport, type Shape } from './model';

export interface TrafficJob {
  kind: 'traffic';
  mode: 'fullnat' | 'nat' | 'l2fwd';
  proto: 'tcp' | 'udp';
  flows: number;
  services: number;
  /** Packets per direction in the measurement. */
  packets: number;
  /** Also measure session creation (first packets of new flows) as its own figure. */
  measureNew?: boolean;
  /** Override the run's memory kind (false: 4 KiB pages, e.g. to measure resident bytes). */
  hugepages?: boolean;
}

export interface CpsJob {
  kind: 'cps';
  connections: number;
  batch: number;
}

/** Established UDP flows through net_memif ports, the frames sent by a generator in its own process (native/bench/memif_gen.c). */
export interface MemifJob {
  kind: 'memif';
  flows: number;
  packets: number;
  hugepages?: boolean;
}

export type Job = TrafficJob | CpsJob | MemifJob;

/** One benchPump call: the worker's deltas over it. */
export interface Slice {
  packets: number;
  /** busy_cycles: TSC cycles of loop passes that had packets (includes time the thread was preempted inside them). */
  busy: number;
  /** The worker thread's on-CPU time in TSC cycles (includes idle polling, e.g. the pump's 20 ms quiet tail). */
  oncpu: number;
  /** Time the worker thread waited for a CPU (another task ran on its core), in TSC cycles. */
  wait: number;
  /** Wall TSC cycles of the pump minus its 20 ms quiet tail. */
  wall: number;
}

/** One measured stream of packets: its slices. */
export interface Phase {
  slices: Slice[];
  injected: number;
  drained: number;
}

export interface JobResult {
  tscHz: number;
  memoryNeededMb: number;
  setupSeconds: number;
  phases: Record<string, Phase>;
  counters: Record<string, number>;
  /** Resident KiB of EAL memory once the sessions were created, and of the whole process. */
  rssKb?: { eal: number; process: number };
}

const CH = 1 << 20; // flows per frame chunk (bounds the JS memory for 10M flows)
const SLICE = 1 << 18; // packets per measured pump, at least
const EXACT_PIECE = 8000; // frames per pump that must each arrive once (ring ports hold 8192)

function log(msg: string): void {
  process.stderr.write(`  [child ${process.pid}] ${msg}\n`);
}

/** The worker lcore's thread id (DPDK names it rte-worker-N), for its scheduler statistics. */
function workerTid(): string | null {
  for (const t of fs.readdirSync('/proc/self/task')) {
    try {
      if (/^rte-worker|^lcore-worker/.test(fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8'))) return t;
    } catch {
      // thread gone
    }
  }
  return null;
}

/** [on-CPU ns, run-queue wait ns] of a thread (/proc/.../schedstat). */
function schedstat(tid: string | null): [number, number] {
  if (!tid) return [0, 0];
  const f = fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
  return [f[0]!, f[1]!];
}

class Pumper {
  phases: Record<string, Phase> = {};
  tscHz = 0;
  private readonly tid = workerTid();
  constructor(readonly gw: BenchGateway) {}

  /** Pumps count frames round-robin over `frames` into `port`, as one slice of phase `name`. */
  pump(name: string, port: string, frames: Buffer[], count: number): void {
    const before = this.gw.worker();
    const s0 = schedstat(this.tid);
    const r = this.gw.testing.benchPump(this.gw.idx(port), 0, frames, count);
    // benchPump returns once the output has been quiet for 20 ms; a worker
    // preempted for longer (a busy machine) still has frames in its RX ring.
    // Wait until it has received all of them, draining meanwhile, so the
    // next pump (maybe on the other port) never overtakes this one.
    let after = this.gw.worker();
    const end = Date.now() + 60_000;
    while (after.rx_packets! - before.rx_packets! < r.injected && Date.now() < end) {
      this.gw.testing.benchPump(this.gw.idx(port), 0, frames, 0);
      after = this.gw.worker();
    }
    const s1 = schedstat(this.tid);
    this.tscHz = r.tscHz;
    const perNs = r.tscHz / 1e9;
    const p = (this.phases[name] ??= { slices: [], injected: 0, drained: 0 });
    p.slices.push({
      packets: after.rx_packets! - before.rx_packets!,
      busy: after.busy_cycles! - before.busy_cycles!,
      oncpu: this.tid ? Math.round((s1[0] - s0[0]) * perNs) : Number.MAX_SAFE_INTEGER,
      wait: Math.round((s1[1] - s0[1]) * perNs),
      wall: Math.max(0, r.cycles - r.tscHz / 50),
    });
    p.injected += r.injected;
    p.drained += r.drained;
  }

  /**
   * Every frame exactly once, in order. benchPump skips templates when the RX
   * ring is full (its template cursor advances past frames the ring refused),
   * so exactness needs pieces that fit the ring: then it cannot overflow.
   */
  pumpEach(name: string, port: string, frames: Buffer[]): void {
    for (let i = 0; i < frames.length; i += EXACT_PIECE) {
      const piece = frames.slice(i, i + EXACT_PIECE);
      this.pump(name, port, piece, piece.length);
    }
  }
}

/** Frames of flows [from, from+n) written by `w`. */
function chunk(from: number, n: number, w: (b: Buffer, o: number, i: number) => void): Buffer[] {
  return frameSet(n, (b, o, k) => w(b, o, from + k));
}

/** Writes the input frame of a packet-table step at offset o (64-byte frames only). */
function writeStep(b: Buffer, o: number, step: TcpStep): void {
  const f = stepInput(step);
  if (f.length !== FRAME_LEN) throw new Error(`bench: ${step.description} is ${f.length} bytes, not ${FRAME_LEN}`);
  f.copy(b, o);
}

/** The input frames of one step of each flow in [from, from+n). */
function stepFrames(from: number, n: number, step: (i: number) => TcpStep): Buffer[] {
  return chunk(from, n, (b, o, i) => writeStep(b, o, step(i)));
}

/** The counter deltas `steps` of n flows cause, from the table's own per-step deltas. */
function stepCounters(n: number, ...steps: TcpStep[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of steps) for (const [k, v] of Object.entries(s.counters)) out[k] = (out[k] ?? 0) + v * n;
  return out;
}

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(b)) if (b[k] !== a[k]) out[k] = b[k]! - (a[k] ?? 0);
  return out;
}

function expectCounters(what: string, d: Record<string, number>, want: Record<string, number>): void {
  const bad = Object.entries(want).filter(([k, v]) => (d[k] ?? 0) !== v);
  if (bad.length) {
    throw new Error(`${what}: expected ${bad.map(([k, v]) => `${k}=${v}`).join(', ')}; counters moved: ${JSON.stringify(d)}`);
  }
}

interface Endpoints {
  client: (i: number) => L4Frame;
  server: (i: number) => L4Frame;
  /** Flow i's TCP connection, as the packet tables describe it. */
  tcp: (i: number) => ReturnType<typeof tcpConnection>;
}

function endpoints(gw: BenchGateway, job: { services: number; nat: boolean }, lips: number): Endpoints {
  const wan = macBytes(gw.mac('wan'));
  const lan = macBytes(gw.mac('lan'));
  const cm = macBytes(CLIENT_MAC);
  const rm = macBytes(RS_MAC);
  const S = job.services;
  const client = (i: number): L4Frame => ({ smac: cm, dmac: wan, sip: cip(i), dip: vip(i % S), sport: cport(i), dport: vport(i % S) });
  const server = (i: number): L4Frame => {
    const l = job.nat ? { ip: cip(i), port: cport(i) } : lipOf(i, lips);
    return { smac: rm, dmac: lan, sip: RS_IP, dip: l.ip, sport: RS_PORT, dport: l.port };
  };
  const flows = { services: S, nat: job.nat, lips, wanMac: gw.mac('wan'), lanMac: gw.mac('lan') };
  return { client, server, tcp: (i) => tcpConnection(benchFlow(i, flows), ISN) };
}

async function traffic(job: TrafficJob): Promise<JobResult> {
  const shape: Shape = {
    tag: 't',
    proto: job.proto,
    services: job.services,
    allocations: job.flows,
    sessionsMax: Math.max(job.flows, 1024),
    nat: job.mode === 'nat',
    hugepages: job.hugepages,
    // Nothing may expire while millions of flows are set up and measured.
    timeouts: { udp: 3600, tcp_syn: 600, tcp_established: 3600 },
  };
  const { cfg, lips } = gatewayConfig(shape);
  const gw = new BenchGateway(cfg);
  gw.start(job.mode === 'l2fwd');
  const pm = new Pumper(gw);
  const t0 = Date.now();
  const ep = endpoints(gw, { services: job.services, nat: job.mode === 'nat' }, lips);
  const N = job.flows;
  const chunks: [number, number][] = [];
  for (let f = 0; f < N; f += CH) chunks.push([f, Math.min(CH, N - f)]);
  const c0 = gw.worker();

  if (job.mode !== 'l2fwd') {
    await gw.resolve('lan', LAN_IP, [{ ip: RS_IP, mac: RS_MAC }]);
    // Sessions: TCP completes the handshake; UDP's first datagram creates the session.
    for (const [f, n] of chunks) {
      const before = gw.worker();
      const tc = Date.now();
      if (job.proto === 'tcp') {
        pm.pumpEach('setup', 'wan', stepFrames(f, n, (i) => ep.tcp(i).syn));
        pm.pumpEach('setup', 'lan', stepFrames(f, n, (i) => ep.tcp(i).synAck));
        pm.pumpEach('setup', 'wan', stepFrames(f, n, (i) => ep.tcp(i).ack));
        const c = ep.tcp(f);
        expectCounters(`TCP handshakes of flows ${f}..${f + n - 1}`, delta(before, gw.worker()), stepCounters(n, c.syn, c.synAck, c.ack));
      } else {
        // With measureNew the first piece is a warm-up (first touches of fresh
        // session memory fault pages in), the rest are measured slices.
        const frames = chunk(f, n, (b, o, i) => writeUdp(b, o, ep.client(i)));
        const warm = job.measureNew && f === 0 ? Math.min(EXACT_PIECE, n) : 0;
        if (warm) pm.pumpEach('new_warmup', 'wan', frames.slice(0, warm));
        pm.pumpEach(job.measureNew ? 'new' : 'setup', 'wan', frames.slice(warm));
        expectCounters(`first datagrams of flows ${f}..${f + n - 1}`, delta(before, gw.worker()), { sessions_created: n, fwd_to_server: n });
      }
      log(`${job.mode} ${job.proto}: ${f + n} of ${N} sessions (${((Date.now() - tc) / 1000).toFixed(1)} s)`);
    }
  }
  const setupSeconds = (Date.now() - t0) / 1000;
  const rss = { eal: ealResidentKb(), process: rssKb() };

  // Established traffic, both directions: a client packet, then a server packet, per flow.
  const cw = (b: Buffer, o: number, i: number) => (job.proto === 'tcp' ? writeStep(b, o, ep.tcp(i).ack) : writeUdp(b, o, ep.client(i)));
  const sw = (b: Buffer, o: number, i: number) => (job.proto === 'tcp' ? writeStep(b, o, ep.tcp(i).serverAck) : writeUdp(b, o, ep.server(i)));
  if (chunks.length === 1) {
    const cf = chunk(0, N, cw);
    const sf = chunk(0, N, sw);
    // A warm-up pass over every flow, then the measured packets in slices
    // (one pump each), alternating directions. Each pump starts at the first
    // template, so a slice is a whole number of passes over the flows.
    pm.pump('warmup', 'wan', cf, N);
    pm.pump('warmup', 'lan', sf, N);
    const slice = N >= SLICE ? N : Math.floor(SLICE / N) * N;
    for (let done = 0; done < job.packets; done += slice) {
      pm.pump('to_server', 'wan', cf, slice);
      pm.pump('to_client', 'lan', sf, slice);
    }
  } else {
    const passes = Math.max(1, Math.ceil(job.packets / N));
    for (let p = 0; p < passes; p++)
      for (const [f, n] of chunks) {
        pm.pump('to_server', 'wan', chunk(f, n, cw), n);
        pm.pump('to_client', 'lan', chunk(f, n, sw), n);
      }
  }
  const counters = delta(c0, gw.worker());
  counters.sessions_active = gw.worker().sessions_active!;
  const unexpected = Object.entries(counters).filter(([k, v]) => k.startsWith('drop_') && v > 0);
  if (unexpected.length) log(`warning: drops ${JSON.stringify(Object.fromEntries(unexpected))}`);
  gw.stop();
  return { tscHz: pm.tscHz, memoryNeededMb: gw.memoryNeededMb, setupSeconds, phases: pm.phases, counters, rssKb: rss };
}

/**
 * Complete short TCP connections in batches: SYN, SYN-ACK, ACK + FIN from the
 * client, FIN-ACK from the server, the client's last ACK. TIME_WAIT (and
 * CLOSE) last 1 s, so the sweeper expires sessions during the run; the other
 * states get 30 s, enough for a batch to finish its handshakes.
 */
async function cps(job: CpsJob): Promise<JobResult> {
  const shape: Shape = {
    tag: 'c',
    proto: 'tcp',
    services: 1,
    allocations: job.connections,
    sessionsMax: job.connections,
    nat: false,
    timeouts: { tcp_syn: 30, tcp_established: 30, tcp_fin: 30, tcp_time_wait: 1, tcp_close: 1 },
  };
  const { cfg, lips } = gatewayConfig(shape);
  const gw = new BenchGateway(cfg);
  gw.start(false);
  await gw.resolve('lan', LAN_IP, [{ ip: RS_IP, mac: RS_MAC }]);
  const pm = new Pumper(gw);
  const ep = endpoints(gw, { services: 1, nat: false }, lips);
  const c0 = gw.worker();
  const t0 = Date.now();
  for (let f = 0; f < job.connections; f += job.batch) {
    const n = Math.min(job.batch, job.connections - f);
    const before = gw.worker();
    const B = `#${f / job.batch}`;
    pm.pumpEach(`syn${B}`, 'wan', stepFrames(f, n, (i) => ep.tcp(i).syn));
    pm.pumpEach(`synack${B}`, 'lan', stepFrames(f, n, (i) => ep.tcp(i).synAck));
    // ACK then FIN of each connection, in order.
    const af = frameSet(2 * n, (b, o, k) => {
      const c = ep.tcp(f + (k >> 1));
      writeStep(b, o, k & 1 ? c.fin : c.ack);
    });
    pm.pumpEach(`ack_fin${B}`, 'wan', af);
    pm.pumpEach(`finack${B}`, 'lan', stepFrames(f, n, (i) => ep.tcp(i).finAck));
    pm.pumpEach(`lastack${B}`, 'wan', stepFrames(f, n, (i) => ep.tcp(i).lastAck));
    const c = ep.tcp(f);
    expectCounters(`connections ${f}..${f + n - 1}`, delta(before, gw.worker()), stepCounters(n, c.syn, c.synAck, c.ack, c.fin, c.finAck, c.lastAck));
    log(`cps: ${f + n} of ${job.connections} connections, ${gw.worker().sessions_active} sessions active`);
  }
  const runSeconds = (Date.now() - t0) / 1000;
  // Let the sweeper finish: every session ends in TIME_WAIT (1 s).
  const end = Date.now() + 10000;
  while (gw.worker().sessions_active! > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  const counters = delta(c0, gw.worker());
  counters.sessions_active = gw.worker().sessions_active!;
  gw.stop();
  return { tscHz: pm.tscHz, memoryNeededMb: gw.memoryNeededMb, setupSeconds: runSeconds, phases: pm.phases, counters };
}

/** The generator binary, built with the addon (native/CMakeLists.txt). */
export const MEMIF_GEN = path.resolve(__dirname, '..', '..', 'build', 'native', 'fn_memif_gen');

interface GenResult {
  arp_answered: number;
  sent: number;
  received: [number, number];
  cycles: number;
  tsc_hz: number;
}

/** Writes the frames file and runs the generator to completion (the gateway's worker keeps forwarding meanwhile). */
function generate(socket: string, client: Buffer[], server: Buffer[], packets: number): GenResult {
  const file = `${socket}.frames`;
  const parts: Buffer[] = [Buffer.alloc(8)];
  parts[0]!.writeUInt32LE(client.length, 0);
  parts[0]!.writeUInt32LE(server.length, 4);
  for (const f of [...client, ...server]) {
    const l = Buffer.alloc(2);
    l.writeUInt16LE(f.length);
    parts.push(l, f);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
  const eal = ['-l', '0', '--no-huge', '-m', '256', '--no-shconf', '--file-prefix', `fnmemifgen${process.pid}`, '--no-pci', '--no-telemetry',
    '--log-level', 'lib.eal:warning', '--vdev', `net_memif0,role=client,socket=${socket},id=0`, '--vdev', `net_memif1,role=client,socket=${socket},id=1`];
  const r = spawnSync(MEMIF_GEN, [...eal, '--', file, String(packets), RS_MAC], { encoding: 'utf8', timeout: 5 * 60_000 });
  fs.rmSync(file, { force: true });
  fs.rmSync(`/var/run/dpdk/fnmemifgen${process.pid}`, { recursive: true, force: true });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (r.status !== 0 || !line) throw new Error(`fn_memif_gen failed (${r.signal ?? `exit ${r.status}`}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as GenResult;
}

async function memif(job: MemifJob): Promise<JobResult> {
  if (!fs.existsSync(MEMIF_GEN)) throw new Error(`${MEMIF_GEN} missing: build the addon (npm run build:native)`);
  const socket = `/tmp/fnbench-memif-${process.pid}.sock`;
  const shape: Shape = {
    tag: 'm',
    proto: 'udp',
    services: 1,
    allocations: job.flows,
    sessionsMax: Math.max(job.flows, 1024),
    nat: false,
    hugepages: job.hugepages,
    memifSocket: socket,
    timeouts: { udp: 3600 },
  };
  const { cfg, lips } = gatewayConfig(shape);
  const gw = new BenchGateway(cfg);
  gw.start(false);
  try {
    const ep = endpoints(gw, { services: 1, nat: false }, lips);
    const N = job.flows;
    const client = chunk(0, N, (b, o, i) => writeUdp(b, o, ep.client(i)));
    const server = chunk(0, N, (b, o, i) => writeUdp(b, o, ep.server(i)));
    const t0 = Date.now();
    const c0 = gw.worker();
    // memif may lose a few frames of a burst on the way in (counted below as
    // generator sent - worker received): send the first datagrams again
    // until every flow has its session (a repeat only refreshes one).
    let rounds = 0;
    for (; rounds < 5 && (delta(c0, gw.worker()).sessions_created ?? 0) < N; rounds++) generate(socket, client, [], 0);
    expectCounters(`memif setup (${rounds} rounds)`, { sessions_created: delta(c0, gw.worker()).sessions_created ?? 0 }, { sessions_created: N });
    const setupSeconds = (Date.now() - t0) / 1000;
    const c1 = gw.worker();
    const g = generate(socket, client, server, job.packets);
    const c2 = gw.worker();
    const d = delta(c1, c2);
    const p: Phase = {
      slices: [{ packets: d.rx_packets ?? 0, busy: d.busy_cycles ?? 0, oncpu: Number.MAX_SAFE_INTEGER, wait: 0, wall: g.cycles }],
      injected: g.sent,
      drained: g.received[0] + g.received[1],
    };
    log(`memif: generator ${JSON.stringify(g)}; worker ${JSON.stringify(d)}`);
    return { tscHz: g.tsc_hz, memoryNeededMb: gw.memoryNeededMb, setupSeconds, phases: { memif: p }, counters: delta(c0, c2) };
  } finally {
    gw.stop();
    fs.rmSync(socket, { force: true });
  }
}

export async function runJob(job: Job): Promise<JobResult> {
  switch (job.kind) {
    case 'memif':
      return memif(job);
    case 'traffic':
      return traffic(job);
    case 'cps':
      return cps(job);
  }
}

export { FRAME_LEN };
