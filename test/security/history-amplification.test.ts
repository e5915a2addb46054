/**
 * History amplification (round 3): a group's stored history is held to a per-group budget, so
 * many ~60-byte writes to a 1 MiB group cannot store a 1 MiB revision each without end; a
 * diff reads and opens only the two revisions it compares; ListGroupHistory answers bounded
 * pages over gRPC and over the console. Each case is the attacker's route against the real
 * server (sealed embedded store).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GroupType } from '../../gen/secretgroups/v1/resources.js';
import {
  DiffGroupRevisionsRequest,
  ListGroupHistoryRequest,
  ListGroupHistoryResponse,
  RestoreGroupRequest,
  type DiffGroupRevisionsResponse,
} from '../../gen/secretgroups/v1/secret_group_service.js';
import { LIMITS } from '../../server/domain/limits.js';
import { SealedStore } from '../../server/store/sealed-store.js';
import { ConsoleClient } from '../console-server/http.js';
import { api } from '../helpers/api.js';
import { call, startTestServer, type TestServer } from '../helpers/in-process.js';

const WRITES = 40;
/** 15 values of 60 KiB: a group just under its 1 MiB limit. */
const big = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`BIG${i}`, String.fromCharCode(65 + i).repeat(60 * 1024)]));

let t: TestServer;
let admin: ReturnType<typeof api>;
let editor: ReturnType<typeof api>;
let viewer: TestServer['admin'];
let last = 0;

/** The group's history as stored: rows and bytes, read from the store's file. */
function storedHistory(name: string): { revisions: number[]; bytes: number } {
  const db = new Database(join(t.dataDir, 'sg.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT revision, length(CAST(data AS BLOB)) AS bytes FROM group_history WHERE project = 'p' AND name = ? ORDER BY revision").all(name) as {
      revision: number;
      bytes: number;
    }[];
    return { revisions: rows.map((r) => r.revision), bytes: rows.reduce((n, r) => n + r.bytes, 0) };
  } finally {
    db.close();
  }
}

const diff = (c: TestServer['admin'], r: Partial<DiffGroupRevisionsRequest>) =>
  call<DiffGroupRevisionsRequest, DiffGroupRevisionsResponse>(c.groups, 'diffGroupRevisions', DiffGroupRevisionsRequest.fromPartial({ project: 'p', name: 'big', ...r }));
const history = (c: TestServer['admin'], r: Partial<ListGroupHistoryRequest>) =>
  call<ListGroupHistoryRequest, ListGroupHistoryResponse>(c.groups, 'listGroupHistory', ListGroupHistoryRequest.fromPartial({ project: 'p', name: 'big', ...r }));

const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: grpc.ServiceError) => ({ code: grpc.status[e.code], details: e.details }),
  );

beforeAll(async () => {
  t = await startTestServer({ consoleAddr: '127.0.0.1:0' });
  admin = api(t.admin);
  await admin.createProject('p');
  await admin.createGroup({ project: 'p', name: 'big', type: GroupType.GROUP_TYPE_SECRET, variables: big });
  editor = api(t.as((await admin.createToken({ name: 'ed', role: 'editor', projects: ['p'] })).token));
  viewer = t.as((await admin.createToken({ name: 'v', role: 'viewer', projects: ['p'] })).token);
  // The attack: many tiny writes, each of which used to store the whole 1 MiB group again.
  for (let i = 0; i < WRITES; i++) last = (await editor.setVars('p', 'big', { TINY: `w${i}`.padEnd(60, '.') })).group!.revision;
}, 240_000);
afterAll(() => t?.stop());

describe('history budget: small writes to a large group', () => {
  it('stored history stays within the budget, keeping the newest revisions', () => {
    const stored = storedHistory('big');
    expect(last).toBe(WRITES + 1);
    expect(stored.bytes).toBeLessThanOrEqual(LIMITS.historyBytes);
    // Without the budget: 41 revisions of about 1.3 MiB each as stored.
    expect(stored.revisions.length).toBeLessThan(WRITES / 2);
    expect(stored.revisions.at(-1)).toBe(last);
    expect(stored.revisions).toEqual(Array.from({ length: stored.revisions.length }, (_, i) => last - stored.revisions.length + 1 + i));
  });

  it('rollback and diff to a pruned revision are NOT_FOUND, naming the history budget', async () => {
    const first = storedHistory('big').revisions[0]!;
    const rollback = await failure(editor.rollback({ project: 'p', name: 'big', toRevision: 1 }));
    expect(rollback).toMatchObject({ code: 'NOT_FOUND' });
    expect(rollback!.details).toMatch(new RegExp(`revision 1 of group p/big was pruned by the history budget \\(the oldest kept revision is ${first}`));
    const pruned = await failure(diff(viewer, { fromRevision: 2, toRevision: last }));
    expect(pruned).toMatchObject({ code: 'NOT_FOUND' });
    expect(pruned!.details).toMatch(/revision 2 of group p\/big was pruned by the history budget/);
    // A revision that never existed is not called pruned.
    const never = await failure(diff(viewer, { fromRevision: last + 5 }));
    expect(never).toMatchObject({ code: 'NOT_FOUND' });
    expect(never!.details).not.toMatch(/pruned/);
  });

  it('a deleted group is restored from its kept last content, whatever was pruned', async () => {
    await admin.createGroup({ project: 'p', name: 'gone', type: GroupType.GROUP_TYPE_SECRET, variables: big });
    for (let i = 0; i < 15; i++) await editor.setVars('p', 'gone', { TINY: String(i) });
    await admin.deleteGroup('p', 'gone');
    const restored = await call<RestoreGroupRequest, { group: { variables: Record<string, string> } }>(
      t.admin.groups,
      'restoreGroup',
      RestoreGroupRequest.fromPartial({ project: 'p', name: 'gone' }),
    );
    expect(restored.group.variables).toMatchObject({ BIG3: big.BIG3, TINY: '14' });
    expect(storedHistory('gone').bytes).toBeLessThanOrEqual(LIMITS.historyBytes);
  });
});

