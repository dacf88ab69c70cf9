// Schedulers and persistence (issue #5) on the real data plane (ring ports,
// one worker unless stated):
//  - wlc / lc: each new session goes to the live server with the fewest
//    active sessions (per weight for wlc) on this worker, ties broken from a
//    rotating cursor. Sessions are built one by one and every choice is
//    predicted by a model of that rule; closing sessions changes the counts
//    and the next choices follow them.
//  - sh: table[crc32c(client address, hash_seed) % len] (or the next entry
//    whose server takes flows): one server per client address whatever the
//    source port; addresses spread; taking a server to weight 0 or down
//    moves its clients and only its clients, even when it is the only one
//    left of many.
//  - mh: Maglev; the same config gives the same choices on a second gateway,
//    another hash_seed other ones, weights 3:1 give 3:1, hash_fields address
//    pins all ports of a client, and removing one of 4 servers moves (about)
//    only that server's clients.
//  - persistence: the same client network reaches the same server while it
//    keeps opening connections, across workers (one shared table), unless
//    that server is down or at weight 0; after timeout_s it is forgotten.
//  - every scheduler drops with drop_no_real_server when no server is usable.
//
// The hashing schedulers are also checked against an independent model:
// crc32c (test/lib/crc32c.ts, table driven) over the client address (and
// port) indexes the table buildPlan() produced; the tables themselves are
// test/unit/schedulers-plan.test.ts's subject.
//
// Every frame is built, and every output parsed and checksum-verified, by
// test/lib/packet.ts. Waits are bounded polls; nothing asserts how long
// anything took.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp, parsePacket, type Parsed } from '../lib/packet';
import { parseConfig } from '../../src/config/load';
import { formatIPv4 } from '../../src/config/net';
import { buildPlan } from '../../src/plan/build';
import { crc32c } from '../lib/crc32c';
import { RingGateway } from './harness';
import { badChecksums, drainAll, drop, isGatewayArpProbe, MSS_1460, resolveNeighbours, runFixtures, waitUntil, type Host } from './fixtures';
import { VIP, WAN_IP, LAN_IP, WAN_MAC, LAN_MAC } from './addresses';

// ---------------------------------------------------------------------------
// Addresses and configuration
// ---------------------------------------------------------------------------

const LIPS = ['198.19.0.10', '198.19.0.11'];
const CLIENT_MAC = '02:00:00:00:01:01';
const RS_PORT = 8080;
const RS: Host[] = [2, 3, 4, 5].map((i) => ({ ip: `198.19.0.${i}`, mac: `02:00:00:00:02:0${i}` }));
/** A server's name as schedulers and Maglev know it: "address:port". */
const NAME = RS.map((h) => `${h.ip}:${RS_PORT}`);
const SERVICE = { vip: VIP, port: 80, protocol: 'tcp' };
const rsKey = (i: number): string => RingGateway.rsKey(SERVICE, { address: RS[i]!.ip, port: RS_PORT });

/** Distinct client addresses outside the gateway's own /24: 198.18.(1+k/250).(1+k%250). */
const clientIp = (k: number): string => `198.18.${1 + Math.floor(k / 250)}.${1 + (k % 250)}`;

type Scheduler = 'rr' | 'wrr' | 'lc' | 'wlc' | 'sh' | 'mh';

interface SvcOpts {
  scheduler: Scheduler;
  /** Servers by index into RS (port RS_PORT unless given), in config order. */
  servers: { rs: number; weight?: number; port?: number }[];
  /** More service keys, as YAML flow values (hash_seed, hash_fields, persistence...). */
  extra?: Record<string, string>;
}

interface GwOpts extends SvcOpts {
  workers?: 1 | 2;
  timeouts?: string;
}

// Every gateway gets ring devices of its own name; apply() must keep them, so
// the YAML of a gateway is always built with its own instance number.
let instance = 0;

/**
 * The dpdk section. The 2-worker suite runs first in this file (EAL is
 * initialised once per process, by the first gateway, with its lcores): both
 * workers share CPU 1 with idle backoff, as in steering.ts. One-worker
 * gateways then use lcore 1 of the same EAL.
 */
function dpdk(workers: 1 | 2): string {
  const lcores = workers === 2 ? '{ main: 0, workers: [1, 2], cpus: { 1: 1, 2: 1 } }' : '{ main: 0, workers: [1] }';
  return `dpdk: { lcores: ${lcores}, memory_mb: 512, mbufs: 8191, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }`;
}

function yaml(inst: number, o: GwOpts): string {
  const extra = Object.entries(o.extra ?? {})
    .map(([k, v]) => `    ${k}: ${v}\n`)
    .join('');
  const servers = o.servers.map((s) => `      - { address: ${RS[s.rs]!.ip}, port: ${s.port ?? RS_PORT}, weight: ${s.weight ?? 1} }\n`).join('');
  return `
${dpdk(o.workers ?? 1)}
ports:
  - { name: wan, device: "ring:swan${inst}", addresses: [${WAN_IP}/24] }
  - { name: lan, device: "ring:slan${inst}", addresses: [${LAN_IP}/24] }
local_addresses: { pool: { port: lan, addresses: [${LIPS.join(', ')}], ports: [1024, 65535] } }
sessions:
  max: 65536
  timeouts: ${o.timeouts ?? '{ tcp_syn: 600, tcp_established: 600, tcp_close: 600, udp: 600 }'}
services:
  - name: web
    vip: ${VIP}
    port: 80
    protocol: tcp
    scheduler: ${o.scheduler}
    local_addresses: pool
${extra}    real_servers:
${servers}`;
}

