// End to end, schedulers and persistence (issue #5) with real clients and
// servers: the client namespace gets a second address (198.18.0.2/24 on cl0)
// and curl picks the source with --interface.
//  - web with `scheduler: sh`: every request of one client address reaches
//    one server, the one table[crc32c(address, seed) % len] names;
//  - switching web to `mh` by `fullnat reload` keeps a request in flight
//    (?delay_ms=3000) working on its server, and new connections spread;
//  - web with rr and `persistence: { timeout_s: 30 }`: every request of one
//    client address reaches one server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseDocument, type Document } from 'yaml';
import { readFileSync } from 'node:fs';
import {
  assertSeenFromLip,
  assertStoppedStats,
  concurrentRequests,
  curlArgs,
  fullnat,
  listJson,
  reloadGateway,
  RS_NAMES,
  setupEnv,
  skipReason,
  statsJson,
  teardownEnv,
  waitUntil,
  withGatewayLog,
  writeConfig,
  type Env,
} from './lib';
import type { ServerReply } from '../../src/demo/http-server';
import { crc32c } from '../lib/crc32c';
import type { SessionRow } from '../../src/control/views';

const ADDR1 = '198.18.0.1'; // cl0's own address (CLIENT_ADDR)
const ADDR2 = '198.18.0.2';
/** rsN by server address (the topology: rs1 198.19.0.2, rs2 .3, rs3 .4). */
const RS_BY_IP: Record<string, string> = { '198.19.0.2': 'rs1', '198.19.0.3': 'rs2', '198.19.0.4': 'rs3' };

/** Sets keys of the web service in a config document. */
function editWeb(doc: Document, keys: Record<string, unknown>): void {
  const services = (doc.toJS() as { services: { name: string }[] }).services;
  const i = services.findIndex((s) => s.name === 'web');
  assert.ok(i >= 0, 'no web service in the config');
  for (const [k, v] of Object.entries(keys)) doc.setIn(['services', i, k], doc.createNode(v));
}

async function addClientAddress(env: Env): Promise<void> {
  await env.topo.exec(env.topo.ns.client, 'ip', ['addr', 'add', `${ADDR2}/24`, 'dev', 'cl0']);
}

/** One request from source address `src` (a new TCP connection); the server's reply. */
async function requestFrom(env: Env, src: string, url = env.url): Promise<ServerReply> {
  const r = await curlArgs(env, ['--max-time', '5', '--interface', src, url], 15_000);
  assert.equal(r.code, 0, `curl --interface ${src} ${url}: exit ${r.code}: ${r.stderr.trim()}`);
  const reply = JSON.parse(r.stdout) as ServerReply;
  env.connections++;
  return reply;
}

