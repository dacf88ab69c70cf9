// SYN proxy with 2 workers on ring ports (one file: EAL's lcores are fixed
// per process). The worker that receives the client's flow answers the SYN,
// validates the ACK and owns the session (its local port says so); the
// server's SYN-ACK and data arrive at the OTHER worker, which must hand them
// over: the gateway's ACK to the server and the translated data leave on the
// owner's TX queue, exactly once. Every output is rebuilt by the independent
// oracle (test/lib/packet.ts) and compared field by field.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp, parsePacket } from '../lib/packet';
import { RingGateway } from './harness';
import { compareFrames, isGatewayArpProbe, MSS_1460, resolveNeighbours, seg, type Host } from './fixtures';
import { dpdkYaml } from './steering';
import { VIP, WAN_IP, LAN_IP, LIP, CLIENT, RS1, WAN_MAC, LAN_MAC } from './addresses';


const CONFIG = `
${dpdkYaml(2)}
ports:
  - { name: wan, device: "ring:spwan", addresses: [${WAN_IP}/24] }
  - { name: lan, device: "ring:splan", addresses: [${LAN_IP}/24] }
local_addresses: { pool: { port: lan, addresses: [${LIP}], ports: [2000, 2063] } }
sessions:
  max: 64
  timeouts: { tcp_syn: 300, tcp_established: 300, tcp_fin: 300, tcp_time_wait: 300, tcp_close: 300, udp: 300 }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, syn_proxy: true, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const u32 = (n: number) => n >>> 0;

describe('SYN proxy with 2 workers: server replies reaching the other worker are handed to the owner', () => {
  let gw: RingGateway;
  const wan = WAN_MAC;
  const lan = LAN_MAC;

  /** Frames leaving `port` on TX queue `queue` (gateway ARP probes set aside) until n or the bound. */
  async function take(port: 'wan' | 'lan', queue: number, n: number, timeoutMs = 3000): Promise<Buffer[]> {
    const mac = port === 'wan' ? wan : lan;
    const out: Buffer[] = [];
    const end = Date.now() + timeoutMs;
    while (out.length < n && Date.now() < end) {
      out.push(...(await gw.collect(port, 1, 20, queue)).filter((f) => !isGatewayArpProbe(f, mac)));
    }
    return out;
  }

  /** Nothing left on any queue of either port (probes aside). */
  async function nothingElse(): Promise<string[]> {
    await sleep(50);
    const extra: string[] = [];
    for (const port of ['wan', 'lan'] as const)
      for (const q of [0, 1]) {
        const mac = port === 'wan' ? wan : lan;
        const f = (await gw.quiet(port, 0, q)).filter((x) => !isGatewayArpProbe(x, mac));
        if (f.length) extra.push(`${f.length} extra frame(s) on ${port} queue ${q}`);
      }
    return extra;
  }

  before(async () => {
    gw = RingGateway.start(CONFIG);
    assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, [RS1]), [], 'resolving the real server');
    await nothingElse();
  });
  after(() => gw?.stop());

  for (const owner of [0, 1]) {
    it(`a connection received by worker ${owner}: the other worker's copies of the server's packets are redirected to it`, async () => {
      const other = 1 - owner;
      const sport = 51000 + owner;
      const cisn = 0x11110000 + owner;
      const c = { ethSrc: CLIENT.mac, ethDst: wan, src: CLIENT.ip, dst: VIP, sport, dport: 80 };
      gw.inject('wan', [buildTcp({ ...c, ...seg({ flags: 'S', seq: cisn, ack: 0, id: 1, tcpOptions: MSS_1460 }), ttl: 64 })], owner);
      const sa = await take('wan', owner, 1);
      assert.equal(sa.length, 1, 'the SYN-ACK leaves on the receiving worker\'s queue');
      const cookie = parsePacket(sa[0]!).tcp!.seq;
      assert.equal(parsePacket(sa[0]!).tcp!.flags, 'SA');

      gw.inject('wan', [buildTcp({ ...c, ...seg({ flags: 'A', seq: u32(cisn + 1), ack: u32(cookie + 1), id: 2 }), ttl: 64 })], owner);
      const syn = await take('lan', owner, 1);
      assert.equal(syn.length, 1, 'the SYN to the server leaves on the owner\'s queue');
      const lport = parsePacket(syn[0]!).tcp!.sport;
      assert.equal(lport % 2, owner, `the owner took a local port of its own slice (${lport})`);
      const toRs = { ethSrc: lan, ethDst: RS1.mac, src: LIP, dst: RS1.ip, sport: lport, dport: 8080 };
      const fromRs = { ethSrc: RS1.mac, ethDst: lan, src: RS1.ip, dst: LIP, sport: 8080, dport: lport };
      assert.deepEqual(compareFrames(syn[0]!, buildTcp({ ...toRs, ...seg({ flags: 'S', seq: cisn, ack: 0, id: 2, tcpOptions: MSS_1460 }), ttl: 63 })), []);

      // The server's SYN-ACK arrives at the other worker only.
      const SISN = 0xfedc0000 + owner;
      const before = gw.counters();
      gw.inject('lan', [buildTcp({ ...fromRs, ...seg({ flags: 'SA', seq: SISN, ack: u32(cisn + 1), id: 3, tcpOptions: MSS_1460 }), ttl: 64 })], other);
      const ack = await take('lan', owner, 1);
      assert.equal(ack.length, 1, 'the gateway\'s ACK to the server, from the owner');
      assert.deepEqual(compareFrames(ack[0]!, buildTcp({ ...toRs, flags: 'A', seq: u32(cisn + 1), ack: u32(SISN + 1), window: 64240, ttl: 64, id: 0, dontFragment: true })), []);

      // Server data, again via the other worker: translated into the cookie space.
      const DATA = Buffer.from('hello through two workers');
      gw.inject('lan', [buildTcp({ ...fromRs, ...seg({ flags: 'PA', seq: u32(SISN + 1), ack: u32(cisn + 1), id: 4, payload: DATA }), ttl: 64 })], other);
      const data = await take('wan', owner, 1);
      assert.equal(data.length, 1, 'the data reaches the client from the owner');
      assert.deepEqual(compareFrames(data[0]!, buildTcp({ ethSrc: wan, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, sport: 80, dport: sport, ...seg({ flags: 'PA', seq: u32(cookie + 1), ack: u32(cisn + 1), id: 4, payload: DATA }), ttl: 63 })), []);
      assert.deepEqual(await nothingElse(), []);
      const after = gw.counters();
      assert.equal(after.redirected! - before.redirected!, 2, 'both server packets were handed over');
      assert.equal(after.syn_proxy_established! - before.syn_proxy_established!, 1);
    });
  }
});
