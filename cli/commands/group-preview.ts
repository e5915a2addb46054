/**
 * `sg group preview`: a dry run of one proposed change. Exactly one change is given; its flags
 * map to one member of PreviewChangeRequest's `change` oneof. Output lists the workloads whose
 * resolution would change and which keys (never values).
 */
import type { Command } from 'commander';
import {
  DeleteGroupRequest,
  PreviewChangeRequest,
  RemoveFileRequest,
  RollbackGroupRequest,
  SetVariablesRequest,
  UnlinkAddonRequest,
  UnsetVariablesRequest,
  SecretGroupServiceDefinition,
} from '../../gen/light/secretgroups/v1/secret_group_service.js';
import { Restrictions } from '../../gen/light/secretgroups/v1/resources.js';
import { collect, parseAssignments, parseRevision } from '../args.js';
import { withSession } from '../client.js';
import { usage } from '../errors.js';
import { emit, expectedRevision, withAddr, withExpectedRevision, withJson } from '../kit.js';
import { previewHuman, previewJson } from '../views.js';
import { addFileRequest, createRequest, importRequest, linkRequest, restrictionsFrom, settingsRequest, type GroupTarget } from './group-requests.js';

export interface PreviewOpts {
  addr?: string;
  json?: boolean;
  expectedRevision?: string;
  create?: boolean;
  delete?: boolean;
  set?: string[];
  unset?: string[];
  import?: string;
  format?: string;
  replace?: boolean;
  type?: string;
  scope?: string;
  priority?: string;
  description?: string;
  workload?: string[];
  tag?: string[];
  unrestrict?: boolean;
  addFile?: string;
  from?: string;
  mode?: string;
  removeFile?: string;
  link?: string;
  addonKey?: string[];
  unlink?: string;
  rollback?: string;
  literal?: boolean;
  allowEmpty?: boolean;
}

type ChangeKind = 'create' | 'delete' | 'set' | 'unset' | 'import' | 'settings' | 'add-file' | 'remove-file' | 'link' | 'unlink' | 'rollback';

/** Which change the flags describe; several (or none) is a usage error. Pure, for tests. */
export function previewKind(o: PreviewOpts): ChangeKind {
  const settings = [o.type, o.scope, o.priority, o.description].some((v) => v !== undefined) || Boolean(o.workload?.length || o.tag?.length || o.unrestrict);
  const kinds: ChangeKind[] = [];
  if (o.create) kinds.push('create');
  if (o.delete) kinds.push('delete');
  // With --create, --set and the settings flags describe the new group rather than changes.
  if (o.set?.length && !o.create) kinds.push('set');
  if (o.unset?.length) kinds.push('unset');
  if (o.import !== undefined) kinds.push('import');
  if (settings && !o.create) kinds.push('settings');
  if (o.addFile !== undefined) kinds.push('add-file');
  if (o.removeFile !== undefined) kinds.push('remove-file');
  if (o.link !== undefined) kinds.push('link');
  if (o.unlink !== undefined) kinds.push('unlink');
  if (o.rollback !== undefined) kinds.push('rollback');
  if (kinds.length === 0) {
    throw usage('give the change to preview: --set, --unset, --import, --type/--scope/--priority/--description/--workload/--tag/--unrestrict, --create, --delete, --add-file, --remove-file, --link, --unlink or --rollback');
  }
  if (kinds.length > 1) throw usage(`preview one change at a time; got ${kinds.map(changeLabel).join(', ')}`);
  const kind = kinds[0]!;
  if (o.from !== undefined && kind !== 'add-file') throw usage('--from goes with --add-file');
  if (o.mode !== undefined && kind !== 'add-file') throw usage('--mode goes with --add-file');
  if ((o.format !== undefined || o.replace) && kind !== 'import') throw usage('--format and --replace go with --import');
  if (o.addonKey?.length && kind !== 'link') throw usage('--addon-key goes with --link');
  if (o.literal && kind !== 'set' && kind !== 'import') throw usage('--literal goes with --set or --import');
  if (o.allowEmpty && kind !== 'settings' && kind !== 'create') throw usage('--allow-empty goes with --workload/--tag or --create');
  if (o.unrestrict && (o.workload?.length || o.tag?.length)) throw usage('--unrestrict cannot be combined with --workload or --tag');
  if (kind === 'create' && o.unrestrict) throw usage('--unrestrict does not apply to --create');
  if (kind === 'add-file' && o.from === undefined) throw usage('--add-file needs --from LOCALFILE');
  return kind;
}

const changeLabel = (k: ChangeKind) => (k === 'settings' ? 'settings (--type/--scope/--priority/--description/--workload/--tag/--unrestrict)' : `--${k}`);

