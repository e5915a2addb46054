/**
 * The store contract: one suite, run against every Store implementation
 * (sqlite.test.ts, mongodb.test.ts). A store passes when every case here passes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DomainError } from '../../server/domain/errors.js';
import type { GroupHistoryEntry, SecretGroup } from '../../server/domain/types.js';
import { encodeHistory } from '../../server/store/codec.js';
import type { HistoryBudget, Store, TokenRecord } from '../../server/store/store.js';
import { addon, group, workload } from '../helpers/fixtures.js';

export interface StoreFactory {
  /** A fresh, empty, initialised store (with this history budget instead of LIMITS'). */
  create(opts?: { history?: HistoryBudget }): Promise<Store>;
  /** Called after each test with the store create() returned. */
  destroy(store: Store): Promise<void>;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    if (e instanceof DomainError) return e.code;
    throw e;
  }
}

function history(g: SecretGroup, action = 'SetVariables', deleted = false): GroupHistoryEntry {
  return {
    project: g.project,
    name: g.name,
    revision: g.revision,
    time: g.updatedAt,
    actor: 'tester',
    action,
    changedKeys: Object.keys(g.variables),
    group: deleted ? null : g,
  };
}

function token(id: string, over: Partial<TokenRecord> = {}): TokenRecord {
  return {
    id,
    hash: `hash-${id}`,
    name: id,
    role: 'admin',
    projects: [],
    workload: null,
    scopes: [],
    createdAt: 1,
    expiresAt: 0,
    revoked: false,
    createdBy: 'bootstrap',
    ...over,
  };
}