describe('DiffGroupRevisions and ListGroupHistory read only what they answer', () => {
  it('a diff over a long history opens exactly the two revisions it compares', async () => {
    const open = vi.spyOn(SealedStore.prototype as unknown as { transformHistory: (e: unknown, mode: string) => Promise<unknown> }, 'transformHistory');
    try {
      open.mockClear();
      const d = await diff(viewer, { fromRevision: last - 3, toRevision: last });
      expect(d.changedKeys).toEqual(['TINY']);
      expect(open.mock.calls.filter(([, mode]) => mode === 'open')).toHaveLength(2);
    } finally {
      open.mockRestore();
    }
  });

  it('over gRPC: pages of at most the page size and page bytes, walking back to the oldest kept revision', async () => {
    const kept = storedHistory('big').revisions;
    const seen: number[] = [];
    let before = 0;
    for (let pages = 0; pages < 50; pages++) {
      const res = await history(t.admin, { pageSize: 1000, beforeRevision: before });
      expect(res.revisions.length).toBeGreaterThan(0);
      expect(res.revisions.length).toBeLessThanOrEqual(LIMITS.historyPageMax);
      // Values included (admin, not keys-only): a page is still a few MiB, not the history.
      expect(ListGroupHistoryResponse.encode(res).finish().byteLength).toBeLessThanOrEqual(LIMITS.historyPageBytes);
      expect(res.oldestKeptRevision).toBe(kept[0]);
      seen.unshift(...res.revisions.map((r) => r.revision));
      before = res.nextBeforeRevision;
      if (!before) break;
    }
    expect(seen).toEqual(kept);
    const small = await history(viewer, { pageSize: 1 });
    expect(small.revisions.map((r) => r.revision)).toEqual([last]);
    expect(small.nextBeforeRevision).toBe(last);
  });

  it('over the console: the same bounded pages', async () => {
    const session = new ConsoleClient(t.server.consoleUrl!);
    expect((await session.signIn(t.adminToken)).status).toBe(200);
    const seen: number[] = [];
    let before = 0;
    for (let pages = 0; pages < 50; pages++) {
      const res = await session.rpc('SecretGroupService/ListGroupHistory', { project: 'p', name: 'big', pageSize: 1000, beforeRevision: before });
      expect(res.status).toBe(200);
      // JSON carries the values as text: a page of at most historyPageBytes as stored stays about that size.
      expect(res.body.length).toBeLessThanOrEqual(2 * LIMITS.historyPageBytes);
      const revisions = (res.json.revisions as { revision: string }[]).map((r) => Number(r.revision));
      expect(revisions.length).toBeGreaterThan(0);
      seen.unshift(...revisions);
      before = Number(res.json.nextBeforeRevision ?? 0);
      if (!before) break;
    }
    expect(seen).toEqual(storedHistory('big').revisions);
  });
});

describe('renames move the history, they do not copy it', () => {
  it("a config-editor's chain of renames of a group at its budget stores one budget, not one per name", async () => {
    // A config group near 1 MiB whose history fills the budget (few bytes sent per write), then
    // renamed again and again by a config-editor: each rename used to copy the whole kept history
    // to the new name and keep it under the old one too (20 renames: 16 MB stored became 336 MB).
    const ce = t.as((await admin.createToken({ name: 'ce', role: 'config-editor', projects: ['p'] })).token);
    await api(ce).createGroup({ project: 'p', name: 'hop0', type: GroupType.GROUP_TYPE_CONFIG, variables: big });
    for (let i = 0; i < 12; i++) await api(ce).setVars('p', 'hop0', { TINY: `w${i}` });
    const names = Array.from({ length: 11 }, (_, i) => `hop${i}`);
    const total = () => names.reduce((n, name) => n + storedHistory(name).bytes, 0);
    const before = total();
    expect(before).toBeGreaterThan(LIMITS.historyBytes / 2);
    for (let i = 0; i < 10; i++) {
      await call(ce.groups, 'renameGroup', { project: 'p', name: `hop${i}`, newName: `hop${i + 1}`, expectedRevision: 0 });
    }
    // The history lives under the last name; each old name keeps only its rename (no content).
    expect(total()).toBeLessThan(before + 10 * 4096);
    expect(storedHistory('hop10').bytes).toBeLessThanOrEqual(LIMITS.historyBytes + 2 * 1024 * 1024);
    const left = await history(t.admin, { name: 'hop3' });
    expect(left.revisions.map((r) => [r.action, r.renamedTo, r.group === undefined])).toEqual([['RenameGroup', 'hop4', true]]);
    // A name left behind is not a deleted group to restore (that would copy the group back).
    expect(await failure(call(t.admin.groups, 'restoreGroup', RestoreGroupRequest.fromPartial({ project: 'p', name: 'hop3' })))).toMatchObject({ code: 'NOT_FOUND' });
    const moved = await history(t.admin, { name: 'hop10', pageSize: 100 });
    expect(moved.revisions.at(-1)).toMatchObject({ action: 'RenameGroup', renamedFrom: 'hop9' });
  }, 240_000);
});
