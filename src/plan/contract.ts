// The contract between the plan and the data plane: what buildPlan produces
// and start()/apply() take (mirrors native/include/fn_plan.h and fn_dp.h).
import { CONSTANTS } from '../generated/consts';

/** One port as the data plane starts it. Addresses are host-order uint32. */
export interface NativePort {
  name: string;
  device: string; // ethdev name (vdev name or PCI address) or ring name
  ring: boolean;
  addresses: { ip: number; prefix: number }[];
  /** Reply steering requested for this port. */
  steering: 'auto' | 'flow' | 'redirect';
  /** Kernel (tap) interface for the exception path, or null for none. */
  kernelInterface: string | null;
}

/** What cannot change while running (EAL, ports, memory). */
export interface NativeStartConfig {
  ports: NativePort[];
  workerLcores: number[];
  mbufs: number;
  rxDesc: number;
  txDesc: number;
  sessionsMax: number; // per worker
  idleSleepUs: number;
  /** Bench baseline only: workers swap MACs and send back, no NAT. */
  l2fwd?: boolean;
}

/** Timeout slots, in the order the data plane expects them (enum fn_timeout, native/include/fn_consts.h). */
export const TIMEOUT_ORDER = CONSTANTS.timeouts;

/** The forwarding plan. All addresses and ports host order; indices are array positions. */
export interface NativePlan {
  services: {
    vip: number;
    port: number;
    proto: number;
    id: number;
    schedFirst: number;
    schedLen: number;
    pool: number;
    /** 0 cursor (rr, wrr), 1 hash of client address, 2 hash of address+port, 3 least sessions. */
    schedKind: number;
    hashSeed: number;
    persistS: number; // 0: no persistence
    persistPrefix: number;
    rsFirst: number;
    rsCount: number;
    /** NAT mode (DNAT only): the client address stays; no LIP. */
    nat: boolean;
    /** SYN proxy (TCP): handshakes answered with SYN cookies, the server connection opened after the client's ACK. */
    synProxy: boolean;
    maxConn: number; // 0: no limit
    aclFirst: number;
    aclCount: number;
    aclDefaultAllow: boolean;
    /** Servers with weight > 0 (0: new flows are refused at once, without walking the table). */
    rsUsable: number;
  }[];
  /** weight: effective (0 when down or drained); lc/wlc compare sessions per weight. */
  realServers: { ip: number; port: number; id: number; portIdx: number; nexthop: number; weight: number; maxConn: number }[];
  /** Allow/deny rules, sliced per service; the first match decides. */
  acl: { net: number; prefix: number; allow: boolean }[];
  /** TCP sessions in SYN states over all workers; 0: no limit. */
  halfOpenMax: number;
  /** At that limit: true drops the new SYN; false ends the oldest half-open session. */
  halfOpenDropNew: boolean;
  /** Sessions per client address over all workers; 0: no limit. */
  maxPerClient: number;
  /** ICMP errors the gateway originates (time exceeded), per second per worker; 0: none. */
  icmpRate: number;
  /** Client-side frag needed below this next-hop MTU is not relayed to servers; 0: no floor. */
  icmpMinPathMtu: number;
  /** ICMP errors per second per worker that may go round the workers to find their session; 0: none. */
  icmpHandOnRate: number;
  /** ICMP echo and kernel-bound frames each worker passes to the control thread, per second (>= 1). */
  controlRate: number;
  /** Each port's first address (source of those errors), by port index; 0: none. */
  portAddrs: Uint32Array;
  sched: Uint32Array; // indices into realServers
  lips: { ip: number; portIdx: number; lo: number; hi: number }[];
  pools: { first: number; count: number }[];
  poolLips: Uint32Array; // indices into lips
  locals: { ip: number; arpPorts: number; lip: boolean; kernel: boolean }[]; // arpPorts: bit per port index
  timeouts: number[]; // seconds, TIMEOUT_ORDER
  /** Real-server ids whose sessions end (TCP: RST to the sender) at their next packet. */
  resetRealServers?: number[];
}