// ---------------------------------------------------------------------------
// The independent model of the hashing schedulers
// ---------------------------------------------------------------------------

/** The hash a hashing scheduler indexes with: the address's 4 bytes in wire order, then (flow) the port's 2 bytes and two zero bytes. */
function clientHash(ip: string, sport: number, seed: number, fields: 'address' | 'flow'): number {
  const h = crc32c(ip.split('.').map(Number), seed);
  return fields === 'address' ? h : crc32c([sport >> 8, sport & 0xff, 0, 0], h);
}

/**
 * Server name the hashing scheduler must pick for (ip, sport), from the plan
 * buildPlan() makes of `text` (with `down` servers down): the table entry the
 * hash names, or the next one holding a server that takes new flows.
 */
function hashModel(text: string, fields: 'address' | 'flow', down: string[] = []): { predict: (ip: string, sport: number) => string; tableLen: number } {
  const { plan } = buildPlan(parseConfig(text, 'model.yaml'), { isUp: (k) => !down.includes(k) });
  const svc = plan.services[0]!;
  const table = plan.sched.slice(svc.schedFirst, svc.schedFirst + svc.schedLen);
  const names = plan.realServers.map((r) => `${formatIPv4(r.ip)}:${r.port}`);
  return {
    predict: (ip, sport) => {
      const h = clientHash(ip, sport, svc.hashSeed, fields) % table.length;
      for (let off = 0; off < table.length; off++) {
        const rs = table[(h + off) % table.length]!;
        if (plan.realServers[rs]!.weight > 0) return names[rs]!;
      }
      return 'none';
    },
    tableLen: table.length,
  };
}

// ---------------------------------------------------------------------------
// Driving the gateway: SYNs in, chosen servers out
// ---------------------------------------------------------------------------

interface Conn {
  client: string;
  sport: number;
  /** RX queue (= worker) the client's packets arrive on. */
  q?: number;
}

interface Pick extends Conn {
  /** "address:port" of the real server the SYN went to. */
  server: string;
  lip: string;
  lport: number;
  /** TX queue it left on (= the worker that made the session). */
  txq: number;
  /** The SYN's sequence number (the tag that matched it). */
  iss: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BATCH = 512;

class Lb {
  readonly wanMac: string;
  readonly lanMac: string;
  private readonly lanIdx: number;
  private tag = 1000;

  constructor(
    readonly gw: RingGateway,
    readonly queues: number,
    /** "address:port" of every configured server. */
    readonly servers: ReadonlySet<string>,
  ) {
    this.wanMac = WAN_MAC;
    this.lanMac = LAN_MAC;
    this.lanIdx = gw.cfg.ports.findIndex((p) => p.name === 'lan');
  }

  /** Frames that left lan on any TX queue (the gateway's ARP probes set aside). */
  private drainLan(): { f: Buffer; q: number }[] {
    const out: { f: Buffer; q: number }[] = [];
    for (let q = 0; q < this.queues; q++) {
      for (const f of this.gw.testing.ringDrain(this.lanIdx, q)) if (!isGatewayArpProbe(f, this.lanMac)) out.push({ f, q });
    }
    return out;
  }

