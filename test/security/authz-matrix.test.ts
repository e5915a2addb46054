/**
 * Drives every cell of the authorization matrix (authz-matrix.ts) against a real in-process
 * server, with one token per built-in role. Each cell gets fresh records, so cells do not
 * depend on one another. Also: the workload identity rules, keys-only in every read path
 * (including error messages, history across type changes, PreviewChange and Explain as value
 * oracles, and the audit log), and that SECURITY.md shows the current table.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as accessPb from '../../gen/secretgroups/v1/access_service.js';
import * as projectPb from '../../gen/secretgroups/v1/project_service.js';
import * as resolverPb from '../../gen/secretgroups/v1/resolver_service.js';
import * as groupPb from '../../gen/secretgroups/v1/secret_group_service.js';
import { GroupType, Scope } from '../../gen/secretgroups/v1/resources.js';
import type { Clients } from '../../client/connection.js';
import { etagOf } from '../../server/domain/resolve.js';
import { VALUES_IN_ANSWER } from '../../server/service/value-reads.js';
import { api } from '../helpers/api.js';
import { call, codeOf, startTestServer, type TestServer } from '../helpers/in-process.js';
import { retypeGroupRaw } from '../helpers/raw-store.js';
import { dumpStore } from '../helpers/store-dump.js';
import { MATRIX, ROLES, renderMatrix, type Cell, type MatrixRow, type RoleName, type RowType } from './authz-matrix.js';
import { rpcsAnsweringValues } from './value-fields.js';

const SECRET_CANARY = 'SECRETCANARY-7f3a91';
const CONFIG_CANARY = 'CONFIGCANARY-9b2c44';
const CANARIES = [SECRET_CANARY, CONFIG_CANARY];
const canaryOf = (type: RowType) => (type === 'config' ? CONFIG_CANARY : SECRET_CANARY);

/** Every string in a response, file contents included, so a search finds any value. */
function text(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v)) ?? '';
}

let t: TestServer;
let admin: ReturnType<typeof api>;
const clients = {} as Record<RoleName, Clients>;
/** The actor each role's token is audited as. */
const actors = {} as Record<RoleName, string>;

beforeAll(async () => {
  t = await startTestServer();
  admin = api(t.admin);
  await admin.createProject('p');
  await admin.createProject('q');
  await admin.createWorkload({
    project: 'p',
    name: 'api',
    tags: ['web'],
    runtimeVariables: { W_TOKEN: `${SECRET_CANARY}-workload` },
    buildArguments: { B_TOKEN: `${SECRET_CANARY}-build` },
  });
  await admin.createWorkload({ project: 'p', name: 'other' });
  await admin.createWorkload({ project: 'q', name: 'api' });
  await admin.createAddon({ project: 'p', name: 'db', type: 'postgresql', connectionDetails: { password: `${SECRET_CANARY}-addon` } });
  await admin.createAddon({ project: 'p', name: 'cache', type: 'redis', connectionDetails: { url: `${SECRET_CANARY}-cache` } });
  // A group every resolution of p/api sees, so Resolve and Explain have both types to show.
  await admin.createGroup({ project: 'p', name: 'base-secret', type: GroupType.GROUP_TYPE_SECRET, variables: { BASE_S: `${SECRET_CANARY}-base` } });
  await admin.createGroup({ project: 'p', name: 'base-config', type: GroupType.GROUP_TYPE_CONFIG, variables: { BASE_C: `${CONFIG_CANARY}-base` } });
  for (const role of ROLES) {
    const created =
      role === 'workload'
        ? await admin.createToken({ name: 'matrix-workload', workload: { project: 'p', workload: 'api' } })
        : await admin.createToken({ name: `matrix-${role}`, role });
    clients[role] = t.as(created.token);
    actors[role] = role === 'workload' ? 'workload:p/api' : `token:${created.info!.id}(matrix-${role})`;
  }
}, 60_000);
afterAll(() => t?.stop());

// ---------------------------------------------------------------------------------------
// Fixtures and requests per RPC

let seq = 0;
interface Fixture {
  n: number;
  /** A group of the row's type: K and OTHER variables, a file, a link to addon db (config groups: see fixture()). */
  group: string;
  file: string;
  /** A record made for this cell (token id, role, project, workload or addon name). */
  target: string;
}

const pbType = (type: RowType) => (type === 'secret' ? GroupType.GROUP_TYPE_SECRET : GroupType.GROUP_TYPE_CONFIG);
const GROUP_RPCS = new Set(MATRIX.filter((r) => r.service === 'SecretGroupService').map((r) => r.rpc));

