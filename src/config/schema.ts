// The config schema (zod): field types, ranges and defaults, unknown keys
// rejected; plus checkConfig(), the cross-field rules that need the whole file.
import { z } from 'zod';
import { formatPath } from './errors';
import { formatIPv4, formatNetwork, inSubnet, isCidr, isIPv4, parseCidr, parseIPv4 } from './net';
import { isPrime } from './prime';

// Messages are written "expected …, got …"; load.ts prefixes file:line:col and path.
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (typeof v === 'object') return 'a map';
  return typeof v;
}

function rangeText(lo: number, hi: number): string {
  return hi === Number.MAX_SAFE_INTEGER ? `>= ${lo}` : `in ${lo}..${hi}`;
}

/** An integer in [lo, hi]; non-numbers fail zod's own type check ("expected number"). */
function int(lo: number, hi: number = Number.MAX_SAFE_INTEGER) {
  return z.number().superRefine((n, ctx) => {
    if (!Number.isInteger(n) || n < lo || n > hi) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected an integer ${rangeText(lo, hi)}, got ${describeValue(n)}` });
    }
  });
}

function powerOfTwo(lo: number, hi: number) {
  return z.number().superRefine((n, ctx) => {
    if (!Number.isInteger(n) || n < lo || n > hi || (n & (n - 1)) !== 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a power of two in ${lo}..${hi}, got ${describeValue(n)}` });
    }
  });
}

function pattern(re: RegExp, what: string) {
  return z.string().superRefine((s, ctx) => {
    if (!re.test(s)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected ${what}, got ${describeValue(s)}` });
  });
}

const ipv4 = z.string().superRefine((s, ctx) => {
  if (!isIPv4(s)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected an IPv4 address like 198.18.0.1, got ${describeValue(s)}` });
});

