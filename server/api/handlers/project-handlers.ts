/** ProjectService: thin mapping between messages and ProjectsService. */
import type { ProjectServiceServer } from '../../../gen/secretgroups/v1/project_service.js';
import type { ProjectsService } from '../../service/projects.js';
import { unary, type ApiContext } from '../call.js';
import type { HandlersOf } from '../grpc-adapter.js';
import { viewAs } from '../../security/keys-only.js';
import { addonToPb, bindingToPb, kindFromPb, projectToPb, workloadToPb } from '../mappers.js';

/** WatchProject lives in insight-handlers.ts. */
export function projectHandlers(ctx: ApiContext, svc: ProjectsService): Omit<HandlersOf<ProjectServiceServer>, 'watchProject'> {
  return {
    createProject: unary(ctx, 'CreateProject', async (p, req) => ({ project: projectToPb(await svc.createProject(p, req.name)) })),
    getProject: unary(ctx, 'GetProject', async (p, req) => ({ project: projectToPb(await svc.getProject(p, req.name)) })),
    listProjects: unary(ctx, 'ListProjects', async (p) => ({ projects: (await svc.listProjects(p)).map(projectToPb) })),
    updateProjectExecutionKeys: unary(ctx, 'UpdateProjectExecutionKeys', async (p, req) => ({
      project: projectToPb(await svc.updateExecutionKeys(p, req.project, req.add, req.remove)),
    })),
    deleteProject: unary(ctx, 'DeleteProject', async (p, req) => {
      await svc.deleteProject(p, req.name, req.force);
      return {};
    }),

    createWorkload: unary(ctx, 'CreateWorkload', async (p, req) => {
      const w = await svc.createWorkload(p, {
        project: req.project,
        name: req.name,
        kind: kindFromPb(req.kind),
        tags: req.tags,
        runtimeVariables: req.runtimeVariables,
        buildArguments: req.buildArguments,
      });
      return { workload: workloadToPb(w.record, w.redacted) };
    }),
    getWorkload: unary(ctx, 'GetWorkload', async (p, req) => {
      const w = await svc.getWorkload(viewAs(p, req), req.project, req.name);
      const bindings = await svc.serviceAccountBindings(w.record);
      return { workload: workloadToPb(w.record, w.redacted), serviceAccountBindings: bindings.map(bindingToPb) };
    }),
    listWorkloads: unary(ctx, 'ListWorkloads', async (p, req) => ({
      workloads: (await svc.listWorkloads(viewAs(p, req), req.project)).map((w) => workloadToPb(w.record, w.redacted)),
    })),
    updateWorkload: unary(ctx, 'UpdateWorkload', async (p, req) => {
      const w = await svc.updateWorkload(p, req.project, req.name, {
        expectedRevision: req.expectedRevision,
        kind: req.kind === undefined ? undefined : kindFromPb(req.kind),
        tags: req.replaceTags ? req.tags : undefined,
        setRuntime: req.setRuntimeVariables,
        unsetRuntime: req.unsetRuntimeVariables,
        setBuild: req.setBuildArguments,
        unsetBuild: req.unsetBuildArguments,
      });
      return { workload: workloadToPb(w.record, w.redacted), unchanged: Boolean(w.unchanged) };
    }),
    deleteWorkload: unary(ctx, 'DeleteWorkload', async (p, req) => {
      await svc.deleteWorkload(p, req.project, req.name, req.expectedRevision);
      return {};
    }),

    createAddon: unary(ctx, 'CreateAddon', async (p, req) => {
      const a = await svc.createAddon(p, req.project, req.name, req.type, req.connectionDetails);
      return { addon: addonToPb(a.record, a.redacted) };
    }),
    getAddon: unary(ctx, 'GetAddon', async (p, req) => {
      const a = await svc.getAddon(viewAs(p, req), req.project, req.name);
      return { addon: addonToPb(a.record, a.redacted) };
    }),
    listAddons: unary(ctx, 'ListAddons', async (p, req) => ({
      addons: (await svc.listAddons(viewAs(p, req), req.project)).map((a) => addonToPb(a.record, a.redacted)),
    })),
    updateAddon: unary(ctx, 'UpdateAddon', async (p, req) => {
      const a = await svc.updateAddon(p, req.project, req.name, req.expectedRevision, req.connectionDetails, { merge: req.merge, unset: req.unsetDetails });
      return { addon: addonToPb(a.record, a.redacted), unchanged: Boolean(a.unchanged) };
    }),
    deleteAddon: unary(ctx, 'DeleteAddon', async (p, req) => {
      await svc.deleteAddon(p, req.project, req.name, req.expectedRevision);
      return {};
    }),
  };
}
