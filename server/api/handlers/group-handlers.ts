/** SecretGroupService: maps each request to a GroupChange for GroupsService. */
import { invalid } from '../../domain/errors.js';
import { parseImportDetailed } from '../../domain/import-parse.js';
import type { GroupChange } from '../../domain/group-changes.js';
import { ImportFormat, type PreviewChangeRequest, type SecretGroupServiceServer } from '../../../gen/secretgroups/v1/secret_group_service.js';
import type { GroupsService, MutationResult } from '../../service/groups.js';
import { unary, type ApiContext } from '../call.js';
import type { HandlersOf } from '../grpc-adapter.js';
import { fileFromPb, groupScopeFromPb, groupToPb, restrictionsFromPb, scopeToPb, typeFromPb, typeToPb } from '../mappers.js';
import { viewAs } from '../../security/keys-only.js';

type Target = { project: string; name: string; expectedRevision: number };

/** Every mutating request as (target, domain change): shared by the RPCs and PreviewChange. */
export function changeOf(req: PreviewChangeRequest): [Target, GroupChange] {
  if (req.createGroup) {
    const r = req.createGroup;
    return [
      { project: r.project, name: r.name, expectedRevision: 0 },
      {
        kind: 'create',
        group: {
          project: r.project,
          name: r.name,
          description: r.description,
          type: typeFromPb(r.type),
          scope: groupScopeFromPb(r.scope),
          priority: r.priority,
          restrictions: restrictionsFromPb(r.restrictions),
          variables: r.variables,
        },
        allowEmpty: r.allowEmpty,
      },
    ];
  }
  if (req.deleteGroup) return [req.deleteGroup, { kind: 'delete' }];
  if (req.updateGroupSettings) {
    const r = req.updateGroupSettings;
    return [
      r,
      {
        kind: 'settings',
        description: r.description,
        type: r.type === undefined ? undefined : typeFromPb(r.type),
        scope: r.scope === undefined ? undefined : groupScopeFromPb(r.scope),
        priority: r.priority,
        restrictions: r.restrictions ? restrictionsFromPb(r.restrictions) : undefined,
        allowEmpty: r.allowEmpty,
      },
    ];
  }
  if (req.setVariables) return [req.setVariables, { kind: 'set', variables: req.setVariables.variables, literal: req.setVariables.literal }];
  if (req.unsetVariables) return [req.unsetVariables, { kind: 'unset', keys: req.unsetVariables.keys }];
  if (req.importVariables) {
    const r = req.importVariables;
    const format = r.format === ImportFormat.IMPORT_FORMAT_JSON ? 'json' : r.format === ImportFormat.IMPORT_FORMAT_DOTENV ? 'dotenv' : null;
    if (!format) throw invalid('format must be DOTENV or JSON');
    return [r, { kind: 'import', format, content: r.content, replace: r.replace, literal: r.literal }];
  }
  if (req.addFile) return [req.addFile, { kind: 'add-file', file: fileFromPb(req.addFile.file) }];
  if (req.removeFile) return [req.removeFile, { kind: 'remove-file', path: req.removeFile.path }];
  if (req.linkAddon) return [req.linkAddon, { kind: 'link', addon: req.linkAddon.addon, keys: req.linkAddon.keys }];
  if (req.unlinkAddon) return [req.unlinkAddon, { kind: 'unlink', addon: req.unlinkAddon.addon }];
  if (req.rollbackGroup) return [req.rollbackGroup, { kind: 'rollback', revision: req.rollbackGroup.toRevision }];
  throw invalid('change is required: set exactly one of the change fields');
}

const out = (g: MutationResult | null) => ({
  group: g ? groupToPb(g.record, g.redacted) : undefined,
  unchanged: Boolean(g?.unchanged),
  warnings: g?.warnings ?? [],
});

/** The RPCs of the console's read-only views live in insight-handlers.ts. */
type CoreGroupRpcs = Omit<HandlersOf<SecretGroupServiceServer>, 'listGroupDependents' | 'diffGroupRevisions' | 'revealValue'>;