export function storeContract(name: string, factory: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await factory.create();
      await store.createProject({ name: 'p', createdAt: 1 });
    });
    afterEach(async () => {
      await factory.destroy(store);
    });

    it('creates, gets and lists projects; a duplicate is ALREADY_EXISTS', async () => {
      await store.createProject({ name: 'q', createdAt: 2 });
      expect(await store.getProject('q')).toEqual({ name: 'q', createdAt: 2 });
      expect(await store.getProject('nope')).toBeNull();
      expect((await store.listProjects()).map((p) => p.name)).toEqual(['p', 'q']);
      expect(await codeOf(store.createProject({ name: 'q', createdAt: 3 }))).toBe('ALREADY_EXISTS');
    });

    it("keeps a project's own execution-controlling keys, with a compare-and-set, in lists and snapshots", async () => {
      expect(await store.setProjectExecutionKeys('p', [], ['ACME_*', 'MY_PATH'])).toBe(true);
      const p = { name: 'p', createdAt: 1, executionKeys: ['ACME_*', 'MY_PATH'] };
      expect(await store.getProject('p')).toEqual(p);
      expect(await store.listProjects()).toEqual([p]);
      expect((await store.loadProject('p'))!.project).toEqual(p);
      // Refused when the list moved on since it was read; nothing written.
      expect(await store.setProjectExecutionKeys('p', [], ['OTHER'])).toBe(false);
      expect(await store.setProjectExecutionKeys('p', ['ACME_*'], ['OTHER'])).toBe(false);
      expect((await store.getProject('p'))!.executionKeys).toEqual(['ACME_*', 'MY_PATH']);
      // Emptied, the field is absent again, as on projects stored before it existed.
      expect(await store.setProjectExecutionKeys('p', ['ACME_*', 'MY_PATH'], [])).toBe(true);
      expect(await store.getProject('p')).toEqual({ name: 'p', createdAt: 1 });
      expect(await codeOf(store.setProjectExecutionKeys('nope', [], ['X']))).toBe('NOT_FOUND');
      // Created with a list (sg migrate copies projects this way), it is kept.
      await store.createProject({ name: 'q', createdAt: 2, executionKeys: ['Q_*'] });
      expect(await store.getProject('q')).toEqual({ name: 'q', createdAt: 2, executionKeys: ['Q_*'] });
    });

    it('deleting a project removes its records and history', async () => {
      const g = group('g', { variables: { A: '1' } });
      await store.createRecord('group', g, history(g, 'CreateGroup'));
      await store.createRecord('workload', workload('w'));
      await store.deleteProject('p');
      expect(await store.getProject('p')).toBeNull();
      expect(await store.loadProject('p')).toBeNull();
      expect((await store.projectVersions()).has('p')).toBe(false);
      await store.createProject({ name: 'p', createdAt: 5 });
      expect(await store.getRecord('group', 'p', 'g')).toBeNull();
      expect(await store.listGroupHistory('p', 'g')).toEqual([]);
      expect(await codeOf(store.deleteProject('nope'))).toBe('NOT_FOUND');
    });

    it('round-trips every record kind exactly, file bytes included', async () => {
      const w = workload('w', { tags: ['a', 'b'], runtimeVariables: { X: 'x y\nz' }, buildArguments: { B: 'ü' } });
      const a = addon('db', { connectionDetails: { host: 'h', password: 'pw' } });
      const bytes = Uint8Array.from([0, 1, 2, 255, 254, 10]);
      const g = group('g', {
        priority: 50,
        type: 'secret',
        scope: 'runtime',
        restrictions: { restricted: true, workloads: ['w'], tags: ['t'] },
        variables: { K: '${L}', L: 'v' },
        files: [{ path: '/etc/x.pem', content: bytes, mode: 0o640 }],
        addonLinks: [{ addon: 'db', keys: [{ key: 'host', alias: 'DB_HOST' }] }],
      });
      await store.createRecord('workload', w);
      await store.createRecord('addon', a);
      await store.createRecord('group', g, history(g, 'CreateGroup'));
      expect(await store.getRecord('workload', 'p', 'w')).toEqual(w);
      expect(await store.getRecord('addon', 'p', 'db')).toEqual(a);
      const got = (await store.getRecord('group', 'p', 'g'))!;
      expect({ ...got, files: [] }).toEqual({ ...g, files: [] });
      expect(Buffer.from(got.files[0]!.content).equals(Buffer.from(bytes))).toBe(true);
      expect(got.files[0]!.mode).toBe(0o640);
    });

    it('a duplicate record is ALREADY_EXISTS; a record in a missing project is NOT_FOUND', async () => {
      await store.createRecord('workload', workload('w'));
      expect(await codeOf(store.createRecord('workload', workload('w')))).toBe('ALREADY_EXISTS');
      // Same name, other kind: fine.
      await store.createRecord('addon', addon('w'));
      expect(await codeOf(store.createRecord('workload', workload('x', { project: 'nope' })))).toBe('NOT_FOUND');
    });

    it('lists records of one kind and project, by name', async () => {
      await store.createProject({ name: 'q', createdAt: 1 });
      for (const n of ['c', 'a', 'b']) await store.createRecord('workload', workload(n));
      await store.createRecord('workload', workload('z', { project: 'q' }));
      await store.createRecord('group', group('g'));
      expect((await store.listRecords('workload', 'p')).map((w) => w.name)).toEqual(['a', 'b', 'c']);
      expect((await store.listRecords('group', 'p')).map((g) => g.name)).toEqual(['g']);
      expect(await store.listRecords('addon', 'p')).toEqual([]);
    });

    it('updates only from the expected revision; a stale write is ABORTED and changes nothing', async () => {
      const g1 = group('g', { variables: { A: '1' } });
      await store.createRecord('group', g1, history(g1, 'CreateGroup'));
      const g2 = { ...g1, revision: 2, variables: { A: '2' } };
      await store.updateRecord('group', g2, history(g2));
      const staleWrite = { ...g1, revision: 2, variables: { A: 'lost' } };
      expect(await codeOf(store.updateRecord('group', staleWrite, history(staleWrite)))).toBe('ABORTED');
      expect((await store.getRecord('group', 'p', 'g'))!.variables).toEqual({ A: '2' });
      const hist = await store.listGroupHistory('p', 'g');
      expect(hist.map((h) => h.revision)).toEqual([1, 2]);
      expect(hist[1]!.group!.variables).toEqual({ A: '2' });
      expect(await codeOf(store.updateRecord('group', { ...g1, name: 'missing', revision: 2 }))).toBe('NOT_FOUND');
    });

    it('the stale-revision error names the current revision', async () => {
      await store.createRecord('workload', workload('w'));
      await store.updateRecord('workload', workload('w', { revision: 2 }));
      await expect(store.updateRecord('workload', workload('w', { revision: 2 }))).rejects.toThrow(/revision 2/);
    });

    it('of concurrent writers from the same revision exactly one wins', async () => {
      await store.createRecord('workload', workload('w'));
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          codeOf(store.updateRecord('workload', workload('w', { revision: 2, tags: [`t${i}`] }))),
        ),
      );
      expect(results.filter((r) => r === 'OK')).toHaveLength(1);
      expect(results.filter((r) => r === 'ABORTED')).toHaveLength(7);
      const stored = (await store.getRecord('workload', 'p', 'w'))!;
      expect(stored.revision).toBe(2);
      expect(results[Number(stored.tags[0]!.slice(1))]).toBe('OK');
    });

    it('deletes only at the expected revision and keeps the history, deletion included', async () => {
      const g = group('g', { variables: { A: '1' } });
      await store.createRecord('group', g, history(g, 'CreateGroup'));
      expect(await codeOf(store.deleteRecord('group', 'p', 'g', 7))).toBe('ABORTED');
      expect(await store.getRecord('group', 'p', 'g')).not.toBeNull();
      await store.deleteRecord('group', 'p', 'g', 1, history({ ...g, revision: 2 }, 'DeleteGroup', true));
      expect(await store.getRecord('group', 'p', 'g')).toBeNull();
      const hist = await store.listGroupHistory('p', 'g');
      expect(hist.map((h) => [h.revision, h.action, h.group === null])).toEqual([
        [1, 'CreateGroup', false],
        [2, 'DeleteGroup', true],
      ]);
      expect(await codeOf(store.deleteRecord('group', 'p', 'g', 2))).toBe('NOT_FOUND');
    });

    it("keeps what a history entry says about a rename (both names) and a rollback (its target), through delete, import and update", async () => {
      const g = group('before', { variables: { A: '1' } });
      await store.createRecord('group', g, history(g, 'CreateGroup'));
      await store.deleteRecord('group', 'p', 'before', 1, { ...history({ ...g, revision: 2 }, 'RenameGroup', true), renamedTo: 'after' });
      const moved = group('after', { revision: 2, variables: { A: '1' } });
      await store.importRecord('group', 'p', 'after', moved, [{ ...history(moved, 'RenameGroup'), renamedFrom: 'before' }]);
      const back = group('after', { revision: 3, variables: { A: '1' } });
      await store.updateRecord('group', back, { ...history(back, 'RollbackGroup'), rolledBackTo: 2 });
      expect((await store.listGroupHistory('p', 'before')).at(-1)).toMatchObject({ action: 'RenameGroup', group: null, renamedTo: 'after' });
      const after = await store.listGroupHistory('p', 'after');
      expect(after.map((h) => [h.action, h.renamedFrom, h.rolledBackTo])).toEqual([
        ['RenameGroup', 'before', undefined],
        ['RollbackGroup', undefined, 2],
      ]);
      expect(await store.getGroupRevision('p', 'after', 3)).toMatchObject({ rolledBackTo: 2 });
    });

    it('a group recreated after deletion continues its history', async () => {
      const g = group('g');
      await store.createRecord('group', g, history(g, 'CreateGroup'));
      await store.deleteRecord('group', 'p', 'g', 1, history({ ...g, revision: 2 }, 'DeleteGroup', true));
      const again = group('g', { revision: 3, variables: { B: '1' } });
      await store.createRecord('group', again, history(again, 'CreateGroup'));
      expect((await store.listGroupHistory('p', 'g')).map((h) => h.revision)).toEqual([1, 2, 3]);
      expect((await store.getRecord('group', 'p', 'g'))!.revision).toBe(3);
    });

    it('loads a whole project snapshot', async () => {
      await store.createRecord('workload', workload('w'));
      await store.createRecord('addon', addon('db', { connectionDetails: { k: 'v' } }));
      await store.createRecord('group', group('g', { variables: { A: '1' } }));
      const snap = (await store.loadProject('p'))!;
      expect(snap.project.name).toBe('p');
      expect([...snap.workloads.keys()]).toEqual(['w']);
      expect(snap.addons.get('db')!.connectionDetails).toEqual({ k: 'v' });
      expect(snap.groups.get('g')!.variables).toEqual({ A: '1' });
      expect(await store.loadProject('nope')).toBeNull();
    });

    it('the change feed version grows with every committed change and never with a refused one', async () => {
      const v0 = (await store.projectVersions()).get('p')!;
      await store.createRecord('workload', workload('w'));
      const v1 = (await store.projectVersions()).get('p')!;
      expect(v1).toBeGreaterThan(v0);
      await store.updateRecord('workload', workload('w', { revision: 2 }));
      const v2 = (await store.projectVersions()).get('p')!;
      expect(v2).toBeGreaterThan(v1);
      await codeOf(store.updateRecord('workload', workload('w', { revision: 2 })));
      await codeOf(store.createRecord('workload', workload('w')));
      expect((await store.projectVersions()).get('p')!).toBe(v2);
      await store.deleteRecord('workload', 'p', 'w', 2);
      expect((await store.projectVersions()).get('p')!).toBeGreaterThan(v2);
    });

    it('each record write resolves to the change feed version it produced, one more per change', async () => {
      const v0 = (await store.projectVersions()).get('p')!;
      const v1 = await store.createRecord('workload', workload('w'));
      expect(v1).toBe(v0 + 1);
      expect((await store.projectVersions()).get('p')).toBe(v1);
      expect(await store.updateRecord('workload', workload('w', { revision: 2 }))).toBe(v1 + 1);
      expect(await store.deleteRecord('workload', 'p', 'w', 2)).toBe(v1 + 2);
      // Concurrent writes (committed together where the store groups them) get one version each.
      const many = await Promise.all(Array.from({ length: 8 }, (_, i) => store.createRecord('workload', workload(`c${i}`))));
      expect([...many].sort((a, b) => a - b)).toEqual(Array.from({ length: 8 }, (_, i) => v1 + 3 + i));
      expect((await store.projectVersions()).get('p')).toBe(v1 + 10);
    });

    it('no update is lost among 8 concurrent writers, and history matches every revision', async () => {
      const g = group('g', { variables: {} });
      await store.createRecord('group', g, history(g, 'CreateGroup'));
      const writer = async (w: number) => {
        for (let n = 0; n < 3; ) {
          const cur = (await store.getRecord('group', 'p', 'g'))!;
          const next = { ...cur, revision: cur.revision + 1, variables: { ...cur.variables, [`W${w}_${n}`]: '1' } };
          const code = await codeOf(store.updateRecord('group', next, history(next)));
          if (code === 'OK') n++;
          else expect(code).toBe('ABORTED');
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
      const stored = (await store.getRecord('group', 'p', 'g'))!;
      expect(stored.revision).toBe(25);
      expect(Object.keys(stored.variables)).toHaveLength(24);
      const hist = await store.listGroupHistory('p', 'g');
      expect(hist.map((h) => h.revision)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      for (const h of hist) expect(h.group!.revision).toBe(h.revision);
      expect(hist[24]!.group!.variables).toEqual(stored.variables);
    });

    it('the change feed misses no change when concurrent writers commit out of order', async () => {
      // A replica: poll the versions, reload the project whenever its number moved.
      let seen = -1;
      let snap = await store.loadProject('p');
      const pollOnce = async () => {
        const v = (await store.projectVersions()).get('p')!;
        if (v !== seen) {
          snap = await store.loadProject('p');
          seen = v;
        }
      };
      let writing = true;
      const replica = (async () => {
        while (writing) await pollOnce();
      })();
      const writer = async (w: number) => {
        await store.createRecord('workload', workload(`w${w}`));
        for (let r = 2; r <= 6; r++) {
          await store.updateRecord('workload', workload(`w${w}`, { revision: r, tags: [`r${r}`] }));
          // Everyone also races for one shared group; losers retry from the new head.
          for (;;) {
            const cur = await store.getRecord('group', 'p', 'shared');
            const code = cur
              ? await codeOf(store.updateRecord('group', { ...cur, revision: cur.revision + 1, description: `w${w}r${r}` }))
              : await codeOf(store.createRecord('group', group('shared')));
            if (code === 'OK') break;
          }
        }
      };
      await Promise.all(Array.from({ length: 6 }, (_, w) => writer(w)));
      writing = false;
      await replica;
      await pollOnce();
      const truth = (await store.loadProject('p'))!;
      expect(snap).toEqual(truth);
      expect([...truth.workloads.values()].map((w) => w.revision)).toEqual([6, 6, 6, 6, 6, 6]);
      expect(truth.groups.get('shared')!.revision).toBe(30);
    });

    it('stores tokens by hash, lists and revokes them', async () => {
      await store.createToken(token('t1'));
      await store.createToken(token('t2', { role: 'workload', workload: { project: 'p', workload: 'w' }, scopes: ['runtime'] }));
      expect(await store.getTokenByHash('hash-t2')).toEqual(
        token('t2', { role: 'workload', workload: { project: 'p', workload: 'w' }, scopes: ['runtime'] }),
      );
      expect(await store.getTokenByHash('nope')).toBeNull();
      expect((await store.listTokens()).map((t) => t.id)).toEqual(['t1', 't2']);
      expect(await store.revokeToken('t1')).toBe(true);
      expect(await store.revokeToken('nope')).toBe(false);
      expect((await store.getTokenByHash('hash-t1'))!.revoked).toBe(true);
    });

    it('reads the tokens of many ids in one call, revocations and workload identities included', async () => {
      const ids = Array.from({ length: 1200 }, (_, i) => `m${i.toString(16)}`);
      for (const id of ids) await store.createToken(token(id));
      const bound = token('wb', { role: 'workload', workload: { project: 'p', workload: 'w', uid: 'u-1' }, scopes: ['runtime'] });
      await store.createToken(bound);
      await store.revokeToken('m5');
      expect(await store.getTokensByIds([])).toEqual([]);
      // More ids than one SQL statement may bind, with unknown ones among them.
      const got = await store.getTokensByIds([...ids, 'wb', 'unknown-1', 'unknown-2']);
      expect(got.map((t) => t.id).sort()).toEqual([...ids, 'wb'].sort());
      expect(got.find((t) => t.id === 'm5')!.revoked).toBe(true);
      expect(got.find((t) => t.id === 'm6')!.revoked).toBe(false);
      expect(got.find((t) => t.id === 'wb')).toEqual(bound);
    });

    it('finds the bindings of a Kubernetes service account, oldest first, revoked ones included', async () => {
      const binding = (id: string, account: string, workload: string) =>
        token(id, { hash: `k8s-binding:${id}`, role: 'workload', workload: { project: 'p', workload, uid: `u-${workload}` }, scopes: ['runtime', 'build'], k8sServiceAccount: account });
      await store.createToken(token('plain'));
      await store.createToken(binding('k1', 'apps/api', 'api'));
      await store.createToken(binding('k2', 'apps/worker', 'worker'));
      await store.revokeToken('k1');
      await store.createToken(binding('k3', 'apps/api', 'api2'));
      const api = await store.getTokensByServiceAccount('apps/api');
      expect(api.map((t) => [t.id, t.revoked])).toEqual([
        ['k1', true],
        ['k3', false],
      ]);
      expect(api[1]).toEqual(binding('k3', 'apps/api', 'api2'));
      expect((await store.getTokensByServiceAccount('apps/worker')).map((t) => t.id)).toEqual(['k2']);
      expect(await store.getTokensByServiceAccount('apps/none')).toEqual([]);
      // Persisted like any token field: listed and read by id with it.
      expect((await store.getTokensByIds(['k2']))[0]!.k8sServiceAccount).toBe('apps/worker');
      expect((await store.listTokens()).find((t) => t.id === 'plain')!.k8sServiceAccount).toBeUndefined();
    });

    it('moves the token change counter on every revocation, committed when revokeToken returns, and not on creation', async () => {
      const start = await store.tokenChanges();
      await store.createToken(token('c1'));
      await store.createToken(token('c2'));
      expect(await store.tokenChanges()).toBe(start);
      await store.revokeToken('c1');
      const once = await store.tokenChanges();
      expect(once).not.toBe(start);
      await store.revokeToken('c2');
      const twice = await store.tokenChanges();
      expect(new Set([start, once, twice]).size).toBe(3);
      expect(await store.revokeToken('nope')).toBe(false);
      expect(await store.tokenChanges()).toBe(twice);
    });

    it('appends and filters audit events, newest first', async () => {
      for (let i = 0; i < 5; i++) {
        await store.appendAudit({
          time: 100 + i,
          actor: i % 2 ? 'alice' : 'bob',
          action: 'SetVariables',
          project: 'p',
          target: 'group p/g',
          keys: [`K${i}`],
          outcome: 'ok',
        });
      }
      const all = await store.listAudit({});
      expect(all.map((e) => e.time)).toEqual([104, 103, 102, 101, 100]);
      expect((await store.listAudit({ actor: 'alice' })).map((e) => e.time)).toEqual([103, 101]);
      expect((await store.listAudit({ since: 103 })).map((e) => e.time)).toEqual([104, 103]);
      expect(await store.listAudit({ limit: 2 })).toHaveLength(2);
      expect(all[0]!.keys).toEqual(['K4']);
    });

    it('a record write stores the audit record it is given, also when the write is then refused', async () => {
      const ev = (time: number, action: string) => ({ time, actor: 'alice', action, project: 'p', target: 'group p/g', keys: ['A'], outcome: 'ok' as const });
      const g1 = group('g', { variables: { A: '1' } });
      await store.createRecord('group', g1, history(g1, 'CreateGroup'), ev(1, 'CreateGroup'));
      const g2 = { ...g1, revision: 2, variables: { A: '2' } };
      await store.updateRecord('group', g2, history(g2, 'SetVariables'), ev(2, 'SetVariables'));
      // Stale: refused, and its record is stored all the same (the attempt is audited).
      expect(await codeOf(store.updateRecord('group', g2, history(g2, 'SetVariables'), ev(3, 'SetVariables')))).toBe('ABORTED');
      await store.deleteRecord('group', 'p', 'g', 2, history({ ...g2, revision: 3 }, 'DeleteGroup', true), ev(4, 'DeleteGroup'));
      expect((await store.listAudit({})).map((e) => [e.time, e.action])).toEqual([
        [4, 'DeleteGroup'],
        [3, 'SetVariables'],
        [2, 'SetVariables'],
        [1, 'CreateGroup'],
      ]);
      expect(await store.getRecord('group', 'p', 'g')).toBeNull();
    });

    it('orders audit events by time even when stored late, and pages by (time, id) without skipping ties', async () => {
      const ev = (time: number, action: string) => ({ time, actor: 'alice', action, project: 'p', target: 't', keys: [], outcome: 'ok' as const });
      await store.appendAudit(ev(2_000, 'SetVariables'));
      await store.appendAudit(ev(3_000, 'GetGroup'));
      await store.appendAudit(ev(3_000, 'Resolve')); // the same millisecond as GetGroup, stored after it
      // A repeated read flushed a minute late carries its first read's time (see Audit).
      await store.appendAudit(ev(1_000, 'Watch'));
      const all = await store.listAudit({});
      expect(all.map((e) => [e.time, e.action])).toEqual([
        [3_000, 'Resolve'],
        [3_000, 'GetGroup'],
        [2_000, 'SetVariables'],
        [1_000, 'Watch'],
      ]);
      // Pages of one, each starting after the previous page's last event.
      const paged: string[] = [];
      let before: { time: number; id?: string } | undefined;
      for (;;) {
        const page = await store.listAudit({ limit: 1, ...(before ? { before } : {}) });
        if (!page.length) break;
        paged.push(page[0]!.action);
        before = { time: page[0]!.time, id: page[0]!.id! };
      }
      expect(paged).toEqual(['Resolve', 'GetGroup', 'SetVariables', 'Watch']);
      expect((await store.listAudit({ before: { time: 3_000 } })).map((e) => e.action)).toEqual(['SetVariables', 'Watch']);
      expect((await store.listAudit({ before: { time: 3_000 }, action: 'Watch', since: 500 })).map((e) => e.action)).toEqual(['Watch']);
      // The migration's "nothing appended meanwhile" check reads the last stored one.
      expect((await store.listAudit({ limit: 1, byInsertion: true }))[0]!.action).toBe('Watch');
      expect(await codeOf(store.listAudit({ before: { time: 1, id: 'not an id' } }))).toBe('INVALID_ARGUMENT');
      // A token's id finds its events whether or not it was recorded with the token's name.
      await store.appendAudit({ ...ev(4_000, 'GetGroup'), actor: 'token:ab12(alice)' });
      await store.appendAudit({ ...ev(5_000, 'GetGroup'), actor: 'token:ab12' });
      await store.appendAudit({ ...ev(6_000, 'GetGroup'), actor: 'token:ab123(bob)' });
      expect((await store.listAudit({ actor: 'token:ab12' })).map((e) => e.actor)).toEqual(['token:ab12', 'token:ab12(alice)']);
      expect((await store.listAudit({ actor: 'token:ab12(alice)' })).map((e) => e.time)).toEqual([4_000]);
    });

    it('keeps meta values', async () => {
      expect(await store.getMeta('k')).toBeNull();
      await store.setMeta('k', 'v1');
      await store.setMeta('k', 'v2');
      expect(await store.getMeta('k')).toBe('v2');
    });

    it('lists every meta entry as stored', async () => {
      await store.setMeta('k1', 'v1');
      await store.setMeta('k2', 'v2');
      await store.setMeta('k2', 'v3');
      const all = await store.listMeta();
      expect(all.get('k1')).toBe('v1');
      expect(all.get('k2')).toBe('v3');
      for (const [k, v] of all) expect(await store.getMeta(k)).toBe(v);
    });

    it('lists the groups that have history, deleted ones included', async () => {
      const live = group('live');
      await store.createRecord('group', live, history(live, 'CreateGroup'));
      const gone = group('gone');
      await store.createRecord('group', gone, history(gone, 'CreateGroup'));
      await store.deleteRecord('group', 'p', 'gone', 1, history({ ...gone, revision: 2 }, 'DeleteGroup', true));
      await store.createRecord('group', group('plain'));
      await store.createRecord('workload', workload('w'));
      await store.createProject({ name: 'q', createdAt: 2 });
      const other = group('other', { project: 'q' });
      await store.createRecord('group', other, history(other, 'CreateGroup'));
      expect(await store.listGroupHistoryNames('p')).toEqual(['gone', 'live']);
      expect(await store.listGroupHistoryNames('q')).toEqual(['other']);
      expect(await store.listGroupHistoryNames('nope')).toEqual([]);
    });

    it('imports records at their own revision with their history; later writes continue from them', async () => {
      const revs = [1, 2, 3].map((r) => group('g', { revision: r, variables: { A: String(r) }, files: [{ path: '/f', content: Buffer.from([r, 0, 255]), mode: 0o600 }] }));
      const hist = revs.map((g, i) => history(g, i === 0 ? 'CreateGroup' : 'SetVariables'));
      const v0 = (await store.projectVersions()).get('p')!;
      await store.importRecord('group', 'p', 'g', revs[2]!, hist);
      await store.importRecord('workload', 'p', 'w', workload('w', { revision: 5, runtimeVariables: { R: 'x' } }), []);
      expect((await store.projectVersions()).get('p')!).toBeGreaterThan(v0);
      expect(await store.getRecord('group', 'p', 'g')).toEqual(revs[2]);
      expect(await store.listGroupHistory('p', 'g')).toEqual(hist);
      expect((await store.loadProject('p'))!.workloads.get('w')!.revision).toBe(5);

      expect(await codeOf(store.updateRecord('group', { ...revs[2]!, revision: 3 }))).toBe('ABORTED');
      for (const r of [4, 5]) {
        const next = group('g', { revision: r, variables: { A: String(r) } });
        await store.updateRecord('group', next, history(next));
      }
      expect((await store.listGroupHistory('p', 'g')).map((h) => [h.revision, h.group?.variables.A])).toEqual([
        [1, '1'],
        [2, '2'],
        [3, '3'],
        [4, '4'],
        [5, '5'],
      ]);
      await store.updateRecord('workload', workload('w', { revision: 6 }));
      expect((await store.getRecord('workload', 'p', 'w'))!.revision).toBe(6);

      expect(await codeOf(store.importRecord('group', 'p', 'g', revs[0]!, []))).toBe('ALREADY_EXISTS');
      expect(await codeOf(store.importRecord('workload', 'p', 'w', workload('w'), []))).toBe('ALREADY_EXISTS');
      expect(await codeOf(store.importRecord('workload', 'nope', 'w', workload('w', { project: 'nope' }), []))).toBe('NOT_FOUND');
      expect(await codeOf(store.importRecord('workload', 'p', 'x', workload('y'), []))).toBe('INVALID_ARGUMENT');
    });

    it('imports the history of a deleted group; recreating it continues that history', async () => {
      const g = group('d', { variables: { A: '1' } });
      const hist = [history(g, 'CreateGroup'), history({ ...g, revision: 2 }, 'DeleteGroup', true)];
      await store.importRecord('group', 'p', 'd', null, hist);
      expect(await store.getRecord('group', 'p', 'd')).toBeNull();
      expect((await store.loadProject('p'))!.groups.has('d')).toBe(false);
      expect(await store.listGroupHistory('p', 'd')).toEqual(hist);
      expect(await store.listGroupHistoryNames('p')).toEqual(['d']);
      expect(await codeOf(store.importRecord('group', 'p', 'd', null, hist))).toBe('ALREADY_EXISTS');

      const again = group('d', { revision: 3, variables: { B: '1' } });
      await store.createRecord('group', again, history(again, 'CreateGroup'));
      const four = group('d', { revision: 4, variables: { B: '2' } });
      await store.updateRecord('group', four, history(four));
      expect((await store.listGroupHistory('p', 'd')).map((h) => [h.revision, h.action])).toEqual([
        [1, 'CreateGroup'],
        [2, 'DeleteGroup'],
        [3, 'CreateGroup'],
        [4, 'SetVariables'],
      ]);
      expect((await store.getRecord('group', 'p', 'd'))!.variables).toEqual({ B: '2' });
    });
  });

  describe(`Store contract: ${name}: history budget`, () => {
    let store: Store | undefined;
    const open = async (history: HistoryBudget) => {
      store = await factory.create({ history });
      await store.createProject({ name: 'p', createdAt: 1 });
      return store;
    };
    afterEach(async () => {
      if (store) await factory.destroy(store);
      store = undefined;
    });
    /** Writes revisions 1..count of group g, each `size` bytes of value. */
    const writeMany = async (s: Store, count: number, size: number) => {
      const g1 = group('g', { variables: { V: '1'.padEnd(size, 'x') } });
      await s.createRecord('group', g1, history(g1, 'CreateGroup'));
      for (let r = 2; r <= count; r++) {
        const next = group('g', { revision: r, variables: { V: String(r).padEnd(size, 'x') } });
        await s.updateRecord('group', next, history(next));
      }
    };
    const plainBytes = (entries: GroupHistoryEntry[]) => entries.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(encodeHistory(e))), 0);

    it('a write past the byte budget prunes the oldest revisions with it; the newest are kept', async () => {
      const s = await open({ bytes: 20_000, revisions: 1000 });
      await writeMany(s, 30, 3000);
      const kept = await s.listGroupHistory('p', 'g');
      const revisions = kept.map((h) => h.revision);
      // The newest, contiguous, and far fewer than the 30 written.
      expect(revisions.at(-1)).toBe(30);
      expect(revisions).toEqual(Array.from({ length: revisions.length }, (_, i) => 31 - revisions.length + i));
      expect(revisions.length).toBeGreaterThan(1);
      expect(revisions.length).toBeLessThan(8);
      expect(plainBytes(kept)).toBeLessThanOrEqual(20_000);
      expect(await s.groupHistoryBounds('p', 'g')).toEqual({ first: revisions[0], last: 30 });
      expect(await s.getGroupRevision('p', 'g', 1)).toBeNull();
      expect((await s.getGroupRevision('p', 'g', 30))!.group!.variables.V).toBe('30'.padEnd(3000, 'x'));
      expect((await s.getRecord('group', 'p', 'g'))!.revision).toBe(30);
    });

    it('keeps at most the budget count of revisions', async () => {
      const s = await open({ bytes: 1 << 30, revisions: 5 });
      await writeMany(s, 12, 10);
      expect((await s.listGroupHistory('p', 'g')).map((h) => h.revision)).toEqual([8, 9, 10, 11, 12]);
      expect(await s.groupHistoryBounds('p', 'g')).toEqual({ first: 8, last: 12 });
      expect(await s.getGroupRevision('p', 'g', 7)).toBeNull();
      expect((await s.getGroupRevision('p', 'g', 9))!.group!.variables.V).toBe('9'.padEnd(10, 'x'));
      expect((await s.loadProject('p'))!.groups.get('g')!.revision).toBe(12);
    });

    it('a deleted group keeps its last content revision (what a restore brings back), whatever the budget', async () => {
      const s = await open({ bytes: 1, revisions: 1 });
      await writeMany(s, 3, 100);
      expect((await s.listGroupHistory('p', 'g')).map((h) => h.revision)).toEqual([3]);
      await s.deleteRecord('group', 'p', 'g', 3, history(group('g', { revision: 4 }), 'DeleteGroup', true));
      const hist = await s.listGroupHistory('p', 'g');
      expect(hist.map((h) => [h.revision, h.group?.variables.V])).toEqual([
        [3, '3'.padEnd(100, 'x')],
        [4, undefined],
      ]);
      const again = group('g', { revision: 5, variables: { B: '1' } });
      await s.createRecord('group', again, history(again, 'CreateGroup'));
      expect((await s.listGroupHistory('p', 'g')).map((h) => h.revision)).toEqual([5]);
    });

    it("a rename's deletion keeps nothing older under the old name (the history moved with the group); a later group of that name starts after it", async () => {
      const s = await open({ bytes: 1 << 30, revisions: 1000 });
      await writeMany(s, 5, 1000);
      await s.deleteRecord('group', 'p', 'g', 5, { ...history(group('g', { revision: 6 }), 'RenameGroup', true), renamedTo: 'h' });
      expect((await s.listGroupHistory('p', 'g')).map((h) => [h.revision, h.renamedTo])).toEqual([[6, 'h']]);
      expect(await s.groupHistoryBounds('p', 'g')).toEqual({ first: 6, last: 6 });
      expect(await s.getGroupRevision('p', 'g', 5)).toBeNull();
      const again = group('g', { revision: 7, variables: { B: '1' } });
      await s.createRecord('group', again, history(again, 'CreateGroup'));
      expect((await s.listGroupHistory('p', 'g')).map((h) => h.revision)).toEqual([6, 7]);
    });

    it('pages the history newest first, within the page count and bytes, oldest first within a page', async () => {
      const s = await open({ bytes: 1 << 30, revisions: 1000 });
      await writeMany(s, 10, 10_000);
      const page = async (before: number, limit: number, maxBytes = 1 << 30) =>
        (await s.listGroupHistory('p', 'g', { before, limit, maxBytes })).map((h) => h.revision);
      expect(await page(0, 3)).toEqual([8, 9, 10]);
      expect(await page(8, 3)).toEqual([5, 6, 7]);
      expect(await page(2, 3)).toEqual([1]);
      expect(await page(1, 3)).toEqual([]);
      // Bytes: two entries of 10-14 KB as stored (sealed or not) fit 29,500, three do not; the
      // first entry is answered even past the bound.
      expect(await page(0, 10, 29_500)).toEqual([9, 10]);
      expect(await page(0, 10, 0)).toEqual([10]);
    });

    it('an imported history is held to the budget (a rename re-imports the whole history)', async () => {
      const s = await open({ bytes: 1 << 30, revisions: 4 });
      const revs = Array.from({ length: 10 }, (_, i) => group('g', { revision: i + 1, variables: { A: String(i + 1) } }));
      await s.importRecord('group', 'p', 'g', revs[9]!, revs.map((g) => history(g)));
      expect((await s.listGroupHistory('p', 'g')).map((h) => h.revision)).toEqual([7, 8, 9, 10]);
      expect((await s.getRecord('group', 'p', 'g'))!.revision).toBe(10);
      const next = group('g', { revision: 11, variables: { A: '11' } });
      await s.updateRecord('group', next, history(next));
      expect((await s.listGroupHistory('p', 'g')).map((h) => h.revision)).toEqual([8, 9, 10, 11]);
    });
  });
}
