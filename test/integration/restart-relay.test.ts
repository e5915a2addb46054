/**
 * RestartDependents reaches Watch subscribers on every replica: two `sg serve` processes on
 * one MongoDB (FerretDB); the request goes to A, a Watch on B receives the restart event.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type Clients } from '../../client/connection.js';
import { WatchRequest, type WatchResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import { Scope } from '../../gen/secretgroups/v1/resources.js';
import { generateMasterKey } from '../../server/security/master-key.js';
import { api } from '../helpers/api.js';
import { describeWithMongo, startMongo, uniqueDbName, type MongoServer } from '../helpers/mongodb.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

describeWithMongo('restart events across replicas', () => {
  let mongo: MongoServer;
  let a: ServerProcess;
  let b: ServerProcess;
  let ca: Clients;
  let cb: Clients;
  beforeAll(async () => {
    mongo = await startMongo();
    const store = `${mongo.uri}${uniqueDbName('sgrelay')}`;
    const env = { SG_MASTER_KEY: generateMasterKey().encoded };
    a = await startServerProcess({ args: ['--store', store, '--poll-interval', '100ms'], env });
    b = await startServerProcess({ args: ['--store', store, '--poll-interval', '100ms'], env, dataDir: a.dataDir });
    ca = connect({ addr: a.addr, token: a.adminToken });
    cb = connect({ addr: b.addr, token: b.adminToken });
  });
  afterAll(async () => {
    ca?.close();
    cb?.close();
    await b?.stop();
    await a?.cleanup();
    await mongo?.dispose();
  });

  it('a restart requested through replica A reaches a Watch on replica B, once', async () => {
    const admin = api(ca);
    await admin.createProject('relay');
    await admin.createWorkload({ project: 'relay', name: 'api' });
    await admin.createGroup({ project: 'relay', name: 'g', variables: { A: '1' } });

    const received: WatchResponse[] = [];
    const stream = cb.resolver.watch(WatchRequest.fromPartial({ project: 'relay', workload: 'api', scope: Scope.SCOPE_RUNTIME }));
    stream.on('data', (m: WatchResponse) => received.push(m));
    stream.on('error', () => undefined);
    const until = async (cond: () => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(received)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until(() => received.some((m) => m.resolution), 'the first resolution');

    const res = await admin.restartDependents('relay', 'g');
    expect(res.workloads).toEqual(['api']);
    expect(res.delivered).toBe(0); // no subscriber on A itself
    await until(() => received.some((m) => m.restart), 'the restart event on B');
    expect(received.find((m) => m.restart)!.restart!.group).toBe('g');
    // Delivered once: later polls do not replay it.
    await new Promise((r) => setTimeout(r, 1000));
    expect(received.filter((m) => m.restart)).toHaveLength(1);
    stream.cancel();
  });
});
