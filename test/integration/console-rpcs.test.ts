/**
 * The RPCs added for the web console, against a real server: ListGroupDependents,
 * DiffGroupRevisions, RevealValue, keys_only reads and WatchProject; keys-only roles
 * (config-editor, viewer) never receive a secret value from any of them.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListAuditEventsRequest, type ListAuditEventsResponse } from '../../gen/secretgroups/v1/access_service.js';
import type { GetWorkloadResponse, ListAddonsResponse, WatchProjectResponse } from '../../gen/secretgroups/v1/project_service.js';
import { GroupType, Scope } from '../../gen/secretgroups/v1/resources.js';
import {
  DiffGroupRevisionsRequest,
  ListGroupHistoryRequest,
  RevealKind,
  RevealValueRequest,
  type DiffGroupRevisionsResponse,
  type GetGroupResponse,
  type ListGroupDependentsResponse,
  type RevealValueResponse,
} from '../../gen/secretgroups/v1/secret_group_service.js';
import type { Clients } from '../../client/connection.js';
import { api } from '../helpers/api.js';
import { call, codeOf, startTestServer, type TestServer } from '../helpers/in-process.js';

const CANARY = 'CANARY-console-4d1e';
let t: TestServer;
let admin: ReturnType<typeof api>;
const as = {} as Record<'editor' | 'config-editor' | 'viewer' | 'resolver', Clients>;
const text = (x: unknown) => JSON.stringify(x, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));

beforeAll(async () => {
  t = await startTestServer();
  admin = api(t.admin);
  await admin.createProject('shop');
  await admin.createWorkload({ project: 'shop', name: 'api', tags: ['web'], runtimeVariables: { LOG_LEVEL: `${CANARY}-own` }, buildArguments: { NODE_ENV: `${CANARY}-build` } });
  await admin.createWorkload({ project: 'shop', name: 'worker', kind: 2 });
  await admin.createWorkload({ project: 'shop', name: 'cron', kind: 2, tags: ['batch'] });
  await admin.createAddon({ project: 'shop', name: 'pg', type: 'postgresql', connectionDetails: { password: `${CANARY}-addon` } });
  // shared: every workload, both scopes, priority 10.
  await admin.createGroup({ project: 'shop', name: 'shared', type: GroupType.GROUP_TYPE_SECRET, priority: 10, variables: { DB_PASSWORD: `${CANARY}-shared`, LOG_LEVEL: 'info', API_KEY: `${CANARY}-key` } });
  await admin.addFile({ project: 'shop', name: 'shared', file: { path: '/etc/shop/tls.key', content: Buffer.from(`${CANARY}-file`), mode: 0o600, size: 0 } });
  // override: api (by name) and the web tag, runtime only, priority 50: wins API_KEY there.
  await admin.createGroup({
    project: 'shop',
    name: 'override',
    type: GroupType.GROUP_TYPE_SECRET,
    priority: 50,
    scope: Scope.SCOPE_RUNTIME,
    restrictions: { restricted: true, workloads: ['worker'], tags: ['web'] },
    variables: { API_KEY: `${CANARY}-override` },
  });
  await admin.createGroup({ project: 'shop', name: 'settings', type: GroupType.GROUP_TYPE_CONFIG, variables: { COLOR: 'blue' } });
  for (const role of ['editor', 'config-editor', 'viewer', 'resolver'] as const) {
    as[role] = t.as((await admin.createToken({ name: `c-${role}`, role })).token);
  }
});
afterAll(() => t?.stop());

const audit = async (action: string) => {
  await new Promise((r) => setTimeout(r, 700)); // buffered reads are flushed every 500 ms
  const res = await call<ListAuditEventsRequest, ListAuditEventsResponse>(t.admin.access, 'listAuditEvents', ListAuditEventsRequest.fromPartial({ action, limit: 1000 }));
  return res.events;
};

describe('ListGroupDependents', () => {
  const deps = (c: Clients, name: string, scope = Scope.SCOPE_UNSPECIFIED) =>
    call<object, ListGroupDependentsResponse>(c.groups, 'listGroupDependents', { project: 'shop', name, scope });

  it('lists the workloads a group reaches per scope and which of its keys win there', async () => {
    const res = await deps(t.admin, 'shared');
    const api_ = res.dependents.filter((d) => d.workload === 'api');
    expect(res.dependents.map((d) => `${d.workload}/${d.scope}`)).toEqual(['api/1', 'api/2', 'cron/1', 'cron/2', 'worker/1', 'worker/2']);
    const apiRuntime = api_.find((d) => d.scope === Scope.SCOPE_RUNTIME)!;
    // API_KEY: override wins on api at runtime; LOG_LEVEL: api's own variable wins.
    expect(apiRuntime.winningKeys).toEqual(['DB_PASSWORD']);
    expect(apiRuntime.shadowedKeys).toEqual(['API_KEY', 'LOG_LEVEL']);
    expect(apiRuntime.winningFiles).toEqual(['/etc/shop/tls.key']);
    const apiBuild = api_.find((d) => d.scope === Scope.SCOPE_BUILD)!;
    expect(apiBuild.winningKeys).toEqual(['API_KEY', 'DB_PASSWORD', 'LOG_LEVEL']);
    const cron = res.dependents.find((d) => d.workload === 'cron' && d.scope === Scope.SCOPE_RUNTIME)!;
    expect(cron.shadowedKeys).toEqual([]);
  });

  it('follows restrictions (by name and by tag) and the requested scope', async () => {
    const res = await deps(t.admin, 'override');
    expect(res.dependents.map((d) => `${d.workload}/${d.scope}`)).toEqual(['api/1', 'worker/1']);
    expect((await deps(t.admin, 'override', Scope.SCOPE_BUILD)).dependents).toEqual([]);
    expect((await deps(t.admin, 'shared', Scope.SCOPE_BUILD)).dependents.every((d) => d.scope === Scope.SCOPE_BUILD)).toBe(true);
  });

  it('keys-only roles get the same answer and never a value; roles without group access are refused', async () => {
    const full = await deps(t.admin, 'shared');
    for (const role of ['config-editor', 'viewer'] as const) {
      const res = await deps(as[role], 'shared');
      expect(res).toEqual(full);
      expect(text(res)).not.toContain(CANARY);
    }
    expect(await codeOf(deps(as.resolver, 'shared'))).toBe('PERMISSION_DENIED');
    expect(await codeOf(deps(t.admin, 'missing'))).toBe('NOT_FOUND');
  });
});

describe('DiffGroupRevisions', () => {
  const diff = (c: Clients, r: Partial<DiffGroupRevisionsRequest>) =>
    call<DiffGroupRevisionsRequest, DiffGroupRevisionsResponse>(c.groups, 'diffGroupRevisions', DiffGroupRevisionsRequest.fromPartial({ project: 'shop', ...r }));

  beforeAll(async () => {
    // history: r1 create, r2 set, r3 unset, r4 file, r5 settings
    await admin.createGroup({ project: 'shop', name: 'hist', type: GroupType.GROUP_TYPE_SECRET, variables: { KEEP: 'same', CHANGE: `${CANARY}-old`, DROP: `${CANARY}-dropped` } });
    await admin.setVars('shop', 'hist', { CHANGE: `${CANARY}-new`, ADD: `${CANARY}-added` });
    await admin.unsetVars('shop', 'hist', ['DROP']);
    await admin.addFile({ project: 'shop', name: 'hist', file: { path: '/etc/x.pem', content: Buffer.from('pem'), mode: 0o600, size: 0 } });
    await admin.settings({ project: 'shop', name: 'hist', priority: 30, description: 'now documented' });
    await admin.createGroup({ project: 'shop', name: 'cfg-hist', type: GroupType.GROUP_TYPE_CONFIG, variables: { A: 'config-a1' } });
    await admin.setVars('shop', 'cfg-hist', { A: 'config-a2' });
  });

  it('keys added, removed and changed; files; settings; values for a reader', async () => {
    const d = await diff(t.admin, { name: 'hist', fromRevision: 1 });
    expect(d.toRevision).toBe(5);
    expect(d.addedKeys).toEqual(['ADD']);
    expect(d.removedKeys).toEqual(['DROP']);
    expect(d.changedKeys).toEqual(['CHANGE']);
    expect(d.addedFiles).toEqual(['/etc/x.pem']);
    expect(d.settings).toEqual([
      { name: 'description', from: '', to: 'now documented' },
      { name: 'priority', from: '0', to: '30' },
    ]);
    expect(d.valuesRedacted).toBe(false);
    expect(d.fromValues).toEqual({ DROP: `${CANARY}-dropped`, CHANGE: `${CANARY}-old` });
    expect(d.toValues).toEqual({ ADD: `${CANARY}-added`, CHANGE: `${CANARY}-new` });
    expect((await audit('DiffGroupRevisions')).some((e) => e.target === 'group shop/hist' && e.keys.includes('CHANGE'))).toBe(true);
  });

  it('between any two revisions, in either direction', async () => {
    const d = await diff(t.admin, { name: 'hist', fromRevision: 3, toRevision: 2 });
    expect(d.addedKeys).toEqual(['DROP']);
    expect(d.changedKeys).toEqual([]);
    expect(await codeOf(diff(t.admin, { name: 'hist', fromRevision: 99 }))).toBe('NOT_FOUND');
    expect(await codeOf(diff(t.admin, { name: 'hist', fromRevision: 0 }))).toBe('INVALID_ARGUMENT');
  });

  it('keys-only roles get keys and never a value of a secret group; config values stay readable to them', async () => {
    for (const role of ['config-editor', 'viewer'] as const) {
      const d = await diff(as[role], { name: 'hist', fromRevision: 1 });
      expect(d.valuesRedacted).toBe(true);
      expect(d.changedKeys).toEqual(['CHANGE']);
      expect(text(d)).not.toContain(CANARY);
      const c = await diff(as[role], { name: 'cfg-hist', fromRevision: 1 });
      expect(c.valuesRedacted).toBe(false);
      expect(c.toValues).toEqual({ A: 'config-a2' });
    }
    expect(await codeOf(diff(as.resolver, { name: 'hist', fromRevision: 1 }))).toBe('PERMISSION_DENIED');
  });

  it('keys_only hides values even from an administrator', async () => {
    const d = await diff(t.admin, { name: 'hist', fromRevision: 1, keysOnly: true });
    expect(d.valuesRedacted).toBe(true);
    expect(text(d)).not.toContain(CANARY);
  });
});

describe('RevealValue', () => {
  const reveal = (c: Clients, kind: RevealKind, name: string, key: string, scope = Scope.SCOPE_UNSPECIFIED) =>
    call<RevealValueRequest, RevealValueResponse>(c.groups, 'revealValue', RevealValueRequest.fromPartial({ project: 'shop', kind, name, key, scope }));
  const K = RevealKind;

  it('reveals one value of every kind to a caller who may read it', async () => {
    expect((await reveal(t.admin, K.REVEAL_KIND_GROUP_VARIABLE, 'shared', 'DB_PASSWORD')).value).toBe(`${CANARY}-shared`);
    expect(Buffer.from((await reveal(t.admin, K.REVEAL_KIND_GROUP_FILE, 'shared', '/etc/shop/tls.key')).content).toString()).toBe(`${CANARY}-file`);
    expect((await reveal(t.admin, K.REVEAL_KIND_ADDON_DETAIL, 'pg', 'password')).value).toBe(`${CANARY}-addon`);
    expect((await reveal(t.admin, K.REVEAL_KIND_WORKLOAD_RUNTIME_VARIABLE, 'api', 'LOG_LEVEL')).value).toBe(`${CANARY}-own`);
    expect((await reveal(t.admin, K.REVEAL_KIND_WORKLOAD_BUILD_ARGUMENT, 'api', 'NODE_ENV')).value).toBe(`${CANARY}-build`);
    expect((await reveal(as.editor, K.REVEAL_KIND_RESOLVED_VARIABLE, 'api', 'API_KEY')).value).toBe(`${CANARY}-override`);
    expect((await reveal(as.editor, K.REVEAL_KIND_RESOLVED_VARIABLE, 'api', 'API_KEY', Scope.SCOPE_BUILD)).value).toBe(`${CANARY}-key`);
    expect(Buffer.from((await reveal(as.editor, K.REVEAL_KIND_RESOLVED_FILE, 'worker', '/etc/shop/tls.key')).content).toString()).toBe(`${CANARY}-file`);
    expect((await reveal(as.viewer, K.REVEAL_KIND_GROUP_VARIABLE, 'settings', 'COLOR')).value).toBe('blue');
  });

  it('keys-only roles are refused every secret value, and the refusal carries none', async () => {
    for (const role of ['config-editor', 'viewer', 'resolver'] as const) {
      const attempts: [RevealKind, string, string][] = [
        [K.REVEAL_KIND_GROUP_VARIABLE, 'shared', 'DB_PASSWORD'],
        [K.REVEAL_KIND_GROUP_FILE, 'shared', '/etc/shop/tls.key'],
        [K.REVEAL_KIND_ADDON_DETAIL, 'pg', 'password'],
        [K.REVEAL_KIND_WORKLOAD_RUNTIME_VARIABLE, 'api', 'LOG_LEVEL'],
        [K.REVEAL_KIND_WORKLOAD_BUILD_ARGUMENT, 'api', 'NODE_ENV'],
      ];
      if (role !== 'resolver') attempts.push([K.REVEAL_KIND_RESOLVED_VARIABLE, 'api', 'DB_PASSWORD']);
      for (const [kind, name, key] of attempts) {
        const out = await reveal(as[role], kind, name, key).then(
          (r) => ({ code: 'OK', text: text(r) }),
          (e: grpc.ServiceError) => ({ code: grpc.status[e.code], text: e.details }),
        );
        expect(out.code, `${role} ${RevealKind[kind]}`).toBe('PERMISSION_DENIED');
        expect(out.text).not.toContain(CANARY);
      }
    }
    // A resolver may resolve, so it may reveal a resolved value (as Resolve would show it).
    expect((await reveal(as.resolver, K.REVEAL_KIND_RESOLVED_VARIABLE, 'api', 'DB_PASSWORD')).value).toBe(`${CANARY}-shared`);
  });

  it('each reveal is an audit record naming the key, never the value', async () => {
    await reveal(t.admin, K.REVEAL_KIND_GROUP_VARIABLE, 'shared', 'API_KEY');
    const events = await audit('RevealValue');
    const e = events.find((x) => x.target === 'group shop/shared' && x.keys.join() === 'API_KEY');
    expect(e?.outcome).toBe('ok');
    expect(text(events)).not.toContain(CANARY);
  });

  it('a missing key or an unknown kind is refused clearly', async () => {
    expect(await codeOf(reveal(t.admin, K.REVEAL_KIND_GROUP_VARIABLE, 'shared', 'NOPE'))).toBe('NOT_FOUND');
    expect(await codeOf(reveal(t.admin, K.REVEAL_KIND_UNSPECIFIED, 'shared', 'API_KEY'))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(reveal(t.admin, K.REVEAL_KIND_GROUP_VARIABLE, 'missing', 'API_KEY'))).toBe('NOT_FOUND');
  });
});

describe('keys_only reads', () => {
  it('answer keys with values_redacted even to an administrator, and record no read of a value', async () => {
    const since = Date.now();
    const g = await call<object, GetGroupResponse>(t.admin.groups, 'getGroup', { project: 'shop', name: 'shared', keysOnly: true });
    expect(g.group!.valuesRedacted).toBe(true);
    expect(Object.keys(g.group!.variables).sort()).toEqual(['API_KEY', 'DB_PASSWORD', 'LOG_LEVEL']);
    // The administrator may read the file, so its size is no secret to it (a keys-only role gets 0).
    expect(Number(g.group!.files[0]!.size)).toBeGreaterThan(0);
    const w = await call<object, GetWorkloadResponse>(t.admin.projects, 'getWorkload', { project: 'shop', name: 'api', keysOnly: true });
    expect(w.workload!.valuesRedacted).toBe(true);
    const a = await call<object, ListAddonsResponse>(t.admin.projects, 'listAddons', { project: 'shop', keysOnly: true });
    expect(a.addons[0]!.valuesRedacted).toBe(true);
    for (const [method, req] of [
      ['listGroups', { project: 'shop', keysOnly: true }],
      // Built with fromPartial: the request's int64 paging fields must not be left undefined.
      ['listGroupHistory', ListGroupHistoryRequest.fromPartial({ project: 'shop', name: 'shared', keysOnly: true })],
    ] as const) {
      expect(text(await call(t.admin.groups, method, req))).not.toContain(CANARY);
    }
    expect(text(await call(t.admin.projects, 'listWorkloads', { project: 'shop', keysOnly: true }))).not.toContain(CANARY);
    expect(text(g) + text(w) + text(a)).not.toContain(CANARY);
    const reads = (await audit('GetGroup')).filter((e) => e.timeMs >= since);
    expect(reads).toEqual([]);
  });

  it('do not widen access: a role without access is still refused', async () => {
    expect(await codeOf(call(as.resolver.groups, 'getGroup', { project: 'shop', name: 'shared', keysOnly: true }))).toBe('PERMISSION_DENIED');
  });
});

describe('WatchProject', () => {
  function open(c: Clients) {
    const got: WatchProjectResponse[] = [];
    let error: grpc.ServiceError | undefined;
    const s = c.projects.watchProject({ project: 'shop' });
    s.on('data', (m: WatchProjectResponse) => got.push(m));
    s.on('error', (e: grpc.ServiceError) => (error = e));
    return { got, s, error: () => error };
  }

  it('sends the current version, then one message per change, with nothing else in it', async () => {
    const w = open(as.viewer);
    await expect.poll(() => w.got.length).toBe(1);
    const v0 = w.got[0]!.version;
    await admin.setVars('shop', 'settings', { COLOR: 'green' });
    await expect.poll(() => w.got.length).toBe(2);
    expect(w.got[1]!.version).toBeGreaterThan(v0);
    expect(w.got[1]!.deleted).toBe(false);
    w.s.cancel();
  });

  it('is refused for another project and ends when its token is revoked', async () => {
    const made = await admin.createToken({ name: 'watch-revoked', role: 'viewer', projects: ['shop'] });
    const c = t.as(made.token);
    await admin.createProject('other');
    const denied = c.projects.watchProject({ project: 'other' });
    const code = await new Promise<number>((r) => denied.on('error', (e: grpc.ServiceError) => r(e.code)));
    expect(code).toBe(grpc.status.PERMISSION_DENIED);

    const w = open(c);
    await expect.poll(() => w.got.length).toBe(1);
    await call(t.admin.access, 'revokeToken', { id: made.info!.id });
    await new Promise((r) => setTimeout(r, 600));
    await admin.setVars('shop', 'settings', { COLOR: 'red' });
    await expect.poll(() => w.error()?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(w.got.length).toBe(1);
  });

  it('ends within 1 s of its token\'s revocation even when nothing changes in the project', async () => {
    const made = await admin.createToken({ name: 'watch-quiet', role: 'viewer', projects: ['shop'] });
    const w = open(t.as(made.token));
    await expect.poll(() => w.got.length).toBe(1);
    const revokedAt = Date.now();
    await call(t.admin.access, 'revokeToken', { id: made.info!.id });
    await expect.poll(() => w.error()?.code, { timeout: 1000, interval: 20 }).toBe(grpc.status.UNAUTHENTICATED);
    expect(Date.now() - revokedAt).toBeLessThan(1000);
  });
});
