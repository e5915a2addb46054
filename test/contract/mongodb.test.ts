/**
 * The store contract on MongoDB (FerretDB locally and in CI, or SG_TEST_MONGODB_URI), plus the
 * behaviour only this store has: a down server is UNAVAILABLE and recovers on its own.
 */
import { MongoClient } from 'mongodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../server/domain/errors.js';
import { DELETED_LOG_GRACE_MS, MongoStore } from '../../server/store/mongo-store.js';
import { RECLAIM_GRACE_MS } from '../../server/store/mongo-reclaim.js';
import type { Store } from '../../server/store/store.js';
import { group, workload } from '../helpers/fixtures.js';
import { encodeHistory, encodeRecord, SCHEMA_VERSION } from '../../server/store/codec.js';
import { describeWithMongo, startMongo, uniqueDbName, type MongoServer } from '../helpers/mongodb.js';
import { startWireCounter } from '../helpers/mongo-wire.js';
import { changeCollection, closingChange } from '../../server/store/mongo-log.js';
import { storeContract } from './store-contract.js';

describeWithMongo('MongoDB store', () => {
  let server: MongoServer;
  beforeAll(async () => {
    server = await startMongo();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  storeContract('mongodb', {
    async create(opts) {
      const store = new MongoStore(server.uri, { dbName: uniqueDbName(), history: opts?.history });
      await store.init();
      return store;
    },
    async destroy(store: Store) {
      await (store as MongoStore).dropDatabase();
      await store.close();
    },
  });

  it('takes the database from the URI path, else the default', () => {
    const s1 = new MongoStore('mongodb://127.0.0.1:1/custom?retryWrites=false');
    const s2 = new MongoStore('mongodb://127.0.0.1:1/');
    const s3 = new MongoStore('mongodb://127.0.0.1:1/custom', { dbName: 'over' });
    expect([s1.databaseName, s2.databaseName, s3.databaseName]).toEqual(['custom', 'secretgroups', 'over']);
  });

  it('init is idempotent across replicas sharing one database', async () => {
    const dbName = uniqueDbName();
    const a = new MongoStore(server.uri, { dbName });
    const b = new MongoStore(server.uri, { dbName });
    try {
      await Promise.all([a.init(), b.init()]);
      await a.init();
      await a.createProject({ name: 'p', createdAt: 1 });
      expect(await b.getProject('p')).toEqual({ name: 'p', createdAt: 1 });
    } finally {
      await a.dropDatabase();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('keeps the audit indexes where the server can use them, and none where its explain says it cannot', async () => {
    const dbName = uniqueDbName();
    const client = new MongoClient(server.uri);
    const store = new MongoStore(server.uri, { dbName });
    try {
      const audit = client.db(dbName).collection('audit');
      await audit.createIndex({ project: 1, time: -1 }, { name: 'audit_project_time' }); // an earlier init's
      await store.init();
      await store.appendAudit({ time: 2, actor: 'a', action: 'SetVariables', project: 'p', target: 'group p/g', keys: ['K'], outcome: 'ok' });
      await store.appendAudit({ time: 1, actor: 'b', action: 'SetVariables', project: 'q', target: 'group q/g', keys: ['K'], outcome: 'ok' });
      const plan = await audit.find({ project: '' }).sort({ time: -1, _id: -1 }).limit(1).explain();
      const names = (await audit.indexes()).map((i) => i.name).sort();
      // FerretDB 1.x (SQLite) pushes neither the filter nor the sort down: it reads the whole collection.
      if (plan.filterPushdown === false && plan.sortPushdown === false) expect(names).toEqual(['_id_']);
      else expect(names).toEqual(['_id_', 'audit_actor_time', 'audit_project_time', 'audit_time_id']);
      // listAudit answers the same either way.
      expect((await store.listAudit({ project: 'p' })).map((e) => e.actor)).toEqual(['a']);
      expect((await store.listAudit({ actor: 'b' })).map((e) => e.project)).toEqual(['q']);
      expect((await store.listAudit({})).map((e) => e.time)).toEqual([2, 1]);
    } finally {
      await store.dropDatabase();
      await store.close();
      await client.close();
    }
  });

  it('the insert of a change is the whole commit: nothing follows it that a crash could skip', async () => {
    const dbName = uniqueDbName();
    const store = new MongoStore(server.uri, { dbName });
    const raw = new MongoClient(server.uri);
    try {
      await store.init();
      await store.createProject({ name: 'p', createdAt: 1 });
      const g1 = group('g', { variables: { A: '1' } });
      const entry = (g: typeof g1) => ({ project: 'p', name: 'g', revision: g.revision, time: 1, actor: 't', action: 'Set', changedKeys: ['A'], group: g });
      await store.createRecord('group', g1, entry(g1));
      // Exactly what commit() inserts for revision 2 — as a writer that crashed right after
      // its insert leaves it.
      const db = raw.db(dbName);
      const { uid } = (await db.collection<{ _id: string; uid: string }>('projects').findOne({ _id: 'p' }))!;
      const g2 = { ...g1, revision: 2, variables: { A: '2' } };
      await db.collection<{ _id: string; [k: string]: unknown }>(changeCollection(uid, 2)).insertOne({
        _id: JSON.stringify([uid, 2]),
        uid, project: 'p', n: 2, kind: 'group', name: 'g', revision: 2, deleted: false,
        data: JSON.stringify(encodeRecord('group', g2)),
        history: JSON.stringify(encodeHistory(entry(g2))),
        time: 1, schemaVersion: SCHEMA_VERSION,
      });
      expect((await store.getRecord('group', 'p', 'g'))!.variables).toEqual({ A: '2' });
      expect((await store.listGroupHistory('p', 'g')).map((h) => h.group!.variables.A)).toEqual(['1', '2']);
      expect((await store.projectVersions()).get('p')).toBe(3);
      const g3 = { ...g2, revision: 3, variables: { A: '3' } };
      await store.updateRecord('group', g3, entry(g3));
      expect((await store.listGroupHistory('p', 'g')).map((h) => h.group!.variables.A)).toEqual(['1', '2', '3']);
      expect(await db.collection(changeCollection(uid, 3)).countDocuments({ uid })).toBe(3);
      // Changes 1 and 3 came from the store: their entry holds the record they wrote, stored
      // once (in data); change 2, written in full as before, reads the same.
      const docs = await db.collection<{ n: number; history: string; groupInData?: boolean }>(changeCollection(uid, 3)).find({ uid }).sort({ n: 1 }).toArray();
      expect(docs.map((d) => d.groupInData ?? false)).toEqual([true, false, true]);
      expect(JSON.parse(docs[2]!.history).group).toBe('data');
      expect((await store.getGroupRevision('p', 'g', 3))!.group).toEqual(g3);
    } finally {
      await store.dropDatabase();
      await Promise.all([store.close(), raw.close()]);
    }
  });

  describe('reclaiming the change log', () => {
    const history = { bytes: 1 << 30, revisions: 3 };
    // Every collection counts as old enough: the grace is what these tests stand in for.
    const later = () => Date.now() + 2 * RECLAIM_GRACE_MS;
    const value = (r: number) => String(r).padEnd(500, 'x');
    const entry = (g: ReturnType<typeof group>) => ({ project: 'p', name: 'g', revision: g.revision, time: 1, actor: 't', action: 'Set', changedKeys: ['A'], group: g });
    const write = async (s: MongoStore, r: number) => {
      const g = group('g', { revision: r, variables: { A: value(r) } });
      await (r === 1 ? s.createRecord('group', g, entry(g)) : s.updateRecord('group', g, entry(g)));
    };
    type Doc = { n: number; name: string; data: string | null; history: string | null; pruned?: boolean; reclaimed?: boolean };

    /** A database with stores on it (freshMs 50: a state idle for longer restarts at the checkpoint). */
    async function setup(names: string[], opts: { owedBytes?: number } = {}) {
      const dbName = uniqueDbName();
      const stores = names.map(() => new MongoStore(server.uri, { dbName, history, freshMs: 50, ...opts }));
      const raw = new MongoClient(server.uri);
      for (const s of stores) await s.init();
      const db = raw.db(dbName);
      return {
        stores,
        db,
        uid: async () => (await db.collection<{ _id: string; uid: string }>('projects').findOne({ _id: 'p' }))!.uid,
        docsOf: async (g: number) => db.collection<Doc>(changeCollection(await (await db.collection<{ _id: string; uid: string }>('projects').findOne({ _id: 'p' }))!.uid, g * 128)).find({}).sort({ n: 1 }).toArray(),
        async dispose() {
          await stores[0]!.dropDatabase();
          await Promise.all([...stores.map((s) => s.close()), raw.close()]);
        },
      };
    }

    it('pruned revisions keep their payload until their change collection is reclaimed, then leave tombstones: stale replicas and new ones read and write through them', async () => {
      const t = await setup(['writer', 'behind', 'stale']);
      const [writer, behind, stale] = t.stores as [MongoStore, MongoStore, MongoStore];
      const opened: MongoStore[] = [];
      try {
        await writer.createProject({ name: 'p', createdAt: 1 });
        await writer.createRecord('workload', workload('w'));
        // Changes 1 (w) and 2…301 (g, revisions 1…300): collections 0 (0–127), 1 (128–255) and 2.
        // Two replicas read at revision 130 (change 131, in collection 1), then idle.
        for (let r = 1; r <= 130; r++) await write(writer, r);
        expect((await behind.getRecord('group', 'p', 'g'))!.revision).toBe(130);
        expect((await stale.getRecord('group', 'p', 'g'))!.revision).toBe(130);
        for (let r = 131; r <= 300; r++) await write(writer, r);
        // Committing pruned 297 revisions and stripped none of them.
        expect((await Promise.all([0, 1, 2].map(t.docsOf))).flat().filter((d) => d.pruned)).toEqual([]);

        // Too young: nothing happens.
        expect(await writer.reclaimLogs()).toEqual({ collections: 0, changes: 0 });
        // Old enough, and at or before the checkpoint at 300: collection 1 held only pruned
        // revisions and is replaced whole; collection 0 holds w's head (change 1), so only its
        // pruned revisions are; collection 2 (up to 301) is not full.
        expect(await writer.reclaimLogs(later())).toEqual({ collections: 1, changes: 126 + 128 });
        const [c0, c1] = [await t.docsOf(0), await t.docsOf(1)];
        expect(c0.map((d) => [d.n, d.name || '-', Boolean(d.reclaimed), d.data === null])).toEqual([
          [1, 'w', false, false],
          ...Array.from({ length: 126 }, (_, i) => [2 + i, '-', true, true]),
        ]);
        // Every number keeps a document: its tombstone, without payload or record.
        expect(c1.map((d) => d.n)).toEqual(Array.from({ length: 128 }, (_, i) => 128 + i));
        expect(c1.every((d) => d.name === '' && d.reclaimed && d.data === null && d.history === null)).toBe(true);
        // A second pass finds nothing more to do.
        expect(await writer.reclaimLogs(later())).toEqual({ collections: 0, changes: 0 });

        await sleep(100);
        expect((await behind.getRecord('group', 'p', 'g'))!.variables.A).toBe(value(300));
        expect((await behind.listGroupHistory('p', 'g')).map((h) => h.revision)).toEqual([298, 299, 300]);
        // A writer that last read at revision 130 commits after the newest change: a creation,
        // which its old state would not refuse, as well as an update.
        await stale.createRecord('workload', workload('x'));
        await write(stale, 301);
        expect((await writer.getRecord('group', 'p', 'g'))!.revision).toBe(301);
        expect((await writer.getRecord('workload', 'p', 'x'))!.revision).toBe(1);
        // A new instance starts at the checkpoint, and reads and writes on.
        const fresh = new MongoStore(server.uri, { dbName: t.db.databaseName, history });
        opened.push(fresh);
        await fresh.init();
        expect(await fresh.loadProject('p')).toEqual(await writer.loadProject('p'));
        expect(await fresh.getGroupRevision('p', 'g', 100)).toBeNull();
        expect((await fresh.getGroupRevision('p', 'g', 300))!.group!.variables.A).toBe(value(300));
        await write(fresh, 302);
        expect((await writer.listGroupHistory('p', 'g')).map((h) => h.revision)).toEqual([300, 301, 302]);

        // Once w moves on (its head now change 305, in collection 2, as x's, 302) and a checkpoint
        // (400) no longer lists its first change, collection 0 needs nothing and is replaced
        // whole (a pass that a commit starts may be the one that sees it), and collection 2 but
        // those two heads.
        await writer.updateRecord('workload', { ...workload('w'), revision: 2 });
        for (let r = 303; r <= 400; r++) await write(writer, r);
        await writer.reclaimLogs(later());
        expect((await t.docsOf(0)).every((d) => d.reclaimed && d.data === null)).toBe(true);
        expect(await t.docsOf(0)).toHaveLength(127);
        expect((await t.docsOf(2)).filter((d) => !d.reclaimed).map((d) => [d.n, d.name])).toEqual([[302, 'x'], [305, 'w']]);
        const last = new MongoStore(server.uri, { dbName: t.db.databaseName, history });
        opened.push(last);
        await last.init();
        expect(await last.loadProject('p')).toEqual(await writer.loadProject('p'));
        expect((await last.getRecord('workload', 'p', 'w'))!.revision).toBe(2);
      } finally {
        await Promise.all(opened.map((s) => s.close()));
        await t.dispose();
      }
    }, 120_000);

    it('a pass stopped between removing a collection and writing its tombstones leaves a gap that no state crosses; the next pass fills it', async () => {
      const t = await setup(['writer', 'behind', 'stale', 'steady']);
      const [writer, behind, stale] = t.stores as [MongoStore, MongoStore, MongoStore];
      // A replica whose state stays fresh (it is confirmed within its freshMs) reads change by change.
      const steady = new MongoStore(server.uri, { dbName: t.db.databaseName, history, freshMs: 60_000, reclaimGraceMs: 120_000 });
      try {
        await steady.init();
        await writer.createProject({ name: 'p', createdAt: 1 });
        for (let r = 1; r <= 130; r++) await write(writer, r);
        for (const s of [behind, stale, steady]) expect((await s.getRecord('group', 'p', 'g'))!.revision).toBe(130);
        for (let r = 131; r <= 300; r++) await write(writer, r);
        // The pass's removal of collection 1, without the insert that follows it.
        const uid = await t.uid();
        await t.db.collection(changeCollection(uid, 128)).drop();
        await sleep(100);
        // States idle since revision 130 do not meet the gap: they restart at the checkpoint.
        expect((await behind.getRecord('group', 'p', 'g'))!.variables.A).toBe(value(300));
        await stale.createRecord('workload', workload('x'));
        expect((await t.db.listCollections({ name: changeCollection(uid, 128) }).toArray()).length).toBe(0);
        expect((await writer.getRecord('workload', 'p', 'x'))!.revision).toBe(1);
        // The next pass writes the tombstones.
        await writer.reclaimLogs(later());
        const c1 = await t.docsOf(1);
        expect(c1.map((d) => d.n)).toEqual(Array.from({ length: 128 }, (_, i) => 128 + i));
        expect(c1.every((d) => d.reclaimed && d.name === '')).toBe(true);
        // A state that reads on change by change skips them.
        expect((await steady.getRecord('group', 'p', 'g'))!.variables.A).toBe(value(300));
        expect(await steady.loadProject('p')).toEqual(await writer.loadProject('p'));
      } finally {
        await steady.close();
        await t.dispose();
      }
    }, 120_000);

    it('what commits pruned and still store is bounded: past owedBytes the commit strips it', async () => {
      // Each revision stores ~700 bytes; 20 kB owed is about 30 of them.
      const t = await setup(['writer'], { owedBytes: 20_000 });
      const [writer] = t.stores as [MongoStore];
      try {
        await writer.createProject({ name: 'p', createdAt: 1 });
        for (let r = 1; r <= 100; r++) await write(writer, r);
        const docs = await t.docsOf(0);
        const stored = docs.filter((d) => d.history !== null);
        // The budget's 3, and at most ~30 pruned ones waiting; the rest stripped, no pass having run.
        expect(stored.length).toBeLessThan(40);
        const stripped = docs.filter((d) => d.pruned && !d.reclaimed).map((d) => d.n);
        expect(stripped.length).toBe(100 - stored.length);
        // Only what went over, the highest numbers: the bound stays nearly full (stripping all
        // of it at once held the next commits for as long), and the oldest wait for a pass.
        const waiting = stored.slice(0, -3).map((d) => d.n);
        expect(waiting.length).toBeGreaterThan(20);
        expect(Math.min(...stripped)).toBeGreaterThan(waiting[19]!);
        expect((await writer.listGroupHistory('p', 'g')).map((h) => h.revision)).toEqual([98, 99, 100]);
      } finally {
        await t.dispose();
      }
    }, 120_000);
  });

  it('a new instance loads a project from its newest checkpoint; a lagging or broken pointer only costs time', async () => {
    const dbName = uniqueDbName();
    const writer = new MongoStore(server.uri, { dbName });
    const raw = new MongoClient(server.uri);
    const wire = await startWireCounter(server.uri);
    const opened: MongoStore[] = [];
    const fresh = async (uri = server.uri) => {
      const s = new MongoStore(uri, { dbName });
      opened.push(s);
      await s.init();
      return s;
    };
    try {
      await writer.init();
      await writer.createProject({ name: 'p', createdAt: 1 });
      await writer.createRecord('workload', workload('w'));
      for (const name of ['a', 'b', 'c']) await writer.createRecord('group', group(name));
      await writer.createRecord('workload', workload('gone'));
      await writer.deleteRecord('workload', 'p', 'gone', 1);
      for (let r = 2; r <= 230; r++) await writer.updateRecord('group', group(['a', 'b', 'c'][r % 3]!, { revision: Math.floor((r - 2) / 3) + 2, variables: { R: String(r) } }));
      let truth = await writer.loadProject('p');
      const db = raw.db(dbName);
      const { uid } = (await db.collection<{ _id: string; uid: string }>('projects').findOne({ _id: 'p' }))!;
      const pointer = db.collection<{ _id: string; n: number }>('checkpoints');
      expect((await pointer.findOne({ _id: JSON.stringify([uid, 'checkpoint']) }))!.n).toBe(200);

      // Through the checkpoint at 200: its live heads plus the 35 changes after it, by _id.
      const viaWire = await fresh(wire.uri);
      wire.reset();
      expect(await viaWire.loadProject('p')).toEqual(truth);
      const lookups = wire.commands.filter((c) => c.collection.startsWith('changes_'));
      expect(lookups.every((c) => c.name === 'find' && Object.keys(c.filter ?? {}).join() === '_id')).toBe(true);
      // 4 live heads + changes 201…235 + the first missing one, in parallel batches.
      expect(lookups.length).toBeGreaterThanOrEqual(4 + 35 + 1);
      expect(lookups.length).toBeLessThan(4 + 35 + 40);
      expect((await viaWire.projectVersions()).get('p')).toBe((await writer.projectVersions()).get('p'));

      // Far behind an instance that holds the state jumps to the newest checkpoint (at 500)
      // and reads only the records changed since, then the changes after it.
      for (let r = 231; r <= 530; r++) await writer.updateRecord('group', group(['a', 'b', 'c'][r % 3]!, { revision: Math.floor((r - 2) / 3) + 2, variables: { R: String(r) } }));
      wire.reset();
      expect(await viaWire.loadProject('p')).toEqual(await writer.loadProject('p'));
      expect(wire.commands.filter((c) => c.collection.startsWith('changes_')).length).toBeLessThan(200);

      // A pointer that lags (FerretDB may lose an update) or names a missing checkpoint.
      truth = await writer.loadProject('p');
      await pointer.updateOne({ _id: JSON.stringify([uid, 'checkpoint']) }, { $set: { n: 100 } });
      expect(await (await fresh()).loadProject('p')).toEqual(truth);
      await pointer.deleteOne({ _id: JSON.stringify([uid, 'checkpoint', 100]) });
      expect(await (await fresh()).loadProject('p')).toEqual(truth);
      const late = await fresh();
      expect((await late.projectVersions()).get('p')).toBe((await writer.projectVersions()).get('p'));
      await writer.updateRecord('workload', workload('w', { revision: 2 }));
      expect((await late.getRecord('workload', 'p', 'w'))!.revision).toBe(2);
    } finally {
      await writer.dropDatabase();
      await Promise.all([writer.close(), raw.close(), wire.close(), ...opened.map((s) => s.close())]);
    }
  }, 120_000);

  it('replicas miss no change when writers on other instances commit out of order', async () => {
    const dbName = uniqueDbName();
    const stores = Array.from({ length: 6 }, () => new MongoStore(server.uri, { dbName }));
    const [replica, judge, ...writers] = stores as [MongoStore, MongoStore, ...MongoStore[]];
    try {
      for (const s of stores) await s.init();
      await replica.createProject({ name: 'p', createdAt: 1 });
      let seen = -1;
      let snap = await replica.loadProject('p');
      const pollOnce = async () => {
        const v = (await replica.projectVersions()).get('p')!;
        if (v !== seen) {
          snap = await replica.loadProject('p');
          seen = v;
        }
      };
      let writing = true;
      const polling = (async () => {
        while (writing) await pollOnce();
      })();
      const writer = async (s: MongoStore, w: number) => {
        await s.createRecord('workload', workload(`w${w}`));
        for (let r = 2; r <= 6; r++) {
          await s.updateRecord('workload', workload(`w${w}`, { revision: r, tags: [`r${r}`] }));
          for (;;) {
            const cur = await s.getRecord('group', 'p', 'shared');
            const attempt = cur
              ? s.updateRecord('group', { ...cur, revision: cur.revision + 1, description: `w${w}r${r}` })
              : s.createRecord('group', group('shared'));
            if (await attempt.then(() => true, (e: unknown) => (e instanceof DomainError && ['ABORTED', 'ALREADY_EXISTS'].includes(e.code) ? false : Promise.reject(e)))) break;
          }
        }
      };
      await Promise.all(writers.map((s, w) => writer(s, w)));
      writing = false;
      await polling;
      await pollOnce();
      const truth = (await judge.loadProject('p'))!;
      expect(snap).toEqual(truth);
      expect([...truth.workloads.values()].map((w) => w.revision)).toEqual([6, 6, 6, 6]);
      expect(truth.groups.get('shared')!.revision).toBe(20);
    } finally {
      await replica.dropDatabase();
      await Promise.all(stores.map((s) => s.close()));
    }
  }, 60_000);

  it('a deletion closes the log: a replica that has not noticed it commits nothing after it, and the log goes after its grace', async () => {
    const dbName = uniqueDbName();
    const a = new MongoStore(server.uri, { dbName });
    const b = new MongoStore(server.uri, { dbName });
    const raw = new MongoClient(server.uri);
    const codeOf = (p: Promise<unknown>) => p.then(() => 'OK', (e: unknown) => (e instanceof DomainError ? e.code : String(e)));
    try {
      await Promise.all([a.init(), b.init()]);
      const db = raw.db(dbName);
      const uidOf = async () => (await db.collection<{ _id: string; uid: string }>('projects').findOne({ _id: 'p' }))?.uid;
      const logOf = async (uid: string) => (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).filter((n) => n.startsWith(`changes_${uid}_`));

      await a.createProject({ name: 'p', createdAt: 1 });
      await a.createRecord('workload', workload('w'));
      // b holds the project's state, as a replica that has written to it does.
      await b.updateRecord('workload', workload('w', { revision: 2 }));
      const uid = (await uidOf())!;
      await a.deleteProject('p');
      // b is told by nothing (no poll runs here): its write finds the closing change in its place.
      expect(await codeOf(b.updateRecord('workload', workload('w', { revision: 3 })))).toBe('NOT_FOUND');
      expect(await codeOf(b.createRecord('workload', workload('x')))).toBe('NOT_FOUND');
      const last = await db.collection<{ _id: string }>(changeCollection(uid, 3)).findOne({ _id: JSON.stringify([uid, 3]) });
      expect(last).toMatchObject({ n: 3, closes: true, data: null });
      expect(await db.collection<{ _id: string }>(changeCollection(uid, 4)).countDocuments({ _id: JSON.stringify([uid, 4]) })).toBe(0);

      // Recreated under the same name: b's next write goes to the new incarnation.
      await a.createProject({ name: 'p', createdAt: 2 });
      await b.createRecord('workload', workload('w'));
      expect((await a.getRecord('workload', 'p', 'w'))!.revision).toBe(1);
      expect(await uidOf()).not.toBe(uid);

      // The closed log stays through the grace (its closing change is what stopped b), then any sweep drops it.
      expect(await a.sweepDeletedLogs()).toBe(0);
      expect(await logOf(uid)).not.toEqual([]);
      expect(await b.sweepDeletedLogs(Date.now() + DELETED_LOG_GRACE_MS)).toBe(1);
      expect(await logOf(uid)).toEqual([]);
      expect(await db.collection('checkpoints').countDocuments({ uid })).toBe(0);
      expect(await db.collection('deleted_logs').countDocuments({})).toBe(0);
    } finally {
      await a.dropDatabase();
      await Promise.all([a.close(), b.close(), raw.close()]);
    }
  });

  it('writes racing a deletion from another replica: each committed before the closing change, or NOT_FOUND', async () => {
    const dbName = uniqueDbName();
    const a = new MongoStore(server.uri, { dbName });
    const b = new MongoStore(server.uri, { dbName });
    const raw = new MongoClient(server.uri);
    try {
      await Promise.all([a.init(), b.init()]);
      await a.createProject({ name: 'p', createdAt: 1 });
      await b.createRecord('workload', workload('first'));
      const uid = (await raw.db(dbName).collection<{ _id: string; uid: string }>('projects').findOne({ _id: 'p' }))!.uid;
      const writes = Array.from({ length: 40 }, (_, i) =>
        b.createRecord('workload', workload(`w${i}`)).then(
          (version) => ({ n: version - 1 }),
          (e: unknown) => ({ code: e instanceof DomainError ? e.code : String(e) }),
        ),
      );
      await a.deleteProject('p');
      const results = await Promise.all(writes);
      // The closing change is the log's last; every committed write is a change before it.
      const changes = raw.db(dbName);
      let closing = 0;
      for (let n = 1; n < 200 && !closing; n++) {
        const d = await changes.collection<{ _id: string; closes?: boolean }>(changeCollection(uid, n)).findOne({ _id: JSON.stringify([uid, n]) });
        if (!d) break;
        if (d.closes) closing = n;
      }
      expect(closing).toBeGreaterThan(1);
      expect(await changes.collection<{ _id: string }>(changeCollection(uid, closing + 1)).countDocuments({ _id: JSON.stringify([uid, closing + 1]) })).toBe(0);
      for (const r of results) {
        if ('n' in r) expect(r.n).toBeLessThan(closing);
        else expect(r.code).toBe('NOT_FOUND');
      }
      expect(results.filter((r) => 'n' in r)).toHaveLength(closing - 2);
    } finally {
      await a.dropDatabase();
      await Promise.all([a.close(), b.close(), raw.close()]);
    }
  });

  it('a deletion interrupted after closing the log leaves a project that takes no write; deleting it again finishes it', async () => {
    const dbName = uniqueDbName();
    const store = new MongoStore(server.uri, { dbName, deletedLogGraceMs: 0 });
    const raw = new MongoClient(server.uri);
    const codeOf = (p: Promise<unknown>) => p.then(() => 'OK', (e: unknown) => (e instanceof DomainError ? e.code : String(e)));
    try {
      await store.init();
      await store.createProject({ name: 'p', createdAt: 1 });
      await store.createRecord('workload', workload('w'));
      const db = raw.db(dbName);
      const { uid } = (await db.collection<{ _id: string; uid: string }>('projects').findOne({ _id: 'p' }))!;
      // What a deleter that stopped after its first step leaves: the closing change, the project document.
      await db.collection(changeCollection(uid, 2)).insertOne(closingChange(uid, 'p', 2) as never);
      // ...and its record for the sweep, written first: no sweep drops a log whose project document stands.
      await db.collection<{ _id: string; project: string; deletedAt: number; schemaVersion: number }>('deleted_logs').insertOne({ _id: uid, project: 'p', deletedAt: 0, schemaVersion: SCHEMA_VERSION });
      expect(await store.sweepDeletedLogs()).toBe(0);
      expect(await db.collection('deleted_logs').countDocuments({})).toBe(1);
      expect(await codeOf(store.updateRecord('workload', workload('w', { revision: 2 })))).toBe('NOT_FOUND');
      expect(await store.getRecord('workload', 'p', 'w')).toBeNull();
      await store.deleteProject('p');
      expect(await store.getProject('p')).toBeNull();
      expect(await codeOf(store.deleteProject('p'))).toBe('NOT_FOUND');
      // No grace configured: the log went with it, and its record.
      expect((await db.listCollections({}, { nameOnly: true }).toArray()).filter((c) => c.name.startsWith(`changes_${uid}_`))).toEqual([]);
      expect(await db.collection('deleted_logs').countDocuments({})).toBe(0);
    } finally {
      await store.dropDatabase();
      await Promise.all([store.close(), raw.close()]);
    }
  });

  it('answers UNAVAILABLE while the server is down and recovers when it returns', async (ctx) => {
    if (!server.controllable) ctx.skip();
    const store = new MongoStore(server.uri, { dbName: uniqueDbName(), serverSelectionTimeoutMs: 1000 });
    try {
      await store.init();
      await store.createProject({ name: 'p', createdAt: 1 });
      await store.createRecord('workload', workload('w'));
      await server.stop();
      const err = await store.getRecord('workload', 'p', 'w').then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).code).toBe('UNAVAILABLE');
      expect((err as DomainError).message).not.toContain(server.uri);
      await server.start();
      await expect.poll(() => store.getRecord('workload', 'p', 'w').then((w) => w?.revision ?? null), { timeout: 15_000 }).toBe(1);
      await store.updateRecord('workload', workload('w', { revision: 2 }));
      expect((await store.getRecord('workload', 'p', 'w'))!.revision).toBe(2);
    } finally {
      await server.start();
      await store.dropDatabase().catch(() => undefined);
      await store.close();
    }
  });
});