async function fixture(row: MatrixRow): Promise<Fixture> {
  const n = ++seq;
  const fx: Fixture = { n, group: `g${n}`, file: `/etc/app/f${n}.txt`, target: '' };
  if (GROUP_RPCS.has(row.rpc) && row.rpc !== 'CreateGroup') {
    const canary = canaryOf(row.type);
    // A config group with files or links needs write on secret groups for most changes, so
    // config rows get them only where the RPC is about them (or reads them).
    const reads = ['GetGroup', 'ListGroups', 'ListGroupHistory'].includes(row.rpc);
    const withFile = row.type === 'secret' || reads || row.rpc === 'RemoveFile';
    const withLink = row.type === 'secret' || row.rpc === 'UnlinkAddon';
    await admin.createGroup({
      project: 'p',
      name: fx.group,
      // A config group that links an addon can only be made as a secret one, retyped below.
      type: row.type === 'config' && withLink ? GroupType.GROUP_TYPE_SECRET : pbType(row.type),
      variables: { K: `${canary}-var`, OTHER: 'plain' },
      restrictions: { restricted: true, workloads: ['other'], tags: [] },
    });
    if (withFile) await admin.addFile({ project: 'p', name: fx.group, file: { path: fx.file, content: Buffer.from(`${canary}-file`), mode: 0o600, size: 0 } });
    else await admin.setVars('p', fx.group, { OTHER: 'plain-2' });
    if (withLink) await admin.link({ project: 'p', name: fx.group, addon: 'db', keys: [] });
    // As if linked before links needed a secret group.
    if (row.type === 'config' && withLink) retypeGroupRaw(t.dataDir, 'p', fx.group, 'config');
    if (row.rpc === 'DiffGroupRevisions') await admin.setVars('p', fx.group, { K: `${canary}-var2` });
  }
  switch (row.rpc) {
    case 'RestoreGroup':
      await admin.deleteGroup('p', fx.group);
      break;
    case 'RevokeToken':
      fx.target = (await admin.createToken({ name: `victim-${n}`, role: 'viewer' })).info!.id;
      break;
    case 'BindServiceAccount':
    case 'UnbindServiceAccount':
      fx.target = `w${n}`;
      await admin.createWorkload({ project: 'p', name: fx.target });
      if (row.rpc === 'UnbindServiceAccount') {
        await call(t.admin.access, 'bindServiceAccount', accessPb.BindServiceAccountRequest.fromPartial({ project: 'p', workload: fx.target, serviceAccount: `apps/sa-${n}` }));
      }
      break;
    case 'DeleteRole':
    case 'UpdateRole':
      fx.target = `role-${n}`;
      await call(t.admin.access, 'createRole', accessPb.CreateRoleRequest.fromPartial({ role: { name: fx.target, secret: accessPb.AccessLevel.ACCESS_LEVEL_KEYS, config: accessPb.AccessLevel.ACCESS_LEVEL_READ } }));
      break;
    case 'DeleteProject':
      fx.target = `dp${n}`;
      await admin.createProject(fx.target);
      break;
    case 'UpdateWorkload':
    case 'DeleteWorkload':
      fx.target = `w${n}`;
      await admin.createWorkload({ project: 'p', name: fx.target });
      break;
    case 'UpdateAddon':
    case 'DeleteAddon':
      fx.target = `a${n}`;
      await admin.createAddon({ project: 'p', name: fx.target, type: 'redis', connectionDetails: { url: 'x' } });
      break;
  }
  return fx;
}

type Invoke = (c: Clients, row: MatrixRow, fx: Fixture) => Promise<unknown>;
const u = (client: grpc.Client, method: string, req: unknown) => call(client, method, req);
const g = (method: string, build: (row: MatrixRow, fx: Fixture) => object): Invoke => (c, row, fx) => {
  const type = `${method[0]!.toUpperCase()}${method.slice(1)}Request` as keyof typeof groupPb;
  return u(c.groups, method, (groupPb[type] as { fromPartial(o: object): unknown }).fromPartial(build(row, fx)));
};
const target = (fx: Fixture) => ({ project: 'p', name: fx.group });

/** First message of a server stream (then cancelled), or its error. */
function firstOf(s: grpc.ClientReadableStream<unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let done = false;
    s.on('data', (m: unknown) => {
      if (done) return;
      done = true;
      resolve(m);
      s.cancel();
    });
    s.on('error', (e: grpc.ServiceError) => {
      if (!done) reject(e);
      done = true;
    });
  });
}
const watchFirst = (c: Clients, req: resolverPb.WatchRequest) => firstOf(c.resolver.watch(req));

const own = { project: 'p', workload: 'api', scope: Scope.SCOPE_RUNTIME };