export function groupHandlers(ctx: ApiContext, svc: GroupsService): CoreGroupRpcs {
  const mutation = <K extends keyof PreviewChangeRequest>(method: string, field: K) =>
    unary(ctx, method, async (p, req: NonNullable<PreviewChangeRequest[K]>) => {
      const [t, change] = changeOf({ [field]: req } as PreviewChangeRequest);
      return out(await svc.mutate(p, t.project, t.name, change, t.expectedRevision));
    });
  return {
    createGroup: mutation('CreateGroup', 'createGroup'),
    getGroup: unary(ctx, 'GetGroup', async (p, req) => out(await svc.get(viewAs(p, req), req.project, req.name))),
    listGroups: unary(ctx, 'ListGroups', async (p, req) => {
      const groups = await svc.list(viewAs(p, req), req.project);
      const deleted = req.includeDeleted ? await svc.listDeleted(p, req.project, groups.map((g) => g.record.name)) : [];
      return {
        groups: groups.map((g) => groupToPb(g.record, g.redacted)),
        deletedGroups: deleted.map((d) => ({ name: d.name, type: typeToPb(d.type), deletedRevision: d.deletedRevision, deletedAtMs: d.deletedAt, deletedBy: d.deletedBy })),
      };
    }),
    deleteGroup: unary(ctx, 'DeleteGroup', async (p, req) => {
      await svc.mutate(p, req.project, req.name, { kind: 'delete' }, req.expectedRevision);
      return {};
    }),
    updateGroupSettings: mutation('UpdateGroupSettings', 'updateGroupSettings'),
    setVariables: mutation('SetVariables', 'setVariables'),
    unsetVariables: mutation('UnsetVariables', 'unsetVariables'),
    importVariables: unary(ctx, 'ImportVariables', async (p, req) => {
      const [t, change] = changeOf({ importVariables: req });
      const g = await svc.mutate(p, t.project, t.name, change, t.expectedRevision);
      // Parsed again only to count and warn: the import already succeeded, so this cannot throw.
      const parsed = change.kind === 'import' ? parseImportDetailed(change.format, change.content) : { vars: {}, warnings: [] };
      return { ...out(g), imported: Object.keys(parsed.vars).length, warnings: parsed.warnings };
    }),
    addFile: mutation('AddFile', 'addFile'),
    removeFile: mutation('RemoveFile', 'removeFile'),
    linkAddon: mutation('LinkAddon', 'linkAddon'),
    unlinkAddon: mutation('UnlinkAddon', 'unlinkAddon'),
    listGroupHistory: unary(ctx, 'ListGroupHistory', async (p, req) => {
      const page = await svc.history(viewAs(p, req), req.project, req.name, { size: req.pageSize, before: req.beforeRevision });
      return {
        nextBeforeRevision: page.nextBefore,
        oldestKeptRevision: page.oldestKept,
        revisions: page.revisions.map(({ entry, redacted }) => ({
          revision: entry.revision,
          timeMs: entry.time,
          actor: entry.actor,
          action: entry.action,
          changedKeys: entry.changedKeys,
          group: entry.group ? groupToPb(entry.group, redacted) : undefined,
          deleted: entry.group === null,
          renamedFrom: entry.renamedFrom ?? '',
          renamedTo: entry.renamedTo ?? '',
          rolledBackTo: entry.rolledBackTo ?? 0,
        })),
      };
    }),
    rollbackGroup: mutation('RollbackGroup', 'rollbackGroup'),
    previewChange: unary(ctx, 'PreviewChange', async (p, req) => {
      const [t, change] = changeOf(req);
      const changes = await svc.preview(p, t.project, t.name, change, t.expectedRevision);
      return { changes: changes.map((c) => ({ ...c, scope: scopeToPb(c.scope) })) };
    }),
    restartDependents: unary(ctx, 'RestartDependents', async (p, req) => svc.restartDependents(p, req.project, req.name)),
    restoreGroup: unary(ctx, 'RestoreGroup', async (p, req) => ({
      group: out(await svc.mutate(p, req.project, req.name, { kind: 'restore' }, req.expectedRevision)).group,
    })),
    renameGroup: unary(ctx, 'RenameGroup', async (p, req) => ({ group: out(await svc.rename(p, req.project, req.name, req.newName, req.expectedRevision)).group })),
  };
}