  /**
   * Sends one client TCP segment per item (each on its RX queue) and returns
   * the segment that left lan for each, matched by sequence number. Every
   * output must be well formed; no drop counter may move.
   */
  private async roundTrip(items: { c: Conn; seq: number; flags: string }[]): Promise<Map<number, { p: Parsed; q: number }>> {
    const got = new Map<number, { p: Parsed; q: number }>();
    const problems: string[] = [];
    const before = this.gw.counters();
    for (let b = 0; b < items.length; b += BATCH) {
      const batch = items.slice(b, b + BATCH);
      const byQ = new Map<number, Buffer[]>();
      for (const it of batch) {
        const frame = buildTcp({
          ethSrc: CLIENT_MAC,
          ethDst: this.wanMac,
          src: it.c.client,
          dst: VIP,
          sport: it.c.sport,
          dport: 80,
          flags: it.flags,
          seq: it.seq,
          ack: 0,
          id: it.seq & 0xffff,
          ttl: 64,
          tcpOptions: it.flags === 'S' ? MSS_1460 : Buffer.alloc(0),
        });
        const q = it.c.q ?? 0;
        if (!byQ.has(q)) byQ.set(q, []);
        byQ.get(q)!.push(frame);
      }
      for (const [q, frames] of byQ) this.gw.inject('wan', frames, q);
      const want = new Set(batch.map((it) => it.seq));
      const end = Date.now() + 15000;
      let pending = batch.length;
      while (pending > 0 && Date.now() < end) {
        const frames = this.drainLan();
        if (frames.length === 0) await sleep(1);
        for (const { f, q } of frames) {
          let p: Parsed;
          try {
            p = parsePacket(f);
          } catch (e) {
            problems.push(`unparseable frame on lan: ${(e as Error).message}`);
            continue;
          }
          if (!p.tcp || !want.has(p.tcp.seq) || got.has(p.tcp.seq)) {
            problems.push(`unexpected frame on lan queue ${q}: ${p.ipv4?.src}:${p.tcp?.sport} -> ${p.ipv4?.dst}:${p.tcp?.dport} [${p.tcp?.flags}] seq ${p.tcp?.seq}`);
            continue;
          }
          problems.push(...badChecksums(p).map((x) => `seq ${p.tcp!.seq}: checksum does not verify: ${x}`));
          got.set(p.tcp.seq, { p, q });
          pending--;
        }
      }
      if (pending > 0) {
        const after = this.gw.counters();
        const moved = Object.keys(after)
          .filter((k) => after[k] !== before[k])
          .map((k) => `${k}+${after[k]! - before[k]!}`);
        throw new Error(`${pending} of ${batch.length} segments never left lan (counters moved: ${moved.join(' ')})${problems.length ? `; ${problems.slice(0, 5).join('; ')}` : ''}`);
      }
    }
    const after = this.gw.counters();
    for (const k of Object.keys(after)) {
      if ((k.startsWith('drop_') || k === 'tx_dropped') && after[k] !== before[k]) problems.push(`${k} moved by ${after[k]! - before[k]!}`);
    }
    assert.deepEqual(problems.slice(0, 20), [], 'problems with the forwarded segments');
    return got;
  }

  /** Opens the connections (a SYN each) and returns the server each one reached. */
  async open(conns: Conn[]): Promise<Pick[]> {
    const items = conns.map((c) => ({ c, seq: (this.tag += 2), flags: 'S' }));
    const got = await this.roundTrip(items);
    return items.map((it) => {
      const { p, q } = got.get(it.seq)!;
      const server = `${p.ipv4!.dst}:${p.tcp!.dport}`;
      const rs = RS.find((h) => h.ip === p.ipv4!.dst);
      assert.ok(rs && this.servers.has(server), `SYN from ${it.c.client}:${it.c.sport} went to ${server}, not a real server`);
      assert.equal(p.eth.dst, rs.mac, `SYN to ${server}: Ethernet destination`);
      assert.ok(LIPS.includes(p.ipv4!.src), `SYN to ${server} from ${p.ipv4!.src}, not a LIP`);
      assert.equal(p.tcp!.flags, 'S');
      if (this.queues > 1) assert.equal(q, it.c.q ?? 0, `the session of ${it.c.client}:${it.c.sport} left on TX queue ${q}, not its worker's`);
      return { ...it.c, server, lip: p.ipv4!.src, lport: p.tcp!.sport, txq: q, iss: it.seq };
    });
  }

  /** One connection; the server it reached. */
  async one(c: Conn): Promise<string> {
    return (await this.open([c]))[0]!.server;
  }

  /** Closes connections with a RST from the client, each forwarded to its server. */
  async close(picks: Pick[]): Promise<void> {
    const items = picks.map((c) => ({ c, seq: c.iss + 1, flags: 'R' }));
    const got = await this.roundTrip(items);
    for (const it of items) {
      const { p } = got.get(it.seq)!;
      assert.equal(`${p.ipv4!.dst}:${p.tcp!.dport}`, it.c.server, `RST of ${it.c.client}:${it.c.sport}`);
      assert.equal(`${p.ipv4!.src}:${p.tcp!.sport}`, `${it.c.lip}:${it.c.lport}`);
    }
  }

  /** A new connection from `c`, then closed again (the previous connection is always closed first). */
  async visit(c: Conn): Promise<string> {
    const [p] = await this.open([c]);
    await this.close([p!]);
    return p!.server;
  }
}

async function withGateway(o: GwOpts, body: (lb: Lb, ctx: { inst: number; text: string }) => Promise<void>): Promise<void> {
  const inst = ++instance;
  const text = yaml(inst, o);
  const gw = RingGateway.start(text);
  try {
    const hosts = [...new Set(o.servers.map((s) => s.rs))].map((i) => RS[i]!);
    assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, hosts), [], 'resolving the real servers');
    await drainAll(gw);
    await body(new Lb(gw, o.workers ?? 1, new Set(o.servers.map((r) => `${RS[r.rs]!.ip}:${r.port ?? RS_PORT}`))), { inst, text });
  } finally {
    gw.stop();
  }
}