const INVOKE: Record<string, Invoke> = {
  CreateToken: (c, _r, fx) => u(c.access, 'createToken', accessPb.CreateTokenRequest.fromPartial({ name: `made-${fx.n}`, role: 'viewer' })),
  ListTokens: (c) => u(c.access, 'listTokens', {}),
  RevokeToken: (c, _r, fx) => u(c.access, 'revokeToken', { id: fx.target }),
  ListRoles: (c) => u(c.access, 'listRoles', {}),
  WhoAmI: (c) => u(c.access, 'whoAmI', {}),
  CreateRole: (c, _r, fx) =>
    u(c.access, 'createRole', accessPb.CreateRoleRequest.fromPartial({ role: { name: `made-role-${fx.n}`, secret: accessPb.AccessLevel.ACCESS_LEVEL_NONE, config: accessPb.AccessLevel.ACCESS_LEVEL_READ } })),
  DeleteRole: (c, _r, fx) => u(c.access, 'deleteRole', { name: fx.target }),
  BindServiceAccount: (c, _r, fx) =>
    u(c.access, 'bindServiceAccount', accessPb.BindServiceAccountRequest.fromPartial({ project: 'p', workload: fx.target, serviceAccount: `apps/sa-${fx.n}` })),
  UnbindServiceAccount: (c, _r, fx) =>
    u(c.access, 'unbindServiceAccount', accessPb.UnbindServiceAccountRequest.fromPartial({ project: 'p', workload: fx.target, serviceAccount: `apps/sa-${fx.n}` })),
  UpdateRole: (c, _r, fx) =>
    u(c.access, 'updateRole', accessPb.UpdateRoleRequest.fromPartial({ role: { name: fx.target, secret: accessPb.AccessLevel.ACCESS_LEVEL_NONE, config: accessPb.AccessLevel.ACCESS_LEVEL_WRITE } })),
  ListAuditEvents: (c) => u(c.access, 'listAuditEvents', accessPb.ListAuditEventsRequest.fromPartial({ project: 'p', limit: 1000 })),

  CreateProject: (c, _r, fx) => u(c.projects, 'createProject', { name: `np${fx.n}` }),
  GetProject: (c) => u(c.projects, 'getProject', { name: 'p' }),
  ListProjects: (c) => u(c.projects, 'listProjects', {}),
  DeleteProject: (c, _r, fx) => u(c.projects, 'deleteProject', { name: fx.target, force: false }),
  UpdateProjectExecutionKeys: (c, _r, fx) => u(c.projects, 'updateProjectExecutionKeys', { project: 'p', add: [`MATRIX${fx.n}_*`], remove: [] }),
  CreateWorkload: (c, _r, fx) =>
    u(c.projects, 'createWorkload', projectPb.CreateWorkloadRequest.fromPartial({ project: 'p', name: `cw${fx.n}`, runtimeVariables: { NEW: `${SECRET_CANARY}-new` } })),
  GetWorkload: (c) => u(c.projects, 'getWorkload', { project: 'p', name: 'api' }),
  ListWorkloads: (c) => u(c.projects, 'listWorkloads', { project: 'p' }),
  UpdateWorkload: (c, _r, fx) =>
    u(c.projects, 'updateWorkload', projectPb.UpdateWorkloadRequest.fromPartial({ project: 'p', name: fx.target, setRuntimeVariables: { X: `${SECRET_CANARY}-set` } })),
  DeleteWorkload: (c, _r, fx) => u(c.projects, 'deleteWorkload', { project: 'p', name: fx.target, expectedRevision: 0 }),
  CreateAddon: (c, _r, fx) =>
    u(c.projects, 'createAddon', projectPb.CreateAddonRequest.fromPartial({ project: 'p', name: `ca${fx.n}`, type: 'redis', connectionDetails: { url: `${SECRET_CANARY}-new` } })),
  GetAddon: (c) => u(c.projects, 'getAddon', { project: 'p', name: 'db' }),
  ListAddons: (c) => u(c.projects, 'listAddons', { project: 'p' }),
  UpdateAddon: (c, _r, fx) =>
    u(c.projects, 'updateAddon', projectPb.UpdateAddonRequest.fromPartial({ project: 'p', name: fx.target, connectionDetails: { url: `${SECRET_CANARY}-set` } })),
  DeleteAddon: (c, _r, fx) => u(c.projects, 'deleteAddon', { project: 'p', name: fx.target, expectedRevision: 0 }),

  CreateGroup: g('createGroup', (row, fx) => ({ project: 'p', name: `cg${fx.n}`, type: pbType(row.type), variables: { NEW: `${canaryOf(row.type)}-new` } })),
  GetGroup: g('getGroup', (_r, fx) => target(fx)),
  ListGroups: g('listGroups', () => ({ project: 'p' })),
  DeleteGroup: g('deleteGroup', (_r, fx) => target(fx)),
  UpdateGroupSettings: g('updateGroupSettings', (_r, fx) => ({ ...target(fx), description: 'changed' })),
  SetVariables: g('setVariables', (_r, fx) => ({ ...target(fx), variables: { NEW: 'v' } })),
  UnsetVariables: g('unsetVariables', (_r, fx) => ({ ...target(fx), keys: ['OTHER'] })),
  ImportVariables: g('importVariables', (_r, fx) => ({ ...target(fx), format: groupPb.ImportFormat.IMPORT_FORMAT_DOTENV, content: 'IMPORTED=1\n' })),
  AddFile: g('addFile', (_r, fx) => ({ ...target(fx), file: { path: `/etc/app/new${fx.n}.txt`, content: Buffer.from('new'), mode: 0 } })),
  RemoveFile: g('removeFile', (_r, fx) => ({ ...target(fx), path: fx.file })),
  LinkAddon: g('linkAddon', (_r, fx) => ({ ...target(fx), addon: 'cache', keys: [] })),
  UnlinkAddon: g('unlinkAddon', (_r, fx) => ({ ...target(fx), addon: 'db' })),
  ListGroupHistory: g('listGroupHistory', (_r, fx) => target(fx)),
  RollbackGroup: g('rollbackGroup', (_r, fx) => ({ ...target(fx), toRevision: 1 })),
  PreviewChange: g('previewChange', (_r, fx) => ({ setVariables: { ...target(fx), variables: { K: 'a-guess' } } })),
  RestartDependents: g('restartDependents', (_r, fx) => target(fx)),
  ListGroupDependents: g('listGroupDependents', (_r, fx) => target(fx)),
  DiffGroupRevisions: g('diffGroupRevisions', (_r, fx) => ({ ...target(fx), fromRevision: 1 })),
  RevealValue: g('revealValue', (_r, fx) => ({ project: 'p', kind: groupPb.RevealKind.REVEAL_KIND_GROUP_VARIABLE, name: fx.group, key: 'K' })),
  WatchProject: (c) => firstOf(c.projects.watchProject({ project: 'p' })),
  RestoreGroup: g('restoreGroup', (_r, fx) => target(fx)),
  RenameGroup: g('renameGroup', (_r, fx) => ({ ...target(fx), newName: `rn${fx.n}` })),

  Resolve: (c) => u(c.resolver, 'resolve', resolverPb.ResolveRequest.fromPartial(own)),
  Watch: (c) => watchFirst(c, resolverPb.WatchRequest.fromPartial(own)),
  Explain: (c) => u(c.resolver, 'explain', resolverPb.ExplainRequest.fromPartial(own)),
};

