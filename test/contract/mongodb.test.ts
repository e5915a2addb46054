/**
 * The store contract on MongoDB (FerretDB locally and in CI, or SG_TEST_MONGODB_URI), plus the
 * behaviour only this store has: a down server is UNAVAILABLE and recovers on its own.
 */
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DomainError } from '../../server/domain/errors.js';
import { MongoStore } from '../../server/store/mongo-store.js';
import type { Store } from '../../server/store/store.js';
import { group, workload } from '../helpers/fixtures.js';
import { encodeHistory, encodeRecord, SCHEMA_VERSION } from '../../server/store/codec.js';
import { describeWithMongo, startMongo, uniqueDbName, type MongoServer } from '../helpers/mongodb.js';
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
    async create() {
      const store = new MongoStore(server.uri, { dbName: uniqueDbName() });
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

  it('a crash right after a commit leaves a group and history that agree; the next write tidies up', async () => {
    const dbName = uniqueDbName();
    const store = new MongoStore(server.uri, { dbName });
    const raw = new MongoClient(server.uri);
    try {
      await store.init();
      await store.createProject({ name: 'p', createdAt: 1 });
      const g1 = group('g', { variables: { A: '1' } });
      const entry = (g: typeof g1) => ({ project: 'p', name: 'g', revision: g.revision, time: 1, actor: 't', action: 'Set', changedKeys: ['A'], group: g });
      await store.createRecord('group', g1, entry(g1));
      // What commit() inserts for revision 2, without the follow-up copy and compaction: the
      // state a crash between the two leaves behind.
      const db = raw.db(dbName);
      const { uid } = (await db.collection<{ _id: string; uid: string }>('projects').findOne({ _id: 'p' }))!;
      const g2 = { ...g1, revision: 2, variables: { A: '2' } };
      await db.collection<{ _id: string }>('records').insertOne({
        _id: JSON.stringify([uid, 'group', 'g', 2]),
        uid, project: 'p', kind: 'group', name: 'g', seq: 2, revision: 2, deleted: false,
        data: JSON.stringify(encodeRecord('group', g2)),
        history: JSON.stringify(encodeHistory(entry(g2))),
        time: 1, schemaVersion: SCHEMA_VERSION,
      });
      expect((await store.getRecord('group', 'p', 'g'))!.variables).toEqual({ A: '2' });
      expect((await store.listGroupHistory('p', 'g')).map((h) => h.group!.variables.A)).toEqual(['1', '2']);
      expect(await db.collection('group_history').countDocuments({ uid })).toBe(1);

      const g3 = { ...g2, revision: 3, variables: { A: '3' } };
      await store.updateRecord('group', g3, entry(g3));
      expect((await store.listGroupHistory('p', 'g')).map((h) => h.group!.variables.A)).toEqual(['1', '2', '3']);
      expect(await db.collection('group_history').countDocuments({ uid })).toBe(3);
      // Superseded revisions keep their slot but lose their payload.
      const revs = await db.collection('records').find({ uid }).sort({ seq: 1 }).toArray();
      expect(revs.map((r) => [r.seq, r.compacted === true, r.data != null])).toEqual([
        [1, true, false],
        [2, true, false],
        [3, false, true],
      ]);
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
