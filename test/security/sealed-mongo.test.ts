/**
 * Encryption at rest over the MongoDB store: the contract through SealedStore, no plaintext
 * canary in the raw BSON of any collection, and a tampered raw document gives a clear error.
 */
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GroupHistoryEntry, SecretGroup } from '../../server/domain/types.js';
import { generateMasterKey } from '../../server/security/master-key.js';
import { MongoStore } from '../../server/store/mongo-store.js';
import { SealedStore } from '../../server/store/sealed-store.js';
import type { Store } from '../../server/store/store.js';
import { storeContract } from '../contract/store-contract.js';
import { addon, group, workload } from '../helpers/fixtures.js';
import { describeWithMongo, startMongo, uniqueDbName, type MongoServer } from '../helpers/mongodb.js';
import { domainErrorOf, leaks } from './helpers.js';

const CANARY = 'CANARY-mongo-8d41e-not-in-clear';

function hist(g: SecretGroup): GroupHistoryEntry {
  return { project: g.project, name: g.name, revision: g.revision, time: 1, actor: 't', action: 'Set', changedKeys: [], group: g };
}

async function plant(store: Store): Promise<void> {
  await store.createProject({ name: 'p', createdAt: 1 });
  await store.createRecord('workload', workload('w', { runtimeVariables: { RUN: `${CANARY}-run` }, buildArguments: { B: `${CANARY}-build` } }));
  await store.createRecord('addon', addon('db', { connectionDetails: { password: `${CANARY}-addon` } }));
  const g1 = group('g', { variables: { S: `${CANARY}-var` }, files: [{ path: '/c', content: Buffer.from(`${CANARY}-file`), mode: 0o600 }] });
  await store.createRecord('group', g1, hist(g1));
  const g2 = { ...g1, revision: 2, variables: { S: `${CANARY}-var2` } };
  await store.updateRecord('group', g2, hist(g2));
  const g3 = { ...g2, revision: 3, variables: { S: `${CANARY}-var3` } };
  await store.updateRecord('group', g3, hist(g3));
}

/** Every document of every collection of the database, as raw BSON bytes. */
async function rawDocuments(uri: string, dbName: string): Promise<Buffer> {
  const client = new MongoClient(uri);
  try {
    const db = client.db(dbName);
    const parts: Buffer[] = [];
    for (const c of await db.listCollections().toArray()) {
      for (const doc of await db.collection(c.name).find({}, { raw: true }).toArray()) parts.push(Buffer.from(doc as unknown as Uint8Array));
    }
    return Buffer.concat(parts);
  } finally {
    await client.close();
  }
}

describeWithMongo('encryption at rest on MongoDB', () => {
  let server: MongoServer;
  beforeAll(async () => {
    server = await startMongo();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  const inners = new Map<Store, MongoStore>();
  storeContract('sealed mongodb', {
    async create(opts) {
      const inner = new MongoStore(server.uri, { dbName: uniqueDbName(), history: opts?.history });
      const store = new SealedStore(inner, generateMasterKey().key);
      await store.init();
      inners.set(store, inner);
      return store;
    },
    async destroy(store) {
      await inners.get(store)!.dropDatabase();
      await store.close();
    },
  });

  describe('raw documents', () => {
    it('control: the plain store leaves the canary in the documents', async () => {
      const dbName = uniqueDbName();
      const plain = new MongoStore(server.uri, { dbName });
      await plain.init();
      try {
        await plant(plain);
        expect(leaks(await rawDocuments(server.uri, dbName), CANARY).length).toBeGreaterThan(0);
      } finally {
        await plain.dropDatabase();
        await plain.close();
      }
    });

    it('the sealed store leaves no canary in any document, reads every value back, and detects tampering', async () => {
      const dbName = uniqueDbName();
      const inner = new MongoStore(server.uri, { dbName });
      const key = generateMasterKey().key;
      const store = new SealedStore(inner, key);
      await store.init();
      const client = new MongoClient(server.uri);
      try {
        await plant(store);
        const raw = await rawDocuments(server.uri, dbName);
        expect(raw.length).toBeGreaterThan(0);
        expect(leaks(raw, CANARY)).toEqual([]);

        expect((await store.getRecord('workload', 'p', 'w'))!.buildArguments).toEqual({ B: `${CANARY}-build` });
        expect((await store.getRecord('addon', 'p', 'db'))!.connectionDetails).toEqual({ password: `${CANARY}-addon` });
        const g = (await store.getRecord('group', 'p', 'g'))!;
        expect(g.variables).toEqual({ S: `${CANARY}-var3` });
        expect(Buffer.from(g.files[0]!.content).toString()).toBe(`${CANARY}-file`);
        expect((await store.listGroupHistory('p', 'g')).map((h) => h.group!.variables.S)).toEqual([
          `${CANARY}-var`,
          `${CANARY}-var2`,
          `${CANARY}-var3`,
        ]);

        // Flip one ciphertext byte in the raw head document of the addon.
        type Change = { _id: unknown; kind: string; name: string; n: number; data?: string | null };
        const db = client.db(dbName);
        const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).filter((n) => n.startsWith('changes_'));
        const all = (await Promise.all(names.map(async (n) => (await db.collection<Change>(n).find({ kind: 'addon', name: 'db' }).toArray()).map((d) => ({ d, n })))))
          .flat()
          .sort((a, b) => b.d.n - a.d.n);
        const { d: head, n: collection } = all[0]!;
        const changes = db.collection<Change>(collection);
        const doc = JSON.parse(head.data!);
        const [v, id, body] = (doc.connectionDetails.password as string).split(':') as [string, string, string];
        const bytes = Buffer.from(body, 'base64');
        bytes[bytes.length - 1]! ^= 0x01;
        doc.connectionDetails.password = `${v}:${id}:${bytes.toString('base64')}`;
        await changes.updateOne({ _id: head._id }, { $set: { data: JSON.stringify(doc) } });

        const fresh = new SealedStore(new MongoStore(server.uri, { dbName }), key);
        try {
          const e = await domainErrorOf(fresh.getRecord('addon', 'p', 'db'));
          expect(e.code).toBe('INTERNAL');
          expect(e.message).toBe('ciphertext for addon p/db connectionDetails key password failed authentication (tampered or swapped)');
        } finally {
          await fresh.close();
        }
      } finally {
        await client.close();
        await inner.dropDatabase();
        await store.close();
      }
    });
  });
});
