/** A group as the in-memory snapshot holds it, for a caller with at least `level` on its type. */
import { notFound } from '../domain/errors.js';
import type { SecretGroup } from '../domain/types.js';
import { validateName } from '../domain/validation.js';
import type { Principal } from '../security/principal.js';
import type { AccessLevel } from '../security/roles.js';
import type { ProjectState, Snapshots } from '../watch/snapshots.js';

export async function snapshotGroup(
  snapshots: Snapshots,
  p: Principal,
  project: string,
  name: string,
  level: AccessLevel,
): Promise<{ state: ProjectState; group: SecretGroup }> {
  validateName('project', project);
  validateName('group name', name);
  p.requireProject(project);
  const state = await snapshots.get(project);
  const group = state.snapshot.groups.get(name);
  if (!group) throw notFound(`group ${project}/${name}`);
  p.requireGroupAccess(project, group.type, level);
  return { state, group };
}
