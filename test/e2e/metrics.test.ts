// End to end, Prometheus metrics (issue #4): GET /metrics on stats.listen
// (127.0.0.1:9901) inside the gateway namespace. The text format is parsed
// strictly by the small parser below; the values must agree with what
// `fullnat stats --json` and `fullnat list --json` report at the same moment;
// real_server_up follows weight 0 and a failed health check; the endpoint is
// not reachable from the client side.
//
// "Same moment": a scrape, then the CLI, then a second scrape. Only values
// the two scrapes agree on are compared (health probes and ARP keep some
// counters moving); the ones the tests are about must be stable, which is
// retried a few times.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { YAMLSeq } from 'yaml';
import { endChild } from '../../src/demo/topology';
import {
  concurrentRequests,
  curlArgs,
  listJson,
  readConfig,
  reloadGateway,
  scrapeMetrics,
  setupEnv,
  skipReason,
  statsJson,
  teardownEnv,
  waitUntil,
  withGatewayLog,
  writeConfig,
  listedServer,
  type Env,
  type ServiceListing,
  type StatsJson,
} from './lib';

const VIP = '198.18.0.100';
const RS = ['198.19.0.2', '198.19.0.3', '198.19.0.4'];

// ---- a strict parser for the Prometheus text format (version 0.0.4) ----

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Sample names that belong to a family of `type` named `family`. */
function belongs(sample: string, family: string, type: Family['type']): boolean {
  if (sample === family) return true;
  if (type === 'histogram') return [`${family}_bucket`, `${family}_sum`, `${family}_count`].includes(sample);
  if (type === 'summary') return [`${family}_sum`, `${family}_count`].includes(sample);
  return false;
}

function parseValue(s: string, where: string): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  assert.match(s, /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/, `${where}: value ${JSON.stringify(s)} is not a number`);
  return Number(s);
}

/** `{a="x",b="y\"z"}` starting at text[i] === '{'; returns the labels and the index after '}'. */
function parseLabels(text: string, i: number, where: string): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++; // '{'
  for (;;) {
    if (text[i] === '}') return [labels, i + 1];
    const eq = text.indexOf('=', i);
    assert.ok(eq > i, `${where}: label without "=" at column ${i + 1}`);
    const name = text.slice(i, eq);
    assert.match(name, LABEL_NAME, `${where}: bad label name ${JSON.stringify(name)}`);
    assert.ok(!name.startsWith('__'), `${where}: reserved label name ${name}`);
    assert.ok(!(name in labels), `${where}: label ${name} twice`);
    assert.equal(text[eq + 1], '"', `${where}: label ${name}: value not quoted`);
    let v = '';
    let j = eq + 2;
    for (;;) {
      const ch = text[j];
      assert.ok(ch !== undefined, `${where}: unterminated label value`);
      if (ch === '"') break;
      if (ch === '\\') {
        const e = text[j + 1];
        assert.ok(e === '\\' || e === '"' || e === 'n', `${where}: bad escape \\${e} in label ${name}`);
        v += e === 'n' ? '\n' : e;
        j += 2;
        continue;
      }
      v += ch;
      j++;
    }
    labels[name] = v;
    i = j + 1;
    if (text[i] === ',') i++;
    else assert.equal(text[i], '}', `${where}: expected "," or "}" after label ${name}`);
  }
}

