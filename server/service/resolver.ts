/** Resolve, Explain and Watch: served from the in-memory snapshots. */
import { denied, echoList, tooLarge } from '../domain/errors.js';
import { LIMITS } from '../domain/limits.js';
import { validateName, validateTag } from '../domain/validation.js';
import type { ResolveScope, Resolution } from '../domain/types.js';
import { DomainError } from '../domain/errors.js';
import type { Principal } from '../security/principal.js';
import type { Admission, CutCode, GuardedStream, StreamGuard } from '../security/stream-guard.js';
import type { Subscriber, WatchHub, WatchSink } from '../watch/hub.js';
import type { Deps } from './deps.js';
import type { CachedResolution, ProjectState, ResolutionKeys } from '../watch/snapshots.js';

export class ResolverService {
  constructor(
    private readonly d: Deps,
    /** Re-authorizes open streams and caps them per token. */
    private readonly guard: StreamGuard,
    /** Reads the keys of an encoded resolution back, for audit records. */
    private readonly keysOf: ResolutionKeys,
  ) {}

  /** The state and resolution for an identity after the permission and tag checks. */
  async prepare(p: Principal, project: string, workload: string, scope: ResolveScope, claimedTags: readonly string[], explain = false) {
    this.check(p, project, workload, scope, explain);
    // Loaded already on the hot path: no extra await.
    const state = this.d.snapshots.peek(project) ?? (await this.load(p, project));
    return this.prepareLoaded(p, state, project, workload, scope, claimedTags);
  }

  /**
   * Resolve answered from memory without any await (the API's synchronous hot path): undefined
   * when the project is not loaded yet. Throws what resolve would.
   */
  resolveLoaded(p: Principal, project: string, workload: string, scope: ResolveScope, claimedTags: readonly string[]): CachedResolution | undefined {
    this.check(p, project, workload, scope, false);
    const state = this.d.snapshots.peek(project);
    if (!state) return undefined;
    const { resolution } = this.prepareLoaded(p, state, project, workload, scope, claimedTags);
    this.auditRead(p, 'Resolve', resolution);
    return resolution;
  }

  private check(p: Principal, project: string, workload: string, scope: ResolveScope, explain: boolean): void {
    validateName('project', project);
    validateName('workload', workload);
    if (explain) p.requireExplain(project, workload, scope);
    else p.requireResolve(project, workload, scope);
  }

  private prepareLoaded(p: Principal, state: ProjectState, project: string, workload: string, scope: ResolveScope, claimedTags: readonly string[]) {
    if (p.token.workload) p.requireWorkloadIdentity(state.snapshot.workloads.get(workload));
    const resolution = state.resolution(workload, scope);
    if (claimedTags.length) {
      // Validated like registered tags, and few: they are echoed in the refusal below.
      if (claimedTags.length > LIMITS.claimedTags) throw tooLarge(`tags: ${claimedTags.length} claimed, more than the limit of ${LIMITS.claimedTags}`);
      for (const tag of claimedTags) validateTag('tags', tag);
      const registered = state.snapshot.workloads.get(workload)!.tags;
      const extra = claimedTags.filter((t) => !registered.includes(t));
      if (extra.length) throw denied(`tags ${echoList(extra)} are not registered for workload ${project}/${workload}`);
    }
    return { state, resolution };
  }

  async resolve(p: Principal, project: string, workload: string, scope: ResolveScope, claimedTags: readonly string[]): Promise<{ state: ProjectState; resolution: CachedResolution }> {
    const out = await this.prepare(p, project, workload, scope, claimedTags);
    this.auditRead(p, 'Resolve', out.resolution);
    return out;
  }

  /**
   * The full resolution of an identity (values and sources) for a caller who may resolve it:
   * RevealValue's resolved kinds. The same checks as Resolve, so a dead workload token (its
   * workload deleted or re-created) is refused here too.
   */
  async resolvedFor(p: Principal, project: string, workload: string, scope: ResolveScope): Promise<Resolution> {
    const { state } = await this.prepare(p, project, workload, scope, []);
    return state.explain(workload, scope);
  }

  /** The etag is a hash of values: shown only to callers who may resolve (it would let a keys-only caller test guesses). */
  async explain(p: Principal, project: string, workload: string, scope: ResolveScope): Promise<{ resolution: Resolution; showEtag: boolean }> {
    const { state } = await this.prepare(p, project, workload, scope, [], true);
    return { resolution: state.explain(workload, scope), showEtag: p.mayResolve(project, workload, scope) };
  }

  /** Subscribes; returns what ends the subscription. `deltas`: the caller applies ResolutionDelta messages. */
  async watch(p: Principal, project: string, workload: string, scope: ResolveScope, etag: string, claimedTags: readonly string[], sink: WatchSink, deltas = false): Promise<WatchStream> {
    const { state, resolution } = await this.prepare(p, project, workload, scope, claimedTags);
    // The names as the snapshot holds them: one string per workload, not one per stream.
    const stream = new WatchStream(resolution.project, resolution.workload, scope, sink, this.d.hub, this.guard);
    stream.admission = this.guard.admit(p, stream);
    this.auditRead(p, 'Watch', resolution);
    try {
      stream.subscriber = this.d.hub.join(state, workload, scope, etag, sink, deltas);
    } catch (e) {
      stream.close();
      throw e;
    }
    return stream;
  }

  /** A workload token whose project is gone is a dead token, not a missing project. */
  private async load(p: Principal, project: string): Promise<ProjectState> {
    try {
      return await this.d.snapshots.get(project);
    } catch (e) {
      if (p.token.workload && e instanceof DomainError && e.code === 'NOT_FOUND') p.requireWorkloadIdentity(undefined);
      throw e;
    }
  }

  private auditRead(p: Principal, action: string, r: CachedResolution): void {
    const time = this.d.now();
    // The record builder may be kept for the audit's repeat window (a minute): it holds the
    // encoded bytes (shared with the cache while the snapshot lives) and reads the keys from
    // them only when a record is written, once per identity and window.
    const { project, workload, scope, bytes } = r;
    const keysOf = this.keysOf;
    this.d.audit.recordRepeatedRead(`${p.token.id}\0${action}\0${project}\0${workload}\0${scope}\0${r.etag}`, () => ({
      time,
      actor: p.actor,
      action,
      project,
      target: `workload ${project}/${workload} (${scope})`,
      keys: keysOf(bytes),
      outcome: 'ok',
    }));
  }
}

/**
 * One Watch stream as the guard and the hub know it, in one object: thousands are open at
 * once, and the closures it replaces (what the guard may end, the unsubscribe) cost a context
 * each.
 */
export class WatchStream implements GuardedStream {
  /** Set once the guard admitted the stream. */
  admission: Admission | undefined;
  subscriber: Subscriber | undefined;

  constructor(
    readonly project: string,
    readonly workload: string,
    readonly scope: ResolveScope,
    private readonly sink: WatchSink,
    private readonly hub: Pick<WatchHub, 'leave'>,
    private readonly guard: Pick<StreamGuard, 'release'>,
  ) {}

  /** The guard ends the stream (revoked, or no longer allowed). */
  end(code: CutCode, message: string): void {
    this.sink.fail(code, message);
  }

  /** The call ended: the stream leaves the guard and the hub (idempotent). */
  close(): void {
    if (this.admission) this.guard.release(this, this.admission);
    if (this.subscriber) this.hub.leave(this.subscriber);
  }
}
