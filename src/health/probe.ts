// The probe contract shared by the TCP and HTTP probes, and the one place that
// turns socket and parser errors into the short reasons operators read.
import type { HealthTarget } from './check';

/** null = healthy; otherwise why not ("connect ECONNREFUSED", "status 503, expected 200"). */
export type ProbeDone = (error: string | null) => void;

/**
 * Starts one probe. `done` is called exactly once, asynchronously, unless the
 * returned cancel function runs first; then it is never called. Either way the
 * probe's socket and timer are gone when it ends. Probes never throw and never
 * reject: every failure is a reason string.
 */
export type Probe = (target: HealthTarget, done: ProbeDone) => () => void;

/**
 * `phase` names what was under way when a code-only error arrived
 * ("connect", "read"). Node's own messages carry the peer address, which the
 * health state already has: keep the reason short and stable for grouping.
 */
export function describeError(err: unknown, phase: string): string {
  const e = (err ?? {}) as NodeJS.ErrnoException & { reason?: string };
  if (typeof e.code === 'string' && e.code.startsWith('HPE_')) return `bad response: ${e.reason ?? e.message}`;
  if (e.message === 'socket hang up') return 'connection closed without a response';
  if (typeof e.code === 'string' && e.code !== '') return `${e.syscall ?? phase} ${e.code}`;
  return typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
}

export function timeoutReason(ms: number, detail = ''): string {
  return `timeout after ${ms} ms${detail}`;
}

/**
 * Calls onExpire after ms unless cleared first; returns the clear function.
 * The verdict waits one more turn (setImmediate runs after the poll phase):
 * if the event loop was busy past the deadline, an answer already sitting in
 * the socket is read first instead of being declared a timeout.
 */
export function deadline(ms: number, onExpire: () => void): () => void {
  let immediate: NodeJS.Immediate | null = null;
  const timer = setTimeout(() => (immediate = setImmediate(onExpire)), ms);
  return () => {
    clearTimeout(timer);
    if (immediate !== null) clearImmediate(immediate);
  };
}
