// End to end, live reconfiguration (issue #4): SIGHUP and `fullnat reload`
// while an iperf3 stream and a steady HTTP load run through the VIP; broken
// and restart-only files rejected with the running config kept; weight 0
// drains; removed_servers: reset cuts held connections; per-server counters
// of a server added later start at zero.
//
// Every reload here rewrites the gateway's own (temp) config file, so the
// "running config" and the file only differ while a rejected file is tested.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerReply } from '../../src/demo/http-server';
import {
  concurrentRequests,
  curl,
  curlArgs,
  fullnat,
  iperf3,
  listedServer,
  listJson,
  readConfig,
  reloadGateway,
  scrapeMetrics,
  setupEnv,
  skipReason,
  sleep,
  startHttpLoad,
  statsJson,
  teardownEnv,
  waitUntil,
  withGatewayLog,
  writeConfig,
  type Env,
  type LoadResult,
  type ReloadOutcome,
  type ServiceCfg,
  type ServiceListing,
} from './lib';

const VIP = '198.18.0.100';
const RS = ['198.19.0.2', '198.19.0.3', '198.19.0.4']; // rs1, rs2, rs3
const rs = (i: number, weight?: number): ServiceCfg['real_servers'][number] =>
  weight === undefined ? { address: RS[i]!, port: 8080 } : { address: RS[i]!, port: 8080, weight };

type Cfg = ReturnType<typeof readConfig>;

interface Changes {
  services_added: string[];
  services_removed: string[];
  servers_added: string[];
  servers_removed: string[];
  weights_changed: string[];
}

const svcKey = (s: ServiceCfg): string => `${s.vip}:${s.port}/${s.protocol}`;

/** What a reload from `a` to `b` must report (the test's own oracle). */
function expectedChanges(a: Cfg, b: Cfg): Changes {
  const servers = (c: Cfg) =>
    new Map(c.services.flatMap((s) => s.real_servers.map((r) => [`${svcKey(s)} ${r.address}:${r.port}`, r.weight ?? 1] as const)));
  const sa = new Set(a.services.map(svcKey));
  const sb = new Set(b.services.map(svcKey));
  const ra = servers(a);
  const rb = servers(b);
  const sort = (x: string[]) => [...x].sort();
  return {
    services_added: sort([...sb].filter((k) => !sa.has(k))),
    services_removed: sort([...sa].filter((k) => !sb.has(k))),
    servers_added: sort([...rb.keys()].filter((k) => !ra.has(k))),
    servers_removed: sort([...ra.keys()].filter((k) => !rb.has(k))),
    weights_changed: sort([...rb.keys()].filter((k) => ra.has(k) && ra.get(k) !== rb.get(k))),
  };
}

/** The changes a reload reported: the SIGHUP log record, or `fullnat reload`'s "reloaded: k v, v; k v" line. */
function reportedChanges(r: ReloadOutcome): Changes {
  let raw: Record<string, string[]> = {};
  if (r.record) raw = r.record.changes as Record<string, string[]>;
  else {
    const line = r.output.split('\n')[0]!;
    const m = /^reloaded: (.*)$/.exec(line);
    if (m) {
      for (const part of m[1]!.split('; ')) {
        const sp = part.indexOf(' ');
        raw[part.slice(0, sp)] = part.slice(sp + 1).split(', ');
      }
    } else assert.match(line, /^reloaded \(nothing changed\)$/);
  }
  const get = (k: keyof Changes) => [...(raw[k] ?? [])].sort();
  return {
    services_added: get('services_added'),
    services_removed: get('services_removed'),
    servers_added: get('servers_added'),
    servers_removed: get('servers_removed'),
    weights_changed: get('weights_changed'),
  };
}

