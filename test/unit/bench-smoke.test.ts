// The bench must not rot: run it in smoke mode (tiny sizes) in a child
// process and check that it printed its table and wrote every key figure as a
// finite positive number. No timing is asserted: the figures are whatever
// this machine measured.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { frameSet, ipNum, macBytes, writeUdp } from '../../bench/frames';
import { markdownTable, svgPlot } from '../../bench/report';
import { buildTcp, buildUdp } from '../lib/packet';
import { ringPortMac, stepInput, tcpConnection } from '../lib/packet-table';

const root = path.resolve(__dirname, '..', '..', '..');
const runJs = path.join(root, 'dist', 'bench', 'run.js');
const cliJs = path.join(root, 'dist', 'src', 'cli.js');
const addon = path.join(root, 'build', 'native', 'Release', 'fullnat.node');

describe('bench frames', () => {
  it('writes the same bytes as the test oracle (test/lib/packet.ts)', () => {
    const f = { smac: macBytes('02:00:00:00:01:01'), dmac: macBytes('02:00:00:00:00:aa'), sip: ipNum('198.18.16.3'), dip: ipNum('198.18.2.0'), sport: 40001, dport: 1000 };
    const common = { ethSrc: '02:00:00:00:01:01', ethDst: '02:00:00:00:00:aa', src: '198.18.16.3', dst: '198.18.2.0', sport: 40001, dport: 1000, ttl: 64, id: 1, dontFragment: true };
    // TCP: the packet table's connection steps, as the bench pumps them.
    const conn = tcpConnection(
      { clientPort: 'wan', client: { ...common, ethDst: '02:00:00:00:00:aa' }, serverPort: 'lan', server: { ethSrc: '02:00:00:00:02:02', ethDst: '02:00:00:00:00:bb', src: '198.19.0.2', dst: '198.19.16.0', sport: 8080, dport: 1024 } },
      { client: 1000, server: 5000 },
    );
    for (const [step, flags, seq, ack] of [[conn.syn, 'S', 1000, 0], [conn.ack, 'A', 1001, 5001]] as const) {
      const [ours] = frameSet(1, (b, o) => stepInput(step).copy(b, o));
      const want = buildTcp({ ...common, flags, seq, ack, window: 65535 });
      assert.equal(ours!.toString('hex'), want.toString('hex'));
    }
    const [u] = frameSet(1, (b, o) => writeUdp(b, o, f));
    const payload = Buffer.from(Array.from({ length: 18 }, (_, i) => (i * 7 + 1) & 0xff));
    assert.equal(u!.toString('hex'), buildUdp({ ...common, payload }).toString('hex'));
  });

  it('pumps the same TCP bytes as before the frames came from the packet tables (64-byte frames, window 65535, id 1, DF)', () => {
    // Flow 0 of a one-service run; the hex is what bench/frames.ts's TCP writer produced.
    const conn = tcpConnection(
      {
        clientPort: 'wan',
        client: { ethSrc: '02:00:00:00:01:01', ethDst: ringPortMac(0), src: '198.18.16.0', dst: '198.18.2.0', sport: 1024, dport: 1000 },
        serverPort: 'lan',
        server: { ethSrc: '02:00:00:00:02:02', ethDst: ringPortMac(1), src: '198.19.0.2', dst: '198.19.16.0', sport: 8080, dport: 1024 },
      },
      { client: 1000, server: 5000 },
    );
    assert.equal(stepInput(conn.syn).toString('hex'), '02666e0000000200000001010800450000280001400040069caac6121000c6120200040003e8000003e8000000005002ffff05ee0000000000000000');
    assert.equal(stepInput(conn.ack).toString('hex'), '02666e0000000200000001010800450000280001400040069caac6121000c6120200040003e8000003e9000013895010fffff2550000000000000000');
  });

  it('renders a table and a plot from figures', () => {
    const r = { scenario: 'x', figures: { a: 1 }, rows: [{ case: 'c', metric: 'm', value: 2, unit: 'u', baseline: 'b', ratio: 0.5 }], plots: [], notes: [], details: {} };
    assert.match(markdownTable([r]), /\| x \| c \| m \| 2 \| u \| b \| 0.5 \|/);
    assert.match(svgPlot({ file: 'p.svg', title: 't', xLabel: 'x', yLabel: 'y', logX: true, series: [{ name: 's', points: [[10, 1], [1000, 2]] }] }), /^<svg[\s\S]*<\/svg>\n$/);
  });
});

