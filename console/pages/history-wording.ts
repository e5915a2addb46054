/** A revision in words ("Set variables: A, B") instead of the RPC that made it. Keys only. */
import type { GroupRevision } from '../gen.js';

const keys = (r: GroupRevision) => (r.changedKeys.length ? `: ${r.changedKeys.join(', ')}` : '');

export function describeRevision(r: GroupRevision): string {
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