/** Read RPCs: the record of the row's type in the response, to check values or redaction. */
interface Seen {
  found: boolean;
  redacted: boolean;
  /** Every value (variables, details, file contents) of the records found. */
  values: string[];
  keys: string[];
}
type PbGroupLike = { name: string; valuesRedacted: boolean; variables: Record<string, string>; files: { content: Uint8Array }[] };
const ofGroups = (groups: PbGroupLike[]): Seen => ({
  found: groups.length > 0,
  redacted: groups.length > 0 && groups.every((x) => x.valuesRedacted),
  values: groups.flatMap((x) => [...Object.values(x.variables), ...x.files.map((f) => Buffer.from(f.content).toString())]),
  keys: groups.flatMap((x) => Object.keys(x.variables)),
});
type Rec = { name: string; valuesRedacted: boolean } & Record<string, unknown>;
const ofRecords = (recs: Rec[], maps: string[]): Seen => ({
  found: recs.length > 0,
  redacted: recs.length > 0 && recs.every((x) => x.valuesRedacted),
  values: recs.flatMap((x) => maps.flatMap((m) => Object.values(x[m] as Record<string, string>))),
  keys: recs.flatMap((x) => maps.flatMap((m) => Object.keys(x[m] as Record<string, string>))),
});

const SEEN: Record<string, (res: never, fx: Fixture) => Seen> = {
  GetGroup: (res: groupPb.GetGroupResponse) => ofGroups(res.group ? [res.group] : []),
  ListGroups: (res: groupPb.ListGroupsResponse, fx) => ofGroups(res.groups.filter((x) => x.name === fx.group)),
  ListGroupHistory: (res: groupPb.ListGroupHistoryResponse) => ofGroups(res.revisions.flatMap((r) => (r.group ? [r.group] : []))),
  GetWorkload: (res: projectPb.GetWorkloadResponse) => ofRecords(res.workload ? [res.workload as unknown as Rec] : [], ['runtimeVariables', 'buildArguments']),
  ListWorkloads: (res: projectPb.ListWorkloadsResponse) => ofRecords(res.workloads.filter((w) => w.name === 'api') as unknown as Rec[], ['runtimeVariables', 'buildArguments']),
  GetAddon: (res: projectPb.GetAddonResponse) => ofRecords(res.addon ? [res.addon as unknown as Rec] : [], ['connectionDetails']),
  ListAddons: (res: projectPb.ListAddonsResponse) => ofRecords(res.addons.filter((a) => a.name === 'db') as unknown as Rec[], ['connectionDetails']),
  DiffGroupRevisions: (res: groupPb.DiffGroupRevisionsResponse) => ({
    found: true,
    redacted: res.valuesRedacted,
    values: [...Object.values(res.fromValues), ...Object.values(res.toValues)],
    keys: res.changedKeys,
  }),
};
const LISTS = new Set(['ListGroups', 'ListWorkloads', 'ListAddons']);
/** RPCs that only read: any record of theirs is a read. */
const READ_RPCS = new Set(['GetGroup', 'ListGroups', 'ListGroupHistory', 'GetWorkload', 'ListWorkloads', 'GetAddon', 'ListAddons', 'DiffGroupRevisions', 'RevealValue', 'Resolve', 'Watch']);
/** Every RPC whose answer carries secret values for a role that may read them. */
const VALUE_ANSWERS = [
  ...['AddFile', 'CreateAddon', 'CreateGroup', 'CreateWorkload', 'DiffGroupRevisions', 'GetAddon', 'GetGroup', 'GetWorkload', 'ImportVariables', 'LinkAddon'],
  ...['ListAddons', 'ListGroupHistory', 'ListGroups', 'ListWorkloads', 'RemoveFile', 'RenameGroup', 'Resolve', 'RestoreGroup', 'RevealValue', 'RollbackGroup'],
  ...['SetVariables', 'UnlinkAddon', 'UnsetVariables', 'UpdateAddon', 'UpdateGroupSettings', 'UpdateWorkload', 'Watch'],
].sort();
/** Answers carrying secret values, cell by cell, checked against the audit log at the end. */
const carried: { rpc: string; role: RoleName; from: number; to: number }[] = [];
/** Never a value, for anyone: responses that carry keys and sources only. */
const NEVER_VALUES = new Set(['Explain', 'PreviewChange', 'ListAuditEvents', 'ListTokens', 'RestartDependents', 'ListGroupDependents', 'WatchProject']);

