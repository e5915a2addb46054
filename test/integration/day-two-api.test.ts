/**
 * Day-two fields and RPCs through the gRPC API: RestoreGroup, RenameGroup, `literal`,
 * `allow_empty` and warnings, `unchanged` (no empty revisions), import warnings, and
 * UpdateAddon's `merge` / `unset_details`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportFormat, ListGroupsRequest, RenameGroupRequest, type ListGroupsResponse, RestoreGroupRequest, type ImportVariablesResponse, type UpdateGroupSettingsResponse } from '../../gen/secretgroups/v1/secret_group_service.js';
import type { UpdateAddonResponse, UpdateWorkloadResponse } from '../../gen/secretgroups/v1/project_service.js';
import { GroupType, type SecretGroup } from '../../gen/secretgroups/v1/resources.js';
import { AccessLevel, CreateRoleRequest } from '../../gen/secretgroups/v1/access_service.js';
import { api, vars } from '../helpers/api.js';
import { call, codeOf, startTestServer, type TestServer } from '../helpers/in-process.js';

let t: TestServer;
let a: ReturnType<typeof api>;

beforeAll(async () => {
  t = await startTestServer();
  a = api(t.admin);
  await a.createProject('p');
  await a.createWorkload({ project: 'p', name: 'api', tags: ['web'] });
});
afterAll(() => t?.stop());

const restore = (name: string, expectedRevision = 0) =>
  call<RestoreGroupRequest, { group?: SecretGroup }>(t.admin.groups, 'restoreGroup', RestoreGroupRequest.fromPartial({ project: 'p', name, expectedRevision }));
const rename = (name: string, newName: string) =>
  call<RenameGroupRequest, { group?: SecretGroup }>(t.admin.groups, 'renameGroup', RenameGroupRequest.fromPartial({ project: 'p', name, newName }));

describe('day-two API', () => {
  it('RestoreGroup recreates the last content after a deletion, checking expected_revision against the deletion', async () => {
    await a.createGroup({ project: 'p', name: 'r', variables: { A: '1' } });
    await a.deleteGroup('p', 'r');
    expect(await codeOf(restore('r', 1))).toBe('ABORTED');
    const g = (await restore('r', 2)).group!;
    expect(g.revision).toBe(3);
    expect(await vars(a.resolve('p', 'api'))).toMatchObject({ A: '1' });
    expect(await codeOf(restore('r'))).toBe('ALREADY_EXISTS');
  });

  it('RenameGroup carries the history to the new name', async () => {
    await a.createGroup({ project: 'p', name: 'n1', variables: { N: '1' } });
    await a.setVars('p', 'n1', { N: '2' });
    expect((await rename('n1', 'n2')).group).toMatchObject({ name: 'n2', revision: 3 });
    expect((await a.history('p', 'n2')).revisions.map((r) => [r.revision, r.action])).toEqual([
      [1, 'CreateGroup'],
      [2, 'SetVariables'],
      [3, 'RenameGroup'],
    ]);
    expect((await a.history('p', 'n1')).revisions.at(-1)).toMatchObject({ action: 'RenameGroup', deleted: true });
    expect(await codeOf(a.getGroup('p', 'n1'))).toBe('NOT_FOUND');
    expect(await vars(a.resolve('p', 'api'))).toMatchObject({ N: '2' });
  });

  it('ListGroups with include_deleted lists deleted groups the caller may see (not names a rename left), and rename and rollback revisions say what they did', async () => {
    await a.createGroup({ project: 'p', name: 'del-secret', variables: { S: '1' } });
    await a.createGroup({ project: 'p', name: 'del-config', type: GroupType.GROUP_TYPE_CONFIG, variables: { C: '1' } });
    await a.deleteGroup('p', 'del-secret');
    await a.deleteGroup('p', 'del-config');
    await a.createGroup({ project: 'p', name: 'moving', type: GroupType.GROUP_TYPE_CONFIG, variables: { M: '1' } });
    await a.setVars('p', 'moving', { M: '2' });
    await call(t.admin.groups, 'rollbackGroup', { project: 'p', name: 'moving', expectedRevision: 0, toRevision: 1 });
    await rename('moving', 'moved');
    const list = async (token?: string) => {
      const c = token ? t.as(token) : t.admin;
      const res = await call<ListGroupsRequest, ListGroupsResponse>(c.groups, 'listGroups', ListGroupsRequest.fromPartial({ project: 'p', keysOnly: true, includeDeleted: true }));
      return res.deletedGroups.filter((d) => d.name.startsWith('del-') || d.name.startsWith('mov'));
    };
    const all = await list();
    expect(all.map((d) => [d.name, d.type, d.deletedRevision])).toEqual([
      ['del-config', GroupType.GROUP_TYPE_CONFIG, 2],
      ['del-secret', GroupType.GROUP_TYPE_SECRET, 2],
    ]);
    expect(all[0]!.deletedBy).toMatch(/^token:/);
    // Without include_deleted, none; a role with no access to secret groups sees only config ones.
    expect((await call<ListGroupsRequest, ListGroupsResponse>(t.admin.groups, 'listGroups', ListGroupsRequest.fromPartial({ project: 'p' }))).deletedGroups).toEqual([]);
    await call(t.admin.access, 'createRole', CreateRoleRequest.fromPartial({ role: { name: 'config-only', secret: AccessLevel.ACCESS_LEVEL_NONE, config: AccessLevel.ACCESS_LEVEL_READ } }));
    const configOnly = (await a.createToken({ role: 'config-only', projects: ['p'] })).token;
    expect((await list(configOnly)).map((d) => d.name)).toEqual(['del-config']);
    const revs = (await a.history('p', 'moved')).revisions;
    expect(revs.map((r) => [r.action, r.rolledBackTo, r.renamedFrom])).toEqual([
      ['CreateGroup', 0, ''],
      ['SetVariables', 0, ''],
      ['RollbackGroup', 1, ''],
      ['RenameGroup', 0, 'moving'],
    ]);
    expect((await a.history('p', 'moving')).revisions.at(-1)).toMatchObject({ action: 'RenameGroup', deleted: true, renamedTo: 'moved' });
  });

  it('literal stores values verbatim; unchanged reports a no-op and writes no revision', async () => {
    await a.createGroup({ project: 'p', name: 'lit' });
    await call(t.admin.groups, 'setVariables', { project: 'p', name: 'lit', expectedRevision: 0, variables: { PW: 'p${HOME}' }, literal: true });
    expect(await vars(a.resolve('p', 'api'))).toMatchObject({ PW: 'p${HOME}' });
    const again = await call<unknown, { unchanged: boolean; group?: SecretGroup }>(t.admin.groups, 'setVariables', {
      project: 'p', name: 'lit', expectedRevision: 0, variables: { PW: 'p${HOME}' }, literal: true,
    });
    expect(again.unchanged).toBe(true);
    expect(again.group!.revision).toBe(2);
    expect((await a.history('p', 'lit')).revisions).toHaveLength(2);
  });

  it('ImportVariables warns about values cut at "#"', async () => {
    const res = (await a.importVars({ project: 'p', name: 'lit', format: ImportFormat.IMPORT_FORMAT_DOTENV, content: 'H=a#b\n' })) as ImportVariablesResponse;
    expect(res.warnings).toEqual(['.env line 1: the value of H was cut at an unquoted "#" (dotenv reads the rest as a comment; quote the value to keep it)']);
  });

  it('restrictions: unknown workloads refused, tags ahead warned, empty reach needs allow_empty', async () => {
    await a.createGroup({ project: 'p', name: 'rs' });
    expect(await codeOf(a.settings({ project: 'p', name: 'rs', restrictions: { restricted: true, workloads: ['nosuch'], tags: [] } }))).toBe('INVALID_ARGUMENT');
    const warned = (await a.settings({ project: 'p', name: 'rs', restrictions: { restricted: true, workloads: ['api'], tags: ['later'] } })) as UpdateGroupSettingsResponse;
    expect(warned.warnings).toEqual(['tag later is carried by no workload yet; group p/rs reaches api']);
    expect(await codeOf(a.settings({ project: 'p', name: 'rs', restrictions: { restricted: true, workloads: [], tags: ['later'] } }))).toBe('FAILED_PRECONDITION');
    expect(await codeOf(a.settings({ project: 'p', name: 'rs', restrictions: { restricted: true, workloads: [], tags: ['later'] }, allowEmpty: true }))).toBe('OK');
  });

  it('UpdateAddon merges with merge, removes unset_details, replaces without merge, and reports no-ops', async () => {
    await a.createAddon({ project: 'p', name: 'db', type: 'pg', connectionDetails: { host: 'h', user: 'u' } });
    const merged = (await a.updateAddon({ project: 'p', name: 'db', connectionDetails: { host: 'h2' }, merge: true, unsetDetails: ['user'] })) as UpdateAddonResponse;
    expect(merged.addon!.connectionDetails).toEqual({ host: 'h2' });
    expect(((await a.updateAddon({ project: 'p', name: 'db', connectionDetails: { host: 'h2' }, merge: true })) as UpdateAddonResponse).unchanged).toBe(true);
    expect(await codeOf(a.updateAddon({ project: 'p', name: 'db', connectionDetails: {}, unsetDetails: ['host'] }))).toBe('INVALID_ARGUMENT');
    const replaced = (await a.updateAddon({ project: 'p', name: 'db', connectionDetails: { url: 'x' } })) as UpdateAddonResponse;
    expect(replaced.addon!.connectionDetails).toEqual({ url: 'x' });
  });

  it('UpdateWorkload that changes nothing writes no revision', async () => {
    const before = (await a.updateWorkload({ project: 'p', name: 'api', setRuntimeVariables: { X: '1' } })) as UpdateWorkloadResponse;
    const same = (await a.updateWorkload({ project: 'p', name: 'api', setRuntimeVariables: { X: '1' } })) as UpdateWorkloadResponse;
    expect(same.unchanged).toBe(true);
    expect(same.workload!.revision).toBe(before.workload!.revision);
  });
});
