/**
 * Read-only views of a group for the console and the CLI: the workloads it reaches (with the
 * keys that win there) and the difference between two of its revisions.
 */
import { groupDependents, type GroupDependent } from '../domain/dependents.js';
import { diffGroups, type GroupDiff } from '../domain/group-diff.js';
import type { ResolveScope, SecretGroup, Vars } from '../domain/types.js';
import type { Principal } from '../security/principal.js';
import type { Deps } from './deps.js';
import { openHistory, revisionOf } from './group-history.js';
import { snapshotGroup } from './snapshot-group.js';

export interface RevisionDiff extends GroupDiff {
  fromRevision: number;
  toRevision: number;
  valuesRedacted: boolean;
  fromValues: Vars;
  toValues: Vars;
}

export class GroupInsights {
  constructor(private readonly d: Deps) {}

  /** Keys only: needs keys access to the group's type. */
  async dependents(p: Principal, project: string, name: string, scopes: readonly ResolveScope[]): Promise<GroupDependent[]> {
    const { state } = await snapshotGroup(this.d.snapshots, p, project, name, 'keys');
    return groupDependents(state.snapshot, name, scopes, (w, scope) => state.explain(w, scope));
  }

  /**
   * Values only when asked, and when the caller may read the type of both revisions and of the
   * current group (as ListGroupHistory shows each revision with the stricter type).
   */
  async diff(p: Principal, project: string, name: string, fromRevision: number, toRevision: number, keysOnly: boolean): Promise<RevisionDiff> {
    const store = this.d.store;
    const { type, bounds } = await openHistory(store, p, project, name);
    const to = toRevision || bounds.last;
    // Only the two revisions compared are read and opened, however long the history.
    const [a, b] = (await Promise.all([revisionOf(store, project, name, fromRevision), revisionOf(store, project, name, to)])).map((e) => e.group);
    const diff = diffGroups(a, b);
    const readable = (g: SecretGroup | null) => !g || p.seesValues(g.type);
    const showValues = !keysOnly && p.seesValues(type) && readable(a) && readable(b);
    const pick = (vars: Vars | undefined, keys: string[]): Vars => Object.fromEntries(keys.map((k) => [k, vars?.[k] ?? '']));
    const fromValues = showValues ? pick(a?.variables, [...diff.removedKeys, ...diff.changedKeys]) : {};
    const toValues = showValues ? pick(b?.variables, [...diff.addedKeys, ...diff.changedKeys]) : {};
    const shownKeys = [...new Set([...Object.keys(fromValues), ...Object.keys(toValues)])].sort();
    if (shownKeys.length && [type, a?.type, b?.type].includes('secret')) {
      this.d.audit.recordRead({ time: this.d.now(), actor: p.actor, action: 'DiffGroupRevisions', project, target: `group ${project}/${name}`, keys: shownKeys, outcome: 'ok' });
    }
    return { ...diff, fromRevision, toRevision: to, valuesRedacted: !showValues, fromValues, toValues };
  }
}