async function outcome(p: Promise<unknown>): Promise<{ code: string; res?: unknown; message: string }> {
  try {
    return { code: 'OK', res: await p, message: '' };
  } catch (e) {
    const err = e as grpc.ServiceError;
    if (err.code === undefined) throw e;
    return { code: grpc.status[err.code]!, message: err.details ?? err.message };
  }
}

const cells = MATRIX.flatMap((row) => ROLES.map((role) => [`${row.service}.${row.rpc}${row.type === '-' ? '' : ` (${row.type})`} as ${role} → ${row.cells[role]}`, row, role] as const));

describe('authorization matrix', () => {
  it.each(cells)('%s', async (_title, row: MatrixRow, role: RoleName) => {
    const cell: Cell = row.cells[role];
    const fx = await fixture(row);
    const before = dumpStore(t.dataDir);
    const from = Date.now();
    const out = await outcome(INVOKE[row.rpc]!(clients[role], row, fx));
    if (out.code === 'OK' && text(out.res).includes(SECRET_CANARY)) carried.push({ rpc: row.rpc, role, from, to: Date.now() });
    const all = `${text(out.res)}\n${out.message}`;
    const seen = out.code === 'OK' ? SEEN[row.rpc]?.(out.res as never, fx) : undefined;

    if (cell === 'refused') {
      expect(out.code, out.message).toBe('FAILED_PRECONDITION');
      expect(dumpStore(t.dataDir), 'a refused call changed the store').toBe(before);
      for (const c of CANARIES) expect(all).not.toContain(c);
      return;
    }
    if (cell === 'deny') {
      if (LISTS.has(row.rpc) && out.code === 'OK') {
        expect(seen!.found, `${row.rpc} lists a ${row.type} record for ${role}`).toBe(false);
      } else {
        expect(out.code, out.message).toBe('PERMISSION_DENIED');
      }
      expect(dumpStore(t.dataDir), 'a refused call changed the store').toBe(before);
      for (const c of CANARIES) expect(all).not.toContain(c);
      return;
    }
    expect(out.code, out.message).toBe('OK');
    if (seen) {
      expect(seen.found, `${row.rpc}: no ${row.type} record in the response`).toBe(true);
      if (cell === 'keys') {
        expect(seen.redacted, 'values_redacted must be set').toBe(true);
        expect(seen.values.every((v) => v === ''), 'every value must be empty').toBe(true);
        expect(seen.keys.length, 'keys stay visible').toBeGreaterThan(0);
        expect(all).not.toContain(canaryOf(row.type));
      } else {
        expect(seen.redacted).toBe(false);
        expect(seen.values.join('\n')).toContain(canaryOf(row.type));
      }
    }
    if (NEVER_VALUES.has(row.rpc)) for (const c of CANARIES) expect(all).not.toContain(c);
    if (row.rpc === 'Resolve') expect(all).toContain(`${SECRET_CANARY}-workload`);
  });

  it('every answer that carries a secret value is recorded as a read of it (reads, and writes that answer with the record)', async () => {
    // The RPCs whose answers carried a secret value in the cells above: if this list shrinks,
    // a fixture stopped exercising a route and the check below would pass vacuously.
    expect([...new Set(carried.map((c) => c.rpc))].sort()).toEqual(VALUE_ANSWERS);
    await new Promise((r) => setTimeout(r, 700)); // buffered read records are flushed every 500 ms
    const since = Math.min(...carried.map((c) => c.from));
    const events = new Map<string, accessPb.AuditEvent[]>();
    for (const rpc of VALUE_ANSWERS) {
      const res = await call<object, accessPb.ListAuditEventsResponse>(t.admin.access, 'listAuditEvents', accessPb.ListAuditEventsRequest.fromPartial({ action: rpc, sinceMs: since, limit: 1000 }));
      events.set(rpc, res.events);
    }
    const unaudited = carried.filter(({ rpc, role, from, to }) => {
      const reads = events.get(rpc)!.filter((e) => e.actor === actors[role] && e.outcome === 'ok' && e.timeMs >= from && e.timeMs <= to);
      // A write also leaves its write record under the same action: only the read counts.
      return !reads.some((e) => READ_RPCS.has(rpc) || e.detail === VALUES_IN_ANSWER);
    });
    expect(unaudited.map((c) => `${c.rpc} as ${c.role}`), 'answers with secret values and no read record').toEqual([]);
  });

  it('the RPCs checked for read records are every RPC whose answer type can hold a value (read from the service definitions)', () => {
    // VALUE_ANSWERS is checked above against what the cells carried; this checks it against the
    // protos, so a new RPC answering with a group, workload, addon or value cannot be left out.
    expect(rpcsAnsweringValues()).toEqual(VALUE_ANSWERS);
  });

  it('covers every RPC of the four services, each built-in role, and both group types where the type matters', () => {
    const defs = { AccessService: accessPb.AccessServiceService, ProjectService: projectPb.ProjectServiceService, ResolverService: resolverPb.ResolverServiceService, SecretGroupService: groupPb.SecretGroupServiceService };
    const declared = Object.entries(defs).flatMap(([svc, def]) => Object.values(def).map((m) => `${svc}.${m.path.split('/').pop()}`)).sort();
    expect([...new Set(MATRIX.map((r) => `${r.service}.${r.rpc}`))].sort()).toEqual(declared);
    for (const r of MATRIX.filter((x) => x.service === 'SecretGroupService')) {
      expect(MATRIX.filter((x) => x.rpc === r.rpc).map((x) => x.type).sort()).toEqual(['config', 'secret']);
    }
    expect(Object.keys(INVOKE).sort()).toEqual(declared.map((d) => d.split('.')[1]).sort());
  });

  it('SECURITY.md shows the current table (regenerate with node scripts/gen-authz-doc.mjs)', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../SECURITY.md'), 'utf8');
    const begin = doc.indexOf('<!-- authz-matrix:begin');
    const end = doc.indexOf('<!-- authz-matrix:end -->');
    expect(begin, 'SECURITY.md lacks the matrix markers').toBeGreaterThanOrEqual(0);
    const block = doc.slice(doc.indexOf('\n', begin) + 1, end).trim();
    expect(block).toBe(renderMatrix());
  });
});