const countBy = (xs: string[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
};

// ---------------------------------------------------------------------------
// Persistence across workers (first in the file: it sets EAL's lcores)
// ---------------------------------------------------------------------------

describe('persistence with 2 workers: one table shared by all workers', () => {
  it("the same client's connections reach the same server on either worker's queue", () =>
    withGateway(
      {
        workers: 2,
        scheduler: 'rr',
        servers: [{ rs: 0 }, { rs: 1 }, { rs: 2 }],
        extra: { persistence: '{ timeout_s: 60, netmask: 24 }' },
      },
      async (lb) => {
        // Worker 1's rr cursor is moved on by a client of another network
        // first, so that without a shared table worker 1 would choose
        // differently from worker 0 for the sticky client.
        const z = await lb.visit({ client: '198.18.9.9', sport: 30000, q: 1 });
        const x = '198.18.1.10';
        const first = await lb.open([{ client: x, sport: 40000, q: 0 }]);
        const sticky = first[0]!.server;
        assert.equal(sticky, z, "worker 0's first choice is the first rr entry, as worker 1's was");
        await lb.close(first);
        const seen: string[] = [];
        for (let i = 1; i <= 8; i++) seen.push(await lb.visit({ client: x, sport: 40000 + i, q: i % 2 }));
        assert.deepEqual(seen, new Array(8).fill(sticky), `connections alternating worker 1, 0, 1, ... reach ${sticky}`);
        // Same /24 (netmask 24), on worker 1 and on worker 0.
        assert.equal(await lb.visit({ client: '198.18.1.77', sport: 50000, q: 1 }), sticky);
        assert.equal(await lb.visit({ client: '198.18.1.78', sport: 50001, q: 0 }), sticky);
        // Both workers did make sessions.
        const w = lb.gw.native.readRealServers(64);
        assert.ok(w.created.reduce((a, b) => a + b, 0) >= 12);
      },
    ));
});

// ---------------------------------------------------------------------------
// lc / wlc
// ---------------------------------------------------------------------------

/**
 * The rule of lc/wlc: among the live servers in table order, starting at the
 * cursor (which moves on by one per created session), the first with the
 * lowest active/weight wins.
 */
class LeastModel {
  cursor = 0;
  constructor(
    readonly servers: { name: string; weight: number }[],
    readonly active: Map<string, number> = new Map(),
  ) {}

  next(): string {
    const n = this.servers.length;
    let best = -1;
    for (let k = 0; k < n; k++) {
      const i = (this.cursor + k) % n;
      const s = this.servers[i]!;
      const a = this.active.get(s.name) ?? 0;
      if (best < 0) best = i;
      else {
        const b = this.servers[best]!;
        if (a * b.weight < (this.active.get(b.name) ?? 0) * s.weight) best = i;
      }
    }
    this.cursor = (this.cursor + 1) % n;
    const name = this.servers[best]!.name;
    this.active.set(name, (this.active.get(name) ?? 0) + 1);
    return name;
  }

  closed(name: string): void {
    this.active.set(name, this.active.get(name)! - 1);
  }
}

/** Active sessions per server name as the data plane counts them. */
function activeByName(lb: Lb, names: string[]): Record<string, number> {
  const ids = names.map((_, i) => lb.gw.ids.realServerId(rsKey(i)));
  const { active } = lb.gw.native.readRealServers(Math.max(...ids) + 1);
  return Object.fromEntries(names.map((n, i) => [n, active[ids[i]!]!]));
}

describe('least connections', () => {
  // tcp_close 1 s: a session closed by RST is gone (and no longer counted) soon after.
  const timeouts = '{ tcp_syn: 600, tcp_established: 600, tcp_close: 1, udp: 600 }';

  it('wlc 1:2 sends each new session to the least loaded server per weight, and follows closes', () =>
    withGateway({ scheduler: 'wlc', servers: [{ rs: 0, weight: 1 }, { rs: 1, weight: 2 }], timeouts }, async (lb) => {
      const model = new LeastModel([
        { name: NAME[0]!, weight: 1 },
        { name: NAME[1]!, weight: 2 },
      ]);
      const open: Pick[] = [];
      let made = 0;
      const step = async (label: string, count: number) => {
        for (let i = 0; i < count; i++) {
          const want = model.next();
          const [p] = await lb.open([{ client: clientIp(made % 7), sport: 20000 + made++ }]);
          assert.equal(p!.server, want, `${label}, session ${i + 1}: active before ${JSON.stringify(Object.fromEntries(model.active))}`);
          open.push(p!);
        }
        assert.deepEqual(activeByName(lb, NAME.slice(0, 2)), Object.fromEntries(model.active), `${label}: the data plane's counts`);
      };
      await step('from empty', 9);
      // 9 sessions at 1:2: 3 and 6.
      assert.deepEqual(Object.fromEntries(model.active), { [NAME[0]!]: 3, [NAME[1]!]: 6 });

      // Close four of the weight-2 server's sessions: it is now the less loaded per weight (2/2 < 3/1).
      const close = open.filter((p) => p.server === NAME[1]).slice(0, 4);
      await lb.close(close);
      for (const p of close) {
        model.closed(p.server);
        open.splice(open.indexOf(p), 1);
      }
      const c = await waitUntil(lb.gw, (x) => x.sessions_active === open.length, 15000);
      assert.equal(c.sessions_active, open.length, 'the closed sessions end');
      await step('after closing 4 on the weight-2 server', 6);

      // Close every session of the weight-1 server: it gets the next ones.
      const close1 = open.filter((p) => p.server === NAME[0]);
      await lb.close(close1);
      for (const p of close1) {
        model.closed(p.server);
        open.splice(open.indexOf(p), 1);
      }
      const c2 = await waitUntil(lb.gw, (x) => x.sessions_active === open.length, 15000);
      assert.equal(c2.sessions_active, open.length, 'the closed sessions end');
      await step('after closing all on the weight-1 server', 6);
    }));

  it('lc ignores weights (and never picks a weight-0 server)', () =>
    withGateway({ scheduler: 'lc', servers: [{ rs: 0, weight: 1 }, { rs: 1, weight: 3 }, { rs: 2, weight: 0 }], timeouts }, async (lb) => {
      const model = new LeastModel([
        { name: NAME[0]!, weight: 1 },
        { name: NAME[1]!, weight: 1 },
      ]);
      const open: Pick[] = [];
      for (let i = 0; i < 8; i++) {
        const want = model.next();
        const [p] = await lb.open([{ client: clientIp(i), sport: 21000 + i }]);
        assert.equal(p!.server, want, `session ${i + 1}`);
        open.push(p!);
      }
      assert.deepEqual(countBy(open.map((p) => p.server)), { [NAME[0]!]: 4, [NAME[1]!]: 4 }, 'lc: equal counts whatever the weights');
      const close = open.filter((p) => p.server === NAME[0]).slice(0, 3);
      await lb.close(close);
      for (const p of close) model.closed(p.server);
      const c = await waitUntil(lb.gw, (x) => x.sessions_active === 5, 15000);
      assert.equal(c.sessions_active, 5);
      const next: string[] = [];
      for (let i = 0; i < 4; i++) {
        const want = model.next();
        next.push(await lb.one({ client: clientIp(i), sport: 22000 + i }));
        assert.equal(next[i], want, `after closing 3 of ${NAME[0]}: session ${i + 1}`);
      }
      // 1 vs 4 active: the next three all go to the emptier server.
      assert.deepEqual(next.slice(0, 3), [NAME[0], NAME[0], NAME[0]]);
    }));
});

// ---------------------------------------------------------------------------
// sh
// ---------------------------------------------------------------------------

describe('source hashing (sh)', () => {
  // Weights 1, 2, 1; a seed other than 0.
  const SH: GwOpts = { scheduler: 'sh', servers: [{ rs: 0 }, { rs: 1, weight: 2 }, { rs: 2 }], extra: { hash_seed: '3735928559' } };
  const CLIENTS = Array.from({ length: 60 }, (_, k) => clientIp(k));

  /** Each client's server from 8 source ports (all the same), checked against the model. */
  async function homes(lb: Lb, model: ReturnType<typeof hashModel>, sportBase: number): Promise<Map<string, string>> {
    const picks = await lb.open(CLIENTS.flatMap((client, k) => Array.from({ length: 8 }, (_, j) => ({ client, sport: sportBase + k * 97 + j * 613 }))));
    const home = new Map<string, string>();
    for (const p of picks) {
      const h = home.get(p.client);
      if (h === undefined) home.set(p.client, p.server);
      else assert.equal(p.server, h, `${p.client}:${p.sport} went to ${p.server}, its other ports to ${h}`);
    }
    for (const [c, s] of home) assert.equal(s, model.predict(c, 0), `${c}: table[crc32c(address, seed) % ${model.tableLen}] (or the next usable entry)`);
    return home;
  }

  /** Clients whose server changed, other than those of `gone`. */
  function movedOthers(before: Map<string, string>, after: Map<string, string>, gone: string): string[] {
    const out: string[] = [];
    for (const [c, was] of before) {
      const now = after.get(c)!;
      if (was === gone) assert.notEqual(now, gone, `${c} still reaches ${gone}`);
      else if (now !== was) out.push(`${c} ${was} -> ${now}`);
    }
    return out;
  }

  it('the same client address lands on one server across source ports; addresses spread over all servers', () =>
    withGateway(SH, async (lb, { text }) => {
      const home = await homes(lb, hashModel(text, 'address'), 1024);
      const spread = countBy([...home.values()]);
      assert.deepEqual(Object.keys(spread).sort(), NAME.slice(0, 3).sort(), `60 addresses over all 3 servers: ${JSON.stringify(spread)}`);
    }));

  // sh lays its table out by configured weight (as IPVS sh does): a weight-1
  // server drained to 0 keeps its slots (passed over at run time), so only its
  // clients move; changing a heavier server's weight re-lays the table. To
  // drain a weighted sh server without moving others, mark it down (below).
  it('a weight-1 server taken to weight 0 loses its clients, and only its clients', () =>
    withGateway(SH, async (lb, { inst, text }) => {
      const before = await homes(lb, hashModel(text, 'address'), 1024);
      const next = yaml(inst, { ...SH, servers: SH.servers.map((r, i) => (i === 0 ? { ...r, weight: 0 } : r)) });
      lb.gw.apply(next);
      const after = await homes(lb, hashModel(next, 'address'), 20000);
      const moved = movedOthers(before, after, NAME[0]!);
      const others = [...before.values()].filter((s) => s !== NAME[0]).length;
      assert.deepEqual(moved, [], `${moved.length} of the ${others} clients of the servers still in service moved`);
    }));

  it('a weighted server taken to weight 0 gets no client any more (the table is re-laid, as in IPVS)', () =>
    withGateway(SH, async (lb, { inst, text }) => {
      await homes(lb, hashModel(text, 'address'), 1024);
      const next = yaml(inst, { ...SH, servers: SH.servers.map((r, i) => (i === 1 ? { ...r, weight: 0 } : r)) });
      lb.gw.apply(next);
      const after = await homes(lb, hashModel(next, 'address'), 20000);
      assert.ok(![...after.values()].includes(NAME[1]!), 'the drained server still receives clients');
    }));

  it('a server marked down (weight 2) loses its clients, and only its clients', () =>
    withGateway(SH, async (lb, { text }) => {
      const before = await homes(lb, hashModel(text, 'address'), 1024);
      lb.gw.apply(text, { down: [rsKey(1)] });
      const after = await homes(lb, hashModel(text, 'address', [rsKey(1)]), 20000);
      assert.deepEqual(movedOthers(before, after, NAME[1]!), []);
    }));

  it('with 70 servers and all but one at weight 0, every client reaches the one left', () => {
    // 70 servers on one address (ports 8000..8069); only port 8069 takes flows.
    const o: GwOpts = { scheduler: 'sh', servers: Array.from({ length: 70 }, (_, i) => ({ rs: 0, port: 8000 + i, weight: i === 69 ? 1 : 0 })) };
    return withGateway(o, async (lb, { text }) => {
      const model = hashModel(text, 'address');
      const syn = (k: number) =>
        buildTcp({ ethSrc: CLIENT_MAC, ethDst: lb.wanMac, src: clientIp(k), dst: VIP, sport: 7000, dport: 80, flags: 'S', seq: k, ack: 0, ttl: 64, tcpOptions: MSS_1460 });
      const before = lb.gw.counters();
      const n = 200;
      lb.gw.inject('wan', Array.from({ length: n }, (_, k) => syn(k)));
      const c = await waitUntil(lb.gw, (x) => x.fwd_to_server + x.drop_no_real_server - before.fwd_to_server - before.drop_no_real_server >= n, 10000);
      const dropped = c.drop_no_real_server - before.drop_no_real_server;
      const unreachable = Array.from({ length: n }, (_, k) => clientIp(k)).filter((ip) => model.predict(ip, 0) === 'none');
      assert.deepEqual(unreachable, [], 'the model finds the live server for everybody');
      assert.equal(dropped, 0, `${dropped} of ${n} clients were dropped with drop_no_real_server while ${RS[0]!.ip}:8069 takes flows`);
      assert.equal(c.fwd_to_server - before.fwd_to_server, n);
    });
  });
});

// ---------------------------------------------------------------------------
// mh (Maglev)
// ---------------------------------------------------------------------------

const FOUR = [{ rs: 0 }, { rs: 1 }, { rs: 2 }, { rs: 3 }];
const MH_CLIENTS: Conn[] = Array.from({ length: 200 }, (_, k) => ({ client: clientIp(k), sport: 40000 + k }));

/** client:port -> server for MH_CLIENTS on a fresh gateway of this config; checked against the model too. */
async function mhRun(o: GwOpts): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await withGateway(o, async (lb, { text }) => {
    const model = hashModel(text, 'flow');
    for (const p of await lb.open(MH_CLIENTS)) {
      assert.equal(p.server, model.predict(p.client, p.sport), `${p.client}:${p.sport}: table[crc32c(address, port) % ${model.tableLen}]`);
      out.set(`${p.client}:${p.sport}`, p.server);
    }
    // hash_fields defaults to flow for mh: one client's ports spread.
    const ports = await lb.open(Array.from({ length: 40 }, (_, j) => ({ client: '198.18.200.1', sport: 2000 + j * 131 })));
    const used = new Set(ports.map((p) => p.server));
    assert.ok(used.size >= 2, `40 ports of one client all reached ${[...used].join()} (mh hashes the port too by default)`);
  });
  return out;
}