/** An interface address: host address plus prefix length. */
const hostCidr = z.string().superRefine((s, ctx) => {
  if (!isCidr(s)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected an IPv4 address with prefix length like 198.18.0.254/24, got ${describeValue(s)}` });
    return;
  }
  const c = parseCidr(s);
  const broadcast = (c.network | ~c.mask) >>> 0;
  // /31 and /32 have no network or broadcast address (RFC 3021).
  if (c.prefixLen <= 30 && (c.addr === c.network || c.addr === broadcast)) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `expected a host address with prefix length (not the network or broadcast address of ${formatNetwork(c)}), got ${describeValue(s)}`,
    });
  }
});

/** A destination network: host bits must be zero, so the meaning is unambiguous. */
const networkCidr = z.string().superRefine((s, ctx) => {
  if (!isCidr(s)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a network like 198.18.1.0/24, got ${describeValue(s)}` });
    return;
  }
  const c = parseCidr(s);
  if (c.addr !== c.network) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a network with host bits zero (${formatNetwork(c)}), got ${describeValue(s)}` });
  }
});

const l4port = int(1, 65535);

// --- devices ----------------------------------------------------------------

const PCI_RE = /^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/;
const VDEV_RE = /^(net_[A-Za-z0-9_]+)(?:,[A-Za-z0-9_]+=[^,\s]*)*$/;
const RING_RE = /^ring:([A-Za-z0-9_-]{1,32})$/;

export type DeviceKind = 'pci' | 'vdev' | 'ring';

/**
 * Classifies a port's device string and gives the identity two ports must not
 * share: the canonical PCI address, the vdev name (args ignored: EAL refuses
 * two vdevs of one name), or the ring name. Null when the string is none of these.
 */
export function parseDevice(device: string): { kind: DeviceKind; id: string } | null {
  let m = PCI_RE.exec(device);
  if (m) return { kind: 'pci', id: `${(m[1] ?? '0000').toLowerCase()}:${m[2]!.toLowerCase()}:${m[3]!.toLowerCase()}.${m[4]}` };
  m = VDEV_RE.exec(device);
  if (m) return { kind: 'vdev', id: m[1]! };
  m = RING_RE.exec(device);
  if (m) return { kind: 'ring', id: m[1]! };
  return null;
}

const device = z.string().superRefine((s, ctx) => {
  if (!parseDevice(s)) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `expected a PCI address (0000:03:00.0), a vdev ("net_af_packet0,iface=gw0") or "ring:NAME", got ${describeValue(s)}`,
    });
  }
});

// --- sections ---------------------------------------------------------------

const PORT_NAME = /^[a-z][a-z0-9_-]{0,15}$/;
const OBJ_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const lcoresSchema = z
  .object({
    main: int(0),
    workers: z.array(int(0)).min(1),
    // Optional lcore -> CPU placement (EAL --lcores), e.g. to run several
    // workers on fewer CPUs in tests. Without it lcore N runs on CPU N.
    cpus: z.record(z.string(), int(0)).nullable().default(null),
  })
  .strict()
  .superRefine((l, ctx) => {
    const all = new Set([l.main, ...l.workers]);
    for (const k of Object.keys(l.cpus ?? {})) {
      if (!/^\d+$/.test(k) || !all.has(Number(k))) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['cpus', k], message: `expected the main or a worker lcore as key, got ${describeValue(k)}` });
      }
    }
    const seen = new Set<number>();
    l.workers.forEach((w, i) => {
      if (w === l.main) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['workers', i], message: `expected a worker lcore other than the main lcore ${l.main}, got ${w}` });
      } else if (seen.has(w)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['workers', i], message: `expected unique worker lcores, got ${w} twice` });
      }
      seen.add(w);
    });
  });

const dpdkSchema = z
  .object({
    lcores: lcoresSchema,
    memory_mb: int(64, 1048576).default(512),
    hugepages: z.boolean().default(false),
    file_prefix: pattern(/^[A-Za-z0-9_-]{1,32}$/, 'a file prefix of 1-32 characters [A-Za-z0-9_-]').nullable().default(null),
    mbufs: int(1023).default(16383),
    rx_desc: powerOfTwo(64, 16384).default(1024),
    tx_desc: powerOfTwo(64, 16384).default(1024),
    idle_sleep_us: int(0, 100000).default(0),
    extra_args: z.array(z.string()).default(() => []),
  })
  .strict();

const portSchema = z
  .object({
    name: pattern(PORT_NAME, 'a port name matching [a-z][a-z0-9_-]{0,15}'),
    device,
    addresses: z.array(hostCidr).default(() => []),
    // How replies reach the worker owning their session (multi-worker only):
    // flow rules if the port accepts them, else software redirect.
    steering: z.enum(['auto', 'flow', 'redirect']).default('auto'),
    // The port's kernel interface (a tap with the port's MAC and addresses)
    // for the gateway's own traffic: health checks, management. null: named
    // fn-<port> (none for ring test ports); false: no kernel interface.
    kernel_interface: z
      .union([z.literal(false), pattern(/^[A-Za-z0-9_.-]{1,15}$/, 'an interface name of 1-15 characters')])
      .nullable()
      .default(null),
  })
  .strict();

const routeSchema = z
  .object({
    to: networkCidr,
    via: ipv4,
    port: z.string(),
  })
  .strict();

const poolSchema = z
  .object({
    port: z.string(),
    addresses: z
      .array(ipv4)
      .min(1)
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((a, i) => {
          if (seen.has(a)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: `expected unique addresses, got ${a} twice` });
          seen.add(a);
        });
      }),
    ports: z
      .tuple([l4port, l4port])
      .superRefine(([lo, hi], ctx) => {
        if (lo > hi) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected [lo, hi] with lo <= hi, got [${lo}, ${hi}]` });
      })
      .default((): [number, number] => [1024, 65535]),
  })
  .strict();

const timeoutsSchema = z
  .object({
    tcp_syn: int(1).default(30),
    tcp_established: int(1).default(900),
    tcp_fin: int(1).default(30),
    tcp_time_wait: int(1).default(5),
    tcp_close: int(1).default(5),
    udp: int(1).default(60),
  })
  .strict();

const sessionsSchema = z
  .object({
    max: int(16, 100000000).default(1048576),
    // TCP sessions still in the handshake (SYN floods), over all workers;
    // null: a quarter of max, and at most half the local ports of the
    // smallest LIP pool (src/plan/build.ts). New flows beyond it are dropped
    // and counted.
    max_half_open: int(1, 100000000).nullable().default(null),
    // At that limit, and when a LIP pool has no free port: end the oldest
    // half-open session to admit the new flow (a flood cycles through the
    // bound; real clients still get in), or drop the new flow
    // (drop_half_open_limit, drop_lport_exhausted) until one completes or ages out.
    half_open_full: z.enum(['evict_oldest', 'drop_new']).default('evict_oldest'),
    // Sessions one client address may hold over all services and workers
    // (each worker its share, rounded up); 0: no limit. Counted as
    // drop_client_limit. Off by default: one address may be a whole NAT.
    max_per_client: int(0, 100000000).default(0),
    timeouts: timeoutsSchema.default({}),
  })
  .strict();

