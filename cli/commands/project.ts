/** `sg project create|get|list|delete|execution-keys`. */
import type { Command } from 'commander';
import {
  CreateProjectRequest,
  DeleteProjectRequest,
  GetProjectRequest,
  ListProjectsRequest,
  ProjectServiceDefinition,
  UpdateProjectExecutionKeysRequest,
} from '../../gen/light/secretgroups/v1/project_service.js';
import { FAMILIES } from '../../server/domain/execution-keys.js';
import { collect } from '../args.js';
import { withSession } from '../client.js';
import { confirmOnTerminal, emit, withAddr, withJson, withYes } from '../kit.js';
import { fields, humanTime } from '../output.js';
import { projectJson, projectsTable } from '../views.js';

interface Opts {
  addr?: string;
  json?: boolean;
  force?: boolean;
  yes?: boolean;
  add?: string[];
  remove?: string[];
}

export function registerProject(program: Command): void {
  const project = program.command('project').description('create, inspect and delete projects');

  withJson(withAddr(project.command('create').description('create a project').argument('<project>', 'project name (DNS label)')))
    .action((name: string, opts: Opts) =>
      withSession(opts, async (s) => {
        const res = await s.call(ProjectServiceDefinition, 'createProject', CreateProjectRequest.fromPartial({ name }));
        emit(opts, () => projectJson(res.project!), () => `Created project ${res.project!.name}\n`);
      }),
    );

  withJson(withAddr(project.command('get').description('show a project').argument('<project>', 'project name')))
    .action((name: string, opts: Opts) =>
      withSession(opts, async (s) => {
        const res = await s.call(ProjectServiceDefinition, 'getProject', GetProjectRequest.fromPartial({ name }));
        const p = res.project!;
        emit(opts, () => projectJson(p), () => fields([['Project', p.name], ['Created', humanTime(p.createdAtMs)]]));
      }),
    );

  withJson(withAddr(project.command('list').description('list the projects the token may see')), 'the list')
    .action((opts: Opts) =>
      withSession(opts, async (s) => {
        const res = await s.call(ProjectServiceDefinition, 'listProjects', ListProjectsRequest.fromPartial({}));
        emit(opts, () => ({ projects: res.projects.map(projectJson) }), () => projectsTable(res.projects));
      }),
    );

  withJson(
    withYes(withAddr(
      project
        .command('delete')
        .description('delete a project; refused while it holds workloads, addons or groups unless --force; asks on a terminal unless --yes')
        .argument('<project>', 'project name')
        .option('--force', 'also delete every workload, addon and group of the project'),
    )),
  ).action((name: string, opts: Opts) =>
    withSession(opts, async (s) => {
      await confirmOnTerminal(opts, `project ${name}${opts.force ? ' with every workload, addon and group in it' : ''}`, name);
      await s.call(ProjectServiceDefinition, 'deleteProject', DeleteProjectRequest.fromPartial({ name, force: Boolean(opts.force) }));
      emit(opts, () => ({ deleted: true, project: name }), () => `Deleted project ${name}\n`);
    }),
  );

  withJson(withAddr(
    project
      .command('execution-keys')
      .description("show the execution-controlling keys (built-in families and the project's own); with --add/--remove (admins), change the project's own")
      .argument('<project>', 'project name')
      .option('--add <PATTERN>', "a NAME or PREFIX* to add to the project's own (repeatable)", collect)
      .option('--remove <PATTERN>', "a NAME or PREFIX* to remove from the project's own (repeatable)", collect),
  )).action((name: string, opts: Opts) =>
    withSession(opts, async (s) => {
      const change = Boolean(opts.add?.length || opts.remove?.length);
      const res = change
        ? await s.call(ProjectServiceDefinition, 'updateProjectExecutionKeys', UpdateProjectExecutionKeysRequest.fromPartial({ project: name, add: opts.add ?? [], remove: opts.remove ?? [] }))
        : await s.call(ProjectServiceDefinition, 'getProject', GetProjectRequest.fromPartial({ name }));
      const own = res.project!.executionKeys;
      const builtIn = FAMILIES.map((f) => ({ family: f.id, patterns: [...f.patterns], anyCase: [...(f.anyCase ?? [])] }));
      emit(opts, () => ({ project: name, builtIn, projectKeys: own }), () => executionKeysText(name, builtIn, own));
    }),
  );
}

function executionKeysText(project: string, builtIn: { family: string; patterns: string[]; anyCase: string[] }[], own: string[]): string {
  const lines = ['Built-in families (a change to one of these keys needs write on secret groups; SECURITY.md "Execution-controlling keys and files"):'];
  for (const f of builtIn) lines.push(`  ${f.family}: ${[...f.patterns, ...f.anyCase.map((p) => `${p} (any case)`)].join(', ')}`);
  lines.push(`Project ${project} adds: ${own.length ? own.join(', ') : '(nothing)'}`);
  return `${lines.join('\n')}\n`;
}
