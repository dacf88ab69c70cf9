// The bench CLI: node dist/bench/run.js [--scenario NAME]... [--json] [--smoke] [--out DIR]
//
// Runs the scenarios in order, shows progress on stderr, prints a Markdown
// table (stdout; with --json the JSON goes to stdout and the table to stderr)
// and writes results.json, results.md and SVG plots into --out.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { control } from './control';
import { HUGEPAGES_ENV, reserveHugepages } from './hugepages';
import { e2e } from './e2e';
import { keyFigures, markdownReport, markdownTable, svgPlot } from './report';
import { baselines, cps, established, machine, services, sessions, type Ctx, type Scenario, type ScenarioResult } from './scenarios';

export const SCENARIOS: Record<string, Scenario> = { established, baselines, cps, sessions, services, control, e2e };
/** What `npm run bench` runs without --scenario (all of them, e2e last). */
export const DEFAULT_ORDER = ['established', 'baselines', 'cps', 'sessions', 'services', 'control', 'e2e'];

export const USAGE = `usage: fullnat bench [--scenario NAME]... [--json] [--smoke] [--out DIR]
  --scenario NAME  run only these (repeatable, or comma-separated): ${DEFAULT_ORDER.join(', ')}
  --json           print the results JSON on stdout (the table goes to stderr)
  --smoke          tiny sizes, seconds per scenario (checks the bench works, measures nothing useful)
  --out DIR        where results.json, results.md and the SVG plots go (default bench/out;
                   bench/results holds the committed full run that bench/RESULTS.md describes)
  --memory KIND    hugepages | 4k | auto (default: hugepages when root can reserve them; --smoke: 4k)
Data-plane scenarios and e2e need root (DPDK, network namespaces).`;

interface Opts {
  scenarios: string[];
  json: boolean;
  smoke: boolean;
  out: string;
  memory: 'auto' | 'hugepages' | '4k';
}

function parseArgs(argv: string[]): Opts | string {
  const o: Opts = { scenarios: [], json: false, smoke: false, memory: 'auto', out: path.resolve(__dirname, '..', '..', 'bench', 'out') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--scenario' || a === '-s') o.scenarios.push(...val().split(',').filter(Boolean));
    else if (a.startsWith('--scenario=')) o.scenarios.push(...a.slice(11).split(',').filter(Boolean));
    else if (a === '--json') o.json = true;
    else if (a === '--smoke') o.smoke = true;
    else if (a === '--out') o.out = path.resolve(val());
    else if (a.startsWith('--out=')) o.out = path.resolve(a.slice(6));
    else if (a === '--memory' || a.startsWith('--memory=')) {
      const v = a === '--memory' ? val() : a.slice(9);
      if (v !== 'auto' && v !== 'hugepages' && v !== '4k') throw new Error(`--memory: expected hugepages, 4k or auto, got ${v}`);
      o.memory = v;
    } else if (a === '--help' || a === '-h') return USAGE;
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  for (const s of o.scenarios) if (!SCENARIOS[s]) throw new Error(`unknown scenario ${s} (known: ${DEFAULT_ORDER.join(', ')})`);
  if (!o.scenarios.length) o.scenarios = [...DEFAULT_ORDER];
  return o;
}

export async function benchMain(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if (typeof parsed === 'string') {
    process.stdout.write(parsed + '\n');
    return 0;
  }
  const o = parsed;
  const started = new Date();
  const t0 = Date.now();
  const loadStart = machine().loadavg;
  // Enough 2 MiB pages for the largest child (10M sessions: about 1.2 GiB).
  let memory = '4 KiB pages (--no-huge)';
  let release = () => {};
  if (o.memory === 'hugepages' || (o.memory === 'auto' && !o.smoke)) {
    const r = reserveHugepages(o.smoke ? 512 : 1600);
    if (typeof r === 'string') {
      if (o.memory === 'hugepages') throw new Error(`--memory hugepages: ${r}`);
      process.stderr.write(`[bench] no hugepages (${r}): running on 4 KiB pages\n`);
    } else {
      process.env[HUGEPAGES_ENV] = '1';
      memory = `2 MiB hugepages (${r.pages} reserved for the run)`;
      release = r.release;
      process.on('exit', release);
    }
  }
  const results: ScenarioResult[] = [];
  let failed = 0;
  for (const [k, name] of o.scenarios.entries()) {
    const ts = Date.now();
    const ctx: Ctx = {
      smoke: o.smoke,
      progress: (msg) => process.stderr.write(`[bench ${k + 1}/${o.scenarios.length} ${name} +${((Date.now() - t0) / 1000).toFixed(0)}s] ${msg}\n`),
    };
    ctx.progress(o.smoke ? 'starting (smoke sizes)' : 'starting');
    try {
      const r = await SCENARIOS[name]!(ctx);
      r.seconds = Math.round((Date.now() - ts) / 100) / 10;
      results.push(r);
      ctx.progress(`done in ${r.seconds} s: ${Object.entries(r.figures).slice(0, 4).map(([f, v]) => `${f}=${v}`).join(' ')}`);
    } catch (e) {
      failed++;
      ctx.progress(`FAILED: ${(e as Error).stack ?? String(e)}`);
      results.push({ scenario: name, figures: {}, rows: [], plots: [], notes: [`failed: ${(e as Error).message}`], details: { error: (e as Error).message } });
    }
  }
  const meta = {
    machine: { ...machine(), loadavg_start: loadStart, memory },
    command: `node dist/bench/run.js ${argv.join(' ')}`.trim(),
    started: started.toISOString(),
    seconds: Math.round((Date.now() - t0) / 1000),
    smoke: o.smoke,
  };
  const json = { ...meta, scenarios: results.map((r) => ({ scenario: r.scenario, ...r.figures, figures: r.figures, seconds: r.seconds, notes: r.notes, details: r.details })) };

  release();
  delete process.env[HUGEPAGES_ENV];
  fs.mkdirSync(o.out, { recursive: true });
  fs.writeFileSync(path.join(o.out, 'results.json'), JSON.stringify(json, null, 2) + '\n');
  fs.writeFileSync(path.join(o.out, 'results.md'), markdownReport(results, meta));
  for (const r of results) for (const p of r.plots) fs.writeFileSync(path.join(o.out, p.file), svgPlot(p));

  const table = `${markdownTable(results)}\n\n${keyFigures(results)}\n`;
  if (o.json) {
    process.stderr.write(table);
    process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  } else {
    process.stdout.write(table);
  }
  process.stderr.write(`[bench] ${results.length - failed} of ${results.length} scenarios done in ${meta.seconds} s; results in ${o.out}\n`);
  return failed ? 1 : 0;
}