// Active health checks (see docs/health.md); defaults match HEALTH_CHECK_DEFAULTS.
const httpCheckSchema = z
  .object({
    // The same rules the health engine enforces (they reach the wire as is).
    path: pattern(/^\/[^\x00-\x20\x7f]*$/, 'a path starting with "/" without spaces or control characters'),
    status: int(100, 599),
    body: z.string().nullable(),
    host: pattern(/^[^\x00-\x20\x7f]+$/, 'a host name without spaces or control characters').nullable(),
  })
  .strict();
const healthFields = {
  type: z.enum(['tcp', 'http']),
  interval_s: z.number().positive().max(3600),
  timeout_ms: int(1, 600000),
  rise: int(1, 1000),
  fall: int(1, 1000),
  port: l4port.nullable(), // probe another port than the server's; null: the server's
  http: httpCheckSchema.partial(),
};
const healthSchema = z.object(healthFields).partial().strict();
export type HealthConfig = z.infer<typeof healthSchema>;

const realServerSchema = z
  .object({
    address: ipv4,
    port: l4port,
    weight: int(0, 65535).default(1),
    // Sessions this server may hold over all workers; 0: no limit. A full
    // server is passed over by the scheduler.
    max_conn: int(0, 100000000).default(0),
    // Overrides the service's health check for this server; false: never checked.
    health: z.union([z.literal(false), healthSchema]).nullable().default(null),
  })
  .strict();

