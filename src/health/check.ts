// What a health check is: the target and check shapes shared by the monitor
// and the probes, the defaults the gateway applies, and a backstop validator.
import { isIPv6 } from 'node:net';

export interface HttpCheckConfig {
  /** Request path, sent verbatim after GET; must start with "/". */
  path: string;
  /** The one status code that counts as healthy. */
  status: number;
  /** Substring the first 64 KiB of the body must contain; null/absent/"" = no body check. */
  body?: string | null;
  /** Host header; null/absent/"" = the target's address (with ":port" unless 80). */
  host?: string | null;
}

export interface HealthCheckConfig {
  type: 'tcp' | 'http';
  /** Seconds from the end of one probe of a target to the start of the next (> 0, fractional allowed). */
  interval_s: number;
  /** Per-probe deadline, from connect() to the verdict. */
  timeout_ms: number;
  /** Consecutive successes that bring a down target up. */
  rise: number;
  /** Consecutive failures that take an up target down. */
  fall: number;
  /** Used when type is 'http'; absent means HEALTH_CHECK_DEFAULTS.http. */
  http?: HttpCheckConfig;
}

export interface HealthTarget {
  /** Stable identity across update() calls (e.g. "web/198.19.0.2:8080"). */
  key: string;
  address: string;
  port: number;
  check: HealthCheckConfig;
}

export interface HealthState {
  key: string;
  address: string;
  port: number;
  up: boolean;
  /** ms epoch of the last up<->down transition; the target's creation time before any. */
  since: number;
  /** Reason of the most recent failed probe (kept after recovery); null if none failed yet. */
  lastError: string | null;
  /** Probes completed (cancelled ones are not counted). */
  checks: number;
  /** Probes that failed. */
  failures: number;
  /** up<->down transitions. */
  transitions: number;
  /** Progress toward the next transition: consecutive failures while up, consecutive successes while down. */
  consecutive: number;
}

/** What the gateway uses for keys a config leaves out. */
export const HEALTH_CHECK_DEFAULTS = Object.freeze({
  type: 'tcp' as const,
  interval_s: 2,
  timeout_ms: 1000,
  rise: 2,
  fall: 3,
  http: Object.freeze({ path: '/', status: 200, body: null, host: null }),
});

/** Bytes of an HTTP response body searched for the expected substring. */
export const HTTP_BODY_LIMIT = 64 * 1024;

/** setTimeout silently turns longer delays into 1 ms: refuse them instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class HealthConfigError extends RangeError {
  override name = 'HealthConfigError';
  readonly code = 'FULLNAT_HEALTH_CONFIG';
}

function fail(key: string, field: string, expected: string, got: unknown): never {
  const shown = typeof got === 'string' ? JSON.stringify(got) : String(got);
  throw new HealthConfigError(`health target ${JSON.stringify(key)}: ${field}: expected ${expected}, got ${shown}`);
}

function isInt(v: unknown, min: number, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

// Header values and request paths reach the wire as is: CR, LF or other
// control characters would split the request (and node throws on them).
const UNSAFE = /[\x00-\x20\x7f]/;

/**
 * The schema validates configs; this is the engine's cheap backstop so a bad
 * target fails loudly at update() instead of as a timer that fires every 1 ms.
 * Returns a frozen copy with the http defaults filled in.
 */
export function normalizeTarget(t: HealthTarget): HealthTarget {
  const key = typeof t?.key === 'string' ? t.key : '';
  if (key === '') fail(key, 'key', 'a non-empty string', t?.key);
  if (typeof t.address !== 'string' || t.address === '') fail(key, 'address', 'a non-empty string', t.address);
  if (!isInt(t.port, 1, 65535)) fail(key, 'port', 'an integer 1..65535', t.port);
  const c = t.check;
  if (c === null || typeof c !== 'object') fail(key, 'check', 'an object', c);
  if (c.type !== 'tcp' && c.type !== 'http') fail(key, 'check.type', 'one of tcp, http', c.type);
  if (!(typeof c.interval_s === 'number' && c.interval_s > 0 && c.interval_s * 1000 <= MAX_TIMER_MS)) {
    fail(key, 'check.interval_s', `a number > 0 and <= ${MAX_TIMER_MS / 1000}`, c.interval_s);
  }
  if (!(typeof c.timeout_ms === 'number' && c.timeout_ms > 0 && c.timeout_ms <= MAX_TIMER_MS)) {
    fail(key, 'check.timeout_ms', `a number > 0 and <= ${MAX_TIMER_MS}`, c.timeout_ms);
  }
  if (!isInt(c.rise, 1, 1_000_000)) fail(key, 'check.rise', 'an integer >= 1', c.rise);
  if (!isInt(c.fall, 1, 1_000_000)) fail(key, 'check.fall', 'an integer >= 1', c.fall);
  const check: HealthCheckConfig = { type: c.type, interval_s: c.interval_s, timeout_ms: c.timeout_ms, rise: c.rise, fall: c.fall };
  if (c.type === 'http') {
    const h = c.http ?? HEALTH_CHECK_DEFAULTS.http;
    if (typeof h.path !== 'string' || !h.path.startsWith('/') || UNSAFE.test(h.path)) {
      fail(key, 'check.http.path', 'a path starting with "/" without spaces or control characters', h.path);
    }
    if (!isInt(h.status, 100, 599)) fail(key, 'check.http.status', 'an integer 100..599', h.status);
    if (h.body != null && typeof h.body !== 'string') fail(key, 'check.http.body', 'a string or null', h.body);
    if (h.host != null && (typeof h.host !== 'string' || UNSAFE.test(h.host))) {
      fail(key, 'check.http.host', 'a host name without spaces or control characters, or null', h.host);
    }
    // "" means "not set" for both, as null does.
    check.http = Object.freeze({ path: h.path, status: h.status, body: h.body || null, host: h.host || null });
  }
  return Object.freeze({ key, address: t.address, port: t.port, check: Object.freeze(check) });
}

/** Equal signatures mean "the same probe against the same server" (input: normalized targets). */
export function targetSignature(t: HealthTarget): string {
  const c = t.check;
  const h = c.http;
  return JSON.stringify([t.address, t.port, c.type, c.interval_s, c.timeout_ms, c.rise, c.fall, h ? [h.path, h.status, h.body, h.host] : null]);
}

/** "198.19.0.2:8080", "[fd00::2]:8080": how logs and Host headers name a server. */
export function hostPort(address: string, port: number): string {
  return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}
