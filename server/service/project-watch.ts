/**
 * WatchProject: the change version of a project now and after each change (local or seen on
 * the change feed). Holds no names or values, so it needs only what GetProject needs.
 */
import { validateName } from '../domain/validation.js';
import type { Principal } from '../security/principal.js';
import type { Deps } from './deps.js';
import type { ProjectState } from './snapshots.js';

export interface ProjectChangeSink {
  change(version: number, deleted: boolean): void;
}

export class ProjectWatch {
  constructor(private readonly d: Deps) {}

  /** Sends the current version, then every change; returns the unsubscribe function. */
  async watch(p: Principal, project: string, sink: ProjectChangeSink): Promise<() => void> {
    validateName('project', project);
    p.requireProject(project);
    const state = await this.d.snapshots.get(project); // NOT_FOUND for an unknown project
    const onChange = (name: string, after: ProjectState | null) => {
      if (name === project) sink.change(after?.version ?? 0, after === null);
    };
    this.d.snapshots.on('changed', onChange);
    sink.change(state.version, false);
    return () => this.d.snapshots.off('changed', onChange);
  }
}
