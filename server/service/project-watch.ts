/**
 * WatchProject: the change version of a project now and after each change (local or seen on
 * the change feed). Holds no names or values, so it needs only what GetProject needs.
 */
import { validateName } from '../domain/validation.js';
import type { Principal } from '../security/principal.js';
import type { CutCode, GuardedStream, StreamGuard } from '../security/stream-guard.js';
import type { Deps } from './deps.js';
import type { ProjectState } from '../watch/snapshots.js';

export interface ProjectChangeSink {
  change(version: number, deleted: boolean): void;
  /** The stream guard ended the stream (token revoked or expired, rights changed). */
  fail(code: CutCode, message: string): void;
}

export class ProjectWatch {
  constructor(
    private readonly d: Deps,
    private readonly guard: StreamGuard,
  ) {}

  /** Sends the current version, then every change; returns the unsubscribe function. */
  async watch(p: Principal, project: string, sink: ProjectChangeSink): Promise<() => void> {
    validateName('project', project);
    p.requireProject(project);
    const state = await this.d.snapshots.get(project); // NOT_FOUND for an unknown project
    // Under the same re-authorization and per-token cap as Watch streams.
    const guarded: GuardedStream = {
      project,
      workload: '',
      scope: 'runtime',
      authorize: (q) => q.requireProject(project),
      end: (code, message) => sink.fail(code, message),
    };
    const admission = this.guard.admit(p, guarded);
    const onChange = (name: string, after: ProjectState | null) => {
      if (name === project) sink.change(after?.version ?? 0, after === null);
    };
    this.d.snapshots.on('changed', onChange);
    sink.change(state.version, false);
    return () => {
      this.guard.release(guarded, admission);
      this.d.snapshots.off('changed', onChange);
    };
  }
}
