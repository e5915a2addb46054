/** Resolve, Explain and Watch: served from the in-memory snapshots. */
import { denied } from '../domain/errors.js';
import { validateName } from '../domain/validation.js';
import type { ResolveScope, Resolution } from '../domain/types.js';
import type { Principal } from '../security/principal.js';
import type { WatchSink } from '../watch/hub.js';
import type { Deps } from './deps.js';
import type { CachedResolution, ProjectState } from './snapshots.js';

export class ResolverService {
  constructor(private readonly d: Deps) {}

  /** The state and resolution for an identity after the permission and tag checks. */
  async prepare(p: Principal, project: string, workload: string, scope: ResolveScope, claimedTags: readonly string[], explain = false) {
    validateName('project', project);
    validateName('workload', workload);
    if (explain) p.requireExplain(project, workload, scope);
    else p.requireResolve(project, workload, scope);
    // Loaded already on the hot path: no extra await.
    const state = this.d.snapshots.peek(project) ?? (await this.d.snapshots.get(project));
    const resolution = state.resolution(workload, scope);
    if (claimedTags.length) {
      const registered = state.snapshot.workloads.get(workload)!.tags;
      const extra = claimedTags.filter((t) => !registered.includes(t));
      if (extra.length) throw denied(`tags ${extra.join(', ')} are not registered for workload ${project}/${workload}`);
    }
    return { state, resolution };
  }

  async resolve(p: Principal, project: string, workload: string, scope: ResolveScope, claimedTags: readonly string[]): Promise<{ state: ProjectState; resolution: CachedResolution }> {
    const out = await this.prepare(p, project, workload, scope, claimedTags);
    this.auditRead(p, 'Resolve', out.resolution);
    return out;
  }

  /** The etag is a hash of values: shown only to callers who may resolve (it would let a keys-only caller test guesses). */
  async explain(p: Principal, project: string, workload: string, scope: ResolveScope): Promise<{ resolution: Resolution; showEtag: boolean }> {
    const { state } = await this.prepare(p, project, workload, scope, [], true);
    return { resolution: state.explain(workload, scope), showEtag: p.mayResolve(project, workload, scope) };
  }

  /** Subscribes; returns the unsubscribe function. */
  async watch(p: Principal, project: string, workload: string, scope: ResolveScope, etag: string, claimedTags: readonly string[], sink: WatchSink): Promise<() => void> {
    const { state, resolution } = await this.prepare(p, project, workload, scope, claimedTags);
    this.auditRead(p, 'Watch', resolution);
    return this.d.hub.subscribe(state, workload, scope, etag, sink);
  }

  private auditRead(p: Principal, action: string, r: CachedResolution): void {
    const time = this.d.now();
    // The record builder may be kept for the audit's repeat window: it holds the few fields it
    // needs, not the cached resolution (whose encoded bytes would outlive their snapshot).
    const { project, workload, scope, keys } = r;
    this.d.audit.recordRepeatedRead(`${p.token.id}\0${action}\0${project}\0${workload}\0${scope}\0${r.etag}`, () => ({
      time,
      actor: p.actor,
      action,
      project,
      target: `workload ${project}/${workload} (${scope})`,
      keys: [...keys],
      outcome: 'ok',
    }));
  }
}
