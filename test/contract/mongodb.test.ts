/**
 * The store contract on MongoDB (FerretDB locally and in CI, or SG_TEST_MONGODB_URI), plus the
 * behaviour only this store has: a down server is UNAVAILABLE and recovers on its own.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DomainError } from '../../server/domain/errors.js';
import { MongoStore } from '../../server/store/mongo-store.js';
import type { Store } from '../../server/store/store.js';
import { workload } from '../helpers/fixtures.js';
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