describe('Maglev hashing (mh)', () => {
  it('a second gateway with the same config makes the same 200 choices; another hash_seed changes some', async () => {
    const a = await mhRun({ scheduler: 'mh', servers: FOUR });
    const b = await mhRun({ scheduler: 'mh', servers: FOUR });
    assert.deepEqual([...b], [...a], 'the second gateway chose differently');
    assert.equal(new Set(a.values()).size, 4, 'the 200 clients reach all 4 servers');
    const c = await mhRun({ scheduler: 'mh', servers: FOUR, extra: { hash_seed: '12345' } });
    const changed = [...a].filter(([k, v]) => c.get(k) !== v).length;
    // Independent tables of 4 servers agree on about 1/4 of the clients: about
    // 150 of 200 change. Fewer than 50 would mean the seed is barely used.
    assert.ok(changed >= 50, `hash_seed 12345 changed ${changed} of 200 choices`);
  });

  it('weights 3:1 give about 75/25 of 2000 distinct clients', () =>
    withGateway({ scheduler: 'mh', servers: [{ rs: 0, weight: 3 }, { rs: 1, weight: 1 }] }, async (lb, { text }) => {
      const model = hashModel(text, 'flow');
      const picks = await lb.open(Array.from({ length: 2000 }, (_, k) => ({ client: clientIp(k), sport: 50000 })));
      for (const p of picks) assert.equal(p.server, model.predict(p.client, p.sport), `${p.client}:${p.sport}`);
      const n = countBy(picks.map((p) => p.server));
      // The table itself is 3:1 within a slot or two of 65537. 2000 hashed
      // clients then scatter binomially: sd = sqrt(2000 * .75 * .25) ~ 19
      // clients (~1 %); +/- 5 % (100 clients) is over 5 sd.
      const share = (n[NAME[0]!] ?? 0) / 2000;
      assert.ok(Math.abs(share - 0.75) <= 0.05, `weight-3 server got ${(share * 100).toFixed(1)} % (${JSON.stringify(n)})`);
    }));

  it('hash_fields address: all ports of one client go to one server', () =>
    withGateway({ scheduler: 'mh', servers: FOUR, extra: { hash_fields: 'address' } }, async (lb, { text }) => {
      const model = hashModel(text, 'address');
      const picks = await lb.open(Array.from({ length: 30 * 12 }, (_, i) => ({ client: clientIp(i % 30), sport: 1024 + i * 173 })));
      const home = new Map<string, Set<string>>();
      for (const p of picks) {
        if (!home.has(p.client)) home.set(p.client, new Set());
        home.get(p.client)!.add(p.server);
        assert.equal(p.server, model.predict(p.client, 0), `${p.client}:${p.sport}`);
      }
      for (const [c, s] of home) assert.equal(s.size, 1, `${c}: 12 ports reached ${[...s].join(', ')}`);
      assert.ok(new Set(picks.map((p) => p.server)).size >= 3, '30 clients reach at least 3 of the 4 servers');
    }));

  it('removing one of 4 servers by reload moves (about) only its clients', () => {
    const o: GwOpts = { scheduler: 'mh', servers: FOUR, extra: { hash_fields: 'address' } };
    return withGateway(o, async (lb, { inst }) => {
      const clients = Array.from({ length: 1000 }, (_, k) => clientIp(k));
      const before = await lb.open(clients.map((client) => ({ client, sport: 3000 })));
      const three = yaml(inst, { ...o, servers: FOUR.slice(0, 3) });
      lb.gw.apply(three);
      const model = hashModel(three, 'address');
      const after = await lb.open(clients.map((client) => ({ client, sport: 3001 })));
      let removedClients = 0;
      let others = 0;
      const moved: string[] = [];
      for (let k = 0; k < clients.length; k++) {
        const was = before[k]!.server;
        const now = after[k]!.server;
        assert.equal(now, model.predict(clients[k]!, 0), `${clients[k]} after the reload`);
        if (was === NAME[3]) {
          removedClients++;
          assert.notEqual(now, NAME[3]);
        } else {
          others++;
          if (now !== was) moved.push(`${clients[k]} ${was} -> ${now}`);
        }
      }
      assert.ok(removedClients > 150 && removedClients < 350, `the removed server had ${removedClients} of 1000 clients (about 250)`);
      // Maglev's minimal disruption: with M = 65537 about 0.2 % of the other
      // servers' slots change owner (95 of 49153 for these names); 3 % of
      // their clients is a loose bound (a modulo table would move ~50 %).
      assert.ok(moved.length <= 0.03 * others, `${moved.length} of ${others} clients of the remaining servers moved: ${moved.slice(0, 10).join('; ')}`);
    });
  });
});

