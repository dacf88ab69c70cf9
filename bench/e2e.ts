// End to end with real programs, fullnat against the kernel, same topology,
// same run (src/demo/topology.ts: client ns -- gateway ns -- bridged LAN -- rs1):
//
//  - fullnat: the real gateway (`fullnat start`) on net_af_packet over gw0/gw1;
//  - nftables: the gateway namespace's own kernel as a router, the same
//    addresses (VIP on gw0, LIP on gw1), DNAT in prerouting + SNAT to the LIP.
//
// Offloads are off on every veth for both (topology.ts does it). Part 1:
// iperf3 TCP throughput and wrk requests/s, alternating modes. Part 2 (the
// seed's comparison): 10, 1k, 10k services, fullnat vs nftables as a linear
// list of DNAT rules (iptables-mode kube-proxy) vs one nftables verdict map
// (the ipset-style fix), wrk against the last service.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot, startGateway, type GatewayProcess } from '../src/demo/gateway-process';
import { startHttpServers, waitForFirstSuccess } from '../src/demo/run';
import { createTopology, netnsUnavailableReason, type Topology } from '../src/demo/topology';
import { median, round } from './figures';
import type { Ctx, Plot, Row, ScenarioResult } from './scenarios';

const VIP = '198.18.0.100';
// Every run (either mode) gets a fresh LIP: the real server still holds the
// previous run's LIP:port pairs in TIME_WAIT (60 s) and new SYNs on them
// collide (a restarted fullnat hands out local ports from 1024 again; the
// kernel's SNAT keeps the client's port). The kernel's conntrack entries
// would also outlive a run with their old mapping: the gateway namespace gets
// 1 s timeouts for closing states, and a kernel run waits for them to expire.
const lipFor = (start: number) => `198.19.0.${10 + (start % 200)}`;
const CT_SHORT = ['time_wait', 'close', 'close_wait', 'fin_wait', 'last_ack', 'syn_sent', 'syn_recv'];
const RS = '198.19.0.2';
const HTTP_PORT = 8080;
const IPERF_PORT = 5201;
const SVC_PORT0 = 10000; // part 2: service k is VIP:(10000 + k)

type Mode = 'fullnat' | 'nft-list' | 'nft-map';

