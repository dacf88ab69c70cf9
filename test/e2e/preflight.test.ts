// `fullnat preflight` on this machine (no DPDK NIC): inside the demo
// topology's gateway namespace it opens the af_packet ports through DPDK and
// reports their capabilities and the steering `auto` chooses; a PCI address
// that does not exist, or too little memory, is an error before EAL; exit
// codes 1 (warnings: --no-huge, CPUs not isolated) and 2 (errors).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { repoRoot } from '../../src/demo/gateway-process';
import { createTopology, netnsUnavailableReason, type ExecResult, type Topology } from '../../src/demo/topology';
import { addonPath } from '../../src/native';
import type { Report } from '../../src/preflight';

function addonMissing(): string | null {
  try {
    addonPath();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

const skip: string | false = netnsUnavailableReason() ?? addonMissing() ?? false;
const root = repoRoot();
const cli = path.join(root, 'dist', 'src', 'cli.js');

/** `fullnat preflight` once the CLI offers it, else the module's own entry (same options, same output). */
function entry(): string[] {
  try {
    const usage = execFileSync(process.execPath, [cli, 'help'], { encoding: 'utf8' });
    if (/\bpreflight\b/.test(usage)) return [cli, 'preflight'];
  } catch {
    /* fall through */
  }
  return [path.join(root, 'dist', 'src', 'preflight', 'main.js')];
}

describe('preflight on the demo topology', { skip }, () => {
  let topo: Topology;
  let tmp: string;
  const cmd = entry();

  /** A copy of a config under config/ with edits applied. */
  function configCopy(name: string, edit: (doc: ReturnType<typeof parseDocument>) => void): string {
    const doc = parseDocument(fs.readFileSync(path.join(root, 'config', name), 'utf8'));
    edit(doc);
    const f = path.join(tmp, `${Math.random().toString(16).slice(2)}-${name}`);
    fs.writeFileSync(f, doc.toString());
    return f;
  }

  function run(args: string[]): Promise<ExecResult> {
    return topo.exec(topo.ns.gateway, process.execPath, [...cmd, ...args], { check: false, timeoutMs: 60_000, cwd: root });
  }

  async function operstate(ns: string, dev: string): Promise<string> {
    return (await topo.exec(ns, 'cat', [`/sys/class/net/${dev}/operstate`])).stdout.trim();
  }

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fullnat-preflight-e2e-'));
    topo = await createTopology({ servers: 1 });
    // veth carrier comes up asynchronously after `ip link set up`.
    for (let i = 0; i < 50; i++) {
      if ((await operstate(topo.ns.gateway, 'gw0')) === 'up' && (await operstate(topo.ns.gateway, 'gw1')) === 'up') break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    await topo?.destroy();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('demo config: the af_packet ports probed, steering none with one worker, warnings only (exit 1)', async () => {
    const rxBefore = (await topo.exec(topo.ns.client, 'cat', ['/sys/class/net/cl0/statistics/rx_packets'])).stdout.trim();
    const r = await run(['-c', path.join(root, 'config', 'demo.yaml')]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const out = r.stdout;
    assert.match(out, /^fullnat preflight: .*config\/demo\.yaml$/m);
    assert.match(out, /WARNING +hugepages +dpdk.hugepages is false: EAL runs with --no-huge/);
    assert.match(out, /ok +port wan +net_af_packet0 attaches to interface gw0 \(up\)/);
    assert.match(out, /\nPorts \(probed through DPDK\)\n/);
    for (const port of ['wan', 'lan']) {
      assert.match(out, new RegExp(`ok +port ${port} +net_af_packet, link up, .*steering none`));
    }
    assert.match(out, /driver net_af_packet, MAC [0-9a-f:]{17}, link up/);
    assert.match(out, /queues: 1 RX \/ 1 TX used \(one per worker\), device max 1 \/ 1/);
    assert.match(out, /RSS: no; spreading of client flows: none needed \(one worker\)/);
    assert.match(out, /checksum offloads: TX .*; RX /);
    assert.match(out, /steering \(auto\): none: one worker: every reply is its own/);
    assert.match(out, /Reply steering the gateway will use\n {2}wan {2}none .*\n {2}lan {2}none /);
    assert.match(out, /Verdict: will run, with warnings \(\d+ ok, \d+ warnings, 0 errors\): exit 1\n$/);
    // The probe is passive: nothing went out of the wan port to the client.
    const rxAfter = (await topo.exec(topo.ns.client, 'cat', ['/sys/class/net/cl0/statistics/rx_packets'])).stdout.trim();
    assert.equal(rxAfter, rxBefore);
    // and leaves no EAL runtime directory behind
    const runtime = fs.existsSync('/var/run/dpdk') ? fs.readdirSync('/var/run/dpdk') : [];
    assert.ok(!runtime.some((d) => d.startsWith('fullnat-preflight-')), runtime.join(' '));
  });

  test('two workers, --json: lan falls back to redirect (af_packet has no flow rules), wan needs none', async () => {
    const r = await run(['-c', path.join(root, 'config', 'demo-2workers.yaml'), '--json']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const j = JSON.parse(r.stdout) as Report; // nothing but the report on stdout
    assert.equal(j.verdict, 'warning');
    assert.equal(j.exitCode, 1);
    assert.equal(j.probed, true);
    const [wan, lan] = j.ports;
    assert.equal(wan!.name, 'wan');
    assert.equal(wan!.info.driver, 'net_af_packet');
    assert.equal(wan!.info.steering, 'none');
    assert.equal(wan!.info.steeringReason, 'no local address (LIP) on this port');
    assert.equal(lan!.info.steering, 'redirect');
    assert.match(lan!.info.steeringReason, /^fallback: the port rejects the steering rule/);
    for (const p of j.ports) {
      assert.equal(p.info.linkUp, true);
      assert.equal(p.info.maxRxQueues, 2); // qpairs=2 added for two workers
      assert.equal(p.info.rss, false);
      assert.match(p.info.spreading, /kernel packet fanout \(flow hash\) over 2 queues/);
    }
    const shared = j.checks.find((c) => c.id === 'cpus.shared');
    assert.equal(shared?.status, 'warning'); // workers 1 and 2 both on CPU 1
    assert.ok(!j.checks.some((c) => c.status === 'error'));
  });

  test('a PCI address that does not exist: a clear error before EAL, exit 2', async () => {
    const file = configCopy('demo.yaml', (doc) => doc.setIn(['ports', 1, 'device'], '0000:7f:1f.7'));
    const r = await run(['-c', file]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /ERROR +port lan +no PCI device 0000:7f:1f\.7 on this machine\n +fix: find the NIC's address with "lspci -D/);
    assert.match(r.stdout, /ports not probed: EAL would fail on the errors above/);
    assert.doesNotMatch(r.stdout + r.stderr, /EAL:/);
    assert.match(r.stdout, /Verdict: will not run as configured .*: exit 2\n$/);
  });

  test('more sessions than memory_mb holds: error naming the MiB needed, before EAL, exit 2', async () => {
    const file = configCopy('demo.yaml', (doc) => doc.setIn(['sessions', 'max'], 10_000_000));
    const r = await run(['-c', file, '--json']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const j = JSON.parse(r.stdout) as Report;
    const m = j.checks.find((c) => c.id === 'memory.sizing')!;
    assert.equal(m.status, 'error');
    const needed = (m.data as { neededMb: number }).neededMb;
    assert.ok(needed > 256);
    assert.equal(m.message, `256 MiB is too little: 10000000 sessions and the mbuf pool need ${needed} MiB`);
    assert.equal(j.probed, false);
  });

  test('--offline: no probe, the static checks only', async () => {
    const r = await run(['-c', path.join(root, 'config', 'demo.yaml'), '--offline']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /note +probe +ports not probed \(--offline\)/);
    assert.doesNotMatch(r.stdout, /Reply steering/);
  });

  test('outside the topology the af_packet interfaces are missing: exit 2', async () => {
    const file = configCopy('demo.yaml', (doc) => doc.setIn(['ports', 0, 'device'], 'net_af_packet0,iface=fnpf-none0'));
    const r = await run(['-c', file]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /ERROR +port wan +interface fnpf-none0 does not exist in this network namespace/);
  });
});
