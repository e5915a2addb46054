/**
 * `sg group ...`: secret groups, their variables, files, addon links, settings, restrictions,
 * history, preview and restarts. Human output masks the values of secret groups unless
 * --show-values; --json is the machine form and carries every value the token may read (null
 * where it may see keys only), like every other command's --json (docs/architecture.md, "Values in client output").
 */
import type { Command } from 'commander';
import type { SecretGroup } from '../../gen/light/secretgroups/v1/resources.js';
import { Restrictions } from '../../gen/light/secretgroups/v1/resources.js';
import {
  DeleteGroupRequest,
  GetGroupRequest,
  ListGroupDependentsRequest,
  ListGroupHistoryRequest,
  ListGroupsRequest,
  RemoveFileRequest,
  RenameGroupRequest,
  RestartDependentsRequest,
  RestoreGroupRequest,
  RollbackGroupRequest,
  SetVariablesRequest,
  UnlinkAddonRequest,
  UnsetVariablesRequest,
  SecretGroupServiceDefinition,
} from '../../gen/light/secretgroups/v1/secret_group_service.js';
import { collect, parseAssignments, parseRevision } from '../args.js';
import { readModifyWrite, withSession, type Session } from '../client.js';
import { usage } from '../errors.js';
import { progress } from '../output.js';
import { confirmOnTerminal, emit, expectedRevision, JSON_VALUES, NO_TABLE_VALUES, warn, withAddr, withExpectedRevision, withJson, withYes } from '../kit.js';
import { getCommand, listCommand, type WriteFlags } from '../resource-commands.js';
import { groupHuman, groupJson, groupsTable, historyJson, historyTable, restartHuman, restartJson } from '../views.js';
import { addFileRequest, createRequest, hasSettings, importRequest, linkRequest, settingsRequest, type GroupTarget } from './group-requests.js';
import { registerGroupPreview } from './group-preview.js';
import { dependentsLine, dependentWorkloads, registerGroupInsights } from './group-insights.js';

interface Opts extends WriteFlags {
  type?: string;
  scope?: string;
  priority?: string;
  description?: string;
  workload?: string[];
  tag?: string[];
  var?: string[];
  format?: string;
  replace?: boolean;
  from?: string;
  mode?: string;
  addonKey?: string[];
  literal?: boolean;
  allowEmpty?: boolean;
  yes?: boolean;
}

const SHOW_VALUES = `print the values of a secret group (masked by default; config values are always shown); ${JSON_VALUES}`;

const target = (project: string, name: string, opts: Opts): GroupTarget => ({ project, name, expectedRevision: expectedRevision(opts) });

/** Prints a group: as JSON (every value the token may read), or its human view (masked unless --show-values). */
const printGroup = (opts: Opts, g: SecretGroup | undefined) =>
  emit(opts, () => groupJson(g!), () => groupHuman(g!, Boolean(opts.showValues)));

/** What a group change answers: the group, whether anything changed, warnings. */
interface Changed {
  group?: SecretGroup;
  unchanged?: boolean;
  warnings?: string[];
}

/** Prints a group after a change, saying so when nothing changed (no revision was written). */
function printChange(opts: Opts, res: Changed, prefix = ''): void {
  warn(res.warnings);
  const g = res.group!;
  const note = res.unchanged ? `No change: group ${g.project}/${g.name} already holds this (still revision ${g.revision})\n\n` : '';
  emit(
    opts,
    () => ({ ...groupJson(g), ...(res.unchanged ? { unchanged: true } : {}) }),
    () => prefix + note + groupHuman(g, Boolean(opts.showValues)),
  );
}

const LITERAL = 'store values verbatim, not as ${KEY} templates (each ${ is saved as $${)';
const ALLOW_EMPTY = 'accept restrictions that reach no existing workload';

/** The standard flags of a group change: address, --expected-revision, --show-values, --json. */
const mutating = (cmd: Command) => withJson(withExpectedRevision(withAddr(cmd)).option('--show-values', SHOW_VALUES), 'the updated group');

