/**
 * In-memory project snapshots: Resolve and Watch are served from here, never from the store.
 * A snapshot is replaced after each local write and whenever the store's change feed shows
 * that another replica wrote. Resolutions are computed once per snapshot and identity.
 */
import { EventEmitter } from 'node:events';
import { DomainError, notFound } from '../domain/errors.js';
import { prepareGroups, resolveWorkload, type PreparedGroup } from '../domain/resolve.js';
import type { ProjectSnapshot, Resolution, ResolveScope } from '../domain/types.js';
import type { Store } from '../store/store.js';

export class ProjectState {
  private prepared: PreparedGroup[] | undefined;
  private readonly resolutions = new Map<string, Resolution>();
  /** Encoded messages cached alongside resolutions (see watch hub / handlers). */
  readonly encoded = new Map<string, Uint8Array>();

  constructor(
    readonly snapshot: ProjectSnapshot,
    readonly version: number,
    private readonly onLookup?: (hit: boolean) => void,
  ) {}

  /** Throws NOT_FOUND for an unknown workload. */
  resolution(workload: string, scope: ResolveScope): Resolution {
    const key = `${workload}\0${scope}`;
    const hit = this.resolutions.get(key);
    this.onLookup?.(hit !== undefined);
    if (hit) return hit;
    const r = this.compute(workload, scope, false);
    this.resolutions.set(key, r);
    return r;
  }

  /** With per-key provenance; not cached (Explain is rare, provenance is large). */
  explain(workload: string, scope: ResolveScope): Resolution {
    return this.compute(workload, scope, true);
  }

  private compute(workload: string, scope: ResolveScope, provenance: boolean): Resolution {
    const w = this.snapshot.workloads.get(workload);
    if (!w) throw notFound(`workload ${this.snapshot.project.name}/${workload}`);
    this.prepared ??= prepareGroups(this.snapshot);
    return resolveWorkload(this.snapshot.project.name, w, scope, this.prepared, { provenance });
  }
}

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

  constructor(
    private readonly store: Store,
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
    const prev = this.chains.get(project) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.load(project));
    this.chains.set(project, next);
    void next.finally(() => {
      if (this.chains.get(project) === next) this.chains.delete(project);
    }).catch(() => undefined);
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
    const state = new ProjectState(snapshot, version, this.onLookup);
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

/** True for errors that mean "the store did not answer" rather than a domain refusal. */
export function isStoreFailure(e: unknown): boolean {
  return !(e instanceof DomainError);
}
