// Packet-table builders in Katran's style, shared by the packet tests and the
// bench: a fixture is an input frame on a port and the frame expected out of a
// port (or a drop), with a one-line description and exact counter deltas.
//
// The packet tests run whole tables through the data plane (test/packet/
// fixtures.ts); the bench replays the inputs of tcpConnection() for millions
// of flows. Every frame is built by test/lib/packet.ts, the oracle.
import { buildTcp, buildUdp } from './packet';

/**
 * A ring port's MAC: the ring PMD has none, so the data plane gives port
 * index i the locally administered 02:66:6e:00:00:<i> (native/dp/port.c).
 * Tables are built from these at module load; the packet harness checks
 * every started ring port against them, so a change in port.c shows there.
 */
export function ringPortMac(index: number): string {
  return `02:66:6e:00:00:${index.toString(16).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

export type Expected =
  /** One frame leaves `outPort` and equals `frame` in every parsed field. */
  | { outPort: string; frame: Buffer }
  /** Nothing leaves any port; counter `dropped` goes up by exactly one. */
  | { dropped: string };

export interface Fixture {
  description: string;
  inPort: string;
  input: Buffer;
  expected: Expected;
  /**
   * Exact counter deltas this input must cause. Every counter in
   * PATH_COUNTERS (test/packet/fixtures.ts) not named here must not move (a
   * drop's own counter defaults to 1), and rx_packets must move by exactly
   * 1. sessions_expired and sessions_active are only checked when named (the
   * sweeper moves them).
   */
  counters?: Record<string, number>;
}

export interface Host {
  ip: string;
  mac: string;
}

/** One side of a forwarded packet: Ethernet and IPv4/L4 endpoints. */
export interface Ends {
  ethSrc: string;
  ethDst: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

/** The same endpoints seen from the other end (the answer's direction). */
export function reverse(e: Ends): Ends {
  return { ethSrc: e.ethDst, ethDst: e.ethSrc, src: e.dst, dst: e.src, sport: e.dport, dport: e.sport };
}

// ---------------------------------------------------------------------------
// Forwarded-packet fixtures: the same segment on both sides, endpoints and
// TTL as the translation says.
// ---------------------------------------------------------------------------

/** Everything in a TCP segment but the endpoints and the TTL (unchanged by the gateway). */
export interface TcpSeg {
  flags: string;
  seq: number;
  ack: number;
  window: number;
  id: number;
  tos: number;
  dontFragment: boolean;
  urgentPointer: number;
  tcpOptions: Buffer;
  ipOptions: Buffer;
  payload: Buffer;
}

/** Shared by every segment without options or payload: nothing can write into 0 bytes. */
const NONE = Buffer.alloc(0);

export function seg(o: Partial<TcpSeg> & Pick<TcpSeg, 'flags' | 'seq' | 'ack' | 'id'>): TcpSeg {
  return {
    window: 64240,
    tos: 0,
    dontFragment: true,
    urgentPointer: 0,
    tcpOptions: NONE,
    ipOptions: NONE,
    payload: NONE,
    ...o,
  };
}

/** A TCP packet in on one side, out translated on the other: same segment, TTL one less. */
export function tcpFx(description: string, inPort: string, from: Ends, outPort: string, to: Ends, s: TcpSeg, counters: Record<string, number>, ttl = 64): Fixture {
  return {
    description,
    inPort,
    input: buildTcp({ ...from, ...s, ttl }),
    expected: { outPort, frame: buildTcp({ ...to, ...s, ttl: ttl - 1 }) },
    counters,
  };
}

export interface UdpDgram {
  id: number;
  tos: number;
  dontFragment: boolean;
  payload: Buffer;
  zeroChecksum: boolean;
}

export function dgram(o: Partial<UdpDgram> & Pick<UdpDgram, 'id' | 'payload'>): UdpDgram {
  return { tos: 0, dontFragment: false, zeroChecksum: false, ...o };
}

export function udpFx(description: string, inPort: string, from: Ends, outPort: string, to: Ends, d: UdpDgram, counters: Record<string, number>, ttl = 64): Fixture {
  return {
    description,
    inPort,
    input: buildUdp({ ...from, ...d, ttl }),
    expected: { outPort, frame: buildUdp({ ...to, ...d, ttl: ttl - 1 }) },
    counters,
  };
}

export function drop(description: string, inPort: string, input: Buffer, counter: string, counters?: Record<string, number>): Fixture {
  return { description, inPort, input, expected: { dropped: counter }, counters };
}

// ---------------------------------------------------------------------------
// A whole TCP connection, as plain data: what the bench replays per flow
// ---------------------------------------------------------------------------

/** A TCP fixture before its frames are built (the bench builds only inputs). */
export interface TcpStep {
  description: string;
  inPort: string;
  from: Ends;
  outPort: string;
  to: Ends;
  seg: TcpSeg;
  counters: Record<string, number>;
}

/**
 * The frame a step sends in (TTL 64). Fields are copied one by one: the
 * bench builds millions of these, and buildTcp on an object made by
 * spreading two others runs several times slower.
 */
export function stepInput(s: TcpStep): Buffer {
  const e = s.from;
  const g = s.seg;
  return buildTcp({
    ethSrc: e.ethSrc,
    ethDst: e.ethDst,
    src: e.src,
    dst: e.dst,
    sport: e.sport,
    dport: e.dport,
    flags: g.flags,
    seq: g.seq,
    ack: g.ack,
    window: g.window,
    id: g.id,
    tos: g.tos,
    dontFragment: g.dontFragment,
    urgentPointer: g.urgentPointer,
    tcpOptions: g.tcpOptions,
    ipOptions: g.ipOptions,
    payload: g.payload,
    ttl: 64,
  });
}

export function stepFx(s: TcpStep): Fixture {
  return tcpFx(s.description, s.inPort, s.from, s.outPort, s.to, s.seg, s.counters);
}

/**
 * One flow through the gateway: the client's packets arrive on `clientPort`
 * as `client` (client -> VIP), the server's on `serverPort` as `server`
 * (real server -> LIP, or -> the client in NAT mode). Each leaves the other
 * port as the other side's endpoints reversed.
 */
export interface Flow {
  clientPort: string;
  client: Ends;
  serverPort: string;
  server: Ends;
}

export interface Isn {
  client: number;
  server: number;
}

/** A 64-byte frame's segment: no options, no payload, window 65535, IPv4 id 1, DF. */
function shortSeg(flags: string, seq: number, ack: number): TcpSeg {
  return { flags, seq, ack, id: 1, window: 65535, tos: 0, dontFragment: true, urgentPointer: 0, tcpOptions: NONE, ipOptions: NONE, payload: NONE };
}

/**
 * The steps of a short TCP connection with 64-byte frames (shortSeg):
 * handshake, one ACK each way while established, the client closing first.
 * Counter deltas are those of a session that is never expired meanwhile.
 * Each step is built when read: the bench reads one step of each of
 * millions of flows per pump.
 */
export function tcpConnection(f: Flow, isn: Isn) {
  const c = isn.client;
  const s = isn.server;
  const toServer = (description: string, flags: string, seq: number, ack: number, counters: Record<string, number> = { fwd_to_server: 1 }): TcpStep => ({
    description,
    inPort: f.clientPort,
    from: f.client,
    outPort: f.serverPort,
    to: reverse(f.server),
    seg: shortSeg(flags, seq, ack),
    counters,
  });
  const toClient = (description: string, flags: string, seq: number, ack: number): TcpStep => ({
    description,
    inPort: f.serverPort,
    from: f.server,
    outPort: f.clientPort,
    to: reverse(f.client),
    seg: shortSeg(flags, seq, ack),
    counters: { fwd_to_client: 1 },
  });
  return {
    get syn() {
      return toServer('client SYN makes the session', 'S', c, 0, { fwd_to_server: 1, sessions_created: 1 });
    },
    get synAck() {
      return toClient('server SYN-ACK', 'SA', s, c + 1);
    },
    /** The handshake's last ACK, and the client's packet while established. */
    get ack() {
      return toServer('client ACK', 'A', c + 1, s + 1);
    },
    /** The server's packet while established. */
    get serverAck() {
      return toClient('server ACK', 'A', s + 1, c + 1);
    },
    get fin() {
      return toServer('client FIN', 'FA', c + 1, s + 1);
    },
    get finAck() {
      return toClient('server FIN-ACK', 'FA', s + 1, c + 2);
    },
    get lastAck() {
      return toServer('client last ACK', 'A', c + 2, s + 2);
    },
  };
}

export type TcpConnection = ReturnType<typeof tcpConnection>;