export function registerGroup(program: Command): void {
  const group = program
    .command('group')
    .description('secret groups: variables and files defined once per project, inherited by many workloads');

  withJson(
    withAddr(
      group
        .command('create')
        .description('create a group; any --workload or --tag restricts it to those workloads (their union)')
        .argument('<project>', 'project name')
        .argument('<group>', 'group name (DNS label)')
        .option('--type <type>', 'secret or config: which RBAC permission set applies (default: secret; ask for config)')
        .option('--scope <scope>', 'runtime, build or both: when the group is inherited (default: both)')
        .option('--priority <0..100>', 'higher wins on conflicting keys (default: 0)')
        .option('--description <text>', 'free text')
        .option('--workload <name>', 'restrict to this workload (repeatable)', collect)
        .option('--tag <tag>', 'restrict to workloads with this tag (repeatable)', collect)
        .option('--var <KEY=VALUE>', 'initial variable (repeatable)', collect)
        .option('--allow-empty', ALLOW_EMPTY)
        .option('--show-values', SHOW_VALUES),
    ),
    'the new group',
  ).action((project: string, name: string, opts: Opts) => {
    const req = { ...createRequest(project, name, { ...opts, vars: opts.var }), allowEmpty: Boolean(opts.allowEmpty) };
    return withSession(opts, async (s) => printChange(opts, await s.call(SecretGroupServiceDefinition, 'createGroup', req)));
  });

  getCommand(group, {
    noun: 'group',
    description: 'show a group; --json maps each key to its value, or to null where the caller may see keys only',
    arg: 'group',
    showValues: SHOW_VALUES,
    jsonWhat: 'the group',
    get: async (s, project, name) => (await s.call(SecretGroupServiceDefinition, 'getGroup', GetGroupRequest.fromPartial({ project, name }))).group,
    print: printGroup,
  });

  listCommand(group, {
    plural: 'groups',
    list: async (s, project) => (await s.call(SecretGroupServiceDefinition, 'listGroups', ListGroupsRequest.fromPartial({ project }))).groups,
    json: groupJson,
    table: groupsTable,
  });

  withYes(
    withJson(
      withExpectedRevision(
        withAddr(
          group
            .command('delete')
            .description('delete a group (its history is kept: `sg group restore` brings it back); asks on a terminal unless --yes')
            .argument('<project>', 'project name')
            .argument('<group>', 'group name'),
        ),
      ),
    ),
  ).action((project: string, name: string, opts: Opts) => {
      const req = DeleteGroupRequest.fromPartial(target(project, name, opts));
      return withSession(opts, async (s) => {
        // What the delete affects, named before asking and in the answer, also for scripts.
        // A caller who may not list the dependents may not delete either: the delete says so.
        const dependents = await s
          .call(SecretGroupServiceDefinition, 'listGroupDependents', ListGroupDependentsRequest.fromPartial({ project, name }))
          .then(dependentWorkloads, () => undefined);
        const reach = dependents ? `It reaches ${dependentsLine(dependents)}. ` : '';
        await confirmOnTerminal(opts, `group ${project}/${name}`, name, reach);
        await s.call(SecretGroupServiceDefinition, 'deleteGroup', req);
        emit(
          opts,
          () => ({ deleted: true, project, group: name, dependents: dependents ?? [], restore: `sg group restore ${project} ${name}` }),
          () =>
            `Deleted group ${project}/${name}\n` +
            (dependents ? `It reached ${dependentsLine(dependents)}\n` : '') +
            `Undo: sg group restore ${project} ${name}\n`,
        );
      });
    });

  mutating(
    group
      .command('set')
      .description('set variables (values may hold ${KEY} templates of the same group; $${ is a literal ${); PATH, LD_*, NODE_OPTIONS and other execution-controlling keys need write on secret groups')
      .argument('<project>', 'project name')
      .argument('<group>', 'group name')
      .argument('<KEY=VALUE...>', 'assignments; the value is everything after the first "="')
      .option('--literal', LITERAL)
      .addHelpText('after', "\nExample (single quotes keep the shell from expanding ${...}):\n  sg group set shop db 'DATABASE_URL=postgres://${DB_HOST}/app' DB_HOST=db.internal"),
  ).action((project: string, name: string, assignments: string[], opts: Opts) => {
    const req = SetVariablesRequest.fromPartial({ ...target(project, name, opts), variables: parseAssignments('assignment', assignments), literal: Boolean(opts.literal) });
    return withSession(opts, async (s) => printChange(opts, await s.call(SecretGroupServiceDefinition, 'setVariables', req)));
  });

  mutating(
    group
      .command('unset')
      .description('remove variables')
      .argument('<project>', 'project name')
      .argument('<group>', 'group name')
      .argument('<KEY...>', 'keys to remove'),
  ).action((project: string, name: string, keys: string[], opts: Opts) => {
    const req = UnsetVariablesRequest.fromPartial({ ...target(project, name, opts), keys });
    return withSession(opts, async (s) => printGroup(opts, (await s.call(SecretGroupServiceDefinition, 'unsetVariables', req)).group));
  });

  withJson(
    withExpectedRevision(
      withAddr(
        group
          .command('import')
          .description('import variables from a .env file or a JSON object of strings; merges unless --replace')
          .argument('<project>', 'project name')
          .argument('<group>', 'group name')
          .argument('<file>', 'file to read; "-" reads stdin')
          .option('--format <format>', 'dotenv or json (default: json for a .json file or input that starts with "{", else dotenv)')
          .option('--replace', 'replace every variable instead of merging')
          .option('--literal', LITERAL)
          .option('--show-values', SHOW_VALUES),
      ),
    ),
    '{"imported": N, "group": {...}}',
  ).action(async (project: string, name: string, file: string, opts: Opts) => {
    const req = { ...(await importRequest(target(project, name, opts), file, opts.format, Boolean(opts.replace))), literal: Boolean(opts.literal) };
    await withSession(opts, async (s) => {
      const done = progress(`importing ${Math.ceil(req.content.length / 1024)} KiB into ${project}/${name}`);
      const res = await s.call(SecretGroupServiceDefinition, 'importVariables', req).finally(done);
      warn(res.warnings);
      const note = res.unchanged ? 'No change: every imported value was already set so (no new revision)\n' : '';
      emit(
        opts,
        () => ({ imported: res.imported, group: groupJson(res.group!), ...(res.unchanged ? { unchanged: true } : {}) }),
        () => `Imported ${res.imported} variable(s)\n${note}\n${groupHuman(res.group!, Boolean(opts.showValues))}`,
      );
    });
  });

  mutating(
    group
      .command('settings')
      .description('change type, scope, priority or description')
      .argument('<project>', 'project name')
      .argument('<group>', 'group name')
      .option('--type <type>', 'secret or config')
      .option('--scope <scope>', 'runtime, build or both')
      .option('--priority <0..100>', 'higher wins on conflicting keys')
      .option('--description <text>', 'free text'),
  ).action((project: string, name: string, opts: Opts) => {
    if (!hasSettings(opts)) throw usage('nothing to change: give --type, --scope, --priority or --description');
    const req = settingsRequest(target(project, name, opts), opts);
    return withSession(opts, async (s) => printChange(opts, await s.call(SecretGroupServiceDefinition, 'updateGroupSettings', req)));
  });

  mutating(
    group
      .command('restrict')
      .description('add workloads and/or tags to the restrictions: the group then reaches only their union')
      .argument('<project>', 'project name')
      .argument('<group>', 'group name')
      .option('--workload <name>', 'workload to add (repeatable; it must exist)', collect)
      .option('--tag <tag>', 'tag to add (repeatable; a tag no workload carries yet is a warning)', collect)
      .option('--allow-empty', ALLOW_EMPTY),
  ).action((project: string, name: string, opts: Opts) => {
    if (!opts.workload?.length && !opts.tag?.length) throw usage('give at least one --workload or --tag');
    const rev = expectedRevision(opts);
    return withSession(opts, async (s) =>
      printChange(
        opts,
        await updateRestrictions(s, project, name, rev, Boolean(opts.allowEmpty), (r) =>
          Restrictions.fromPartial({
            restricted: true,
            workloads: union(r.workloads, opts.workload),
            tags: union(r.tags, opts.tag),
          }),
        ),
      ),
    );
  });

  mutating(
    group
      .command('unrestrict')
      .description(
        'with no flags, lift every restriction (the group reaches every workload); with --workload/--tag, remove just those ' +
          '(the group stays restricted, and reaches no workload once both lists are empty)',
      )
      .argument('<project>', 'project name')
      .argument('<group>', 'group name')
      .option('--workload <name>', 'workload to remove (repeatable)', collect)
      .option('--tag <tag>', 'tag to remove (repeatable)', collect)
      .option('--allow-empty', ALLOW_EMPTY),
  ).action((project: string, name: string, opts: Opts) => {
    const rev = expectedRevision(opts);
    const all = !opts.workload?.length && !opts.tag?.length;
    return withSession(opts, async (s) =>
      printChange(
        opts,
        await updateRestrictions(s, project, name, rev, Boolean(opts.allowEmpty), (r) =>
          all
            ? Restrictions.fromPartial({ restricted: false, workloads: [], tags: [] })
            : Restrictions.fromPartial({
                restricted: r.restricted,
                workloads: r.workloads.filter((w) => !opts.workload?.includes(w)),
                tags: r.tags.filter((t) => !opts.tag?.includes(t)),
              }),
        ),
      ),
    );
  });

  const file = group.command('file').description("a group's secret files (written for workloads, merged by path)");
  mutating(
    file
      .command('add')
      .description('add or replace a secret file (needs write on secret groups, in either group type)')
      .argument('<project>', 'project name')
      .argument('<group>', 'group name')
      .argument('<path>', 'absolute, normalised path the workload sees, without ".."')
      .requiredOption('--from <localfile>', 'local file with the content ("-" reads stdin)')
      .option('--mode <octal>', 'permission bits (default: the replaced file\'s mode, else 0600)'),
  ).action(async (project: string, name: string, path: string, opts: Opts) => {
    const req = await addFileRequest(target(project, name, opts), path, opts.from!, opts.mode);
    await withSession(opts, async (s) => printChange(opts, await s.call(SecretGroupServiceDefinition, 'addFile', req)));
  });

  mutating(
    file.command('rm').description('remove a secret file').argument('<project>', 'project name').argument('<group>', 'group name').argument('<path>', 'file path'),
  ).action((project: string, name: string, path: string, opts: Opts) => {
    const req = RemoveFileRequest.fromPartial({ ...target(project, name, opts), path });
    return withSession(opts, async (s) => printGroup(opts, (await s.call(SecretGroupServiceDefinition, 'removeFile', req)).group));
  });

  mutating(
    group
      .command('link')
      .description('link an addon into a secret group: its keys appear as variables of the group; with no --addon-key, every key under <ADDON>_<KEY>')
      .argument('<project>', 'project name')
      .argument('<group>', 'group name')
      .argument('<addon>', 'addon name')
      .option('--addon-key <KEY[=ALIAS]>', 'link this key, optionally under ALIAS (repeatable)', collect),
  ).action((project: string, name: string, addon: string, opts: Opts) => {
    const req = linkRequest(target(project, name, opts), addon, opts.addonKey);
    return withSession(opts, async (s) => printChange(opts, await s.call(SecretGroupServiceDefinition, 'linkAddon', req)));
  });

  mutating(
    group.command('unlink').description('remove the link to an addon').argument('<project>', 'project name').argument('<group>', 'group name').argument('<addon>', 'addon name'),
  ).action((project: string, name: string, addon: string, opts: Opts) => {
    const req = UnlinkAddonRequest.fromPartial({ ...target(project, name, opts), addon });
    return withSession(opts, async (s) => printGroup(opts, (await s.call(SecretGroupServiceDefinition, 'unlinkAddon', req)).group));
  });

  withJson(
    withAddr(
      group
        .command('history')
        .description('the revisions of a group, newest page first: who, when, which keys (--json adds each revision\'s values the token may read)')
        .argument('<project>', 'project name')
        .argument('<group>', 'group name')
        .option('--limit <n>', 'revisions per page (default 20, at most 100)')
        .option('--before <revision>', 'only revisions older than this one (the next page: what the previous one printed)')
        .option('--show-values', NO_TABLE_VALUES),
    ),
    '{"revisions": [...], "nextBeforeRevision": N, "oldestKeptRevision": N}',
  ).action((project: string, name: string, opts: Opts & { limit?: string; before?: string }) => {
    const pageSize = parseRevision('--limit', opts.limit);
    const beforeRevision = parseRevision('--before', opts.before);
    return withSession(opts, async (s) => {
      const req = ListGroupHistoryRequest.fromPartial({ project, name, pageSize, beforeRevision });
      const res = await s.call(SecretGroupServiceDefinition, 'listGroupHistory', req);
      emit(
        opts,
        () => ({ revisions: historyJson(res.revisions), nextBeforeRevision: res.nextBeforeRevision, oldestKeptRevision: res.oldestKeptRevision }),
        () =>
          historyTable(res.revisions) +
          (res.nextBeforeRevision
            ? `(older revisions: sg group history ${project} ${name} --before ${res.nextBeforeRevision})\n`
            : res.oldestKeptRevision > 1
              ? `(revisions before ${res.oldestKeptRevision} were pruned by the history budget)\n`
              : ''),
      );
    });
  });

  mutating(
    group
      .command('rollback')
      .description('write a new revision whose content equals an earlier one')
      .argument('<project>', 'project name')
      .argument('<group>', 'group name')
      .argument('<revision>', 'the earlier revision (see `sg group history`)'),
  ).action((project: string, name: string, revision: string, opts: Opts) => {
    const toRevision = parseRevision('REVISION', revision);
    if (toRevision === 0) throw usage('REVISION must be a positive integer');
    const req = RollbackGroupRequest.fromPartial({ ...target(project, name, opts), toRevision });
    return withSession(opts, async (s) => printChange(opts, await s.call(SecretGroupServiceDefinition, 'rollbackGroup', req)));
  });

  mutating(
    group
      .command('restore')
      .description("undelete: recreate a deleted group with its last content, as a new revision (its history is kept)")
      .argument('<project>', 'project name')
      .argument('<group>', 'the deleted group\'s name (see `sg group history`)'),
  ).action((project: string, name: string, opts: Opts) => {
    const req = RestoreGroupRequest.fromPartial(target(project, name, opts));
    return withSession(opts, async (s) => printChange(opts, await s.call(SecretGroupServiceDefinition, 'restoreGroup', req), `Restored group ${project}/${name}\n\n`));
  });

  mutating(
    group
      .command('rename')
      .description('rename a group; its history follows it (no group, live or deleted, may hold the new name)')
      .argument('<project>', 'project name')
      .argument('<group>', 'current name')
      .argument('<new-name>', 'new name (DNS label)'),
  ).action((project: string, name: string, newName: string, opts: Opts) => {
    const req = RenameGroupRequest.fromPartial({ ...target(project, name, opts), newName });
    return withSession(opts, async (s) => printChange(opts, await s.call(SecretGroupServiceDefinition, 'renameGroup', req), `Renamed group ${project}/${name} to ${newName}\n\n`));
  });

  registerGroupPreview(group);
  registerGroupInsights(group);

  withJson(
    withAddr(
      group
        .command('restart-dependents')
        .description('ask every workload whose runtime resolution includes the group to restart (through its agent)')
        .argument('<project>', 'project name')
        .argument('<group>', 'group name'),
    ),
    '{"workloads": [...], "delivered": N}',
  ).action((project: string, name: string, opts: Opts) =>
    withSession(opts, async (s) => {
      const res = await s.call(SecretGroupServiceDefinition, 'restartDependents', RestartDependentsRequest.fromPartial({ project, name }));
      emit(opts, () => restartJson(res), () => restartHuman(res));
    }),
  );
}

function union(current: string[], extra: string[] | undefined): string[] {
  return [...new Set([...current, ...(extra ?? [])])].sort();
}

/** Reads the group, applies `change` to its restrictions and writes them with the revision read. */
function updateRestrictions(
  s: Session,
  project: string,
  name: string,
  expected: number,
  allowEmpty: boolean,
  change: (r: Restrictions) => Restrictions,
): Promise<Changed> {
  return readModifyWrite(expected === 0, async () => {
    const { group } = await s.call(SecretGroupServiceDefinition, 'getGroup', GetGroupRequest.fromPartial({ project, name }));
    const current = group!.restrictions ?? Restrictions.fromPartial({});
    const req = { ...settingsRequest({ project, name, expectedRevision: expected || group!.revision }, {}, change(current)), allowEmpty };
    return s.call(SecretGroupServiceDefinition, 'updateGroupSettings', req);
  });
}
