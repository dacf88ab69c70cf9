// Review finding H1 (issue 13 item 1): the session hash was CRC32C with a
// fixed seed. CRC is affine, so tuples that share a bucket are computed
// offline (a random seed would not change which), and every packet into that
// bucket walked the whole chain. Now the hash is keyed per process
// (native/dp/hashkey.h) and a bucket holds at most 16 entries: a new flow
// into a full one is dropped (drop_bucket_full), existing ones never are.
//
// 1. UDP flows crafted to share one bucket under the old CRC (the model in
//    test/lib/crc32c.ts, the old formula): all get sessions and keep
//    translating, none hits a bucket limit. With the limit but the old hash
//    the 17th would be refused: they all chained in one bucket.
// 2. With the key pinned (testing.hashKeys) the test crafts real collisions
//    under the new hash: 16 flows fill one bucket, the next two are dropped
//    with drop_bucket_full (their local port given back), the 16 keep
//    forwarding both ways, and a flow into another bucket gets a session.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildUdp } from '../lib/packet';
import { crc32c } from '../lib/crc32c';
import { loadNativeTesting } from '../../src/native';
import { RingGateway } from './harness';
import { dgram, drainAll, drop, resolveNeighbours, runFixtures, udpFx, type Ends, type Fixture } from './fixtures';
import { VIP, LAN_IP, LIP, CLIENT, RS1, WAN_MAC, LAN_MAC } from './addresses';

const SESSIONS = 64; // one worker: 64 sessions, 128 buckets (a power of two >= 2 x max)
const MASK = 127;
const CHAIN_MAX = 16; // native/dp/session.h FN_SESS_CHAIN_MAX
const UDP = 17;
const FIRST_LPORT = 2000;

let instance = 0;

function config(lports: number): string {
  instance++;
  return `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 4095, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:wan${instance}", addresses: [198.18.0.254/24] }
  - { name: lan, device: "ring:lan${instance}", addresses: [${LAN_IP}/24] }
local_addresses: { pool: { port: lan, addresses: [${LIP}], ports: [${FIRST_LPORT}, ${FIRST_LPORT + lports - 1}] } }
sessions: { max: ${SESSIONS}, timeouts: { udp: 300 } }
services:
  - { name: dns, vip: ${VIP}, port: 53, protocol: udp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 5353 }] }
`;
}

async function withGateway(yaml: string, body: (gw: RingGateway) => Promise<void>): Promise<void> {
  const gw = RingGateway.start(yaml);
  try {
    assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, [RS1]), [], 'resolving the real server');
    await drainAll(gw);
    await body(gw);
  } finally {
    gw.stop();
  }
}