export async function previewRequest(project: string, name: string, o: PreviewOpts): Promise<PreviewChangeRequest> {
  const kind = previewKind(o);
  const t: GroupTarget = { project, name, expectedRevision: expectedRevision(o) };
  switch (kind) {
    case 'create':
      return PreviewChangeRequest.fromPartial({ createGroup: { ...createRequest(project, name, { ...o, vars: o.set, varsFlag: '--set' }), allowEmpty: Boolean(o.allowEmpty) } });
    case 'delete':
      return PreviewChangeRequest.fromPartial({ deleteGroup: DeleteGroupRequest.fromPartial(t) });
    case 'set':
      return PreviewChangeRequest.fromPartial({ setVariables: SetVariablesRequest.fromPartial({ ...t, variables: parseAssignments('--set', o.set), literal: Boolean(o.literal) }) });
    case 'unset':
      return PreviewChangeRequest.fromPartial({ unsetVariables: UnsetVariablesRequest.fromPartial({ ...t, keys: o.unset ?? [] }) });
    case 'import':
      return PreviewChangeRequest.fromPartial({ importVariables: { ...(await importRequest(t, o.import!, o.format, Boolean(o.replace))), literal: Boolean(o.literal) } });
    case 'settings': {
      // --workload/--tag give the complete new restrictions; --unrestrict lifts them.
      const restrictions = o.unrestrict ? Restrictions.fromPartial({ restricted: false }) : restrictionsFrom(o.workload, o.tag);
      return PreviewChangeRequest.fromPartial({ updateGroupSettings: { ...settingsRequest(t, o, restrictions), allowEmpty: Boolean(o.allowEmpty) } });
    }
    case 'add-file':
      return PreviewChangeRequest.fromPartial({ addFile: await addFileRequest(t, o.addFile!, o.from!, o.mode) });
    case 'remove-file':
      return PreviewChangeRequest.fromPartial({ removeFile: RemoveFileRequest.fromPartial({ ...t, path: o.removeFile! }) });
    case 'link':
      return PreviewChangeRequest.fromPartial({ linkAddon: linkRequest(t, o.link!, o.addonKey) });
    case 'unlink':
      return PreviewChangeRequest.fromPartial({ unlinkAddon: UnlinkAddonRequest.fromPartial({ ...t, addon: o.unlink! }) });
    case 'rollback': {
      const toRevision = parseRevision('--rollback', o.rollback);
      if (toRevision === 0) throw usage('--rollback must be a positive revision');
      return PreviewChangeRequest.fromPartial({ rollbackGroup: RollbackGroupRequest.fromPartial({ ...t, toRevision }) });
    }
  }
}

export function registerGroupPreview(group: Command): void {
  withJson(
    withExpectedRevision(
      withAddr(
        group
          .command('preview')
          .description("dry run of ONE change: which workloads' resolutions would change, and which keys (never values)")
          .argument('<project>', 'project name')
          .argument('<group>', 'group name')
          .option('--set <KEY=VALUE>', 'set a variable (repeatable)', collect)
          .option('--unset <KEY>', 'remove a variable (repeatable)', collect)
          .option('--import <file>', 'import a .env or JSON file ("-" reads stdin)')
          .option('--format <format>', 'with --import: dotenv or json')
          .option('--replace', 'with --import: replace instead of merge')
          .option('--literal', 'with --set or --import: values verbatim, not templates')
          .option('--allow-empty', 'with --workload/--tag or --create: accept restrictions that reach no workload')
          .option('--type <type>', 'settings: secret or config')
          .option('--scope <scope>', 'settings: runtime, build or both')
          .option('--priority <0..100>', 'settings: new priority')
          .option('--description <text>', 'settings: new description')
          .option('--workload <name>', 'settings: restrict to exactly these workloads and --tag tags (repeatable)', collect)
          .option('--tag <tag>', 'settings: restrict to exactly these tags and --workload workloads (repeatable)', collect)
          .option('--unrestrict', 'settings: lift every restriction')
          .option('--create', 'creating the group, with --type/--scope/--priority/--description/--workload/--tag/--set')
          .option('--delete', 'deleting the group')
          .option('--add-file <path>', 'adding a secret file, with --from and optional --mode')
          .option('--from <localfile>', 'with --add-file: the content')
          .option('--mode <octal>', 'with --add-file: permission bits')
          .option('--remove-file <path>', 'removing a secret file')
          .option('--link <addon>', 'linking an addon, with optional --key KEY[=ALIAS]')
          .option('--addon-key <KEY[=ALIAS]>', 'with --link: a key to link (repeatable)', collect)
          .option('--unlink <addon>', 'unlinking an addon')
          .option('--rollback <revision>', 'rolling back to an earlier revision')
          .addHelpText(
            'after',
            '\nExamples:\n  sg group preview shop a --priority 10\n  sg group preview shop a --set KEY_1=x --set KEY_9=y\n' +
              '  sg group preview shop a --delete\n  sg group preview shop new --create --priority 60 --tag web --set K=v',
          ),
      ),
    ),
    '{"changes": [...]}',
  ).action(async (project: string, name: string, opts: PreviewOpts) => {
    const req = await previewRequest(project, name, opts);
    await withSession(opts, async (s) => {
      const res = await s.call(SecretGroupServiceDefinition, 'previewChange', req);
      emit(opts, () => previewJson(res), () => previewHuman(res));
    });
  });
}
