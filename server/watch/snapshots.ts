/**
 * In-memory project snapshots: Resolve and Watch are served from here, never from the store.
 * A snapshot is replaced after each local write and whenever the store's change feed shows
 * that another replica wrote. Resolutions are computed once per snapshot and identity.
 */
import { EventEmitter } from 'node:events';
import { notFound } from '../domain/errors.js';
import { isEligible, prepareGroups, resolveWorkload, type PreparedGroup } from '../domain/resolve.js';
import type { ProjectSnapshot, Resolution, ResolveScope, Vars, Workload } from '../domain/types.js';
import type { RecordTypes, Store } from '../store/store.js';

/**
 * What is kept per identity: the resolution encoded once (the same bytes answer Resolve and
 * feed every Watch subscriber) and the little that decisions need. The full Resolution object
 * is not kept: with hundreds of identities it would dominate the server's memory.
 */
export interface CachedResolution {
  project: string;
  workload: string;
  scope: ResolveScope;
  etag: string;
  /**
   * The Resolution message, encoded as field 1 of ResolveResponse / WatchResponse. Its keys
   * (for audit records) are read back from it when a record is written rather than kept: a
   * key list per cached resolution was ~4 MB of the heap with 500 identities of 1,000 keys,
   * which every major GC had to mark.
   */
  bytes: Uint8Array;
}

/** Encodes a resolution as the response message both Resolve and Watch send (API layer). */
export interface ResolutionEncoder {
  (r: Resolution): Uint8Array;
  /**
   * The encoded resolution of another workload with the same content, from these bytes with
   * only the workload's name replaced; undefined when it cannot (then `r` is encoded).
   */
  rename?: (bytes: Uint8Array, workload: string) => Uint8Array | undefined;
  /**
   * The encoded resolution of a workload with variables `own`, from these bytes: the resolution
   * of another workload the same groups reach, whose own variables have the keys `drop` (none
   * of them set by those groups); undefined when it cannot (then the workload is resolved and
   * encoded).
   */
  overlay?: (bytes: Uint8Array, drop: readonly string[], workload: string, own: Vars) => { bytes: Uint8Array; etag: string } | undefined;
}
/** The variable keys of an encoded resolution (API layer; the inverse of ResolutionEncoder for keys). */
export type ResolutionKeys = (bytes: Uint8Array) => string[];

export class ProjectState {
  private prepared: PreparedGroup[] | undefined;
  private readonly resolutions = new Map<string, CachedResolution>();
  /**
   * Per class of identities (the same groups reach them in the same scope): the member the
   * others' resolutions are made from, and the keys of its own variables, none of which the
   * class's groups set. Members without variables of their own get its bytes renamed
   * (encoder.rename) when it has none either, the others their variables laid over its bytes
   * (encoder.overlay), instead of a merge and an encoding each. Nothing else is kept.
   */
  private readonly classes = new Map<string, { cached: CachedResolution; ownKeys: string[] }>();

  constructor(
    readonly snapshot: ProjectSnapshot,
    readonly version: number,
    private readonly encode: ResolutionEncoder,
    private readonly onLookup?: (hit: boolean) => void,
  ) {}

  /** Throws NOT_FOUND for an unknown workload. */
  resolution(workload: string, scope: ResolveScope): CachedResolution {
    const key = `${workload}\0${scope}`;
    const hit = this.resolutions.get(key);
    this.onLookup?.(hit !== undefined);
    if (hit) return hit;
    const w = this.workload(workload);
    const prepared = (this.prepared ??= prepareGroups(this.snapshot));
    const own = scope === 'runtime' ? w.runtimeVariables : w.buildArguments;
    const alone = isEmpty(own);
    let classKey: string | undefined;
    const eligible: PreparedGroup[] = [];
    if (this.encode.rename || this.encode.overlay) {
      classKey = scope;
      for (const p of prepared) {
        if (!isEligible(p.group, w, scope)) continue;
        classKey += `\0${p.group.name}`;
        eligible.push(p);
      }
    }
    const member = classKey === undefined ? undefined : this.classes.get(classKey);
    let cached: CachedResolution | undefined;
    if (member) {
      const from = member.cached;
      if (alone && member.ownKeys.length === 0) {
        const renamed = this.encode.rename?.(from.bytes, workload);
        if (renamed) cached = { project: from.project, workload, scope, etag: from.etag, bytes: renamed };
      } else {
        const laid = this.encode.overlay?.(from.bytes, member.ownKeys, workload, own);
        if (laid) cached = { project: from.project, workload, scope, etag: laid.etag, bytes: laid.bytes };
      }
    }
    if (!cached) cached = this.computeCached(w, scope, prepared);
    // The class's member: preferably one without variables of its own (renames are cheaper);
    // else one whose own keys no group of the class sets, so that dropping them leaves the groups' part.
    if (classKey !== undefined && (!member || (alone && member.ownKeys.length > 0))) {
      const ownKeys = Object.keys(own);
      if (ownKeys.every((key) => !eligible.some((p) => Object.hasOwn(p.values, key)))) this.classes.set(classKey, { cached, ownKeys });
    }
    this.resolutions.set(key, cached);
    return cached;
  }

  private computeCached(w: Workload, scope: ResolveScope, prepared: PreparedGroup[]): CachedResolution {
    const r = resolveWorkload(this.snapshot.project.name, w, scope, prepared, { provenance: false });
    return { project: r.project, workload: r.workload, scope, etag: r.etag, bytes: this.encode(r) };
  }

