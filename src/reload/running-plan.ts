// The plan the data plane runs, and the one way to replace it: build a plan
// from a config, hand it to the data plane, and commit only once it took it.
import type { Config } from '../config/schema';
import { normalizeTarget, type HealthState } from '../health';
import { healthTargets } from '../health/targets';
import type { Native } from '../native';
import { buildPlan, type BuiltPlan, type PlannedRealServer } from '../plan/build';
import { IdRegistry, serviceKey } from '../plan/ids';
import { describeChanges, liveChangeErrors, serversToReset, type ConfigChanges } from './changes';

export type ReloadResult = { ok: true; changes: ConfigChanges } | { ok: false; errors: string[] };

export type PublishResult = { ok: true; generation: number } | { ok: false; error: Error };

export interface ServiceListing {
  name: string;
  vip: string;
  port: number;
  protocol: string;
  scheduler: string;
  real_servers: (PlannedRealServer & { health: 'up' | 'down' | 'unchecked' | 'removed'; active: number; created: number; last_error: string | null })[];
}

/** What a plan is built from besides the config. */
export interface PublishInputs {
  /** Health verdict per real-server key: a server that is down gets no new sessions. */
  isUp: (rsKey: string) => boolean;
  /**
   * Real-server keys whose sessions end now, besides those the config's
   * `removed_servers: reset` names (packet tests name them directly). Only
   * servers this publish removes are reset.
   */
  reset?: readonly string[];
}

/** The part of the native surface a plan change needs. */
export type PlanSurface = Pick<Native, 'apply' | 'readRealServers'>;

type Replaced = { ok: true; built: BuiltPlan } | { ok: false; error: Error };

export class RunningPlan {
  /** Stable ids; between publishes they describe the running plan exactly. */
  readonly ids = new IdRegistry();
  private cfg: Config;
  /** Ids of removed servers whose sessions are to be reset (see removed_servers), until the id is free. */
  private resetIds: ReadonlySet<number> = new Set();
  /** Sessions-created counts of recycled ids at the time they were recycled. */
  private readonly createdBase = new Map<number, number>();
  private planned: readonly PlannedRealServer[] = [];
  private gen = 0;

  constructor(
    cfg: Config,
    private readonly native: PlanSurface,
  ) {
    this.cfg = cfg;
  }

  /** The config the running plan was built from. */
  config(): Config {
    return this.cfg;
  }

  /** Plans published since start. */
  generation(): number {
    return this.gen;
  }

  /** The first plan: `install` brings the data plane up with it. Throws what the build or install throws. */
  start(isUp: (rsKey: string) => boolean, install: (built: BuiltPlan) => void): BuiltPlan {
    const r = this.replace(this.cfg, { isUp }, install);
    if (!r.ok) throw r.error;
    return r.built;
  }

  /**
   * A live reload: refused before anything is built if it changes what needs
   * a restart or names a health check that cannot run; then published.
   */
  reload(next: Config, inputs: PublishInputs): ReloadResult {
    const errors = liveChangeErrors(this.cfg, next);
    if (errors.length) return { ok: false, errors };
    try {
      healthTargets(next).forEach(normalizeTarget);
    } catch (e) {
      return { ok: false, errors: [asError(e).message] };
    }
    const changes = describeChanges(this.cfg, next);
    const r = this.publish(next, { ...inputs, reset: [...serversToReset(this.cfg, next), ...(inputs.reset ?? [])] });
    return r.ok ? { ok: true, changes } : { ok: false, errors: [r.error.message] };
  }

  /**
   * Build a plan from `next` (the running config again after a health
   * verdict) and publish it. Returns the error instead of throwing: when the
   * build or the data plane fails (out of DPDK memory, say), ids, LIPs,
   * resets and the listing are as they were and the old plan keeps running.
   */
  publish(next: Config, inputs: PublishInputs): PublishResult {
    const r = this.replace(next, inputs, (built) => this.native.apply(built.plan));
    if (!r.ok) return r;
    this.gen++;
    this.releaseIds();
    return { ok: true, generation: this.gen };
  }

  private replace(next: Config, inputs: PublishInputs, install: (built: BuiltPlan) => void): Replaced {
    const before = this.ids.snapshot();
    let built: BuiltPlan;
    let resetIds: Set<number>;
    let bases: [number, number][];
    try {
      const named = (inputs.reset ?? []).map((k) => this.ids.realServers().get(k));
      this.ids.retire(next); // removed servers drain under their old ids; re-added ones get new ids
      resetIds = new Set(this.resetIds);
      for (const id of named) if (id !== undefined && this.ids.drainingServers().has(id)) resetIds.add(id);
      built = buildPlan(next, { ids: this.ids, isUp: inputs.isUp, reset: [...resetIds] });
      // Read before install: once the plan runs, new sessions count on the recycled ids.
      bases = this.createdBases(this.ids.takeReused());
      install(built);
    } catch (e) {
      this.ids.restore(before);
      return { ok: false, error: asError(e) };
    }
    this.cfg = next;
    this.resetIds = resetIds;
    for (const [id, created] of bases) this.createdBase.set(id, created);
    this.planned = built.realServers;
    return { ok: true, built };
  }

  private createdBases(reused: number[]): [number, number][] {
    if (!reused.length) return [];
    const { created } = this.native.readRealServers(this.ids.realServerIdLimit());
    return reused.map((id) => [id, created[id] ?? 0]);
  }

  /** Ids of servers that are gone and hold no session can serve new servers. */
  private releaseIds(): void {
    const { active } = this.native.readRealServers(this.ids.realServerIdLimit());
    const freed = this.ids.release((id) => active[id] ?? 0);
    if (freed.length) this.resetIds = new Set([...this.resetIds].filter((id) => !freed.includes(id)));
  }

  /** Services and their servers as `ipvsadm -Ln` shows them, plus health. */
  list(healthStates: readonly HealthState[]): ServiceListing[] {
    const { active, created } = this.native.readRealServers(this.ids.realServerIdLimit());
    const health = new Map(healthStates.map((s) => [s.key, s]));
    const createdOf = (id: number) => (created[id] ?? 0) - (this.createdBase.get(id) ?? 0);
    return this.cfg.services.map((s) => {
      const prefix = serviceKey(s) + ' ';
      const configured = this.planned
        .filter((r) => r.key.startsWith(prefix))
        .map((r) => {
          const h = health.get(r.key);
          return {
            ...r,
            health: h ? (h.up ? 'up' : 'down') : 'unchecked',
            active: active[r.id] ?? 0,
            created: createdOf(r.id),
            last_error: h?.lastError ?? null,
          } as const;
        });
      // Removed by a reload, sessions still running: shown until they end.
      const draining = [...this.ids.drainingServers()]
        .filter(([, key]) => key.startsWith(prefix))
        .map(([id, key]) => {
          const addr = key.slice(prefix.length);
          const i = addr.lastIndexOf(':');
          return {
            id,
            key,
            service: s.name,
            address: addr.slice(0, i),
            port: Number(addr.slice(i + 1)),
            weight: 0,
            up: false,
            health: 'removed',
            active: active[id] ?? 0,
            created: createdOf(id),
            last_error: this.resetIds.has(id) ? 'removed with reset' : 'removed: draining',
          } as const;
        });
      return { name: s.name, vip: s.vip, port: s.port, protocol: s.protocol, scheduler: s.scheduler, real_servers: [...configured, ...draining] };
    });
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