/** Services and servers as `fullnat list` shows them, without the session counts that move with traffic. */
function shape(list: ServiceListing[]) {
  return list.map((s) => ({
    name: s.name,
    vip: s.vip,
    port: s.port,
    protocol: s.protocol,
    scheduler: s.scheduler,
    servers: s.real_servers.map((r) => ({ server: `${r.address}:${r.port}`, weight: r.weight, health: r.health, id: r.id })),
  }));
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('e2e: live reload (SIGHUP and fullnat reload)', () => {
  let env: Env | undefined;
  let base: Cfg;
  const url = `http://${VIP}/`;
  const url8080 = `http://${VIP}:8080/`;

  /** The base config with the web service replaced and extra services appended. */
  const variant = (web: Partial<ServiceCfg>, opts: { extra?: ServiceCfg[]; udp?: boolean } = {}): Cfg => {
    const c = structuredClone(base);
    c.services = c.services
      .filter((s) => opts.udp !== false || s.name !== 'iperf-udp')
      .map((s) => (s.name === 'web' ? { ...s, ...web } : s));
    c.services.push(...(opts.extra ?? []));
    return c;
  };
  const web8080 = (servers: ServiceCfg['real_servers']): ServiceCfg => ({
    name: 'web8080',
    vip: VIP,
    port: 8080,
    protocol: 'tcp',
    local_addresses: 'lan-pool',
    real_servers: servers,
  });

  /** Writes `cfg`, reloads (asserting success) and returns the outcome. */
  const apply = async (cfg: Cfg, how: 'sighup' | 'cli' = 'cli'): Promise<ReloadOutcome> => {
    writeConfig(env!, cfg);
    const r = await reloadGateway(env!, how);
    assert.ok(r.ok, `reload (${how}) not answered "reloaded": ${r.output}`);
    return r;
  };

  before(async () => {
    if (skipReason) return;
    env = await setupEnv({ iperf: true });
    base = readConfig(env);
    assert.deepEqual(
      base.services.map((s) => s.name),
      ['web', 'iperf-tcp', 'iperf-udp'],
      'these tests expect config/demo.yaml services',
    );
  }, { timeout: 120_000 });
  after(async () => {
    await teardownEnv(env);
  }, { timeout: 60_000 });

  it('24 reloads (SIGHUP / fullnat reload) under an iperf3 stream and HTTP load: nothing fails, new sessions follow each config', { skip: skipReason, timeout: 240_000 }, (t) =>
    withGatewayLog(env, async () => {
      // The web service and a second service on port 8080 move through these
      // shapes; allowed = the web servers new connections may reach.
      const variants: Array<{ cfg: Cfg; allowed: string[]; on8080: string[] | null; what: string }> = [
        { cfg: variant({}), allowed: ['rs1', 'rs2', 'rs3'], on8080: null, what: 'base: rr rs1 rs2 rs3' },
        {
          cfg: variant({}, { extra: [web8080([rs(0), rs(1)])] }),
          allowed: ['rs1', 'rs2', 'rs3'],
          on8080: ['rs1', 'rs2'],
          what: '+ service :8080 (rs1 rs2)',
        },
        {
          cfg: variant({ real_servers: [rs(0), rs(1)] }, { extra: [web8080([rs(0), rs(1)])] }),
          allowed: ['rs1', 'rs2'],
          on8080: ['rs1', 'rs2'],
          what: 'web: rs3 removed',
        },
        {
          cfg: variant({ scheduler: 'wrr', real_servers: [rs(0, 3), rs(1, 1)] }),
          allowed: ['rs1', 'rs2'],
          on8080: null,
          what: 'web wrr rs1:3 rs2:1, :8080 removed',
        },
        {
          cfg: variant({ scheduler: 'wrr', real_servers: [rs(0, 1), rs(1, 0), rs(2, 1)] }, { udp: false }),
          allowed: ['rs1', 'rs3'],
          on8080: null,
          what: 'web rs2 weight 0, rs3 back; iperf-udp removed',
        },
        {
          cfg: variant({ real_servers: [rs(1), rs(2)] }, { extra: [web8080([rs(2)])] }),
          allowed: ['rs2', 'rs3'],
          on8080: ['rs3'],
          what: 'web rr rs2 rs3 (rs1 removed); :8080 -> rs3; iperf-udp back',
        },
      ];
      const RELOADS = 24;
      const STEP_MS = 1000;
      // Long enough for every reload even on a slow (2 workers on one CPU) run.
      const IPERF_S = 40;

      let iperfDone = Infinity;
      const iperf = iperf3(env!, ['-t', String(IPERF_S)], 120_000).finally(() => (iperfDone = Date.now()));
      // Let iperf3 connect (and its control and data sessions exist) before the first reload.
      await sleep(1000);
      const load = startHttpLoad(env!, [url], 4);
      await sleep(1000);

      const windows: Array<{ v: number; ack: number; end: number }> = [];
      const answered: number[] = [];
      let prev = variants[0]!.cfg;
      const probes8080: string[] = [];
      try {
        for (let k = 1; k <= RELOADS; k++) {
          const stepStart = Date.now();
          const v = k % variants.length;
          const how = k % 2 ? 'sighup' : 'cli';
          if (windows.length) windows[windows.length - 1]!.end = Date.now();
          const r = await apply(variants[v]!.cfg, how);
          windows.push({ v, ack: r.answered, end: Infinity });
          answered.push(r.answered);
          assert.deepEqual(
            reportedChanges(r),
            expectedChanges(prev, variants[v]!.cfg),
            `reload ${k} (${how}) to "${variants[v]!.what}" reported other changes: ${r.output}`,
          );
          prev = variants[v]!.cfg;

          // The :8080 service answers exactly while it is configured.
          const on = variants[v]!.on8080;
          if (on) {
            const p = await curlArgs(env!, ['--max-time', '5', url8080]);
            assert.equal(p.code, 0, `reload ${k}: ${url8080} configured (${on.join(' ')}) but curl failed: ${p.stderr}`);
            const server = (JSON.parse(p.stdout) as ServerReply).server;
            assert.ok(on.includes(server), `reload ${k}: ${url8080} answered by ${server}, expected one of ${on.join(' ')}`);
            probes8080.push(server);
          } else {
            const p = await curlArgs(env!, ['--connect-timeout', '0.5', '--max-time', '1', url8080]);
            assert.notEqual(p.code, 0, `reload ${k}: ${url8080} answered after its service was removed: ${p.stdout}`);
          }
          await sleep(Math.max(0, STEP_MS - (Date.now() - stepStart)));
        }
        windows[windows.length - 1]!.end = Date.now();
      } finally {
        await load.stop().catch(() => undefined);
      }
      const results = load.results;
      const j = await iperf;

      // iperf3: the stream outlived every reload.
      const sent = j.end.sum_received?.bytes ?? 0;
      const srv = j.server_output_json?.end.sum_received?.bytes ?? 0;
      assert.ok(sent > 0 && srv > 0, `iperf3 bytes: client ${sent}, server ${srv}`);
      assert.ok(!j.error, `iperf3 error: ${j.error}`);
      const during = answered.filter((a) => a < iperfDone).length;
      assert.ok(during >= 20, `only ${during} of the reloads happened while the iperf3 stream ran`);

      // The HTTP load: not one failure, and enough of it.
      const failed = results.filter((r) => !r.ok);
      const spanS = (results[results.length - 1]!.t1 - results[0]!.t0) / 1000;
      t.diagnostic(
        `${results.length} requests in ${spanS.toFixed(1)} s, ${failed.length} failed; ${RELOADS} reloads; ` +
          `iperf3 ${((srv * 8) / IPERF_S / 1e6).toFixed(0)} Mbit/s; :8080 answered by ${probes8080.join(',')}`,
      );
      assert.equal(failed.length, 0, `${failed.length} of ${results.length} requests failed: ${JSON.stringify(failed.slice(0, 5))}`);
      assert.ok(results.length >= 1000, `only ${results.length} requests during the reloads (want >= 1000)`);

      // New connections follow the config in force: a request that started
      // after reload k was answered and connected before reload k+1 was
      // asked for was scheduled by config k.
      const perVariant = variants.map(() => [] as LoadResult[]);
      for (const r of results) {
        const w = windows.find((x) => r.t0 > x.ack && r.tc > 0 && r.tc < x.end);
        if (w) perVariant[w.v]!.push(r);
      }
      let classified = 0;
      perVariant.forEach((rs, v) => {
        const { allowed, what } = variants[v]!;
        classified += rs.length;
        const seen = new Map<string, number>();
        for (const r of rs) seen.set(r.server!, (seen.get(r.server!) ?? 0) + 1);
        const wrong = rs.filter((r) => !allowed.includes(r.server!));
        assert.equal(wrong.length, 0, `config "${what}" allows ${allowed.join(' ')}, but got ${JSON.stringify(Object.fromEntries(seen))}`);
        // And every allowed server takes part.
        assert.ok(rs.length >= 20, `only ${rs.length} requests fell inside the windows of "${what}"`);
        for (const s of allowed) assert.ok((seen.get(s) ?? 0) > 0, `config "${what}": ${s} got none of ${rs.length}: ${JSON.stringify(Object.fromEntries(seen))}`);
        if (v === 3) {
          // wrr 3:1: rs1 takes about three quarters.
          const share = (seen.get('rs1') ?? 0) / rs.length;
          assert.ok(share > 0.6 && share < 0.9, `wrr rs1:3 rs2:1 gave rs1 a share of ${share.toFixed(2)} (${JSON.stringify(Object.fromEntries(seen))})`);
        }
      });
      t.diagnostic(`${classified} requests fell cleanly inside one config's window`);

      // Every reload was logged by the gateway as done.
      const logged = env!.gw.records.filter((r) => r.msg === 'config reloaded').length;
      assert.ok(logged >= RELOADS, `gateway logged ${logged} "config reloaded" lines for ${RELOADS} reloads`);
      assert.ok(!env!.gw.records.some((r) => String(r.msg).startsWith('reload rejected')), 'a reload was rejected');
    }));

  it('a broken file (typo key) is rejected with FILE:LINE:COL and the key; the running config stays', { skip: skipReason, timeout: 120_000 }, () =>
    withGatewayLog(env, async () => {
      await apply(base);
      const before = shape(await listJson(env!));

      // `protocol` misspelt in the second service (iperf-tcp).
      const good = writeConfig(env!, base);
      const lines = good.split('\n');
      const at = lines.findIndex((l, i) => /^\s+protocol: tcp$/.test(l) && lines.slice(0, i).some((x) => x.includes('name: iperf-tcp')));
      assert.ok(at > 0, `no "protocol: tcp" line after iperf-tcp in:\n${good}`);
      const col = lines[at]!.indexOf('protocol') + 1;
      lines[at] = lines[at]!.replace('protocol', 'protcol');
      writeConfig(env!, lines.join('\n'));

      const from = env!.gw.records.length;
      const r = await fullnat(env!, ['reload', '-c', env!.config]);
      const out = r.stdout + r.stderr;
      assert.equal(r.code, 1, `fullnat reload of a broken file: exit ${r.code}: ${out}`);
      assert.match(out, /reload rejected, the running config stays:/);
      assert.match(out, new RegExp(`${escapeRe(env!.config)}:${at + 1}:${col}: .*protcol`), `no ${env!.config}:${at + 1}:${col} naming protcol in:\n${out}`);
      assert.doesNotMatch(out, /^reloaded/m);
      const rec = await env!.gw.waitFor((x) => String(x.msg).startsWith('reload rejected') && env!.gw.records.indexOf(x) >= from, 5000);
      assert.match(JSON.stringify(rec.errors), /protcol/, `gateway's rejection does not name the key: ${JSON.stringify(rec)}`);

      // The same file by SIGHUP: rejected too, the gateway keeps running.
      const s = await reloadGateway(env!, 'sighup');
      assert.equal(s.ok, false, `SIGHUP with a broken file: ${s.output}`);
      assert.match(s.output, /protcol/);

      // Traffic is unaffected and nothing changed.
      const replies = await concurrentRequests(env!, 12, url);
      assert.equal(replies.filter((x) => !x.ok).length, 0, JSON.stringify(replies.filter((x) => !x.ok)));
      const i = await iperf3(env!, ['-t', '1']);
      assert.ok((i.server_output_json?.end.sum_received?.bytes ?? 0) > 0, 'iperf-tcp (the service with the typo) stopped working');
      assert.deepEqual(shape(await listJson(env!)), before, 'fullnat list changed after a rejected reload');

      // Settings that need a restart are rejected by name.
      const restart = structuredClone(base) as Cfg & { dpdk: { memory_mb: number }; sessions: { max: number } };
      restart.dpdk.memory_mb += 256;
      restart.sessions.max *= 2;
      writeConfig(env!, restart);
      const r2 = await fullnat(env!, ['reload', '-c', env!.config]);
      const out2 = r2.stdout + r2.stderr;
      assert.equal(r2.code, 1, `restart-only change: exit ${r2.code}: ${out2}`);
      assert.match(out2, /dpdk\.memory_mb/, out2);
      assert.match(out2, /sessions\.max/, out2);
      assert.deepEqual(shape(await listJson(env!)), before);

      // The running config is still the base: reloading it changes nothing.
      const back = await apply(base);
      assert.match(back.output, /^reloaded \(nothing changed\)/, back.output);
    }));

  it('a YAML syntax error is rejected the same way: FILE:LINE:COL, "reload rejected", the gateway logs it', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      await apply(base);
      const before = shape(await listJson(env!));
      const lines = writeConfig(env!, base).split('\n');
      const at = lines.findIndex((l) => /^\s+port: 80$/.test(l));
      assert.ok(at > 0, 'no "port: 80" line');
      lines[at] = lines[at]!.replace('port: 80', 'port: [80'); // an unclosed flow sequence
      writeConfig(env!, lines.join('\n'));

      const from = env!.gw.records.length;
      const r = await fullnat(env!, ['reload', '-c', env!.config]);
      const out = r.stdout + r.stderr;
      assert.equal(r.code, 1, out);
      assert.match(out, new RegExp(`${escapeRe(env!.config)}:\\d+:\\d+: `), `no FILE:LINE:COL in:\n${out}`);
      assert.match(out, /reload rejected, the running config stays:/, `fullnat reload did not ask the gateway:\n${out}`);
      await env!.gw.waitFor((x) => String(x.msg).startsWith('reload rejected') && env!.gw.records.indexOf(x) >= from, 3000);

      const s = await reloadGateway(env!, 'sighup');
      assert.equal(s.ok, false, s.output);
      // The yaml parser notices an unclosed flow sequence on the broken line or the next.
      assert.match(s.output, new RegExp(`${escapeRe(env!.config)}:(${at + 1}|${at + 2}):\\d+: YAML syntax error`));
      assert.deepEqual(shape(await listJson(env!)), before);
      await apply(base);
    }));

  it('a new VIP, a changed LIP pool and new session timeouts apply to new connections at once', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      await apply(base);
      const c = structuredClone(base) as Cfg & {
        local_addresses: Record<string, { addresses: string[] }>;
        sessions: { timeouts: Record<string, number> };
      };
      c.services.push({ name: 'vip2', vip: '198.18.0.101', port: 80, protocol: 'tcp', local_addresses: 'lan-pool', real_servers: [rs(2)] });
      c.local_addresses['lan-pool']!.addresses = ['198.19.0.12'];
      c.sessions.timeouts.tcp_established = 77;
      const r = await apply(c as Cfg, 'sighup');
      assert.deepEqual((r.record!.changes as Changes & { other: string[] }).other.sort(), ['local_addresses', 'sessions']);

      // The new VIP answers (ARP included), through the new LIP.
      const v = await curlArgs(env!, ['--max-time', '5', 'http://198.18.0.101/']);
      assert.equal(v.code, 0, `new VIP 198.18.0.101: curl exit ${v.code}: ${v.stderr}`);
      const vr = JSON.parse(v.stdout) as ServerReply;
      assert.equal(vr.server, 'rs3');
      assert.equal(vr.client, '198.19.0.12', 'the new VIP does not use the new LIP');
      const replies = await concurrentRequests(env!, 9, url);
      for (const x of replies) {
        assert.ok(x.ok, JSON.stringify(x));
        assert.equal((JSON.parse(x.body!) as ServerReply).client, '198.19.0.12', 'a new connection left from a LIP no longer in the pool');
      }
      // A new session gets the new established timeout (77 s, was 300 s).
      const held = curlArgs(env!, ['--max-time', '20', `${url}?delay_ms=4000`]);
      const sess = await waitUntil('the held session is listed', 5000, async () => {
        const q = await fullnat(env!, ['sessions', '-c', env!.config, '--vip', VIP, '--json']);
        const list = JSON.parse(q.stdout) as Array<{ state: string; expiresMs: number; local: string }>;
        return list.find((x) => /establ/i.test(x.state) && x.local.startsWith('198.19.0.12:'));
      });
      assert.ok(sess.expiresMs <= 77_000 && sess.expiresMs > 60_000, `established session expires in ${sess.expiresMs} ms, expected <= 77 s`);
      assert.equal((await held).code, 0);

      await apply(base);
      const gone = await curlArgs(env!, ['--connect-timeout', '1', '--max-time', '2', 'http://198.18.0.101/']);
      assert.notEqual(gone.code, 0, 'the removed VIP still answers');
    }));

  it('removing a whole service lets its held connection finish; new connections to it are not answered', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      await apply(variant({}, { extra: [web8080([rs(0)])] }));
      const held = curlArgs(env!, ['--max-time', '20', `${url8080}?delay_ms=5000`]);
      await waitUntil('the held request holds a session on web8080/rs1', 5000, async () => listedServer(await listJson(env!), 'web8080', `${RS[0]}:8080`).active >= 1);
      const r = await apply(variant({}), 'sighup');
      assert.deepEqual((r.record!.changes as Changes).services_removed, [`${VIP}:8080/tcp`]);
      const gone = await curlArgs(env!, ['--connect-timeout', '1', '--max-time', '2', url8080]);
      assert.notEqual(gone.code, 0, 'the removed service still answers new connections');
      const h = await held;
      assert.equal(h.code, 0, `the held connection of the removed service failed: curl exit ${h.code}: ${h.stderr}`);
      assert.equal((JSON.parse(h.stdout) as ServerReply).server, 'rs1');
    }));

  it('weight 0 drains: the held connection completes, no new connection reaches the server', { skip: skipReason, timeout: 120_000 }, (t) =>
    withGatewayLog(env, async () => {
      // Only rs2 in web, so the long request surely lands there.
      await apply(variant({ real_servers: [rs(1)] }));
      let longDone = false;
      const long = curlArgs(env!, ['--max-time', '30', `${url}?delay_ms=8000`]).finally(() => (longDone = true));
      await waitUntil('the long request holds a session on rs2', 5000, async () => listedServer(await listJson(env!), 'web', `${RS[1]}:8080`).active >= 1);

      const r = await apply(variant({ real_servers: [rs(0), rs(1, 0), rs(2)] }), 'sighup');
      assert.deepEqual((r.record!.changes as Changes).weights_changed, [`${VIP}:80/tcp ${RS[1]}:8080`]);

      const list = await listJson(env!);
      const rs2 = listedServer(list, 'web', `${RS[1]}:8080`);
      assert.equal(rs2.weight, 0, JSON.stringify(rs2));
      assert.ok(rs2.active >= 1, `rs2 at weight 0 lists ${rs2.active} active sessions while the long request runs`);
      const sess = await fullnat(env!, ['sessions', '-c', env!.config, '--server', RS[1]!, '--json']);
      assert.equal(sess.code, 0, sess.stderr);
      const held = JSON.parse(sess.stdout) as Array<{ server: string; state: string }>;
      assert.ok(held.length >= 1, `fullnat sessions --server ${RS[1]} shows none while the long request runs`);

      const replies = await concurrentRequests(env!, 24, url);
      assert.equal(replies.filter((x) => !x.ok).length, 0, JSON.stringify(replies.filter((x) => !x.ok)));
      const servers = replies.map((x) => (JSON.parse(x.body!) as ServerReply).server);
      assert.ok(!servers.includes('rs2'), `a new connection reached rs2 at weight 0: ${servers.join(' ')}`);
      assert.ok(servers.includes('rs1') && servers.includes('rs3'), servers.join(' '));
      assert.equal(longDone, false, 'the long request finished before the checks (they prove nothing then)');

      const l = await long;
      assert.equal(l.code, 0, `the held request failed after weight 0: curl exit ${l.code}: ${l.stderr}`);
      assert.equal((JSON.parse(l.stdout) as ServerReply).server, 'rs2');
      t.diagnostic(`held request completed after ${l.ms} ms`);

      // Drained: its session ends (TIME_WAIT timeout) and the count follows.
      await waitUntil('rs2 holds no session after the long request', 20_000, async () =>
        listedServer(await listJson(env!), 'web', `${RS[1]}:8080`).active === 0,
      500);
    }));

  // A service of its own on :8082 (and :8083), so these servers' keys are fresh.
  const cut = (port: number, servers: number[]): ServiceCfg => ({
    name: `cut${port}`,
    vip: VIP,
    port,
    protocol: 'tcp',
    removed_servers: 'reset',
    local_addresses: 'lan-pool',
    real_servers: servers.map((i) => rs(i)),
  });
  const withCut = (...svcs: ServiceCfg[]): Cfg => ({ ...structuredClone(base), services: [...structuredClone(base.services), ...svcs] });
  const cutKey = (port: number, i: number) => `${VIP}:${port}/tcp ${RS[i]}:8080`;

  it('removed_servers: reset cuts a held connection at once (RST, no timeout) and counts sessions_reset', { skip: skipReason, timeout: 120_000 }, (t) =>
    withGatewayLog(env, async () => {
      await apply(withCut(cut(8082, [1])));
      const resetBefore = (await statsJson(env!)).total.sessions_reset ?? 0;
      // The client speaks next: TCP keepalive probes every second.
      const held = curlArgs(env!, ['--keepalive-time', '1', '--max-time', '30', `http://${VIP}:8082/?delay_ms=10000`]);
      await waitUntil('the held request holds a session on rs2', 5000, async () => listedServer(await listJson(env!), 'cut8082', `${RS[1]}:8080`).active >= 1);

      const r = await apply(withCut(cut(8082, [0])), 'sighup');
      assert.deepEqual((r.record!.changes as Changes).servers_removed, [cutKey(8082, 1)]);
      const h = await held;
      const sinceReload = Date.now() - r.answered;
      t.diagnostic(`held request ended ${sinceReload} ms after the reload: curl exit ${h.code} ${h.stderr.trim()}`);
      assert.equal(h.code, 56, `curl exit ${h.code} (56 = connection reset expected): ${h.stderr}`);
      assert.match(h.stderr, /reset/i);
      assert.ok(sinceReload < 5000, `the reset came ${sinceReload} ms after the reload`);

      const after = (await statsJson(env!)).total.sessions_reset ?? 0;
      assert.ok(after > resetBefore, `sessions_reset ${resetBefore} -> ${after}`);
      const replies = await concurrentRequests(env!, 10, `http://${VIP}:8082/`);
      assert.equal(replies.filter((x) => !x.ok).length, 0, JSON.stringify(replies.filter((x) => !x.ok)));
      assert.ok(replies.every((x) => (JSON.parse(x.body!) as ServerReply).server === 'rs1'));
    }));

  it('a server removed with reset and added back takes new connections again', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      // rs2 was cut from cut8082 above while it held a session; now it returns.
      await apply(withCut(cut(8082, [0, 1])));
      const resetBefore = (await statsJson(env!)).total.sessions_reset ?? 0;
      const replies: string[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await curlArgs(env!, ['--max-time', '5', `http://${VIP}:8082/`]);
        assert.equal(r.code, 0, `request ${i + 1} after rs2 came back: curl exit ${r.code}: ${r.stderr}`);
        replies.push(`${(JSON.parse(r.stdout) as ServerReply).server}(${r.ms} ms)`);
      }
      const resetAfter = (await statsJson(env!)).total.sessions_reset ?? 0;
      assert.equal(resetAfter, resetBefore, `sessions_reset went ${resetBefore} -> ${resetAfter} for connections to a configured server: ${replies.join(' ')}`);
      assert.ok(replies.some((x) => x.startsWith('rs2')), `rs2 got none of 10 under rr: ${replies.join(' ')}`);
    }));

  it(
    'removed_servers: reset also tells the client when the server speaks first',
    { skip: skipReason, timeout: 120_000 },
    (t) =>
      withGatewayLog(env, async () => {
        await apply(withCut(cut(8083, [2])));
        // No keepalive: the client sends nothing after its request; rs3 answers after 3 s.
        const held = curlArgs(env!, ['--max-time', '12', `http://${VIP}:8083/?delay_ms=3000`]);
        await waitUntil('the held request holds a session on rs3', 5000, async () => listedServer(await listJson(env!), 'cut8083', `${RS[2]}:8080`).active >= 1);
        const r = await apply(withCut(cut(8083, [0])));
        const h = await held;
        t.diagnostic(`held request ended ${Date.now() - r.answered} ms after the reload: curl exit ${h.code} ${h.stderr.trim()}`);
        assert.equal(h.code, 56, `curl exit ${h.code} after ${h.ms} ms (56 = reset; 28 = it waited for its own timeout): ${h.stderr}`);
      }),
  );

  it('a server added after others were removed starts with zero sessions created (list and metrics)', { skip: skipReason, timeout: 120_000 }, () =>
    withGatewayLog(env, async () => {
      // Everything removed so far holds no session any more, so a reload
      // frees their ids; then a service with a server never seen before.
      await waitUntil('no server outside the running config holds sessions', 20_000, async () => (await statsJson(env!)).total.sessions_active === 0, 500);
      await apply(base);
      await apply(base);
      const fresh: ServiceCfg = { name: 'fresh', vip: VIP, port: 8081, protocol: 'tcp', local_addresses: 'lan-pool', real_servers: [{ address: RS[2]!, port: 8080 }] };
      await apply({ ...base, services: [...base.services, fresh] });
      const listed = listedServer(await listJson(env!), 'fresh', `${RS[2]}:8080`);
      const metrics = await scrapeMetrics(env!);
      const line = metrics.split('\n').find((l) => l.startsWith('fullnat_real_server_sessions_total{') && l.includes('service="fresh"'));
      assert.equal(listed.created, 0, `new server (id ${listed.id}) lists created=${listed.created} before any connection: ${JSON.stringify(listed)}`);
      assert.ok(line?.endsWith(' 0'), `new server's fullnat_real_server_sessions_total: ${line}`);
      for (let i = 0; i < 3; i++) assert.ok((await curl(env!, `http://${VIP}:8081/`)).ok);
      assert.equal(listedServer(await listJson(env!), 'fresh', `${RS[2]}:8080`).created, 3);
    }));
});