  /** With per-key provenance; not cached (Explain is rare, provenance is large). */
  explain(workload: string, scope: ResolveScope): Resolution {
    return this.compute(workload, scope, true);
  }

  private compute(workload: string, scope: ResolveScope, provenance: boolean): Resolution {
    const w = this.workload(workload);
    this.prepared ??= prepareGroups(this.snapshot);
    return resolveWorkload(this.snapshot.project.name, w, scope, this.prepared, { provenance });
  }

  private workload(name: string): Workload {
    const w = this.snapshot.workloads.get(name);
    if (!w) throw notFound(`workload ${this.snapshot.project.name}/${name}`);
    return w;
  }
}

function isEmpty(vars: Vars): boolean {
  for (const _ in vars) return false;
  return true;
}

/** Which snapshot map holds each record kind. */
const MAPS = { workload: 'workloads', addon: 'addons', group: 'groups' } as const;

export interface SnapshotEvents {
  /** A project's snapshot was replaced (after is null when the project was deleted). */
  changed: [project: string, after: ProjectState | null];
}

export class Snapshots extends EventEmitter<SnapshotEvents> {
  private readonly states = new Map<string, ProjectState>();
  private readonly chains = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** Last error of the change feed; null when the store answers. */
  storeError: Error | null = null;
  /**
   * Awaited before a changed snapshot replaces the current one and reaches watchers: the stream
   * guard re-checks the tokens of open streams there, so a change written after a revocation
   * (through any replica) is never sent to the revoked token's streams.
   */
  beforePublish: (() => Promise<void>) | undefined;

  constructor(
    private readonly store: Store,
    private readonly encode: ResolutionEncoder,
    /** Observes resolution cache lookups (metrics). */
    private readonly onLookup?: (hit: boolean) => void,
  ) {
    super();
    this.setMaxListeners(0);
  }

  /** The project's state, loading it on first use. NOT_FOUND for an unknown project. */
  async get(project: string): Promise<ProjectState> {
    const state = this.states.get(project);
    if (state) return state;
    await this.refresh(project);
    const loaded = this.states.get(project);
    if (!loaded) throw notFound(`project ${project}`);
    return loaded;
  }

  /** Loaded state without I/O, if any. */
  peek(project: string): ProjectState | undefined {
    return this.states.get(project);
  }

  /**
   * Reloads a project from the store. Refreshes of one project run one after another, so a
   * slower, older load can never replace a newer one.
   */
  refresh(project: string): Promise<void> {
    return this.chain(project, () => this.load(project));
  }

  /**
   * After this replica wrote one record: patch the snapshot instead of reloading the whole
   * project, when this write was the only change since the snapshot (version + 1) — told by
   * the version the store's write returned, else asked of the change feed. Otherwise — a
   * concurrent writer, a stale snapshot — reload.
   */
  applyLocal<K extends keyof typeof MAPS>(project: string, kind: K, name: string, record: RecordTypes[K] | null, written?: number): Promise<void> {
    return this.chain(project, async () => {
      const current = this.states.get(project);
      const version = written ?? (await this.store.projectVersions()).get(project);
      // Loaded after this write committed (a poll or another write reloaded it meanwhile): the
      // snapshot already holds it, or holds a newer incarnation in which this write never was.
      if (current && written !== undefined && written <= current.version) return;
      if (!current || version === undefined || version !== current.version + 1) return this.load(project);
      const field = MAPS[kind];
      const map = new Map(current.snapshot[field] as ReadonlyMap<string, RecordTypes[K]>);
      if (record) map.set(name, record);
      else map.delete(name);
      await this.beforePublish?.();
      const state = new ProjectState({ ...current.snapshot, [field]: map }, version, this.encode, this.onLookup);
      this.states.set(project, state);
      this.emit('changed', project, state);
    });
  }

  private chain(project: string, work: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(project) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(work);
    this.chains.set(project, next);
    void next
      .finally(() => {
        if (this.chains.get(project) === next) this.chains.delete(project);
      })
      .catch(() => undefined);
    return next;
  }

  private async load(project: string): Promise<void> {
    const versions = await this.store.projectVersions();
    const version = versions.get(project);
    const current = this.states.get(project);
    if (version === undefined) {
      if (current) {
        this.states.delete(project);
        this.emit('changed', project, null);
      }
      return;
    }
    if (current && current.version === version) return;
    const snapshot = await this.store.loadProject(project);
    if (!snapshot) {
      if (current) {
        this.states.delete(project);
        this.emit('changed', project, null);
      }
      return;
    }
    if (current) await this.beforePublish?.();
    const state = new ProjectState(snapshot, version, this.encode, this.onLookup);
    this.states.set(project, state);
    if (current) this.emit('changed', project, state);
  }

  /** Polls the change feed: reloads loaded projects whose version moved. */
  startPolling(intervalMs: number): void {
    const tick = async () => {
      if (this.polling) return;
      this.polling = true;
      try {
        const versions = await this.store.projectVersions();
        this.storeError = null;
        const work: Promise<void>[] = [];
        for (const [project, state] of this.states) {
          const v = versions.get(project);
          if (v !== state.version) work.push(this.refresh(project));
        }
        await Promise.allSettled(work);
      } catch (e) {
        this.storeError = e instanceof Error ? e : new Error(String(e));
      } finally {
        this.polling = false;
      }
    };
    this.timer = setInterval(() => void tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
