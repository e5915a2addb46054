/**
 * The security rules on the MongoDB store (FerretDB): the authorization checks live above the
 * store, and this runs the essential ones against a server on MongoDB, with the master key
 * from SG_MASTER_KEY as replicas use it. (The full matrix runs on the embedded store.)
 */
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ListAuditEventsRequest } from '../../gen/secretgroups/v1/access_service.js';
import { GroupType, Scope } from '../../gen/secretgroups/v1/resources.js';
import { generateMasterKey } from '../../server/security/master-key.js';
import { api } from '../helpers/api.js';
import { call, codeOf, startTestServer, type TestServer } from '../helpers/in-process.js';
import { describeWithMongo, startMongo, uniqueDbName, type MongoServer } from '../helpers/mongodb.js';

const CANARY = 'CANARY-MONGO-SECURITY-91c3';

describeWithMongo('security on the MongoDB store', () => {
  let mongo: MongoServer;
  let t: TestServer;
  let a: ReturnType<typeof api>;
  let dbName: string;
  const key = generateMasterKey().encoded;
  beforeAll(async () => {
    mongo = await startMongo();
    dbName = uniqueDbName('sgsec');
    process.env.SG_MASTER_KEY = key;
    t = await startTestServer({ storeUri: `${mongo.uri}${dbName}` });
    delete process.env.SG_MASTER_KEY;
    a = api(t.admin);
    await a.createProject('p');
    await a.createWorkload({ project: 'p', name: 'api', tags: ['web'] });
    await a.createWorkload({ project: 'p', name: 'other' });
    await a.createGroup({ project: 'p', name: 'creds', type: GroupType.GROUP_TYPE_SECRET, variables: { PASSWORD: CANARY } });
    await a.createGroup({ project: 'p', name: 'flags', type: GroupType.GROUP_TYPE_CONFIG, variables: { FLAG: 'on' } });
  });
  afterAll(async () => {
    await t?.stop();
    await mongo?.dispose();
  });

  it('config-editor sees secret keys only, writes config only, and cannot resolve', async () => {
    const ce = api(t.as((await a.createToken({ role: 'config-editor' })).token));
    const g = (await ce.getGroup('p', 'creds')).group!;
    expect([g.valuesRedacted, g.variables]).toEqual([true, { PASSWORD: '' }]);
    expect(await codeOf(ce.setVars('p', 'flags', { FLAG: 'off' }))).toBe('OK');
    expect(await codeOf(ce.setVars('p', 'creds', { PASSWORD: 'x' }))).toBe('PERMISSION_DENIED');
    expect(await codeOf(ce.resolve('p', 'api'))).toBe('PERMISSION_DENIED');
    expect(JSON.stringify(await ce.history('p', 'creds'))).not.toContain(CANARY);
  });

  it('a workload token resolves only its own identity and scope, with registered tags', async () => {
    const w = api(t.as((await a.createToken({ workload: { project: 'p', workload: 'api' } })).token));
    expect((await w.resolve('p', 'api')).resolution!.variables.PASSWORD).toBe(CANARY);
    expect(await codeOf(w.resolve('p', 'other'))).toBe('PERMISSION_DENIED');
    expect(await codeOf(w.resolve('p', 'api', Scope.SCOPE_BUILD))).toBe('PERMISSION_DENIED');
    expect(await codeOf(w.resolve('p', 'api', Scope.SCOPE_RUNTIME, ['admin']))).toBe('PERMISSION_DENIED');
  });

  it('a revoked token is refused within a second', async () => {
    const created = await a.createToken({ role: 'viewer' });
    const viewer = api(t.as(created.token));
    expect(await codeOf(viewer.getGroup('p', 'flags'))).toBe('OK');
    await call(t.admin.access, 'revokeToken', { id: created.info!.id });
    await new Promise((r) => setTimeout(r, 1000));
    expect(await codeOf(viewer.getGroup('p', 'flags'))).toBe('UNAUTHENTICATED');
  });

  it('audits writes and secret reads with keys only, and stores no plaintext value', async () => {
    await a.resolve('p', 'api');
    let events: { action: string; keys: string[] }[] = [];
    for (let i = 0; i < 50 && !events.some((e) => e.action === 'Resolve'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      events = (await call<unknown, { events: typeof events }>(t.admin.access, 'listAuditEvents', ListAuditEventsRequest.fromPartial({ project: 'p', limit: 100 }))).events;
    }
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['CreateGroup', 'Resolve']));
    expect(JSON.stringify(events)).not.toContain(CANARY);
    const client = await MongoClient.connect(mongo.uri);
    try {
      const db = client.db(dbName);
      for (const c of await db.listCollections().toArray()) {
        const docs = await db.collection(c.name).find({}).toArray();
        expect(JSON.stringify(docs), c.name).not.toContain(CANARY);
      }
    } finally {
      await client.close();
    }
  });
});
