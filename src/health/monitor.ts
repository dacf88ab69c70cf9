// The health monitor: probes every target on its own cadence and turns runs of
// results into up/down transitions (rise/fall hysteresis) that callers act on.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log';
import { HealthConfigError, hostPort, normalizeTarget, targetSignature, type HealthState, type HealthTarget } from './check';
import type { Probe } from './probe';
import { httpProbe } from './probe-http';
import { tcpProbe } from './probe-tcp';

export interface HealthMonitorOptions {
  /** Clock for HealthState.since (ms epoch); Date.now by default. */
  now?: () => number;
  /** [0, 1) source for first-probe jitter; Math.random by default. */
  random?: () => number;
}

// Chosen once per target, not per probe.
const PROBES: Record<HealthTarget['check']['type'], Probe> = { tcp: tcpProbe, http: httpProbe };

interface Entry {
  readonly target: HealthTarget;
  readonly signature: string;
  readonly probe: Probe;
  readonly state: HealthState;
  /** Pending start of the next probe; null while one is in flight. */
  timer: NodeJS.Timeout | null;
  /** Cancels the in-flight probe; null between probes. */
  cancel: (() => void) | null;
  /** False once removed, replaced or stopped: late results are dropped. */
  live: boolean;
}

/**
 * Delays before the first probe of targets added together: target i of n
 * starts at a random point of the i-th n-th of its interval. Stratified
 * rather than plain random so that 1000 servers added at once never clump.
 */
export function firstProbeDelays(intervalsMs: readonly number[], random: () => number = Math.random): number[] {
  const n = intervalsMs.length;
  return intervalsMs.map((ms, i) => (ms * (i + Math.min(Math.max(random(), 0), 0.999999))) / n);
}

export interface HealthMonitor {
  on(event: 'change', listener: (state: HealthState) => void): this;
  once(event: 'change', listener: (state: HealthState) => void): this;
  off(event: 'change', listener: (state: HealthState) => void): this;
  emit(event: 'change', state: HealthState): boolean;
}

export class HealthMonitor extends EventEmitter {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly random: () => number;
  private stopped = false;

  constructor(
    private readonly log: Logger,
    opts: HealthMonitorOptions = {},
  ) {
    super();
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  /**
   * Replace the target set. Unchanged keys (same address, port and check) keep
   * their state and their probe cycle; changed and new keys start fresh (up,
   * counters zero); removed keys stop at once, in-flight probe included.
   * Emits nothing: read isUp()/states() afterwards. Throws HealthConfigError
   * (and changes nothing) if any target is invalid or a key repeats.
   */
  update(targets: readonly HealthTarget[]): void {
    if (this.stopped) {
      this.log.debug({ targets: targets.length }, 'health monitor stopped: update ignored');
      return;
    }
    const next = new Map<string, HealthTarget>();
    for (const t of targets) {
      const n = normalizeTarget(t);
      if (next.has(n.key)) throw new HealthConfigError(`health target ${JSON.stringify(n.key)}: key: expected unique keys, got a duplicate`);
      next.set(n.key, n);
    }

    const old = new Map(this.entries);
    this.entries.clear();
    const fresh: Entry[] = [];
    // Rebuilt in the caller's order so states() lists targets as configured.
    for (const [key, t] of next) {
      const signature = targetSignature(t);
      const kept = old.get(key);
      if (kept && kept.signature === signature) {
        this.entries.set(key, kept);
        old.delete(key);
        continue;
      }
      const e = this.create(t, signature);
      this.entries.set(key, e);
      fresh.push(e);
    }
    for (const e of old.values()) {
      this.halt(e);
      this.log.debug({ key: e.target.key, server: hostPort(e.target.address, e.target.port) }, 'health check stopped');
    }
    const delays = firstProbeDelays(fresh.map((e) => e.target.check.interval_s * 1000), this.random);
    fresh.forEach((e, i) => {
      this.log.debug({ key: e.target.key, server: hostPort(e.target.address, e.target.port), check: e.target.check }, 'health check started');
      this.schedule(e, delays[i]!);
    });
  }

  /** Unknown keys are up: a server without a check is never held back. */
  isUp(key: string): boolean {
    return this.entries.get(key)?.state.up ?? true;
  }

  /** Copies, in the order of the last update(). */
  states(): HealthState[] {
    return [...this.entries.values()].map((e) => ({ ...e.state }));
  }

  /** Clears every timer and in-flight probe; idempotent. States stay readable; later update()s are ignored. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const e of this.entries.values()) this.halt(e);
  }

  private create(target: HealthTarget, signature: string): Entry {
    return {
      target,
      signature,
      probe: PROBES[target.check.type],
      // Start up: on a first run traffic flows at once, and a dead server is
      // out after `fall` failures (docs/health.md explains the choice).
      state: {
        key: target.key,
        address: target.address,
        port: target.port,
        up: true,
        since: this.now(),
        lastError: null,
        checks: 0,
        failures: 0,
        transitions: 0,
        consecutive: 0,
      },
      timer: null,
      cancel: null,
      live: true,
    };
  }

  private schedule(e: Entry, delayMs: number): void {
    e.timer = setTimeout(() => this.run(e), delayMs);
  }

  private run(e: Entry): void {
    e.timer = null;
    if (!e.live) return;
    e.cancel = e.probe(e.target, (error) => this.settle(e, error));
  }

  private halt(e: Entry): void {
    e.live = false;
    if (e.timer !== null) clearTimeout(e.timer);
    e.timer = null;
    const cancel = e.cancel;
    e.cancel = null;
    cancel?.();
  }

  private settle(e: Entry, error: string | null): void {
    e.cancel = null;
    if (!e.live) return;
    const s = e.state;
    const c = e.target.check;
    s.checks++;
    if (error === null) {
      s.consecutive = s.up ? 0 : s.consecutive + 1;
    } else {
      s.failures++;
      s.lastError = error;
      s.consecutive = s.up ? s.consecutive + 1 : 0;
    }
    // Next probe counted from the end of this one, so probes of a target
    // never overlap however slow the server; scheduled before any listener
    // runs so a throwing listener cannot stop the checks.
    this.schedule(e, c.interval_s * 1000);

    const server = hostPort(s.address, s.port);
    if (s.up && s.consecutive >= c.fall) {
      this.flip(s);
      this.log.warn({ key: s.key, server, reason: error, consecutive_failures: c.fall }, 'real server down');
    } else if (!s.up && s.consecutive >= c.rise) {
      const downMs = this.now() - s.since;
      this.flip(s);
      this.log.info({ key: s.key, server, reason: `${c.rise} consecutive checks passed`, down_ms: downMs }, 'real server up');
    } else {
      if (error !== null) this.log.debug({ key: s.key, server, reason: error, up: s.up, consecutive: s.consecutive }, 'health check failed');
      return;
    }
    this.emit('change', { ...s });
  }

  private flip(s: HealthState): void {
    s.up = !s.up;
    s.since = this.now();
    s.transitions++;
    s.consecutive = 0;
  }
}