interface Tuple {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

const ipBytes = (ip: string): number[] => ip.split('.').map(Number);

/** The session hash before the fix (native/dp/session.c at 47ade70): CRC32C of the tuple's words as the data plane loads them from the wire. */
function oldHash(t: Tuple): number {
  let h = crc32c(ipBytes(t.src), 0x9e3779b9);
  h = crc32c(ipBytes(t.dst), h);
  h = crc32c([t.dport >> 8, t.dport & 0xff, t.sport >> 8, t.sport & 0xff], h); // sport << 16 | dport, network-order halves
  return crc32c([UDP, 0, 0, 0], h);
}

/**
 * The keyed hash (native/dp/session.h fn_sess_hash, hashkey.h): x = ((a0 + a1 saddr + a2 daddr + a3 (sport | dport << 16)
 * + a4 proto) mod 2^64) >> 32, then x ^= x >> 16; x *= 0x85ebca6b; x ^= x >> 13 (32-bit).
 */
function keyedHash(keys: Buffer, t: Tuple): number {
  const a = (i: number) => keys.readBigUInt64LE(8 * i);
  const le32 = (b: number[]) => BigInt(Buffer.from(b).readUInt32LE(0));
  const words = [le32(ipBytes(t.src)), le32(ipBytes(t.dst)), le32([t.sport >> 8, t.sport & 0xff, t.dport >> 8, t.dport & 0xff]), BigInt(UDP)];
  let sum = a(0);
  words.forEach((w, i) => (sum = (sum + a(i + 1) * w) & 0xffffffffffffffffn));
  let x = Number(sum >> 32n);
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  return (x ^ (x >>> 13)) >>> 0;
}

const client = (sport: number): Ends => ({ ethSrc: CLIENT.mac, ethDst: WAN_MAC, src: CLIENT.ip, dst: VIP, sport, dport: 53 });
const toClient = (sport: number): Ends => ({ ethSrc: WAN_MAC, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, sport: 53, dport: sport });
const toRs = (lport: number): Ends => ({ ethSrc: LAN_MAC, ethDst: RS1.mac, src: LIP, dst: RS1.ip, sport: lport, dport: 5353 });
const fromRs = (lport: number): Ends => ({ ethSrc: RS1.mac, ethDst: LAN_MAC, src: RS1.ip, dst: LIP, sport: 5353, dport: lport });
const clientTuple = (sport: number): Tuple => ({ src: CLIENT.ip, dst: VIP, sport, dport: 53 });
const serverTuple = (lport: number): Tuple => ({ src: RS1.ip, dst: LIP, sport: 5353, dport: lport });

const NEW = { fwd_to_server: 1, sessions_created: 1, sessions_active: 1 };
const TO_C = { fwd_to_client: 1 };

/** Client ports from `from` up whose tuple lands in `bucket` under `hash`. */
function sportsInBucket(hash: (t: Tuple) => number, bucket: number, n: number, from = 10000): number[] {
  const out: number[] = [];
  for (let p = from; out.length < n && p < 65536; p++) if ((hash(clientTuple(p)) & MASK) === bucket) out.push(p);
  assert.equal(out.length, n, `${n} client ports in bucket ${bucket}`);
  return out;
}

/** Each flow's first datagram opens its session on the next local port; then one answer back and one more datagram out. */
function flows(sports: number[], label: string): { open: Fixture[]; use: Fixture[] } {
  const open = sports.map((sp, i) =>
    udpFx(`${label} flow ${i} (client port ${sp}) -> ${LIP}:${FIRST_LPORT + i}`, 'wan', client(sp), 'lan', toRs(FIRST_LPORT + i), dgram({ id: 0x100 + i, payload: Buffer.from(`q${i}`) }), NEW),
  );
  const use = sports.flatMap((sp, i) => [
    udpFx(`${label} flow ${i}: the server's answer reaches the client`, 'lan', fromRs(FIRST_LPORT + i), 'wan', toClient(sp), dgram({ id: 0x400 + i, payload: Buffer.from(`a${i}`) }), TO_C),
    udpFx(`${label} flow ${i}: the client's next datagram`, 'wan', client(sp), 'lan', toRs(FIRST_LPORT + i), dgram({ id: 0x700 + i, payload: Buffer.from(`n${i}`) }), { fwd_to_server: 1 }),
  ]);
  return { open, use };
}

describe('sec-hash: crafted collisions under the old CRC spread over the keyed hash', () => {
  it('40 flows that shared one CRC bucket all get sessions, keep translating, and hit no bucket limit', () =>
    withGateway(config(200), async (gw) => {
      // The attacker's precomputation: any bucket, its first 40 client ports.
      const bucket = oldHash(clientTuple(10000)) & MASK;
      const sports = sportsInBucket(oldHash, bucket, 40);
      assert.ok(sports.length > CHAIN_MAX, 'more than one bucket may hold');

      const before = gw.counters();
      const { open, use } = flows(sports, 'crafted');
      await runFixtures(gw, [...open, ...use]);
      const x = gw.counters();
      assert.equal(x.sessions_created - before.sessions_created, 40, 'every crafted flow has a session');
      assert.equal(x.sessions_active, 40);
      assert.equal(x.drop_bucket_full, 0, 'no bucket reached its limit: the crafted tuples did not chain');
      // Keys drawn at start, not the built-in ones (native/dp/hashkey.c).
      assert.notEqual(gw.testing.hashKeys().readBigUInt64LE(0), 0xe220a8397b1dcdafn, 'per-process keys');
    }));
});

describe('sec-hash: a full bucket under a known key', () => {
  // Later gateways of this process draw fresh keys again.
  after(() => loadNativeTesting().hashKeys(null));

  it('16 colliding flows fill the bucket, the next ones are dropped with drop_bucket_full, the 16 keep forwarding', async () => {
    // A stopped data plane takes pinned keys (the previous gateway stopped).
    const keys = Buffer.alloc(13 * 8);
    for (let i = 0; i < 13; i++) keys.writeBigUInt64LE(0x9e3779b97f4a7c15n * BigInt(i + 1) & 0xffffffffffffffffn, 8 * i);
    loadNativeTesting().hashKeys(keys);
    // 17 local ports: 16 for the sessions, one that each refused flow takes and gives back.
    await withGateway(config(CHAIN_MAX + 1), async (gw) => {
      assert.deepEqual(gw.testing.hashKeys(), keys, 'the pinned keys are in use');
      assert.throws(() => gw.testing.hashKeys(keys), /stopped/, 'never while running');
      const h = (t: Tuple) => keyedHash(keys, t);
      // A bucket none of the sessions' server tuples (RS -> LIP:lport) lands in.
      const serverBuckets = new Set(Array.from({ length: CHAIN_MAX + 1 }, (_, i) => h(serverTuple(FIRST_LPORT + i)) & MASK));
      let bucket = 0;
      while (serverBuckets.has(bucket)) bucket++;
      const sports = sportsInBucket(h, bucket, CHAIN_MAX + 2);
      const other = sportsInBucket(h, (bucket + 1) % (MASK + 1), 1, sports[sports.length - 1]! + 1)[0]!;

      const before = gw.counters();
      const { open, use } = flows(sports.slice(0, CHAIN_MAX), 'colliding');
      const udpTo = (sp: number, id: number) => buildUdp({ ...client(sp), ttl: 64, id, payload: Buffer.from('x') });
      await runFixtures(gw, [
        ...open,
        drop(`flow 16 (client port ${sports[CHAIN_MAX]}) into the full bucket is dropped`, 'wan', udpTo(sports[CHAIN_MAX]!, 0x300), 'drop_bucket_full'),
        drop(`flow 17 (client port ${sports[CHAIN_MAX + 1]}) too`, 'wan', udpTo(sports[CHAIN_MAX + 1]!, 0x301), 'drop_bucket_full'),
        ...use,
        // The refused flows gave their port back: the last one is free.
        udpFx(`a flow into another bucket takes the port the refused ones gave back`, 'wan', client(other), 'lan', toRs(FIRST_LPORT + CHAIN_MAX), dgram({ id: 0x302, payload: Buffer.from('other') }), NEW),
      ]);
      const x = gw.counters();
      assert.equal(x.drop_bucket_full - before.drop_bucket_full, 2, 'two flows refused at the bucket limit');
      assert.equal(x.sessions_created - before.sessions_created, CHAIN_MAX + 1);
      assert.equal(x.sessions_active, CHAIN_MAX + 1);
      assert.equal(x.drop_lport_exhausted, 0, 'no port was kept by a refused flow');
    });
  });
});
