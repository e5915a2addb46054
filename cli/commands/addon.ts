/** `sg addon create|get|list|update|delete`: managed dependencies and their connection details. */
import type { Command } from 'commander';
import {
  CreateAddonRequest,
  DeleteAddonRequest,
  GetAddonRequest,
  ListAddonsRequest,
  UpdateAddonRequest,
  ProjectServiceDefinition,
} from '../../gen/light/secretgroups/v1/project_service.js';
import { collect, parseAssignments, parseDetailsJson } from '../args.js';
import { withSession } from '../client.js';
import { usage } from '../errors.js';
import { emit, expectedRevision, JSON_VALUES, readInput, withAddr, withExpectedRevision, withJson } from '../kit.js';
import { deleteCommand, getCommand, listCommand, type WriteFlags } from '../resource-commands.js';
import { addonHuman, addonJson, addonsTable } from '../views.js';

interface Opts extends WriteFlags {
  type?: string;
  detail?: string[];
  detailsFile?: string;
  replace?: boolean;
  unset?: string[];
}

const SHOW_VALUES = `print connection detail values (masked by default: they are credentials); ${JSON_VALUES}`;

/** Details from --detail K=V flags and/or a JSON file; flags win over the file for the same key. */
async function readDetails(opts: Opts): Promise<Record<string, string>> {
  const fromFile = opts.detailsFile
    ? parseDetailsJson(opts.detailsFile === '-' ? 'stdin' : opts.detailsFile, (await readInput(opts.detailsFile, '--details-file')).toString('utf8'))
    : {};
  return { ...fromFile, ...parseAssignments('--detail', opts.detail) };
}

export function registerAddon(program: Command): void {
  const addon = program.command('addon').description('managed dependencies (databases, queues) whose connection details groups link');

  withJson(
    withAddr(
      addon
        .command('create')
        .description('register an addon')
        .argument('<project>', 'project name')
        .argument('<name>', 'addon name (DNS label)')
        .requiredOption('--type <type>', 'free-form kind, such as postgresql')
        .option('--detail <KEY=VALUE>', 'a connection detail (repeatable)', collect)
        .option('--details-file <file>', 'connection details from a JSON object of strings ("-" reads stdin)')
        .option('--show-values', SHOW_VALUES),
    ),
  ).action(async (project: string, name: string, opts: Opts) => {
    const connectionDetails = await readDetails(opts);
    const req = CreateAddonRequest.fromPartial({ project, name, type: opts.type ?? '', connectionDetails });
    await withSession(opts, async (s) => {
      const res = await s.call(ProjectServiceDefinition, 'createAddon', req);
      emit(opts, () => addonJson(res.addon!), () => addonHuman(res.addon!, Boolean(opts.showValues)));
    });
  });

  getCommand(addon, {
    noun: 'addon',
    description: 'show an addon',
    showValues: SHOW_VALUES,
    get: async (s, project, name) => (await s.call(ProjectServiceDefinition, 'getAddon', GetAddonRequest.fromPartial({ project, name }))).addon!,
    print: (opts, a) => emit(opts, () => addonJson(a), () => addonHuman(a, Boolean(opts.showValues))),
  });

  listCommand(addon, {
    plural: 'addons',
    list: async (s, project) => (await s.call(ProjectServiceDefinition, 'listAddons', ListAddonsRequest.fromPartial({ project }))).addons,
    json: addonJson,
    table: addonsTable,
  });

  withJson(
    withExpectedRevision(
      withAddr(
        addon
          .command('update')
          .description('rotate connection details: the given ones are merged in (--replace: they replace all); every dependent resolution changes')
          .argument('<project>', 'project name')
          .argument('<name>', 'addon name')
          .option('--detail <KEY=VALUE>', 'a connection detail to set (repeatable)', collect)
          .option('--details-file <file>', 'connection details from a JSON object of strings ("-" reads stdin)')
          .option('--unset <KEY>', 'remove this detail (repeatable; not with --replace)', collect)
          .option('--replace', 'the given details replace every detail (details not given are removed)')
          .option('--show-values', SHOW_VALUES),
      ),
    ),
  ).action(async (project: string, name: string, opts: Opts) => {
    if (!opts.detail && !opts.detailsFile && !opts.unset?.length) throw usage('give the connection details with --detail KEY=VALUE or --details-file FILE, or --unset KEY');
    if (opts.replace && opts.unset?.length) throw usage('--unset goes without --replace (a replacement names every detail it keeps)');
    if (opts.replace && !opts.detail && !opts.detailsFile) throw usage('--replace needs the new details (--detail or --details-file)');
    const connectionDetails = await readDetails(opts);
    const req = UpdateAddonRequest.fromPartial({
      project,
      name,
      expectedRevision: expectedRevision(opts),
      connectionDetails,
      merge: !opts.replace,
      unsetDetails: opts.unset ?? [],
    });
    await withSession(opts, async (s) => {
      const res = await s.call(ProjectServiceDefinition, 'updateAddon', req);
      const note = res.unchanged ? `No change: addon ${project}/${name} already has these details (no new revision)\n\n` : '';
      emit(opts, () => ({ ...addonJson(res.addon!), ...(res.unchanged ? { unchanged: true } : {}) }), () => note + addonHuman(res.addon!, Boolean(opts.showValues)));
    });
  });

  deleteCommand(addon, {
    noun: 'addon',
    description: 'delete an addon; refused while a group links it',
    remove: (s, target) => s.call(ProjectServiceDefinition, 'deleteAddon', DeleteAddonRequest.fromPartial(target)),
  });
}