// ---------------------------------------------------------------------------------------

describe('workload identity', () => {
  let wl: ReturnType<typeof api>;
  let wlBuild: ReturnType<typeof api>;
  beforeAll(async () => {
    wl = api(clients.workload);
    wlBuild = api(t.as((await admin.createToken({ workload: { project: 'p', workload: 'api' }, allowBuild: true })).token));
  });

  it('resolves only its own identity', async () => {
    expect(await codeOf(wl.resolve('p', 'api'))).toBe('OK');
    expect(await codeOf(wl.resolve('p', 'other'))).toBe('PERMISSION_DENIED');
    expect(await codeOf(wl.resolve('q', 'api'))).toBe('PERMISSION_DENIED');
    expect(await codeOf(wl.explain('p', 'other'))).toBe('PERMISSION_DENIED');
    expect(await codeOf(watchFirst(clients.workload, resolverPb.WatchRequest.fromPartial({ project: 'p', workload: 'other', scope: Scope.SCOPE_RUNTIME })))).toBe('PERMISSION_DENIED');
  });

  it('build scope only with --build (allow_build)', async () => {
    expect(await codeOf(wl.resolve('p', 'api', Scope.SCOPE_BUILD))).toBe('PERMISSION_DENIED');
    const r = await wlBuild.resolve('p', 'api', Scope.SCOPE_BUILD);
    expect(r.resolution!.variables.B_TOKEN).toBe(`${SECRET_CANARY}-build`);
  });

  it('claimed tags must be a subset of the registered ones', async () => {
    expect(await codeOf(wl.resolve('p', 'api', Scope.SCOPE_RUNTIME, ['web']))).toBe('OK');
    expect(await codeOf(wl.resolve('p', 'api', Scope.SCOPE_RUNTIME, ['web', 'admin']))).toBe('PERMISSION_DENIED');
  });

  it('sees no other project', async () => {
    expect(await codeOf(call(clients.workload.projects, 'getProject', { name: 'q' }))).toBe('PERMISSION_DENIED');
    const list = await call<object, projectPb.ListProjectsResponse>(clients.workload.projects, 'listProjects', {});
    expect(list.projects.map((x) => x.name)).toEqual(['p']);
  });

  it('a revoked workload token is refused within 1 s', async () => {
    const made = await admin.createToken({ workload: { project: 'p', workload: 'api' } });
    const c = api(t.as(made.token));
    expect(await codeOf(c.resolve('p', 'api'))).toBe('OK');
    await call(t.admin.access, 'revokeToken', { id: made.info!.id });
    const start = Date.now();
    while ((await codeOf(c.resolve('p', 'api'))) === 'OK') {
      expect(Date.now() - start).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await codeOf(c.resolve('p', 'api'))).toBe('UNAUTHENTICATED');
  });

  it('a workload token cannot mint tokens, even for itself', async () => {
    expect(await codeOf(api(clients.workload).createToken({ workload: { project: 'p', workload: 'api' } }))).toBe('PERMISSION_DENIED');
  });
});

