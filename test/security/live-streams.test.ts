/**
 * Live streams are re-authorized: an open Watch ends (UNAUTHENTICATED or PERMISSION_DENIED)
 * within 1 s when its token is revoked or expires, its role changes, or its workload is deleted
 * or re-created, and it receives nothing written after the revocation. Streams per token are
 * capped; refused Watch calls are audited; connections without calls are closed.
 */
import * as http2 from 'node:http2';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Clients } from '../../client/connection.js';
import { AccessLevel, CreateRoleRequest, ListAuditEventsRequest, ListTokensRequest, RevokeTokenRequest, UpdateRoleRequest } from '../../gen/secretgroups/v1/access_service.js';
import { DeleteWorkloadRequest } from '../../gen/secretgroups/v1/project_service.js';
import { ResolveRequest } from '../../gen/secretgroups/v1/resolver_service.js';
import { WatchRequest, type WatchResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import { Scope } from '../../gen/secretgroups/v1/resources.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import { api } from '../helpers/api.js';
import { call, codeOf, startTestServer, type TestServer } from '../helpers/in-process.js';

let t: TestServer;
let a: ReturnType<typeof api>;
const opened: Clients[] = [];

beforeAll(async () => {
  t = await startTestServer({ maxStreamsPerToken: 3 });
  a = api(t.admin);
  await a.createProject('p');
  await a.createWorkload({ project: 'p', name: 'api', tags: ['web'] });
  await a.createWorkload({ project: 'p', name: 'other' });
  await a.createGroup({ project: 'p', name: 'g', variables: { A: '1' } });
});
afterAll(async () => {
  for (const c of opened) c.close();
  await t.stop();
});

function client(token: string): Clients {
  const c = connect({ addr: t.server.addr, token });
  opened.push(c);
  return c;
}

async function workloadToken(workload = 'api', ttlSeconds = 0): Promise<string> {
  return (await a.createToken({ name: `w-${workload}`, workload: { project: 'p', workload }, ttlSeconds })).token;
}

/** A Watch that records its messages, its end and when it ended. */
function watch(c: Clients, workload = 'api') {
  const messages: WatchResponse[] = [];
  let error: grpc.ServiceError | null = null;
  let endedAt = 0;
  const stream = c.resolver.watch(WatchRequest.fromPartial({ project: 'p', workload, scope: Scope.SCOPE_RUNTIME }));
  stream.on('data', (m: WatchResponse) => {
    if (!m.heartbeat) messages.push(m);
  });
  stream.on('error', (e: grpc.ServiceError) => {
    error = e;
    endedAt = Date.now();
  });
  const wait = async (cond: () => boolean, what: string, ms = 5_000) => {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (error: ${String(error && (error as grpc.ServiceError).details)})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    messages,
    error: () => error as grpc.ServiceError | null,
    code: () => (error ? grpc.status[(error as grpc.ServiceError).code] : 'OPEN'),
    endedAt: () => endedAt,
    ready: () => wait(() => messages.length > 0 || error !== null, 'the first message'),
    ended: (ms = 5_000) => wait(() => error !== null, 'the end of the stream', ms),
    values: () => messages.filter((m) => m.resolution).map((m) => m.resolution!.variables),
    cancel: () => stream.cancel(),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('revocation', () => {
  it('ends the token\'s open streams before RevokeToken answers; a value set afterwards never reaches them', async () => {
    const token = await workloadToken();
    const c = client(token);
    const w1 = watch(c);
    const w2 = watch(c);
    await w1.ready();
    await w2.ready();
    expect(w1.values()).toEqual([{ A: '1' }]);
    const id = (await call<unknown, { tokens: { id: string; name: string; revoked: boolean }[] }>(t.admin.access, 'listTokens', ListTokensRequest.fromPartial({}))).tokens.filter((x) => x.name === 'w-api' && !x.revoked).at(-1)!.id;
    const started = Date.now();
    await call(t.admin.access, 'revokeToken', RevokeTokenRequest.fromPartial({ id }));
    const acknowledged = Date.now();
    // Rotate right after the revocation was acknowledged.
    await a.setVars('p', 'g', { A: 'rotated' });
    await w1.ended(1_000);
    await w2.ended(1_000);
    for (const w of [w1, w2]) {
      expect(w.code()).toBe('UNAUTHENTICATED');
      expect(w.error()!.details).toContain('revoked');
      expect(w.endedAt() - started).toBeLessThan(1_000);
      expect(w.values()).toEqual([{ A: '1' }]);
    }
    // The server ended the streams before it answered RevokeToken (the two replies travel on
    // different connections, so allow a little for their delivery order).
    expect(w1.endedAt()).toBeLessThanOrEqual(acknowledged + 200);
    await sleep(300);
    expect(w1.values()).toEqual([{ A: '1' }]);
    expect(await codeOf(call(c.resolver, 'resolve', ResolveRequest.fromPartial({ project: 'p', workload: 'api', scope: Scope.SCOPE_RUNTIME })))).toBe('UNAUTHENTICATED');
    await a.setVars('p', 'g', { A: '1' });
  });

  it('ends a stream when its token expires, within 1 s of the expiry', async () => {
    // The server sets expiresAt = its clock at creation + 2 s, somewhere in [before, created].
    const before = Date.now();
    const token = await workloadToken('api', 2);
    const created = Date.now();
    const w = watch(client(token));
    await w.ready();
    expect(w.code()).toBe('OPEN');
    await w.ended(4_000);
    expect(w.code()).toBe('UNAUTHENTICATED');
    expect(w.error()!.details).toContain('expired');
    expect(w.endedAt()).toBeGreaterThanOrEqual(before + 2_000);
    expect(w.endedAt() - (created + 2_000)).toBeLessThan(1_000);
  });
});

describe('workload identity', () => {
  it('deleting the workload ends its token\'s streams with UNAUTHENTICATED; re-creating it does not revive the token', async () => {
    await a.createWorkload({ project: 'p', name: 'ephemeral' });
    const token = await workloadToken('ephemeral');
    const c = client(token);
    const w = watch(c, 'ephemeral');
    await w.ready();
    const started = Date.now();
    await call(t.admin.projects, 'deleteWorkload', DeleteWorkloadRequest.fromPartial({ project: 'p', name: 'ephemeral' }));
    await w.ended(1_000);
    expect(w.code()).toBe('UNAUTHENTICATED');
    expect(w.endedAt() - started).toBeLessThan(1_000);
    expect(w.error()!.details).toContain('deleted');

    await a.createWorkload({ project: 'p', name: 'ephemeral', tags: ['web'] });
    const resolve = call<unknown, unknown>(c.resolver, 'resolve', ResolveRequest.fromPartial({ project: 'p', workload: 'ephemeral', scope: Scope.SCOPE_RUNTIME }));
    expect(await codeOf(resolve)).toBe('UNAUTHENTICATED');
    const again = watch(c, 'ephemeral');
    await again.ended(2_000);
    expect(again.code()).toBe('UNAUTHENTICATED');
    expect(again.error()!.details).toContain('re-created');
    expect(again.values()).toEqual([]);
    // A token made for the new workload works.
    const fresh = watch(client(await workloadToken('ephemeral')), 'ephemeral');
    await fresh.ready();
    expect(fresh.code()).toBe('OPEN');
    fresh.cancel();
  });
});

describe('role change', () => {
  it('a custom role that loses the right to resolve ends its streams with PERMISSION_DENIED within 1 s', async () => {
    await call(t.admin.access, 'createRole', CreateRoleRequest.fromPartial({ role: { name: 'watcher', description: 'resolves', secret: AccessLevel.ACCESS_LEVEL_NONE, config: AccessLevel.ACCESS_LEVEL_NONE, resolve: true } }));
    const created = await a.createToken({ name: 'watcher', role: 'watcher', projects: ['p'] });
    const w = watch(client(created.token));
    await w.ready();
    expect(w.code()).toBe('OPEN');
    // The role definition changes in the store (as another replica or an upgrade would write it).
    const store = new SqliteStore(join(t.dataDir, 'sg.db'));
    try {
      const roles = JSON.parse((await store.getMeta('roles'))!) as { name: string; resolve: boolean }[];
      for (const r of roles) if (r.name === 'watcher') r.resolve = false;
      const started = Date.now();
      await store.setMeta('roles', JSON.stringify(roles));
      await w.ended(1_000);
      expect(w.code()).toBe('PERMISSION_DENIED');
      expect(w.endedAt() - started).toBeLessThan(1_000);
    } finally {
      await store.close();
    }
  });
});

describe('UpdateRole', () => {
  it('a role changed through UpdateRole ends the streams it no longer allows before the call answers', async () => {
    await call(t.admin.access, 'createRole', CreateRoleRequest.fromPartial({ role: { name: 'watcher2', secret: AccessLevel.ACCESS_LEVEL_NONE, config: AccessLevel.ACCESS_LEVEL_NONE, resolve: true } }));
    const created = await a.createToken({ name: 'watcher2', role: 'watcher2', projects: ['p'] });
    const w = watch(client(created.token));
    await w.ready();
    expect(w.code()).toBe('OPEN');
    await call(t.admin.access, 'updateRole', UpdateRoleRequest.fromPartial({ role: { name: 'watcher2', secret: AccessLevel.ACCESS_LEVEL_NONE, config: AccessLevel.ACCESS_LEVEL_READ, resolve: false } }));
    const answered = Date.now();
    await w.ended(1_000);
    expect(w.code()).toBe('PERMISSION_DENIED');
    expect(w.endedAt() - answered).toBeLessThan(200);
    // And the next call of that token has the new rights.
    expect(await codeOf(call(client(created.token).resolver, 'resolve', ResolveRequest.fromPartial({ project: 'p', workload: 'api', scope: Scope.SCOPE_RUNTIME })))).toBe('PERMISSION_DENIED');
    // Built-in roles stay as they are; an unknown role is NOT_FOUND.
    expect(await codeOf(call(t.admin.access, 'updateRole', UpdateRoleRequest.fromPartial({ role: { name: 'viewer', secret: AccessLevel.ACCESS_LEVEL_WRITE, config: AccessLevel.ACCESS_LEVEL_WRITE } })))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(call(t.admin.access, 'updateRole', UpdateRoleRequest.fromPartial({ role: { name: 'nobody', secret: AccessLevel.ACCESS_LEVEL_NONE, config: AccessLevel.ACCESS_LEVEL_NONE } })))).toBe('NOT_FOUND');
  });
});

describe('stream cap and audit', () => {
  it('refuses the stream past --max-streams-per-token with RESOURCE_EXHAUSTED, frees the slot on close, and audits the refusal', async () => {
    const token = await workloadToken('other');
    const c = client(token);
    const ws = [watch(c, 'other'), watch(c, 'other'), watch(c, 'other')];
    for (const w of ws) await w.ready();
    const extra = watch(c, 'other');
    await extra.ended(2_000);
    expect(extra.code()).toBe('RESOURCE_EXHAUSTED');
    expect(extra.error()!.details).toMatch(/3 open Watch streams.*--max-streams-per-token/);
    expect(extra.values()).toEqual([]);
    // Another token is not affected.
    const mine = watch(client(await workloadToken('other')), 'other');
    await mine.ready();
    expect(mine.code()).toBe('OPEN');
    ws[0]!.cancel();
    await sleep(200);
    const replacement = watch(c, 'other');
    await replacement.ready();
    expect(replacement.code()).toBe('OPEN');

    const events = await waitForAudit((e) => e.action === 'Watch' && e.outcome === 'denied' && /max-streams-per-token/.test(e.detail));
    expect(events[0]!.actor).toBe('workload:p/other');
  });

  it('audits a Watch refused for permission, and one refused for a wrong token', async () => {
    const c = client(await workloadToken('other'));
    const w = watch(c, 'api');
    await w.ended();
    expect(w.code()).toBe('PERMISSION_DENIED');
    await waitForAudit((e) => e.action === 'Watch' && e.outcome === 'denied' && e.actor === 'workload:p/other' && e.target === 'p/api');
    const bad = watch(client('sg_not-a-real-token'), 'api');
    await bad.ended();
    expect(bad.code()).toBe('UNAUTHENTICATED');
    await waitForAudit((e) => e.action === 'Watch' && e.outcome === 'denied' && e.actor.startsWith('peer:') && /unknown token/.test(e.detail));
  });

  it('audits streams ended by a revocation, with the reason', async () => {
    const token = await workloadToken('api');
    const w = watch(client(token));
    await w.ready();
    const id = (await call<unknown, { tokens: { id: string; revoked: boolean }[] }>(t.admin.access, 'listTokens', ListTokensRequest.fromPartial({}))).tokens.filter((x) => !x.revoked).at(-1)!.id;
    await call(t.admin.access, 'revokeToken', RevokeTokenRequest.fromPartial({ id }));
    await w.ended(1_000);
    await waitForAudit((e) => e.action === 'Watch' && e.outcome === 'denied' && e.actor === 'workload:p/api' && /stream ended \(UNAUTHENTICATED\): token has been revoked/.test(e.detail));
  });
});

describe('idle connections', () => {
  it('closes a connection that carries no call, keeps one that holds a Watch', async () => {
    const s = await startTestServer({ maxConnectionIdleMs: 1_000 });
    try {
      const idle = http2.connect(`http://${s.server.addr}`);
      idle.on('error', () => undefined);
      const closed = new Promise<number>((resolve) => idle.on('close', () => resolve(Date.now())));
      const opened = Date.now();
      expect((await closed) - opened).toBeLessThan(4_000);

      const c = connect({ addr: s.server.addr, token: s.adminToken });
      await api(c).createProject('q');
      await api(c).createWorkload({ project: 'q', name: 'w' });
      const messages: WatchResponse[] = [];
      let error: grpc.ServiceError | null = null;
      const stream = c.resolver.watch(WatchRequest.fromPartial({ project: 'q', workload: 'w', scope: Scope.SCOPE_RUNTIME }));
      stream.on('data', (m: WatchResponse) => messages.push(m));
      stream.on('error', (e: grpc.ServiceError) => (error = e));
      await sleep(2_500);
      expect(error).toBeNull();
      expect(messages.length).toBe(1);
      stream.cancel();
      c.close();
    } finally {
      await s.stop();
    }
  });
});

interface AuditRow {
  actor: string;
  action: string;
  outcome: string;
  target: string;
  detail: string;
}

async function waitForAudit(match: (e: AuditRow) => boolean): Promise<AuditRow[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const { events } = await call<unknown, { events: AuditRow[] }>(t.admin.access, 'listAuditEvents', ListAuditEventsRequest.fromPartial({ limit: 1000 }));
    const hits = events.filter(match);
    if (hits.length) return hits;
    if (Date.now() > deadline) throw new Error(`no such audit event among ${events.length}: ${JSON.stringify(events.slice(0, 8))}`);
    await sleep(200);
  }
}
