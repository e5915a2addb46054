/**
 * A revision in words ("Set variables: A, B", "Renamed from old") instead of the RPC that made
 * it, for `sg group history` and the console's History tab alike. Keys only. It lives in
 * client/, the room both may import, and imports nothing but a type.
 */
import type { GroupRevision } from '../gen/light/secretgroups/v1/secret_group_service.js';

type Revision = Pick<GroupRevision, 'action' | 'changedKeys' | 'deleted' | 'renamedFrom' | 'renamedTo' | 'rolledBackTo'>;

const keys = (r: Revision) => (r.changedKeys.length ? `: ${r.changedKeys.join(', ')}` : '');

export function describeRevision(r: Revision): string {
  if (r.deleted) return r.renamedTo ? `Renamed to ${r.renamedTo}` : 'Deleted';
  switch (r.action) {
    case 'CreateGroup':
      return `Created${keys(r)}`;
    case 'SetVariables':
      return `Set variables${keys(r)}`;
    case 'UnsetVariables':
      return `Removed variables${keys(r)}`;
    case 'ImportVariables':
      return `Imported variables${keys(r)}`;
    case 'UpdateGroupSettings':
      return 'Changed settings';
    case 'AddFile':
      return 'Added a file';
    case 'RemoveFile':
      return 'Removed a file';
    case 'LinkAddon':
      return 'Linked an addon';
    case 'UnlinkAddon':
      return 'Unlinked an addon';
    case 'RollbackGroup':
      return r.rolledBackTo ? `Rolled back to revision ${r.rolledBackTo}${keys(r)}` : `Rolled back${keys(r)}`;
    case 'RestoreGroup':
      return 'Restored after deletion';
    case 'RenameGroup':
      return r.renamedFrom ? `Renamed from ${r.renamedFrom}` : 'Renamed';
    default:
      return `${r.action}${keys(r)}`;
  }
}