function have(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** fullnat config: the demo's settings, `web` on port 80, iperf on 5201, and n extra services on 10000.. */
function fullnatYaml(n: number, socket: string, lip: string, idleSleepUs: number, pmd: 'af_packet' | 'af_xdp'): string {
  const dev = (i: number, iface: string) =>
    pmd === 'af_xdp' ? `net_af_xdp${i},iface=${iface},start_queue=0,queue_count=1` : `net_af_packet${i},iface=${iface}`;
  const lines = [
    `dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 512, idle_sleep_us: ${idleSleepUs}, mbufs: 8191 }`,
    'ports:',
    `  - { name: wan, device: "${dev(0, 'gw0')}", addresses: [198.18.0.254/24], kernel_interface: false }`,
    `  - { name: lan, device: "${dev(1, 'gw1')}", addresses: [198.19.0.254/24], kernel_interface: false }`,
    `local_addresses: { pool: { port: lan, addresses: [${lip}], ports: [1024, 65535] } }`,
    'sessions: { max: 262144, timeouts: { tcp_time_wait: 2, tcp_close: 2 } }',
    'stats: { interval_s: 0, listen: null }',
    `control: { socket: ${socket} }`,
    'log: { level: info }',
    'services:',
    `  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS}, port: ${HTTP_PORT} }] }`,
    `  - { name: iperf, vip: ${VIP}, port: ${IPERF_PORT}, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS}, port: ${IPERF_PORT} }] }`,
  ];
  for (let k = 0; k < n; k++)
    lines.push(`  - { name: s${k}, vip: ${VIP}, port: ${SVC_PORT0 + k}, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS}, port: ${HTTP_PORT} }] }`);
  return lines.join('\n') + '\n';
}

/** nftables ruleset: web and iperf, plus n services as a list of rules or one map. */
function nftRuleset(n: number, style: 'list' | 'map', lip: string): string {
  const dnat = (port: number, to: number) => `    ip daddr ${VIP} tcp dport ${port} dnat to ${RS}:${to}`;
  const out = ['table ip fnbench {', '  chain pre {', '    type nat hook prerouting priority dstnat; policy accept;', dnat(80, HTTP_PORT), dnat(IPERF_PORT, IPERF_PORT)];
  if (n > 0 && style === 'list') for (let k = 0; k < n; k++) out.push(dnat(SVC_PORT0 + k, HTTP_PORT));
  if (n > 0 && style === 'map') out.push('    meta l4proto tcp dnat ip to ip daddr . tcp dport map @svc');
  out.push('  }', '  chain post {', '    type nat hook postrouting priority srcnat; policy accept;', `    oifname "gw1" snat ip to ${lip}`, '  }');
  if (n > 0 && style === 'map') {
    out.push('  map svc {', '    type ipv4_addr . inet_service : ipv4_addr . inet_service', '    elements = {');
    for (let k = 0; k < n; k++) out.push(`      ${VIP} . ${SVC_PORT0 + k} : ${RS} . ${HTTP_PORT}${k + 1 < n ? ',' : ''}`);
    out.push('    }', '  }');
  }
  out.push('}');
  return out.join('\n') + '\n';
}

export class Bench {
  private gw: GatewayProcess | null = null;
  private kernel = false;
  private starts = 0;
  /** dpdk.idle_sleep_us of the fullnat gateway. */
  idleSleepUs = 50;
  /** The gateway's port driver (FULLNAT_BENCH_E2E_PMD=af_xdp to try AF_XDP). */
  pmd: 'af_packet' | 'af_xdp' = process.env.FULLNAT_BENCH_E2E_PMD === 'af_xdp' ? 'af_xdp' : 'af_packet';
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fnbench-e2e-'));

  constructor(
    readonly topo: Topology,
    readonly ctx: Ctx,
    public seconds: number,
  ) {}

  private async sh(ns: string, cmd: string, args: string[], input?: string): Promise<string> {
    if (input === undefined) return (await this.topo.exec(ns, cmd, args, { timeoutMs: 120_000 })).stdout;
    const f = path.join(this.dir, 'input');
    fs.writeFileSync(f, input);
    return (await this.topo.exec(ns, cmd, [...args, f], { timeoutMs: 120_000 })).stdout;
  }

  async flushNeighbours(): Promise<void> {
    await this.topo.exec(this.topo.ns.client, 'ip', ['neigh', 'flush', 'all'], { check: false });
    await this.topo.exec(this.topo.ns.servers[0]!, 'ip', ['neigh', 'flush', 'all'], { check: false });
  }

  async startFullnat(n: number): Promise<void> {
    await this.stop();
    const file = path.join(this.dir, 'fullnat.yaml');
    fs.writeFileSync(file, fullnatYaml(n, path.join(this.dir, 'ctl.sock'), lipFor(this.starts++), this.idleSleepUs, this.pmd));
    this.gw = startGateway(this.topo, file, { cli: path.join(repoRoot(), 'dist', 'src', 'cli.js'), readyTimeoutMs: 180_000 });
    await this.gw.ready;
    await this.flushNeighbours();
    await waitForFirstSuccess(this.topo, `http://${VIP}/`, 30_000);
  }

  async startKernel(n: number, style: 'list' | 'map'): Promise<void> {
    await this.stop();
    const g = this.topo.ns.gateway;
    const lip = lipFor(this.starts++);
    for (const [a, dev] of [
      ['198.18.0.254/24', 'gw0'],
      [`${VIP}/32`, 'gw0'],
      ['198.19.0.254/24', 'gw1'],
      [`${lip}/32`, 'gw1'],
    ])
      await this.sh(g, 'ip', ['addr', 'add', a!, 'dev', dev!]);
    await this.sh(g, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    await this.sh(g, 'nft', ['-f'], nftRuleset(n, style, lip));
    for (const t of CT_SHORT) await this.topo.exec(g, 'sysctl', ['-q', '-w', `net.netfilter.nf_conntrack_tcp_timeout_${t}=1`], { check: false });
    this.kernel = true;
    await this.flushNeighbours();
    await waitForFirstSuccess(this.topo, `http://${VIP}/`, 30_000);
  }

  async stop(): Promise<void> {
    if (this.gw) {
      await this.gw.stop();
      this.gw = null;
    }
    if (this.kernel) {
      const g = this.topo.ns.gateway;
      await this.topo.exec(g, 'nft', ['delete', 'table', 'ip', 'fnbench'], { check: false });
      await this.topo.exec(g, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0'], { check: false });
      await this.topo.exec(g, 'ip', ['addr', 'flush', 'dev', 'gw0'], { check: false });
      await this.topo.exec(g, 'ip', ['addr', 'flush', 'dev', 'gw1'], { check: false });
      await this.topo.exec(g, 'conntrack', ['-F'], { check: false }); // when installed
      await new Promise((r) => setTimeout(r, 2500)); // closing conntrack entries expire (1 s timeouts)
      this.kernel = false;
    }
  }

  /** iperf3 TCP, one stream, client -> VIP -> rs1: Gbit/s the server received. */
  async iperf(): Promise<number> {
    const r = await this.topo.exec(this.topo.ns.client, 'iperf3', ['-c', VIP, '-p', String(IPERF_PORT), '-t', String(this.seconds), '-J'], {
      timeoutMs: (this.seconds + 30) * 1000,
    });
    const j = JSON.parse(r.stdout) as { end: { sum_received?: { bits_per_second: number } } };
    return (j.end.sum_received?.bits_per_second ?? 0) / 1e9;
  }

  /** wrk, 1 thread, 16 connections (the server closes each after one answer): requests/s and errors, after 1 s of warm-up. */
  async wrk(port: number): Promise<{ rps: number; errors: number }> {
    const url = `http://${VIP}${port === 80 ? '' : `:${port}`}/`;
    await this.topo.exec(this.topo.ns.client, 'wrk', ['-t1', '-c16', '-d1s', url], { timeoutMs: 30_000, check: false });
    const r = await this.topo.exec(this.topo.ns.client, 'wrk', ['-t1', '-c16', `-d${this.seconds}s`, url], { timeoutMs: (this.seconds + 30) * 1000 });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
    const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.stdout);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
    const errors = (se ? se.slice(1).reduce((a, x) => a + Number(x), 0) : 0) + non2xx;
    if (!Number.isFinite(rps)) throw new Error(`wrk output without Requests/sec:\n${r.stdout}\n${r.stderr}`);
    return { rps, errors };
  }

  async close(): Promise<void> {
    await this.stop().catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function e2e(ctx: Ctx): Promise<ScenarioResult> {
  const why = netnsUnavailableReason();
  if (why) throw new Error(`e2e: ${why}`);
  const missing = ['iperf3', 'wrk', 'nft'].filter((b) => !have(b));
  if (missing.length) throw new Error(`e2e needs ${missing.join(', ')} (apt-get install ${missing.map((m) => (m === 'nft' ? 'nftables' : m)).join(' ')})`);
  const seconds = ctx.smoke ? 1 : 5;
  const reps = ctx.smoke ? 1 : 2;
  const svcSeconds = ctx.smoke ? 1 : 3;
  const sizes = ctx.smoke ? [10] : [10, 1000, 10_000];

  ctx.progress('creating the namespace topology');
  const topo = await createTopology({ servers: 1 });
  const b = new Bench(topo, ctx, seconds);
  try {
    await startHttpServers(topo, HTTP_PORT);
    const iperfd = topo.spawnIn(topo.ns.servers[0]!, 'iperf3', ['-s', '-p', String(IPERF_PORT)]);
    iperfd.stdout!.resume();
    iperfd.stderr!.resume();

    // Part 1: alternating modes, best of reps each.
    const tcp: Record<string, number[]> = { fullnat: [], nftables: [] };
    const rps: Record<string, number[]> = { fullnat: [], nftables: [] };
    const errors: Record<string, number> = { fullnat: 0, nftables: 0 };
    for (let k = 0; k < reps; k++)
      for (const mode of ['fullnat', 'nftables'] as const) {
        ctx.progress(`${mode}: iperf3 TCP and wrk, ${seconds} s each (round ${k + 1} of ${reps})`);
        if (mode === 'fullnat') await b.startFullnat(0);
        else await b.startKernel(0, 'list');
        tcp[mode]!.push(await b.iperf());
        const w = await b.wrk(80);
        rps[mode]!.push(w.rps);
        errors[mode]! += w.errors;
      }
    const best = (xs: number[]) => Math.max(...xs);

    // Part 2: services, requests/s to the last one; best of reps rounds.
    const modes: Mode[] = ['fullnat', 'nft-list', 'nft-map'];
    const svcRuns = new Map<string, number[]>();
    b.seconds = svcSeconds;
    for (let k = 0; k < reps; k++)
      for (const n of sizes)
        for (const mode of modes) {
          ctx.progress(`${n} services, ${mode}: wrk to the last service, ${svcSeconds} s (round ${k + 1} of ${reps})`);
          if (mode === 'fullnat') await b.startFullnat(n);
          else await b.startKernel(n, mode === 'nft-list' ? 'list' : 'map');
          const w = await b.wrk(SVC_PORT0 + n - 1);
          const key = `${mode} ${n}`;
          svcRuns.set(key, [...(svcRuns.get(key) ?? []), w.rps]);
          errors[key] = (errors[key] ?? 0) + w.errors;
        }
    const svc: Record<Mode, [number, number][]> = { fullnat: [], 'nft-list': [], 'nft-map': [] };
    for (const mode of modes) for (const n of sizes) svc[mode].push([n, round(Math.max(...svcRuns.get(`${mode} ${n}`)!))]);
    await b.stop();

    const tcpRatio = best(tcp.fullnat!) / best(tcp.nftables!);
    const rpsRatio = best(rps.fullnat!) / best(rps.nftables!);
    const last = (m: Mode) => svc[m][svc[m].length - 1]![1];
    const rows: Row[] = [
      { case: 'iperf3 TCP, 1 stream', metric: 'Gbit/s', value: round(best(tcp.fullnat!)), unit: 'Gbit/s', baseline: `nftables DNAT+SNAT ${round(best(tcp.nftables!))} Gbit/s`, ratio: round(tcpRatio) },
      { case: 'wrk, 16 connections, one request each', metric: 'requests/s', value: round(best(rps.fullnat!)), unit: 'req/s', baseline: `nftables ${round(best(rps.nftables!))} req/s`, ratio: round(rpsRatio) },
    ];
    for (const n of sizes)
      for (const mode of ['nft-list', 'nft-map'] as const) {
        const f = svc.fullnat.find(([x]) => x === n)![1];
        const k = svc[mode].find(([x]) => x === n)![1];
        rows.push({ case: `${n} services, wrk to the last`, metric: 'requests/s', value: f, unit: 'req/s', baseline: `${mode === 'nft-list' ? 'nftables rule list' : 'nftables verdict map'} ${k} req/s`, ratio: round(f / k) });
      }
    const plot: Plot = {
      file: 'e2e-rps-vs-services.svg',
      title: 'Requests/s to the last service vs services configured (wrk, one request per connection)',
      xLabel: 'services',
      yLabel: 'requests/s',
      logX: true,
      series: [
        { name: 'fullnat', points: svc.fullnat },
        { name: 'nftables, one DNAT rule per service', points: svc['nft-list'] },
        { name: 'nftables, one verdict map', points: svc['nft-map'] },
      ],
    };
    return {
      scenario: 'e2e',
      figures: {
        e2e_tcp_ratio_vs_nftables: round(tcpRatio),
        e2e_rps_ratio_vs_nftables: round(rpsRatio),
        fullnat_tcp_gbps: round(best(tcp.fullnat!)),
        nftables_tcp_gbps: round(best(tcp.nftables!)),
        fullnat_rps: round(best(rps.fullnat!)),
        nftables_rps: round(best(rps.nftables!)),
        [`rps_ratio_vs_nft_list_${sizes[sizes.length - 1]}_services`]: round(last('fullnat') / last('nft-list')),
        [`rps_ratio_vs_nft_map_${sizes[sizes.length - 1]}_services`]: round(last('fullnat') / last('nft-map')),
      },
      rows,
      plots: [plot],
      notes: [
        `Namespaces and veths made by the run (src/demo/topology.ts), offloads off on every veth; one iperf3 stream and wrk -t1 -c16 for ${seconds} s (services: ${svcSeconds} s, after 1 s of warm-up); best of ${reps} alternating round(s) per mode and size.`,
        'fullnat: the real gateway process on net_af_packet, the demo settings (one worker, idle_sleep_us 50). nftables: the gateway namespace\'s kernel with the VIP on gw0 and the LIP on gw1, DNAT in prerouting and SNAT to the LIP in postrouting.',
        'On 2 CPUs the client, the server and the gateway share the cores: these are ratios within one run, not absolutes.',
        'The HTTP server closes every connection after one answer, so requests/s is also new connections/s through the gateway (nftables NAT rules are evaluated per new connection).',
      ],
      details: { tcp_gbps: tcp, rps, wrk_errors: errors, services_rps: Object.fromEntries(svcRuns), medians: { tcp_fullnat: median(tcp.fullnat!), tcp_nftables: median(tcp.nftables!) } },
    };
  } finally {
    await b.close();
    await topo.destroy();
  }
}
