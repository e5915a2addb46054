/**
 * Reads of a group's kept history shared by the group services: the checks before any read,
 * one revision (with the NOT_FOUND that says when the history budget pruned it) and the
 * group's effective type.
 */
import { DomainError, notFound } from '../domain/errors.js';
import type { GroupHistoryEntry, GroupType } from '../domain/types.js';
import { validateName } from '../domain/validation.js';
import type { Principal } from '../security/principal.js';
import type { Store } from '../store/store.js';

/**
 * The checks before any revision of a group's history is read (ListGroupHistory, DiffGroup):
 * the names, the project, the group's effective type (NOT_FOUND when it has no history) and
 * at least `keys` access to it. Answers the type and the kept revisions' bounds.
 */
export async function openHistory(store: Store, p: Principal, project: string, name: string): Promise<{ type: GroupType; bounds: { first: number; last: number } }> {
  validateName('project', project);
  validateName('group name', name);
  p.requireProject(project);
  const [type, bounds] = await Promise.all([historyType(store, project, name), store.groupHistoryBounds(project, name)]);
  if (!type || !bounds) throw notFound(`group ${project}/${name}`);
  p.requireGroupAccess(project, type, 'keys');
  return { type, bounds };
}

/** The group's newest entry and newest content (RestoreGroup's source); both among the newest two kept. */
export async function historyTail(store: Store, project: string, name: string): Promise<{ last: GroupHistoryEntry; content: GroupHistoryEntry | undefined } | null> {
  const tail = await store.listGroupHistory(project, name, { limit: 2, maxBytes: Number.MAX_SAFE_INTEGER });
  const last = tail.at(-1);
  return last ? { last, content: tail.findLast((e) => e.group) } : null;
}

/** The type access is checked against: the current group's, else the last content's. Null: no such group. */
export async function historyType(store: Store, project: string, name: string): Promise<GroupType | null> {
  const current = await store.getRecord('group', project, name);
  if (current) return current.type;
  const tail = await historyTail(store, project, name);
  return tail ? (tail.content?.group?.type ?? 'secret') : null;
}

/** One kept revision; NOT_FOUND naming the history budget when it was pruned. */
export async function revisionOf(store: Store, project: string, name: string, revision: number): Promise<GroupHistoryEntry> {
  const entry = await store.getGroupRevision(project, name, revision);
  if (entry) return entry;
  const bounds = await store.groupHistoryBounds(project, name);
  if (bounds && revision >= 1 && revision < bounds.first) {
    throw new DomainError(
      'NOT_FOUND',
      `revision ${revision} of group ${project}/${name} was pruned by the history budget (the oldest kept revision is ${bounds.first}; docs/storage.md, "History budget")`,
    );
  }
  throw notFound(`revision ${revision} of group ${project}/${name}`);
}