/** Parses an exposition; asserts on the first violation of the format. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const helps = new Map<string, string>();
  const closed = new Set<string>(); // families whose group of lines has ended
  const series = new Set<string>();
  let current: string | null = null;
  assert.ok(text.endsWith('\n'), 'exposition does not end with a newline');
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, n) => {
    const where = `/metrics line ${n + 1} ${JSON.stringify(line.slice(0, 120))}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // another comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      assert.match(name, METRIC_NAME, `${where}: bad metric name`);
      if (kind === 'HELP') {
        assert.ok(!helps.has(name), `${where}: second HELP for ${name}`);
        assert.ok(!/\\[^\\n]/.test(rest.replace(/\\\\/g, '')), `${where}: bad escape in HELP`);
        helps.set(name, rest);
      } else {
        assert.ok(!families.has(name), `${where}: second TYPE for ${name}`);
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest), `${where}: unknown type ${rest}`);
        families.set(name, { name, type: rest as Family['type'], help: helps.get(name) ?? '', samples: [] });
      }
      if (current !== name && current !== null) closed.add(current);
      current = name;
      return;
    }
    const nameEnd = line.search(/[{ ]/);
    assert.ok(nameEnd > 0, `${where}: not a sample line`);
    const name = line.slice(0, nameEnd);
    assert.match(name, METRIC_NAME, `${where}: bad metric name`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') [labels, i] = parseLabels(line, i, where);
    assert.equal(line[i], ' ', `${where}: expected a space before the value`);
    const parts = line.slice(i + 1).split(' ');
    assert.ok(parts.length === 1 || (parts.length === 2 && /^-?\d+$/.test(parts[1]!)), `${where}: expected "value [timestamp]"`);
    const value = parseValue(parts[0]!, where);
    const fam = [...families.values()].find((f) => belongs(name, f.name, f.type));
    assert.ok(fam, `${where}: sample of ${name} without a TYPE line before it`);
    assert.ok(!closed.has(fam.name), `${where}: lines of ${fam.name} are not one group`);
    if (current !== fam.name && current !== null) closed.add(current);
    current = fam.name;
    const id = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!series.has(id), `${where}: the same series twice`);
    series.add(id);
    if (fam.type === 'counter') assert.ok(value >= 0, `${where}: negative counter`);
    fam.samples.push({ name, labels, value });
  });
  for (const f of families.values()) assert.ok(helps.has(f.name), `${f.name} has a TYPE but no HELP`);
  for (const h of helps.keys()) assert.ok(families.has(h), `${h} has a HELP but no TYPE`);
  return families;
}

/** The value of the one sample of `name` whose labels include `labels` (undefined: none). */
function valueOf(m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = m.get(name);
  const hits = (f?.samples ?? []).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(hits.length <= 1, `${name}${JSON.stringify(labels)} matches ${hits.length} series`);
  return hits[0]?.value;
}
function sumOf(m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  return (m.get(name)?.samples ?? []).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

describe('e2e: Prometheus metrics', () => {
  let env: Env | undefined;
  let outsider: ChildProcess | undefined;
  const web = `http://${VIP}/`;

  const scrape = async () => parseExposition(await scrapeMetrics(env!));

  /**
   * A scrape, `read()`, a scrape; retried until `stable` keys are equal in
   * both scrapes. Returns the first scrape, the reading and the second scrape.
   */
  async function sandwich<T>(read: () => Promise<T>, stable: (m: Map<string, Family>) => unknown): Promise<[Map<string, Family>, T, Map<string, Family>]> {
    let last = '';
    for (let attempt = 0; attempt < 8; attempt++) {
      const a = await scrape();
      const r = await read();
      const b = await scrape();
      const ka = JSON.stringify(stable(a));
      const kb = JSON.stringify(stable(b));
      if (ka === kb) return [a, r, b];
      last = `${ka} then ${kb}`;
    }
    throw new Error(`metrics kept moving across 8 attempts: ${last}`);
  }

  before(async () => {
    if (skipReason) return;
    env = await setupEnv({
      edit: (doc) => {
        // A service whose rs3 is checked on a port nobody listens on: it goes down.
        (doc.get('services') as YAMLSeq).add(
          doc.createNode({
            name: 'probe',
            vip: VIP,
            port: 8081,
            protocol: 'tcp',
            local_addresses: 'lan-pool',
            health: { type: 'tcp', interval_s: 0.5, timeout_ms: 300, rise: 2, fall: 2 },
            real_servers: [
              { address: RS[0], port: 8080 },
              { address: RS[2], port: 8080, health: { port: 9 } },
            ],
          }),
        );
      },
    });
    // Traffic: web and probe requests, and SYNs to a port no service has (drop_no_service).
    for (const url of [web, `http://${VIP}:8081/`]) {
      const r = await concurrentRequests(env, 15, url);
      assert.equal(r.filter((x) => !x.ok).length, 0, `${url}: ${JSON.stringify(r.filter((x) => !x.ok).slice(0, 3))}`);
    }
    const dropped = await curlArgs(env, ['--connect-timeout', '1', `http://${VIP}:9999/`]);
    assert.notEqual(dropped.code, 0, 'a port without a service answered');
  }, { timeout: 120_000 });
  after(async () => {
    if (outsider) await endChild(outsider, 5000);
    await teardownEnv(env);
  }, { timeout: 60_000 });

  it('the parser itself rejects malformed expositions (so a pass below means something)', () => {
    const ok = '# HELP a_total A\n# TYPE a_total counter\na_total{x="1",y="q\\"z"} 3\na_total{x="2"} 1e3\n\n# HELP g G\n# TYPE g gauge\ng -1.5\n';
    const m = parseExposition(ok);
    assert.equal(valueOf(m, 'a_total', { y: 'q"z' }), 3);
    assert.equal(sumOf(m, 'a_total'), 1003);
    const bad: Array<[string, string]> = [
      ['no TYPE', '# HELP a A\na 1\n'],
      ['no HELP', '# TYPE a counter\na 1\n'],
      ['unquoted label', '# HELP a A\n# TYPE a counter\na{x=1} 1\n'],
      ['bad label name', '# HELP a A\n# TYPE a counter\na{1x="1"} 1\n'],
      ['value', '# HELP a A\n# TYPE a counter\na{x="1"} one\n'],
      ['duplicate series', '# HELP a A\n# TYPE a counter\na{x="1"} 1\na{x="1"} 2\n'],
      ['negative counter', '# HELP a A\n# TYPE a counter\na -1\n'],
      ['split group', '# HELP a A\n# TYPE a counter\na{x="1"} 1\n# HELP b B\n# TYPE b gauge\nb 1\na{x="2"} 1\n'],
      ['two TYPEs', '# HELP a A\n# TYPE a counter\n# TYPE a gauge\na 1\n'],
      ['no final newline', '# HELP a A\n# TYPE a counter\na 1'],
    ];
    for (const [what, text] of bad) assert.throws(() => parseExposition(text), `accepted: ${what}`);
  });

  it('the exposition parses strictly: HELP and TYPE for every metric, valid labels, numeric values', { skip: skipReason }, async (t) =>
    withGatewayLog(env, async () => {
      const text = await scrapeMetrics(env!);
      const m = parseExposition(text);
      t.diagnostic(`${m.size} metric families, ${[...m.values()].reduce((a, f) => a + f.samples.length, 0)} samples, ${text.length} bytes`);
      // Every data-plane counter of `fullnat stats` is exported, per worker and for the control thread (-1).
      const s = await statsJson(env!);
      const workers = [...s.workers.map((_, i) => String(i)), '-1'];
      for (const name of Object.keys(s.total)) {
        if (name.startsWith('drop_')) {
          for (const w of workers) {
            assert.notEqual(valueOf(m, 'fullnat_drops_total', { reason: name.slice(5), worker: w }), undefined, `no fullnat_drops_total{reason="${name.slice(5)}",worker="${w}"}`);
          }
          continue;
        }
        const metric = name === 'sessions_active' ? 'fullnat_sessions_active' : `fullnat_${name}_total`;
        const fam = m.get(metric);
        assert.ok(fam, `data-plane counter ${name}: no metric ${metric}`);
        assert.equal(fam.type, name === 'sessions_active' ? 'gauge' : 'counter', `${metric} type`);
        for (const w of workers) assert.notEqual(valueOf(m, metric, { worker: w }), undefined, `no ${metric}{worker="${w}"}`);
      }
      for (const [name, type] of [
        ['fullnat_real_server_sessions', 'gauge'],
        ['fullnat_real_server_sessions_total', 'counter'],
        ['fullnat_real_server_up', 'gauge'],
        ['fullnat_real_server_weight', 'gauge'],
        ['fullnat_service_sessions', 'gauge'],
        ['fullnat_health_transitions_total', 'counter'],
        ['fullnat_drops_total', 'counter'],
      ] as const) {
        assert.equal(m.get(name)?.type, type, `${name}: ${m.get(name)?.type ?? 'missing'}`);
      }
      assert.equal(m.get('fullnat_drops_total')!.samples.every((x) => Object.keys(x.labels).sort().join() === 'reason,worker'), true);
    }));

  it('counters equal `fullnat stats --json` taken in between: sessions_created, fwd_to_server, drops by reason, per worker', { skip: skipReason }, async (t) =>
    withGatewayLog(env, async () => {
      const key = (m: Map<string, Family>) => [
        m.get('fullnat_sessions_created_total')?.samples,
        m.get('fullnat_fwd_to_server_total')?.samples,
        m.get('fullnat_drops_total')?.samples,
      ];
      const [a, s, b] = await sandwich<StatsJson>(() => statsJson(env!), key);
      void b;
      const created = sumOf(a, 'fullnat_sessions_created_total');
      t.diagnostic(`sessions_created ${created}, fwd_to_server ${sumOf(a, 'fullnat_fwd_to_server_total')}, drop_no_service ${s.total.drop_no_service}`);
      assert.ok(created >= 30, `only ${created} sessions created after 30 requests`);
      assert.equal(created, s.total.sessions_created, 'sum of fullnat_sessions_created_total vs stats total.sessions_created');
      assert.equal(sumOf(a, 'fullnat_fwd_to_server_total'), s.total.fwd_to_server, 'fwd_to_server');
      assert.ok((s.total.drop_no_service ?? 0) > 0, 'the SYNs to :9999 were not counted as drop_no_service');
      const blocks: Array<[string, Record<string, number>]> = [...s.workers.map((w, i): [string, Record<string, number>] => [String(i), w]), ['-1', s.control]];
      for (const [name, v] of Object.entries(s.total)) {
        if (!name.startsWith('drop_')) continue;
        assert.equal(sumOf(a, 'fullnat_drops_total', { reason: name.slice(5) }), v, `drops reason ${name.slice(5)}`);
      }
      for (const [w, c] of blocks) {
        assert.equal(valueOf(a, 'fullnat_sessions_created_total', { worker: w }), c.sessions_created, `sessions_created worker ${w}`);
        assert.equal(valueOf(a, 'fullnat_fwd_to_server_total', { worker: w }), c.fwd_to_server, `fwd_to_server worker ${w}`);
        for (const [name, v] of Object.entries(c)) {
          if (name.startsWith('drop_')) assert.equal(valueOf(a, 'fullnat_drops_total', { reason: name.slice(5), worker: w }), v, `${name} worker ${w}`);
        }
      }
    }));

  it('per-server metrics equal `fullnat list --json`: sessions created and active, weight, service sessions', { skip: skipReason }, () =>
    withGatewayLog(env, async () => {
      const key = (m: Map<string, Family>) => [m.get('fullnat_real_server_sessions_total')?.samples, m.get('fullnat_real_server_sessions')?.samples];
      const [a, list] = await sandwich<ServiceListing[]>(() => listJson(env!), key);
      let servers = 0;
      for (const svc of list) {
        let active = 0;
        for (const r of svc.real_servers) {
          const l = { service: svc.name, server: `${r.address}:${r.port}` };
          assert.equal(valueOf(a, 'fullnat_real_server_sessions_total', l), r.created, `created ${JSON.stringify(l)}`);
          assert.equal(valueOf(a, 'fullnat_real_server_sessions', l), r.active, `active ${JSON.stringify(l)}`);
          assert.equal(valueOf(a, 'fullnat_real_server_weight', l), r.weight, `weight ${JSON.stringify(l)}`);
          active += r.active;
          servers++;
        }
        assert.equal(valueOf(a, 'fullnat_service_sessions', { service: svc.name, vip: `${svc.vip}:${svc.port}/${svc.protocol}` }), active, `service_sessions ${svc.name}`);
      }
      assert.equal(a.get('fullnat_real_server_sessions_total')!.samples.length, servers, 'one series per listed server');
      const web = list.find((s) => s.name === 'web')!;
      assert.ok(web.real_servers.reduce((n, r) => n + r.created, 0) >= 15, 'the web requests are not in the created column');
    }));

  it('real_server_up is 0 for a server whose health check failed, and health transitions are counted', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      await waitUntil('probe/rs3 down', 15_000, async () => listedServer(await listJson(env!), 'probe', `${RS[2]}:8080`).health === 'down');
      const m = await scrape();
      assert.equal(valueOf(m, 'fullnat_real_server_up', { service: 'probe', server: `${RS[2]}:8080` }), 0);
      assert.equal(valueOf(m, 'fullnat_real_server_up', { service: 'probe', server: `${RS[0]}:8080` }), 1);
      const transitions = m.get('fullnat_health_transitions_total')!.samples.filter((x) => x.labels.service === 'probe' && x.labels.server === `${RS[2]}:8080`);
      assert.equal(transitions.length, 1, JSON.stringify(m.get('fullnat_health_transitions_total')!.samples));
      assert.ok(transitions[0]!.value >= 1, `transitions of probe/rs3: ${transitions[0]!.value}`);
      for (let i = 0; i < 3; i++) assert.equal(valueOf(m, 'fullnat_real_server_up', { service: 'web', server: `${RS[i]}:8080` }), 1);
    }));

  it('real_server_up and real_server_weight follow a reload to weight 0', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      const cfg = readConfig(env!);
      cfg.services.find((s) => s.name === 'web')!.real_servers[1]!.weight = 0;
      writeConfig(env!, cfg);
      const r = await reloadGateway(env!, 'cli');
      assert.ok(r.ok, r.output);
      const m = await scrape();
      const rs2 = { service: 'web', server: `${RS[1]}:8080` };
      assert.equal(valueOf(m, 'fullnat_real_server_weight', rs2), 0);
      assert.equal(valueOf(m, 'fullnat_real_server_up', rs2), 0);
      assert.equal(valueOf(m, 'fullnat_real_server_up', { service: 'web', server: `${RS[0]}:8080` }), 1);
      // Its counters survive the reload (same server, same id).
      assert.ok((valueOf(m, 'fullnat_real_server_sessions_total', rs2) ?? 0) > 0, 'rs2 lost its created count on reload');
    }));

  it('the endpoint listens on 127.0.0.1 only: not reachable on the port address from the client side', { skip: skipReason, timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      const ss = await env!.topo.exec(env!.topo.ns.gateway, 'ss', ['-Hltn', 'sport = :9901']);
      const locals = ss.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/)[3]);
      assert.deepEqual(locals, ['127.0.0.1:9901'], `listening sockets on :9901 in the gateway namespace:\n${ss.stdout}`);

      // Control: a listener on every address of the gateway namespace is
      // reachable from the client through the port address (exception path),
      // so the refusal below is the binding's doing.
      outsider = env!.topo.spawnIn(env!.topo.ns.gateway, process.execPath, [
        '-e',
        `require('node:http').createServer((q, s) => s.end('outside\\n')).listen(9902, '0.0.0.0', () => console.log('listening'))`,
      ]);
      await new Promise<void>((resolve, reject) => {
        outsider!.stdout!.once('data', () => resolve());
        outsider!.once('exit', (c) => reject(new Error(`listener exited ${c}`)));
      });
      const ok = await curlArgs(env!, ['--max-time', '5', 'http://198.18.0.254:9902/']);
      assert.equal(ok.code, 0, `control listener on 0.0.0.0:9902 not reachable from the client: ${ok.stderr}`);
      assert.equal(ok.stdout, 'outside\n');

      const r = await curlArgs(env!, ['--max-time', '5', 'http://198.18.0.254:9901/metrics']);
      assert.notEqual(r.code, 0, `/metrics answered on 198.18.0.254 from the client namespace:\n${r.stdout.slice(0, 300)}`);
      assert.equal(r.code, 7, `expected "connection refused" (curl exit 7), got exit ${r.code}: ${r.stderr}`);

      // Anything but GET /metrics is a 404.
      const other = await env!.topo.exec(env!.topo.ns.gateway, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:9901/other']);
      assert.equal(other.stdout, '404');
    }));
});
