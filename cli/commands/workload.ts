/**
 * `sg workload create|get|list|update|delete|bind|unbind`: services and jobs, their tags and own
 * variables, and the Kubernetes service accounts bound to them.
 */
import type { Command } from 'commander';
import { AccessServiceDefinition, BindServiceAccountRequest, UnbindServiceAccountRequest } from '../../gen/light/secretgroups/v1/access_service.js';
import {
  CreateWorkloadRequest,
  DeleteWorkloadRequest,
  GetWorkloadRequest,
  ListWorkloadsRequest,
  UpdateWorkloadRequest,
  ProjectServiceDefinition,
} from '../../gen/light/secretgroups/v1/project_service.js';
import { collect, parseAssignments, parseKind } from '../args.js';
import { readModifyWrite, withSession } from '../client.js';
import { usage } from '../errors.js';
import { emit, expectedRevision, JSON_VALUES, withAddr, withExpectedRevision, withJson } from '../kit.js';
import { deleteCommand, getCommand, listCommand, type WriteFlags } from '../resource-commands.js';
import { bindingJson, workloadHuman, workloadJson, workloadsTable } from '../views.js';

interface Opts extends WriteFlags {
  kind?: string;
  tag?: string[];
  replaceTags?: boolean;
  var?: string[];
  unsetVar?: string[];
  buildArg?: string[];
  unsetBuildArg?: string[];
}

const SHOW_VALUES = `print the values of the workload's own variables (masked by default: they may be secrets); ${JSON_VALUES}`;