// ---------------------------------------------------------------------------
// Persistence (one worker)
// ---------------------------------------------------------------------------

describe('persistence', () => {
  it('rr + persistence 60 s, netmask 24: one client, its /24, and a client outside', () =>
    withGateway({ scheduler: 'rr', servers: [{ rs: 0 }, { rs: 1 }, { rs: 2 }], extra: { persistence: '{ timeout_s: 60, netmask: 24 }' } }, async (lb) => {
      const x = '198.18.1.10';
      const seen: string[] = [];
      // Without persistence rr would give 3 servers in the first 3.
      for (let i = 0; i < 4; i++) seen.push(await lb.visit({ client: x, sport: 41000 + i }));
      const sticky = seen[0]!;
      assert.deepEqual(seen, [sticky, sticky, sticky, sticky], 'new connections of one client');
      assert.equal(await lb.visit({ client: '198.18.1.200', sport: 41010 }), sticky, 'a client in the same /24');
      // 5 sessions so far: the rr cursor is at entry 2 (or at entry 1 if
      // persistent choices do not move it); either way not the sticky one.
      const out = await lb.visit({ client: '198.18.2.10', sport: 41020 });
      assert.notEqual(out, sticky, 'a client of another /24 is scheduled by rr');
      assert.ok(NAME.slice(0, 3).includes(out));
      // And that one sticks as well.
      assert.equal(await lb.visit({ client: '198.18.2.10', sport: 41021 }), out);
      assert.equal(await lb.visit({ client: x, sport: 41030 }), sticky, 'the first client still has its server');
    }));

  it('a sticky server down or at weight 0 sends the client to another one (which then sticks)', () => {
    const o: GwOpts = { scheduler: 'rr', servers: [{ rs: 0 }, { rs: 1 }, { rs: 2 }], extra: { persistence: '{ timeout_s: 60 }' } };
    return withGateway(o, async (lb, { inst, text }) => {
      const x = '198.18.3.3';
      const s = await lb.visit({ client: x, sport: 42000 });
      assert.equal(await lb.visit({ client: x, sport: 42001 }), s);
      const si = NAME.indexOf(s);

      lb.gw.apply(text, { down: [rsKey(si)] });
      const t = await lb.visit({ client: x, sport: 42002 });
      assert.notEqual(t, s, `${s} is down`);
      assert.equal(await lb.visit({ client: x, sport: 42003 }), t, 'the new server sticks');

      lb.gw.apply(text);
      assert.equal(await lb.visit({ client: x, sport: 42004 }), t, `${s} back up: the client stays with ${t}`);

      const ti = NAME.indexOf(t);
      lb.gw.apply(yaml(inst, { ...o, servers: o.servers.map((r) => (r.rs === ti ? { ...r, weight: 0 } : r)) }));
      const u = await lb.visit({ client: x, sport: 42005 });
      assert.notEqual(u, t, `${t} at weight 0`);
      assert.equal(await lb.visit({ client: x, sport: 42006 }), u);
    });
  });

  it('1000 clients at once all keep their servers (no client loses its entry to another)', () =>
    withGateway({ scheduler: 'rr', servers: [{ rs: 0 }, { rs: 1 }, { rs: 2 }], extra: { persistence: '{ timeout_s: 60 }' } }, async (lb) => {
      // 1000 client networks against a table sized for sessions.max (65536
      // here): persistence must hold for every one of them, whatever the
      // table's layout. Addresses scattered over 10.0.0.0/8, as real
      // clients are (consecutive addresses can hide slot collisions).
      let x = 12345;
      const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8;
      const scattered = Array.from({ length: 1100 }, () => {
        const r = rnd();
        return `10.${(r >> 16) & 255}.${(r >> 8) & 255}.${(r & 255) | 1}`;
      });
      const clients = [...new Set(scattered)].slice(0, 1000);
      assert.equal(clients.length, 1000);
      const first = await lb.open(clients.map((client) => ({ client, sport: 45000 })));
      assert.equal(new Set(first.map((p) => p.server)).size, 3, 'rr spread the first connections');
      const second = await lb.open(clients.map((client) => ({ client, sport: 45001 })));
      const lost = second.flatMap((p, k) => (p.server !== first[k]!.server ? [`${p.client} ${first[k]!.server} -> ${p.server}`] : []));
      assert.deepEqual(lost, [], `${lost.length} of 1000 clients reached another server on their second connection`);
    }));

  it('is forgotten after timeout_s without new connections', () =>
    withGateway({ scheduler: 'rr', servers: [{ rs: 0 }, { rs: 1 }, { rs: 2 }], extra: { persistence: '{ timeout_s: 1 }' } }, async (lb) => {
      const x = '198.18.4.4';
      const s = await lb.visit({ client: x, sport: 43000 });
      // Well past 1 s (the table keeps whole seconds).
      await sleep(2500);
      // One session so far: rr is at its second entry, another server.
      assert.notEqual(await lb.visit({ client: x, sport: 43001 }), s, 'the expired entry no longer holds the client');
    }));
});

