// The bench's address plan and gateway configs. Everything is inside
// 198.18.0.0/15 and only ever exists on ring ports inside the bench process.
//
// Flow i: client CIP(i):CPORT(i) -> service i % S (VIP(s):VPORT(s)), one real
// server RS:8080 for every service. The i-th session created gets LIP
// (i mod L) and local port 1024 + floor(i / L): one worker hands a pool's
// LIPs out round-robin and each LIP's ports in FIFO order (native/dp/lport.c),
// and the bench sizes L so no port is ever handed out twice in a run. The
// setup checks the prediction: every reply must find its session.
import type { ConfigInput } from '../src/config/schema';
import type { Config } from '../src/config/schema';
import { ipNum, ipStr } from './frames';
import type { Flow } from '../test/lib/packet-table';
import { SESSION_BYTES } from '../src/plan/build';
import { validConfig } from './gateway';
import { HUGEPAGES_ENV } from './hugepages';

export const WAN_IP = '198.18.0.254';
export const LAN_IP = '198.19.0.254';
export const CLIENT_MAC = '02:00:00:00:01:01';
export const RS_IP = ipNum('198.19.0.2');
export const RS_MAC = '02:00:00:00:02:02';
export const RS_PORT = 8080;
const CLIENT_BASE = ipNum('198.18.16.0');
const VIP_BASE = ipNum('198.18.2.0');
const LIP_BASE = ipNum('198.19.16.0');
export const PORTS_PER_CLIENT = 64000;
export const LPORT_LO = 1024;
export const LPORT_HI = 65535;
export const LPORTS_PER_LIP = LPORT_HI - LPORT_LO + 1;
/** The largest point (the data plane takes up to FN_MAX_SVC = 262144). */
export const MAX_SERVICES = 100_000;

export const cip = (i: number) => (CLIENT_BASE + Math.floor(i / PORTS_PER_CLIENT)) >>> 0;
export const cport = (i: number) => 1024 + (i % PORTS_PER_CLIENT);
export const vip = (s: number) => (VIP_BASE + Math.floor(s / 1000)) >>> 0;
export const vport = (s: number) => 1000 + (s % 1000);
export const lipAddr = (j: number) => (LIP_BASE + j) >>> 0;

export interface Shape {
  /** Ring device suffix (one gateway per process, so any name works). */
  tag: string;
  proto: 'tcp' | 'udp';
  services: number;
  /** Sessions the run creates in total (sizes the LIP pool). */
  allocations: number;
  sessionsMax: number;
  nat: boolean;
  timeouts?: Partial<Record<'tcp_syn' | 'tcp_established' | 'tcp_fin' | 'tcp_time_wait' | 'tcp_close' | 'udp', number>>;
  mbufs?: number;
  /** Gateway ports as net_memif servers on this socket (a generator process connects) instead of ring ports. */
  memifSocket?: string;
  /** 2 MiB hugepages (the bench reserved them, bench/hugepages.ts) instead of --no-huge; default: whatever the run has. */
  hugepages?: boolean;
}

/** Whether this bench run has hugepages reserved for its children. */
export const runHasHugepages = (): boolean => process.env[HUGEPAGES_ENV] === '1';

export function lipCount(allocations: number): number {
  return Math.max(1, Math.ceil(allocations / LPORTS_PER_LIP));
}

/** Which LIP and local port the g-th session created gets (see the file comment). */
export function lipOf(g: number, lips: number): { ip: number; port: number } {
  return { ip: lipAddr(g % lips), port: LPORT_LO + Math.floor(g / lips) };
}

/** Initial sequence numbers of every bench connection (client, server). */
export const ISN = { client: 1000, server: 5000 };

/**
 * Flow i as the packet tables take it: the client's packets in on wan to
 * service i % services, the server's in on lan to the LIP:lport lipOf
 * predicts (to the client itself in NAT mode). Port MACs are the running
 * gateway's (ring ports or memif).
 */
export function benchFlow(i: number, o: { services: number; nat: boolean; lips: number; wanMac: string; lanMac: string }): Flow {
  const s = i % o.services;
  const back = o.nat ? { ip: cip(i), port: cport(i) } : lipOf(i, o.lips);
  return {
    clientPort: 'wan',
    client: { ethSrc: CLIENT_MAC, ethDst: o.wanMac, src: ipStr(cip(i)), dst: ipStr(vip(s)), sport: cport(i), dport: vport(s) },
    serverPort: 'lan',
    server: { ethSrc: RS_MAC, ethDst: o.lanMac, src: ipStr(RS_IP), dst: ipStr(back.ip), sport: RS_PORT, dport: back.port },
  };
}

const MBUF_BYTES = 2432;
const BASE_MB = 48;
// The plan's estimate per session plus the persistence table the data plane
// allocates for every session (≤ 16, native/dp/persist.c), which
// SESSION_BYTES does not count, and the rounding of its power-of-two tables.
const SESSION_BYTES_MAX = SESSION_BYTES + 16 + 16;

export function gatewayConfig(s: Shape): { cfg: Config; lips: number } {
  const lips = lipCount(s.allocations);
  if (lips > 4096) throw new Error(`bench: ${s.allocations} sessions need ${lips} LIPs, more than the data plane's 4096`);
  if (s.services > MAX_SERVICES) throw new Error(`bench: at most ${MAX_SERVICES} services (one real-server id each)`);
  const ipText = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  const mbufs = s.mbufs ?? 16383;
  const memory = Math.ceil(BASE_MB + 64 + (mbufs * 2 * MBUF_BYTES + s.sessionsMax * SESSION_BYTES_MAX) / (1 << 20));
  const services: NonNullable<ConfigInput['services']> = [];
  for (let k = 0; k < s.services; k++) {
    services.push({
      name: `s${k}`,
      vip: ipText(vip(k)),
      port: vport(k),
      protocol: s.proto,
      forwarding: s.nat ? 'nat' : 'fullnat',
      local_addresses: 'pool',
      real_servers: [{ address: ipText(RS_IP), port: RS_PORT }],
    });
  }
  const input: ConfigInput = {
    dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: memory, hugepages: s.hugepages ?? runHasHugepages(), mbufs, idle_sleep_us: 0, rx_desc: 1024, tx_desc: 1024 },
    ports: [
      { name: 'wan', device: s.memifSocket ? `net_memif0,role=server,socket=${s.memifSocket},id=0` : `ring:bw${s.tag}`, addresses: [`${WAN_IP}/16`] },
      { name: 'lan', device: s.memifSocket ? `net_memif1,role=server,socket=${s.memifSocket},id=1` : `ring:bl${s.tag}`, addresses: [`${LAN_IP}/16`] },
    ],
    local_addresses: {
      pool: { port: 'lan', addresses: Array.from({ length: lips }, (_, j) => ipText(lipAddr(j))), ports: [LPORT_LO, LPORT_HI] },
    },
    // Handshakes are set up in bulk: no half-open limit below the table size.
    sessions: { max: Math.max(16, s.sessionsMax), max_half_open: Math.max(16, s.sessionsMax), timeouts: s.timeouts ?? {} } as NonNullable<ConfigInput['sessions']>,
    services,
    stats: { interval_s: 0, listen: null },
  };
  try {
    return { cfg: validConfig(input), lips };
  } catch (e) {
    // A tree without sessions.max_half_open: the same config without it.
    if (!/max_half_open|Unrecognized key/.test(String(e))) throw e;
    delete (input.sessions as Record<string, unknown>).max_half_open;
    return { cfg: validConfig(input), lips };
  }
}
