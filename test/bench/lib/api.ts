/**
 * The few admin calls the benchmark makes, over the generated clients. (The test helpers'
 * `api` pulls the in-process server in; the benchmark talks only to servers in other processes.)
 */
import type { Clients } from '../../../client/connection.js';
import { CreateTokenRequest, type CreateTokenResponse } from '../../../gen/secretgroups/v1/access_service.js';
import { CreateWorkloadRequest } from '../../../gen/secretgroups/v1/project_service.js';
import { CreateGroupRequest, SetVariablesRequest, type GetGroupResponse, type SetVariablesResponse } from '../../../gen/secretgroups/v1/secret_group_service.js';
import type { ResolveResponse } from '../../../gen/secretgroups/v1/resolver_service.js';
import { Scope } from '../../../gen/secretgroups/v1/resources.js';

function call<Req, Res>(client: object, method: string, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as Record<string, Function>)[method]!;
    fn.call(client, request, (err: Error | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
}

export function api(c: Clients) {
  return {
    createProject: (name: string) => call(c.projects, 'createProject', { name }),
    createWorkload: (r: Partial<CreateWorkloadRequest>) => call(c.projects, 'createWorkload', CreateWorkloadRequest.fromPartial(r)),
    createGroup: (r: Partial<CreateGroupRequest>) => call(c.groups, 'createGroup', CreateGroupRequest.fromPartial(r)),
    getGroup: (project: string, name: string) => call<unknown, GetGroupResponse>(c.groups, 'getGroup', { project, name }),
    setVars: (project: string, name: string, variables: Record<string, string>, expectedRevision = 0) =>
      call<SetVariablesRequest, SetVariablesResponse>(c.groups, 'setVariables', SetVariablesRequest.fromPartial({ project, name, variables, expectedRevision })),
    resolve: (project: string, workload: string) => call<unknown, ResolveResponse>(c.resolver, 'resolve', { project, workload, scope: Scope.SCOPE_RUNTIME, tags: [] }),
    createToken: (r: Partial<CreateTokenRequest>) => call<CreateTokenRequest, CreateTokenResponse>(c.access, 'createToken', CreateTokenRequest.fromPartial(r)),
  };
}