// ---------------------------------------------------------------------------
// No usable server
// ---------------------------------------------------------------------------

describe('no usable server', () => {
  it('every scheduler drops with drop_no_real_server when all servers are at weight 0 or down', () => {
    const o: GwOpts = { scheduler: 'rr', servers: [{ rs: 0 }, { rs: 1 }] };
    return withGateway(o, async (lb, { inst }) => {
      let sport = 44000;
      const syn = () =>
        buildTcp({ ethSrc: CLIENT_MAC, ethDst: lb.wanMac, src: '198.18.5.5', dst: VIP, sport: sport++, dport: 80, flags: 'S', seq: 7, ack: 0, id: 9, ttl: 64, tcpOptions: MSS_1460 });
      for (const scheduler of ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh'] as const) {
        for (const persistence of [false, true]) {
          const extra = persistence ? { persistence: '{ timeout_s: 60 }' } : undefined;
          // A session first, so that persistence has a server to remember.
          lb.gw.apply(yaml(inst, { scheduler, servers: o.servers, extra }));
          await lb.visit({ client: '198.18.5.5', sport: sport++ });
          const what = `${scheduler}${persistence ? ' + persistence' : ''}`;
          lb.gw.apply(yaml(inst, { scheduler, servers: o.servers.map((r) => ({ ...r, weight: 0 })), extra }));
          await runFixtures(lb.gw, [drop(`${what}, all servers at weight 0`, 'wan', syn(), 'drop_no_real_server')]);
          lb.gw.apply(yaml(inst, { scheduler, servers: o.servers, extra }), { down: [rsKey(0), rsKey(1)] });
          await runFixtures(lb.gw, [drop(`${what}, all servers down`, 'wan', syn(), 'drop_no_real_server')]);
        }
      }
    });
  });
});
