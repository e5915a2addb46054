/**
 * Routes around the keys-only promise found by the second adversarial review (issue 18), each
 * written as the attacker's route against a real in-process server:
 * - a dead workload token (its workload deleted and re-created) reading through RevealValue;
 * - a write that changes nothing answering with every value and leaving no read record;
 * - a size refusal or a redacted file telling a keys-only role how long a secret is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as accessPb from '../../gen/secretgroups/v1/access_service.js';
import * as groupPb from '../../gen/secretgroups/v1/secret_group_service.js';
import { GroupType, Scope } from '../../gen/secretgroups/v1/resources.js';
import { VALUES_IN_ANSWER } from '../../server/service/value-reads.js';
import { api } from '../helpers/api.js';
import { call, codeOf, startTestServer, type TestServer } from '../helpers/in-process.js';
import type { Clients } from '../../client/connection.js';

const SECRET = 'sk_live_ReadRoutesCanary';
const FILE = '-----BEGIN PRIVATE KEY-----read-routes';
const DB_PASSWORD = 'pg-read-routes-canary';

let t: TestServer;
let admin: ReturnType<typeof api>;
let editorClients: Clients;
let editor: ReturnType<typeof api>;
let ceClients: Clients;
const actorOf = (id: string, name: string) => `token:${id}(${name})`;
let editorActor = '';

beforeAll(async () => {
  t = await startTestServer();
  admin = api(t.admin);
  await admin.createProject('r3');
  await admin.createWorkload({ project: 'r3', name: 'api', runtimeVariables: { OWN: SECRET } });
  await admin.createAddon({ project: 'r3', name: 'db', type: 'postgresql', connectionDetails: { password: DB_PASSWORD } });
  await admin.createGroup({ project: 'r3', name: 'vault', type: GroupType.GROUP_TYPE_SECRET, description: 'd', variables: { STRIPE_KEY: SECRET } });
  await admin.addFile({ project: 'r3', name: 'vault', file: { path: '/etc/r3/key.pem', content: Buffer.from(FILE), mode: 0o600, size: 0 } });
  const e = await admin.createToken({ name: 'r3-editor', role: 'editor' });
  editorClients = t.as(e.token);
  editor = api(editorClients);
  editorActor = actorOf(e.info!.id, 'r3-editor');
  ceClients = t.as((await admin.createToken({ name: 'r3-ce', role: 'config-editor' })).token);
}, 60_000);
afterAll(() => t?.stop());

const reveal = (c: Clients, kind: groupPb.RevealKind, key: string) =>
  call<groupPb.RevealValueRequest, groupPb.RevealValueResponse>(c.groups, 'revealValue', groupPb.RevealValueRequest.fromPartial({ project: 'r3', kind, name: 'api', key, scope: Scope.SCOPE_RUNTIME }));

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const code = await codeOf(p);
  const message = await p.then(
    () => '',
    (e: { details?: string; message: string }) => e.details ?? e.message,
  );
  return { code, message };
}

describe('a dead workload token reads nothing through RevealValue', () => {
  it('after its workload is deleted and re-created, every resolved kind refuses it as Resolve does', async () => {
    const old = t.as((await admin.createToken({ workload: { project: 'r3', workload: 'api' } })).token);
    expect((await reveal(old, groupPb.RevealKind.REVEAL_KIND_RESOLVED_VARIABLE, 'STRIPE_KEY')).value).toBe(SECRET);

    await call(t.admin.projects, 'deleteWorkload', { project: 'r3', name: 'api', expectedRevision: 0 });
    await admin.createWorkload({ project: 'r3', name: 'api', runtimeVariables: { OWN: SECRET } });

    expect(await codeOf(api(old).resolve('r3', 'api'))).toBe('UNAUTHENTICATED');
    for (const [kind, key] of [
      [groupPb.RevealKind.REVEAL_KIND_RESOLVED_VARIABLE, 'STRIPE_KEY'],
      [groupPb.RevealKind.REVEAL_KIND_RESOLVED_VARIABLE, 'OWN'],
      [groupPb.RevealKind.REVEAL_KIND_RESOLVED_FILE, '/etc/r3/key.pem'],
    ] as const) {
      const out = await failure(reveal(old, kind, key));
      expect(out.code, `${key}: ${out.message}`).toBe('UNAUTHENTICATED');
      expect(out.message).toMatch(/deleted and re-created/);
      for (const v of [SECRET, FILE]) expect(out.message).not.toContain(v);
    }
    // A token of the new incarnation reads as before.
    const fresh = t.as((await admin.createToken({ workload: { project: 'r3', workload: 'api' } })).token);
    expect((await reveal(fresh, groupPb.RevealKind.REVEAL_KIND_RESOLVED_VARIABLE, 'STRIPE_KEY')).value).toBe(SECRET);
  });

  it('a live workload token reveals only what its own Resolve answers: every other kind, workload and scope is refused', async () => {
    await admin.createWorkload({ project: 'r3', name: 'peer', runtimeVariables: { PEER_OWN: SECRET } });
    const wl = t.as((await admin.createToken({ workload: { project: 'r3', workload: 'api' } })).token);
    const ask = (kind: groupPb.RevealKind, name: string, key: string, scope = Scope.SCOPE_RUNTIME) =>
      failure(call(wl.groups, 'revealValue', groupPb.RevealValueRequest.fromPartial({ project: 'r3', kind, name, key, scope })));
    const K = groupPb.RevealKind;
    for (const [kind, name, key, scope] of [
      [K.REVEAL_KIND_GROUP_VARIABLE, 'vault', 'STRIPE_KEY', Scope.SCOPE_RUNTIME],
      [K.REVEAL_KIND_GROUP_FILE, 'vault', '/etc/r3/key.pem', Scope.SCOPE_RUNTIME],
      [K.REVEAL_KIND_ADDON_DETAIL, 'db', 'password', Scope.SCOPE_RUNTIME],
      [K.REVEAL_KIND_WORKLOAD_RUNTIME_VARIABLE, 'api', 'OWN', Scope.SCOPE_RUNTIME],
      [K.REVEAL_KIND_WORKLOAD_BUILD_ARGUMENT, 'api', 'OWN', Scope.SCOPE_RUNTIME],
      [K.REVEAL_KIND_RESOLVED_VARIABLE, 'peer', 'PEER_OWN', Scope.SCOPE_RUNTIME],
      [K.REVEAL_KIND_RESOLVED_VARIABLE, 'api', 'STRIPE_KEY', Scope.SCOPE_BUILD],
    ] as const) {
      const out = await ask(kind, name, key, scope);
      expect(out.code, `${K[kind]} ${name} ${key}: ${out.message}`).toBe('PERMISSION_DENIED');
      for (const v of [SECRET, FILE, DB_PASSWORD]) expect(out.message).not.toContain(v);
    }
    expect((await reveal(wl, K.REVEAL_KIND_RESOLVED_VARIABLE, 'OWN')).value).toBe(SECRET);
  });
});

describe('a write that answers with values is recorded as a read of them', () => {
  const answerReads = async (action: string, since: number) => {
    await new Promise((r) => setTimeout(r, 700)); // buffered read records are flushed every 500 ms
    const res = await call<object, accessPb.ListAuditEventsResponse>(t.admin.access, 'listAuditEvents', accessPb.ListAuditEventsRequest.fromPartial({ action, sinceMs: since, limit: 1000 }));
    return res.events.filter((e) => e.detail === VALUES_IN_ANSWER);
  };

  it('a no-op UpdateGroupSettings and a RollbackGroup to the current revision (the reviewer’s routes)', async () => {
    const since = Date.now();
    const current = (await editor.getGroup('r3', 'vault')).group!;
    const noop = (await editor.settings({ project: 'r3', name: 'vault', description: current.description })) as groupPb.UpdateGroupSettingsResponse;
    expect(noop.unchanged).toBe(true);
    expect(noop.group!.variables.STRIPE_KEY).toBe(SECRET);
    const back = (await editor.rollback({ project: 'r3', name: 'vault', toRevision: current.revision })) as groupPb.RollbackGroupResponse;
    expect(back.unchanged).toBe(true);
    for (const action of ['UpdateGroupSettings', 'RollbackGroup']) {
      const reads = await answerReads(action, since);
      expect(reads.map((e) => [e.actor, e.target, e.keys.join(',')]), action).toEqual([[editorActor, 'group r3/vault', '/etc/r3/key.pem,STRIPE_KEY']]);
    }
  });

  it('a real change answers with the whole group: recorded as a write and as a read', async () => {
    const since = Date.now();
    await editor.setVars('r3', 'vault', { OTHER: 'x' });
    const reads = await answerReads('SetVariables', since);
    expect(reads).toHaveLength(1);
    expect(reads[0]!.keys).toEqual(['/etc/r3/key.pem', 'OTHER', 'STRIPE_KEY']);
    for (const v of [SECRET, FILE]) expect(JSON.stringify(reads)).not.toContain(v);
  });

  it('no-op UpdateAddon and UpdateWorkload likewise', async () => {
    const since = Date.now();
    const addon = (await admin.updateAddon({ project: 'r3', name: 'db', connectionDetails: { password: DB_PASSWORD } })) as { unchanged: boolean };
    expect(addon.unchanged).toBe(true);
    const wl = (await admin.updateWorkload({ project: 'r3', name: 'api', setRuntimeVariables: { OWN: SECRET } })) as { unchanged: boolean };
    expect(wl.unchanged).toBe(true);
    expect((await answerReads('UpdateAddon', since)).map((e) => [e.target, e.keys])).toEqual([['addon r3/db', ['password']]]);
    expect((await answerReads('UpdateWorkload', since)).map((e) => [e.target, e.keys])).toEqual([['workload r3/api', ['OWN']]]);
  });

  it('a keys-only caller’s answers carry no value and record no read', async () => {
    const since = Date.now();
    const ce = api(ceClients);
    const g = (await ce.getGroup('r3', 'vault')).group!;
    expect(g.valuesRedacted).toBe(true);
    expect(await answerReads('GetGroup', since)).toEqual([]);
  });
});

describe('no size figure of a secret reaches a keys-only role', () => {
  it('a redacted secret file shows neither content nor size', async () => {
    const g = (await api(ceClients).getGroup('r3', 'vault')).group!;
    expect(g.files.map((f) => [f.path, f.content.length, Number(f.size)])).toEqual([['/etc/r3/key.pem', 0, 0]]);
    const full = (await editor.getGroup('r3', 'vault')).group!;
    expect(Number(full.files[0]!.size)).toBe(Buffer.byteLength(FILE));
  });

  it('the resolution-size refusal names the size only to a caller who reads every value counted', async () => {
    // Four config groups of 15 × 64 KiB and a 4 × 64 KiB change bring workload big past 4 MiB.
    await admin.createWorkload({ project: 'r3', name: 'big' });
    const chunk = 'c'.repeat(64 * 1024 - 16);
    const fill = (n: number, prefix: string) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, chunk]));
    const onlyBig = { restricted: true, workloads: ['big'], tags: [] };
    for (let i = 0; i < 4; i++) {
      await admin.createGroup({ project: 'r3', name: `fill${i}`, type: GroupType.GROUP_TYPE_CONFIG, restrictions: onlyBig, variables: fill(15, `F${i}_`) });
    }
    await admin.createGroup({ project: 'r3', name: 'pad', type: GroupType.GROUP_TYPE_CONFIG, restrictions: onlyBig });
    await admin.createGroup({ project: 'r3', name: 'big-secret', type: GroupType.GROUP_TYPE_SECRET, restrictions: onlyBig, variables: { S: SECRET } });
    const change = { setVariables: { project: 'r3', name: 'pad', variables: fill(6, 'PAD') } };

    const asAdmin = await failure(admin.preview(change));
    expect(asAdmin.code).toBe('RESOURCE_EXHAUSTED');
    expect(asAdmin.message).toMatch(/workload big would resolve to \d+ bytes/);

    for (const c of [ceClients, t.as((await admin.createToken({ name: 'r3-viewer', role: 'viewer' })).token)]) {
      const out = await failure(api(c).preview(change));
      expect(out.code, out.message).toBe('RESOURCE_EXHAUSTED');
      expect(out.message).toMatch(/workload big would resolve to more than the limit of 4194304 bytes/);
      expect(out.message.replace('4194304', '').replace(/blocks of 256 bytes/, '')).not.toMatch(/\d{3,}/);
    }
    const write = await failure(api(ceClients).setVars('r3', 'pad', fill(6, 'PAD')));
    expect(write.code).toBe('RESOURCE_EXHAUSTED');
    expect(write.message).not.toMatch(/resolve to \d+ bytes/);
  });
});