const countBy = (xs: string[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
};

describe('e2e: source hashing, then Maglev by reload (client addresses .1 and .2)', () => {
  let env: Env | undefined;

  before(async () => {
    if (skipReason) return;
    env = await setupEnv({ edit: (doc) => editWeb(doc, { scheduler: 'sh' }) });
    await addClientAddress(env);
  }, { timeout: 120_000 });
  after(async () => {
    await teardownEnv(env);
  }, { timeout: 60_000 });

  it('sh: 10 requests from each client address each land on one server per address', { skip: skipReason, timeout: 120_000 }, (t) =>
    withGatewayLog(env, async () => {
      const list = await listJson(env!);
      assert.equal(list.find((s) => s.name === 'web')?.scheduler, 'sh');
      const per: Record<string, string[]> = {};
      for (const src of [ADDR1, ADDR2]) {
        per[src] = [];
        for (let i = 0; i < 10; i++) {
          const reply = await requestFrom(env!, src);
          assertSeenFromLip(env!, reply);
          per[src]!.push(reply.server);
        }
        t.diagnostic(`sh: ${src} -> ${JSON.stringify(countBy(per[src]!))}`);
        assert.equal(new Set(per[src]).size, 1, `${src} reached ${[...new Set(per[src])].join(', ')}`);
        // Three servers of weight 1: the table is rs1 rs2 rs3, seed 0.
        const want = RS_NAMES[crc32c(src.split('.').map(Number), 0) % 3]!;
        assert.equal(per[src]![0], want, `${src}: table[crc32c(address) % 3]`);
      }
      // (For these two addresses the hash picks rs1 and rs3.)
      assert.notEqual(per[ADDR1]![0], per[ADDR2]![0]);
    }));

  it('switching web to mh by fullnat reload keeps an in-flight request working; new requests spread', { skip: skipReason, timeout: 120_000 }, (t) =>
    withGatewayLog(env, async () => {
      const url = env!.url;
      // The sh requests' sessions end first, so that the only established
      // session of ADDR2 is the long request.
      await waitUntil('earlier sessions gone', 30_000, async () => ((await statsJson(env!)).total.sessions_active ?? 0) === 0, 250);
      let longDone = false;
      const long = curlArgs(env!, ['--max-time', '30', '--interface', ADDR2, `${url}?delay_ms=3000`], 40_000).finally(() => (longDone = true));
      const held = await waitUntil('the long request holds an established session', 5000, async () => {
        const r = await fullnat(env!, ['sessions', '-c', env!.config, '--client', ADDR2, '--json']);
        if (r.code !== 0) return undefined;
        return (JSON.parse(r.stdout) as SessionRow[]).find((s) => s.state === 'ESTABLISHED');
      });
      const heldServer = RS_BY_IP[held.server.split(':')[0]!];
      assert.ok(heldServer, `the long request's session is on ${held.server}`);

      const doc = parseDocument(readFileSync(env!.config, 'utf8'));
      editWeb(doc, { scheduler: 'mh' });
      writeConfig(env!, doc.toString());
      const r = await reloadGateway(env!, 'cli');
      assert.ok(r.ok, `fullnat reload: ${r.output}`);
      assert.equal(longDone, false, 'the long request ended before the reload was answered (the check proves nothing then)');
      assert.equal((await listJson(env!)).find((s) => s.name === 'web')?.scheduler, 'mh');

      // mh hashes address and port by default: one client's new connections spread.
      const replies = await concurrentRequests(env!, 30, url);
      assert.deepEqual(replies.filter((x) => !x.ok), [], 'new requests after the reload');
      const servers = replies.map((x) => (JSON.parse(x.body!) as ServerReply).server);
      const counts = countBy(servers);
      t.diagnostic(`mh after reload: 30 new requests from ${ADDR1} per server: ${RS_NAMES.map((s) => `${s} ${counts[s] ?? 0}`).join(', ')}`);
      // Each server has a third of the table: P(one gets none of 30) ~ 3 * (2/3)^30 ~ 2e-5.
      for (const s of RS_NAMES) assert.ok((counts[s] ?? 0) > 0, `${s} got none of 30: ${JSON.stringify(counts)}`);

      const h = await long;
      assert.equal(h.code, 0, `the in-flight request: curl exit ${h.code}: ${h.stderr.trim()}`);
      const reply = JSON.parse(h.stdout) as ServerReply;
      env!.connections++;
      assert.equal(reply.server, heldServer, 'the in-flight request was answered by the server its session had');
      t.diagnostic(`in-flight request across the reload: answered by ${reply.server} after ${h.ms} ms`);
    }));

  it('the gateway stops cleanly and counted a session per connection', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      await assertStoppedStats(env!);
    }));
});

describe('e2e: rr with persistence { timeout_s: 30 }', () => {
  let env: Env | undefined;

  before(async () => {
    if (skipReason) return;
    env = await setupEnv({ edit: (doc) => editWeb(doc, { scheduler: 'rr', persistence: { timeout_s: 30 } }) });
    await addClientAddress(env);
  }, { timeout: 120_000 });
  after(async () => {
    await teardownEnv(env);
  }, { timeout: 60_000 });

  it('10 requests from one address all land on the same server (rr alone would use all three)', { skip: skipReason, timeout: 120_000 }, (t) =>
    withGatewayLog(env, async () => {
      for (const src of [ADDR2, ADDR1]) {
        const servers: string[] = [];
        for (let i = 0; i < 10; i++) servers.push((await requestFrom(env!, src)).server);
        t.diagnostic(`rr + persistence: ${src} -> ${JSON.stringify(countBy(servers))}`);
        assert.equal(new Set(servers).size, 1, `${src} reached ${JSON.stringify(countBy(servers))}`);
      }
    }));

  it('the gateway stops cleanly and counted a session per connection', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      await assertStoppedStats(env!);
    }));
});