const why = process.getuid?.() !== 0 ? 'needs root (DPDK)' : !fs.existsSync(addon) ? 'native addon not built' : !fs.existsSync(runJs) ? 'bench not compiled' : null;

describe('bench --smoke', { skip: why ?? false }, () => {
  it('`fullnat bench --json` runs every data-plane scenario and control, prints the JSON, the table, and writes every key figure', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fn-bench-smoke-'));
    const scenarios = ['established', 'baselines', 'cps', 'sessions', 'services', 'control'];
    try {
      const r = spawnSync(process.execPath, [cliJs, 'bench', '--smoke', '--json', '--scenario', scenarios.join(','), '--out', out], {
        cwd: root,
        encoding: 'utf8',
        timeout: 300_000,
      });
      assert.equal(r.status, 0, `bench exited ${r.status} ${r.signal ?? ''}\n${r.stderr.slice(-4000)}`);
      // --json: the JSON alone on stdout, the table on stderr.
      const printed = JSON.parse(r.stdout) as { scenarios: { scenario: string }[] };
      assert.deepEqual(printed.scenarios.map((s) => s.scenario), scenarios);
      assert.match(r.stderr, /\| scenario \| case \| figure \| value \| unit \| baseline \(same run\) \| ratio \|/);
      for (const s of scenarios) assert.match(r.stderr, new RegExp(`^\\| ${s} \\|`, 'm'), `table has ${s} rows`);

      const json = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as { scenarios: Record<string, unknown>[] };
      assert.deepEqual(json.scenarios.map((s) => s.scenario), printed.scenarios.map((s) => s.scenario), 'the file holds what was printed');
      const by = new Map(json.scenarios.map((s) => [s.scenario as string, s]));
      const want: Record<string, string[]> = {
        established: ['mpps_per_worker', 'cycles_per_packet', 'ratio_vs_l2fwd', 'memif_mpps_delivered', 'memif_cycles_per_packet'],
        baselines: ['ratio_vs_l2fwd', 'ratio_vs_nat', 'mpps_per_worker', 'cycles_per_packet'],
        cps: ['cps_per_worker', 'sessions_created', 'sessions_expired'],
        sessions: ['bytes_per_session', 'capacity_512mb', 'cycles_per_packet_max_sessions'],
        services: ['new_flow_cycles_min_services', 'new_flow_cycles_max_services', 'max_services'],
        control: ['config_parse_ms_10_services', 'plan_build_ms_10_services', 'maglev_ms_65537', 'maglev_ms_655373', 'stats_aggregation_us'],
      };
      for (const [s, keys] of Object.entries(want)) {
        const o = by.get(s);
        assert.ok(o, `results.json has scenario ${s}`);
        for (const k of keys) {
          const v = o[k];
          assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${s}.${k} is a finite positive number (got ${String(v)})`);
        }
      }
      assert.ok(fs.existsSync(path.join(out, 'results.md')), 'results.md written');
      for (const svg of ['established-cost-vs-flows.svg', 'cost-vs-sessions.svg', 'cost-vs-services.svg'])
        assert.match(fs.readFileSync(path.join(out, svg), 'utf8'), /^<svg[\s\S]*<path d="M/, `${svg} has a curve`);
      // cps: every connection's session was created and expired again (the sweeper works under the bench).
      const cps = by.get('cps')!;
      assert.equal(cps.sessions_expired, cps.sessions_created);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