const serviceSchema = z
  .object({
    name: pattern(OBJ_NAME, 'a name matching [A-Za-z0-9][A-Za-z0-9_.-]{0,63}'),
    vip: ipv4,
    port: l4port,
    protocol: z.enum(['tcp', 'udp']),
    // rr, wrr: round robin (smooth weighted); lc, wlc: least sessions (per
    // weight); sh: source hash; mh: Maglev consistent hashing.
    scheduler: z.enum(['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh']).default('rr'),
    // sh and mh: what is hashed (address: the client address; flow: address
    // and port) and the seed; the same config picks the same server on every gateway.
    hash_fields: z.enum(['address', 'flow']).nullable().default(null),
    hash_seed: int(0, 0xffffffff).default(0),
    // mh: Maglev table size, a prime (the paper uses 65537 and 655373).
    maglev_size: int(7, 10000019)
      .superRefine((n, ctx) => {
        if (Number.isInteger(n) && !isPrime(n)) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a prime table size (65537, 655373, ...), got ${n}` });
        }
      })
      .default(65537),
    // Like ipvsadm -p: the same client network reaches the same server while
    // it keeps opening connections within timeout_s.
    persistence: z.object({ timeout_s: int(1, 86400 * 7), netmask: int(0, 32).default(32) }).strict().nullable().default(null),
    // When a reload removes a real server: its sessions drain (run until they
    // end) or are reset (TCP RST to whichever side speaks next).
    removed_servers: z.enum(['drain', 'reset']).default('drain'),
    // fullnat: SNAT to a LIP + DNAT. nat: DNAT only (LVS NAT): the servers
    // must route replies back through the gateway; FullNAT's cost is
    // benchmarked against it.
    forwarding: z.enum(['fullnat', 'nat']).default('fullnat'),
    // TCP only: the gateway answers handshakes itself with SYN cookies and
    // opens the server connection after the client's ACK (docs/config.md).
    syn_proxy: z.boolean().default(false),
    // Sessions the service may hold over all workers; 0: no limit.
    max_conn: int(0, 100000000).default(0),
    // Client filters: a client in a deny network is dropped; with an allow
    // list, only clients in it are served. Counted as drop_acl.
    allow: z.array(networkCidr).default(() => []),
    deny: z.array(networkCidr).default(() => []),
    // Health checks for every server of the service; null: none (servers count as up).
    health: healthSchema.nullable().default(null),
    local_addresses: z.string(),
    real_servers: z
      .array(realServerSchema)
      .min(1)
      .superRefine((list, ctx) => {
        const seen = new Map<string, number>();
        list.forEach((rs, i) => {
          const key = `${rs.address}:${rs.port}`;
          const first = seen.get(key);
          if (first !== undefined) {
            ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: `expected unique (address, port), got ${key} again (first at real_servers[${first}])` });
          } else seen.set(key, i);
        });
      }),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.syn_proxy && s.protocol !== 'tcp') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['syn_proxy'], message: `expected false for a ${s.protocol} service (a SYN proxy is TCP only), got true` });
    }
  });

export const DEFAULT_CONTROL_SOCKET = '/run/fullnat/fullnat.sock';

export const configSchema = z
  .object({
    dpdk: dpdkSchema,
    ports: z.array(portSchema).min(1),
    routes: z.array(routeSchema).default(() => []),
    local_addresses: z.record(pattern(OBJ_NAME, 'a pool name matching [A-Za-z0-9][A-Za-z0-9_.-]{0,63}'), poolSchema).default(() => ({})),
    sessions: sessionsSchema.default({}),
    services: z.array(serviceSchema).default(() => []),
    // ICMP errors the gateway originates itself (time exceeded for TTL <= 1),
    // at most this many per second per worker; 0: never sent. Errors it
    // relays: client-side frag needed below min_path_mtu is not passed on
    // (0: no floor); hand_on_rate_per_s bounds, per worker, the errors that
    // go round the workers looking for their session (0: none go round).
    icmp: z
      .object({
        rate_per_s: int(0, 1000000).default(100),
        min_path_mtu: int(0, 65535).default(1280),
        hand_on_rate_per_s: int(0, 1000000).default(1000),
      })
      .strict()
      .default({}),
    stats: z
      .object({
        interval_s: int(0, 3600).default(10),
        // Prometheus metrics (GET /metrics); null: off. Read-only, but a
        // non-loopback address must be allowed explicitly.
        listen: pattern(/^(\d{1,3}(\.\d{1,3}){3}):(\d{1,5})$/, 'ADDRESS:PORT like 127.0.0.1:9901').nullable().default('127.0.0.1:9901'),
        allow_remote: z.boolean().default(false),
      })
      .strict()
      .superRefine((s, ctx) => {
        if (s.listen && !s.listen.startsWith('127.') && !s.allow_remote) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ['listen'],
            message: `expected a loopback address (127.0.0.0/8) unless stats.allow_remote is true, got ${describeValue(s.listen)}`,
          });
        }
      })
      .default({}),
    control: z
      .object({
        socket: pattern(/^\/.{1,100}$/, 'an absolute path for a unix socket').default(DEFAULT_CONTROL_SOCKET),
        // ICMP echo and kernel-bound frames (health checks, management) each
        // worker passes to the control thread per second; a flood beyond it
        // is dropped on the worker and cannot crowd out ARP or health checks.
        rate_per_s: int(1, 10000000).default(10000),
      })
      .strict()
      .default({}),
    log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') }).strict().default({}),
  })
  .strict();

/** The validated config, defaults applied (the loader returns it deep-frozen). */
export type Config = z.infer<typeof configSchema>;
/** What may be written in the file (defaulted keys optional). */
export type ConfigInput = z.input<typeof configSchema>;

export type ConfigPath = (string | number)[];
export interface RuleIssue {
  path: ConfigPath;
  message: string;
}

// --- cross-field rules --------------------------------------------------------

function names(list: string[]): string {
  return list.length ? list.join(', ') : 'none defined';
}

/** Reports the second and later occurrences of a key, naming the first. */
function duplicates<T>(items: T[], key: (t: T) => string | null, at: (i: number) => ConfigPath, what: string, out: RuleIssue[]): void {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item);
    if (k === null) return;
    const f = first.get(k);
    if (f === undefined) first.set(k, i);
    else out.push({ path: at(i), message: `expected a unique ${what}, got ${k} again (first at ${formatPath(at(f))})` });
  });
}

/**
 * Rules across sections. Runs only on a config that passed the schema, so
 * every address here is known to parse.
 */
export function checkConfig(cfg: Config): RuleIssue[] {
  const out: RuleIssue[] = [];
  const portNames = cfg.ports.map((p) => p.name);
  const poolNames = Object.keys(cfg.local_addresses);

  duplicates(cfg.ports, (p) => JSON.stringify(p.name), (i) => ['ports', i, 'name'], 'port name', out);
  duplicates(
    cfg.ports,
    (p) => {
      const d = parseDevice(p.device);
      return d ? `${d.kind} ${JSON.stringify(d.id)}` : null;
    },
    (i) => ['ports', i, 'device'],
    'device',
    out,
  );

  cfg.services.forEach((s, i) => {
    if (s.scheduler === 'mh' && s.maglev_size < s.real_servers.length) {
      out.push({ path: ['services', i, 'maglev_size'], message: `expected a Maglev table at least as large as the ${s.real_servers.length} real servers, got ${s.maglev_size}` });
    }
  });

  // Subnets directly attached to ports, for route gateways and RS reachability.
  const attached = cfg.ports.flatMap((p) => p.addresses.map((a) => ({ port: p.name, cidr: parseCidr(a) })));

  cfg.routes.forEach((r, i) => {
    if (!portNames.includes(r.port)) {
      out.push({ path: ['routes', i, 'port'], message: `expected the name of a port (${names(portNames)}), got ${describeValue(r.port)}` });
      return;
    }
    const own = attached.filter((s) => s.port === r.port);
    if (!own.some((s) => inSubnet(r.via, s.cidr))) {
      const subnets = own.map((s) => formatNetwork(s.cidr)).join(', ') || 'no addresses';
      out.push({ path: ['routes', i, 'via'], message: `expected a gateway inside a subnet of port "${r.port}" (${subnets}), got ${r.via}` });
    }
  });

  const lipOwner = new Map<string, string>();
  for (const [pool, p] of Object.entries(cfg.local_addresses)) {
    if (!portNames.includes(p.port)) {
      out.push({ path: ['local_addresses', pool, 'port'], message: `expected the name of a port (${names(portNames)}), got ${describeValue(p.port)}` });
    }
    p.addresses.forEach((a, j) => {
      const key = formatIPv4(parseIPv4(a));
      const owner = lipOwner.get(key);
      if (owner !== undefined && owner !== pool) {
        out.push({ path: ['local_addresses', pool, 'addresses', j], message: `expected a local address unique across pools, got ${a} already in pool "${owner}"` });
      } else lipOwner.set(key, pool);
    });
    // Each worker owns the lports congruent to its index mod N: fewer
    // ports than workers leaves some worker without any.
    const [lo, hi] = p.ports;
    const workers = cfg.dpdk.lcores.workers.length;
    if (hi - lo + 1 < workers) {
      out.push({
        path: ['local_addresses', pool, 'ports'],
        message: `expected a range of at least ${workers} ports (one per worker), got [${lo}, ${hi}] (${hi - lo + 1})`,
      });
    }
  }

  duplicates(cfg.services, (s) => JSON.stringify(s.name), (i) => ['services', i, 'name'], 'service name', out);
  duplicates(
    cfg.services,
    (s) => `${formatIPv4(parseIPv4(s.vip))}:${s.port}/${s.protocol}`,
    (i) => ['services', i],
    '(vip, port, protocol)',
    out,
  );

  const routes = cfg.routes.map((r) => parseCidr(r.to));
  const reachable = [...attached.map((x) => x.cidr), ...routes].map(formatNetwork).join(', ') || 'no port addresses or routes';
  cfg.services.forEach((s, i) => {
    if (!poolNames.includes(s.local_addresses)) {
      out.push({
        path: ['services', i, 'local_addresses'],
        message: `expected the name of a pool in local_addresses (${names(poolNames)}), got ${describeValue(s.local_addresses)}`,
      });
    }
    s.real_servers.forEach((rs, j) => {
      const a = parseIPv4(rs.address);
      if (!attached.some((x) => inSubnet(a, x.cidr)) && !routes.some((c) => inSubnet(a, c))) {
        out.push({
          path: ['services', i, 'real_servers', j, 'address'],
          message: `no route to real server ${rs.address}: expected an address inside a port subnet or a route (${reachable})`,
        });
      }
    });
  });

  return out;
}