export function registerWorkload(program: Command): void {
  const workload = program.command('workload').description('services and jobs: kind, tags and their own variables');

  withJson(
    withAddr(
      workload
        .command('create')
        .description('register a workload; its own variables override every group')
        .argument('<project>', 'project name')
        .argument('<name>', 'workload name (DNS label)')
        .option('--kind <kind>', 'service or job', 'service')
        .option('--tag <tag>', 'tag used by group restrictions (repeatable)', collect)
        .option('--var <KEY=VALUE>', 'runtime variable set directly on the workload (repeatable)', collect)
        .option('--build-arg <KEY=VALUE>', 'build argument set directly on the workload (repeatable)', collect)
        .option('--show-values', SHOW_VALUES),
    ),
  ).action((project: string, name: string, opts: Opts) => {
    const req = CreateWorkloadRequest.fromPartial({
      project,
      name,
      kind: parseKind(opts.kind ?? 'service'),
      tags: opts.tag ?? [],
      runtimeVariables: parseAssignments('--var', opts.var),
      buildArguments: parseAssignments('--build-arg', opts.buildArg),
    });
    return withSession(opts, async (s) => {
      const res = await s.call(ProjectServiceDefinition, 'createWorkload', req);
      emit(opts, () => workloadJson(res.workload!), () => workloadHuman(res.workload!, Boolean(opts.showValues)));
    });
  });

  getCommand(workload, {
    noun: 'workload',
    description: 'show a workload',
    showValues: SHOW_VALUES,
    get: (s, project, name) => s.call(ProjectServiceDefinition, 'getWorkload', GetWorkloadRequest.fromPartial({ project, name })),
    print: (opts, res) => {
      const bindings = res.serviceAccountBindings;
      emit(opts, () => workloadJson(res.workload!, bindings), () => workloadHuman(res.workload!, Boolean(opts.showValues), bindings));
    },
  });

  withJson(
    withAddr(
      workload
        .command('bind')
        .description('let pods running as a Kubernetes service account resolve this workload (with the rights of a workload token; needs the admin role)')
        .argument('<project>', 'project name')
        .argument('<name>', 'workload name')
        .requiredOption('--k8s-service-account <namespace/name>', 'the Kubernetes service account (bound to at most one workload)')
        .option('--build', 'also allow the BUILD scope (build-args)'),
    ),
  ).action((project: string, name: string, opts: Opts & { k8sServiceAccount: string; build?: boolean }) =>
    withSession(opts, async (s) => {
      const req = BindServiceAccountRequest.fromPartial({ project, workload: name, serviceAccount: opts.k8sServiceAccount, allowBuild: Boolean(opts.build) });
      const res = await s.call(AccessServiceDefinition, 'bindServiceAccount', req);
      const b = res.binding!;
      emit(
        opts,
        () => bindingJson(b),
        () =>
          `Bound Kubernetes service account ${b.serviceAccount} to workload ${b.project}/${b.workload} (${bindingJson(b).scopes.join(', ')})\n` +
          `Pods running as it authenticate with a projected token of audience secret-groups (or the server's --k8s-audience).\n`,
      );
    }),
  );

  withJson(
    withAddr(
      workload
        .command('unbind')
        .description('end a Kubernetes service account\'s binding: its calls and open Watch streams are refused from then on')
        .argument('<project>', 'project name')
        .argument('<name>', 'workload name')
        .requiredOption('--k8s-service-account <namespace/name>', 'the Kubernetes service account'),
    ),
  ).action((project: string, name: string, opts: Opts & { k8sServiceAccount: string }) =>
    withSession(opts, async (s) => {
      const req = UnbindServiceAccountRequest.fromPartial({ project, workload: name, serviceAccount: opts.k8sServiceAccount });
      await s.call(AccessServiceDefinition, 'unbindServiceAccount', req);
      emit(
        opts,
        () => ({ unbound: true, serviceAccount: opts.k8sServiceAccount, workload: `${project}/${name}` }),
        () => `Unbound Kubernetes service account ${opts.k8sServiceAccount} from workload ${project}/${name}\n`,
      );
    }),
  );

  listCommand(workload, {
    plural: 'workloads',
    list: async (s, project) => (await s.call(ProjectServiceDefinition, 'listWorkloads', ListWorkloadsRequest.fromPartial({ project }))).workloads,
    json: (x) => workloadJson(x),
    table: workloadsTable,
  });

  withJson(
    withExpectedRevision(
      withAddr(
        workload
          .command('update')
          .description('change kind, tags or own variables; --tag adds tags unless --replace-tags (then the --tag list replaces them)')
          .argument('<project>', 'project name')
          .argument('<name>', 'workload name')
          .option('--kind <kind>', 'service or job')
          .option('--tag <tag>', 'add a tag (repeatable)', collect)
          .option('--replace-tags', 'replace the registered tags with the --tag list (none given clears them)')
          .option('--var <KEY=VALUE>', 'set a runtime variable (repeatable)', collect)
          .option('--unset-var <KEY>', 'remove a runtime variable (repeatable)', collect)
          .option('--build-arg <KEY=VALUE>', 'set a build argument (repeatable)', collect)
          .option('--unset-build-arg <KEY>', 'remove a build argument (repeatable)', collect)
          .option('--show-values', SHOW_VALUES),
      ),
    ),
  ).action((project: string, name: string, opts: Opts) => {
    const changes = [opts.kind, opts.tag, opts.replaceTags, opts.var, opts.unsetVar, opts.buildArg, opts.unsetBuildArg];
    if (changes.every((c) => c === undefined)) {
      throw usage('nothing to update: give --kind, --tag, --replace-tags, --var, --unset-var, --build-arg or --unset-build-arg');
    }
    const base = {
      project,
      name,
      kind: opts.kind === undefined ? undefined : parseKind(opts.kind),
      setRuntimeVariables: parseAssignments('--var', opts.var),
      unsetRuntimeVariables: opts.unsetVar ?? [],
      setBuildArguments: parseAssignments('--build-arg', opts.buildArg),
      unsetBuildArguments: opts.unsetBuildArg ?? [],
    };
    const expected = expectedRevision(opts);
    return withSession(opts, async (s) => {
      // The API only replaces tags; adding them is a read-modify-write at the revision read.
      const addTags = Boolean(opts.tag?.length) && !opts.replaceTags;
      const res = await readModifyWrite(addTags && expected === 0, async () => {
        let tags = opts.tag ?? [];
        let expectedRevision = expected;
        if (addTags) {
          const { workload: cur } = await s.call(ProjectServiceDefinition, 'getWorkload', GetWorkloadRequest.fromPartial({ project, name }));
          tags = [...new Set([...cur!.tags, ...tags])].sort();
          expectedRevision = expected || cur!.revision;
        }
        const req = UpdateWorkloadRequest.fromPartial({
          ...base,
          expectedRevision,
          replaceTags: Boolean(opts.replaceTags) || addTags,
          tags,
        });
        return s.call(ProjectServiceDefinition, 'updateWorkload', req);
      });
      const note = res.unchanged ? `No change: workload ${project}/${name} already is so (no new revision)\n\n` : '';
      emit(
        opts,
        () => ({ ...workloadJson(res.workload!), ...(res.unchanged ? { unchanged: true } : {}) }),
        () => note + workloadHuman(res.workload!, Boolean(opts.showValues)),
      );
    });
  });

  deleteCommand(workload, {
    noun: 'workload',
    description: 'delete a workload',
    remove: (s, target) => s.call(ProjectServiceDefinition, 'deleteWorkload', DeleteWorkloadRequest.fromPartial(target)),
  });
}
