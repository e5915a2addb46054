/** Typed shortcuts over the generated clients for API tests. */
import type { Clients } from '../../client/connection.js';
import { CreateAddonRequest, CreateWorkloadRequest, UpdateAddonRequest, UpdateWorkloadRequest } from '../../gen/secretgroups/v1/project_service.js';
import {
  AddFileRequest,
  CreateGroupRequest,
  ImportVariablesRequest,
  LinkAddonRequest,
  ListGroupHistoryRequest,
  PreviewChangeRequest,
  RollbackGroupRequest,
  SetVariablesRequest,
  UnsetVariablesRequest,
  UpdateGroupSettingsRequest,
  type GetGroupResponse,
  type ListGroupHistoryResponse,
  type PreviewChangeResponse,
  type RestartDependentsResponse,
  type SetVariablesResponse,
} from '../../gen/secretgroups/v1/secret_group_service.js';
import type { ExplainResponse, ResolveResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import { Scope } from '../../gen/secretgroups/v1/resources.js';
import { CreateTokenRequest, type CreateTokenResponse } from '../../gen/secretgroups/v1/access_service.js';
import { call } from './in-process.js';
import type { DeepPartial } from '../../gen/secretgroups/v1/secret_group_service.js';

export function api(c: Clients) {
  return {
    createProject: (name: string) => call(c.projects, 'createProject', { name }),
    createWorkload: (r: DeepPartial<CreateWorkloadRequest>) => call(c.projects, 'createWorkload', CreateWorkloadRequest.fromPartial(r)),
    updateWorkload: (r: DeepPartial<UpdateWorkloadRequest>) => call(c.projects, 'updateWorkload', UpdateWorkloadRequest.fromPartial(r)),
    createAddon: (r: DeepPartial<CreateAddonRequest>) => call(c.projects, 'createAddon', CreateAddonRequest.fromPartial(r)),
    updateAddon: (r: DeepPartial<UpdateAddonRequest>) => call(c.projects, 'updateAddon', UpdateAddonRequest.fromPartial(r)),
    deleteAddon: (project: string, name: string) => call(c.projects, 'deleteAddon', { project, name, expectedRevision: 0 }),
    createGroup: (r: DeepPartial<CreateGroupRequest>) => call<CreateGroupRequest, SetVariablesResponse>(c.groups, 'createGroup', CreateGroupRequest.fromPartial(r)),
    getGroup: (project: string, name: string) => call<unknown, GetGroupResponse>(c.groups, 'getGroup', { project, name }),
    setVars: (project: string, name: string, variables: Record<string, string>, expectedRevision = 0) =>
      call<SetVariablesRequest, SetVariablesResponse>(c.groups, 'setVariables', SetVariablesRequest.fromPartial({ project, name, variables, expectedRevision })),
    unsetVars: (project: string, name: string, keys: string[]) =>
      call(c.groups, 'unsetVariables', UnsetVariablesRequest.fromPartial({ project, name, keys })),
    importVars: (r: DeepPartial<ImportVariablesRequest>) => call(c.groups, 'importVariables', ImportVariablesRequest.fromPartial(r)),
    settings: (r: DeepPartial<UpdateGroupSettingsRequest>) => call(c.groups, 'updateGroupSettings', UpdateGroupSettingsRequest.fromPartial(r)),
    addFile: (r: DeepPartial<AddFileRequest>) => call(c.groups, 'addFile', AddFileRequest.fromPartial(r)),
    link: (r: DeepPartial<LinkAddonRequest>) => call(c.groups, 'linkAddon', LinkAddonRequest.fromPartial(r)),
    deleteGroup: (project: string, name: string, expectedRevision = 0) => call(c.groups, 'deleteGroup', { project, name, expectedRevision }),
    history: (project: string, name: string, page: DeepPartial<ListGroupHistoryRequest> = {}) =>
      call<unknown, ListGroupHistoryResponse>(c.groups, 'listGroupHistory', ListGroupHistoryRequest.fromPartial({ project, name, ...page })),
    rollback: (r: DeepPartial<RollbackGroupRequest>) => call(c.groups, 'rollbackGroup', RollbackGroupRequest.fromPartial(r)),
    preview: (r: DeepPartial<PreviewChangeRequest>) => call<PreviewChangeRequest, PreviewChangeResponse>(c.groups, 'previewChange', PreviewChangeRequest.fromPartial(r)),
    restartDependents: (project: string, name: string) => call<unknown, RestartDependentsResponse>(c.groups, 'restartDependents', { project, name }),
    resolve: (project: string, workload: string, scope: Scope = Scope.SCOPE_RUNTIME, tags: string[] = []) =>
      call<unknown, ResolveResponse>(c.resolver, 'resolve', { project, workload, scope, tags }),
    explain: (project: string, workload: string, scope: Scope = Scope.SCOPE_RUNTIME) =>
      call<unknown, ExplainResponse>(c.resolver, 'explain', { project, workload, scope }),
    createToken: (r: DeepPartial<CreateTokenRequest>) => call<CreateTokenRequest, CreateTokenResponse>(c.access, 'createToken', CreateTokenRequest.fromPartial(r)),
  };
}

/** Variables of a resolution, for short assertions. */
export async function vars(p: Promise<ResolveResponse>): Promise<Record<string, string>> {
  return (await p).resolution!.variables;
}