// ---------------------------------------------------------------------------------------

describe('keys-only everywhere (config-editor and viewer on secret groups)', () => {
  const KEYS_ONLY = ['config-editor', 'viewer'] as const;

  it.each(KEYS_ONLY)('%s: error messages about a secret group never carry its values', async (role) => {
    const c = clients[role];
    const name = `err-${role}`;
    await admin.createGroup({ project: 'p', name, type: GroupType.GROUP_TYPE_SECRET, variables: { K: `${SECRET_CANARY}-err`, T: '${K}' } });
    const attempts: Promise<unknown>[] = [
      call(c.groups, 'setVariables', groupPb.SetVariablesRequest.fromPartial({ project: 'p', name, variables: { K: 'x' } })),
      call(c.groups, 'setVariables', groupPb.SetVariablesRequest.fromPartial({ project: 'p', name, variables: { 'bad key': 'x' } })),
      call(c.groups, 'unsetVariables', groupPb.UnsetVariablesRequest.fromPartial({ project: 'p', name, keys: ['NOPE'] })),
      call(c.groups, 'importVariables', groupPb.ImportVariablesRequest.fromPartial({ project: 'p', name, format: groupPb.ImportFormat.IMPORT_FORMAT_JSON, content: '{"K": ' })),
      call(c.groups, 'rollbackGroup', groupPb.RollbackGroupRequest.fromPartial({ project: 'p', name, toRevision: 99 })),
      call(c.groups, 'previewChange', groupPb.PreviewChangeRequest.fromPartial({ setVariables: { project: 'p', name, variables: { T: '${MISSING}' } } })),
      call(c.groups, 'previewChange', groupPb.PreviewChangeRequest.fromPartial({ unsetVariables: { project: 'p', name, keys: ['K'] } })),
      call(c.groups, 'updateGroupSettings', groupPb.UpdateGroupSettingsRequest.fromPartial({ project: 'p', name, type: GroupType.GROUP_TYPE_CONFIG })),
      call(c.groups, 'getGroup', { project: 'p', name: `${name}-missing` }),
      call(c.groups, 'restartDependents', { project: 'p', name }),
      call(c.resolver, 'resolve', resolverPb.ResolveRequest.fromPartial(own)),
      call(c.access, 'listAuditEvents', accessPb.ListAuditEventsRequest.fromPartial({ project: 'p' })),
    ];
    for (const a of attempts) {
      const o = await outcome(a);
      expect(o.code).not.toBe('OK');
      expect(o.message).not.toContain(SECRET_CANARY);
    }
  });

  it.each(KEYS_ONLY)('%s: history of a group that was secret stays keys-only after it becomes config', async (role) => {
    const name = `retyped-${role}`;
    await admin.createGroup({ project: 'p', name, type: GroupType.GROUP_TYPE_SECRET, variables: { S: `${SECRET_CANARY}-was-secret`, C: 'cfg' } });
    await admin.unsetVars('p', name, ['S']);
    await admin.settings({ project: 'p', name, type: GroupType.GROUP_TYPE_CONFIG });
    const h = await call<object, groupPb.ListGroupHistoryResponse>(clients[role].groups, 'listGroupHistory', groupPb.ListGroupHistoryRequest.fromPartial({ project: 'p', name }));
    expect(h.revisions.length).toBe(3);
    expect(text(h)).not.toContain(SECRET_CANARY);
    expect(h.revisions[0]!.group!.valuesRedacted).toBe(true);
    // And the other way round: a config group that becomes secret hides its old values too.
    const back = `retyped-back-${role}`;
    await admin.createGroup({ project: 'p', name: back, type: GroupType.GROUP_TYPE_CONFIG, variables: { C: `${SECRET_CANARY}-now-secret` } });
    await admin.settings({ project: 'p', name: back, type: GroupType.GROUP_TYPE_SECRET });
    const hb = await call<object, groupPb.ListGroupHistoryResponse>(clients[role].groups, 'listGroupHistory', groupPb.ListGroupHistoryRequest.fromPartial({ project: 'p', name: back }));
    expect(text(hb)).not.toContain(SECRET_CANARY);
    expect(hb.revisions.every((r) => r.group!.valuesRedacted)).toBe(true);
  });

  it.each(KEYS_ONLY)('%s: PreviewChange cannot be used to test a guessed secret value', async (role) => {
    const name = `oracle-${role}`;
    const secret = `${SECRET_CANARY}-guess-me`;
    const key = `PASSWORD_${role.replace('-', '_').toUpperCase()}`; // not shadowed by another group
    await admin.createGroup({ project: 'p', name, type: GroupType.GROUP_TYPE_SECRET, variables: { [key]: secret } });
    const preview = (guess: string) =>
      outcome(call(clients[role].groups, 'previewChange', groupPb.PreviewChangeRequest.fromPartial({ setVariables: { project: 'p', name, variables: { [key]: guess } } })));
    const right = await preview(secret);
    const wrong = await preview('wrong-guess');
    // Either refused, or the answer is the same whether the guess is right or wrong.
    if (right.code === 'OK' || wrong.code === 'OK') expect(text(right.res)).toBe(text(wrong.res));
    else expect(right.code).toBe('PERMISSION_DENIED');
  });

  it.each(KEYS_ONLY)('%s: the Explain etag is not an offline oracle for secret values', async (role) => {
    // Everything p/api resolves to, as an administrator sees it.
    const r = (await admin.resolve('p', 'api')).resolution!;
    const ex = await call<object, resolverPb.ExplainResponse>(clients[role].resolver, 'explain', resolverPb.ExplainRequest.fromPartial(own));
    expect(text(ex)).not.toContain(SECRET_CANARY);
    // The public etag function over the candidate values must not reproduce what a keys-only
    // caller is shown: otherwise guesses of a secret value can be verified offline.
    const files = r.files.map((f) => ({ path: f.path, content: Buffer.from(f.content), mode: f.mode }));
    expect(ex.etag === '' || ex.etag !== etagOf(r.variables, files as never)).toBe(true);
  });

  it('every response that carries secret values to an administrator leaves a read record in the audit log', async () => {
    const name = 'audited-reads';
    await admin.createGroup({ project: 'p', name, type: GroupType.GROUP_TYPE_SECRET, variables: { AUDITED: `${SECRET_CANARY}-audited` } });
    const since = Date.now();
    const reads: [string, () => Promise<unknown>][] = [
      ['GetGroup', () => call(t.admin.groups, 'getGroup', { project: 'p', name })],
      ['ListGroups', () => call(t.admin.groups, 'listGroups', { project: 'p' })],
      ['ListGroupHistory', () => call(t.admin.groups, 'listGroupHistory', groupPb.ListGroupHistoryRequest.fromPartial({ project: 'p', name }))],
      ['GetWorkload', () => call(t.admin.projects, 'getWorkload', { project: 'p', name: 'api' })],
      ['ListWorkloads', () => call(t.admin.projects, 'listWorkloads', { project: 'p' })],
      ['GetAddon', () => call(t.admin.projects, 'getAddon', { project: 'p', name: 'db' })],
      ['ListAddons', () => call(t.admin.projects, 'listAddons', { project: 'p' })],
      ['RevealValue', () => call(t.admin.groups, 'revealValue', groupPb.RevealValueRequest.fromPartial({ project: 'p', kind: groupPb.RevealKind.REVEAL_KIND_GROUP_VARIABLE, name, key: 'AUDITED' }))],
    ];
    const carried: string[] = [];
    for (const [action, read] of reads) if (text(await read()).includes(SECRET_CANARY)) carried.push(action);
    await new Promise((r) => setTimeout(r, 700)); // buffered read records
    const res = await call<object, accessPb.ListAuditEventsResponse>(t.admin.access, 'listAuditEvents', accessPb.ListAuditEventsRequest.fromPartial({ project: 'p', sinceMs: since, limit: 1000 }));
    const recorded = new Set(res.events.map((e) => e.action));
    expect(carried.filter((a) => !recorded.has(a)), 'reads of secret values without an audit record').toEqual([]);
  });

  it('the audit log holds keys, never values, after everything above', async () => {
    await new Promise((r) => setTimeout(r, 700)); // buffered read records are flushed every 500 ms
    const res = await call<object, accessPb.ListAuditEventsResponse>(t.admin.access, 'listAuditEvents', accessPb.ListAuditEventsRequest.fromPartial({ limit: 1000 }));
    expect(res.events.length).toBeGreaterThan(100);
    for (const c of CANARIES) expect(text(res)).not.toContain(c);
    expect(res.events.some((e) => e.outcome === 'denied')).toBe(true);
    // Newest first and at most 1,000: the matrix's writes are asked for by action.
    const sets = await call<object, accessPb.ListAuditEventsResponse>(t.admin.access, 'listAuditEvents', accessPb.ListAuditEventsRequest.fromPartial({ action: 'SetVariables', limit: 1000 }));
    expect(sets.events.some((e) => e.keys.includes('NEW'))).toBe(true);
  });
});
