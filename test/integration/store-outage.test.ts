/**
 * A MongoDB outage (FerretDB stopped under a running server): writes answer UNAVAILABLE with a
 * message that names no URI or host, Resolve keeps working from memory for a recently seen
 * token, open Watch streams stay open on their last snapshot and keep getting heartbeats, and
 * everything recovers by itself when the store returns — the next write reaches the stream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WatchRequest, type WatchResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import { Scope } from '../../gen/secretgroups/v1/resources.js';
import { generateMasterKey, writeMasterKeyFile } from '../../server/security/master-key.js';
import { api, vars } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/in-process.js';
import { describeWithMongo, startMongo, uniqueDbName, type MongoServer } from '../helpers/mongodb.js';

async function failure(p: Promise<unknown>): Promise<{ code: string; details: string }> {
  try {
    await p;
    return { code: 'OK', details: '' };
  } catch (e) {
    const err = e as grpc.ServiceError;
    if (err.code === undefined) throw e;
    return { code: grpc.status[err.code]!, details: err.details };
  }
}

async function eventually<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describeWithMongo('store outage', () => {
  let mongo: MongoServer;
  let t: TestServer;
  let keyDir: string;
  beforeAll(async () => {
    mongo = await startMongo();
    keyDir = mkdtempSync(join(tmpdir(), 'sg-outage-key-'));
    const masterKeyFile = join(keyDir, 'master.key');
    writeMasterKeyFile(masterKeyFile, generateMasterKey().encoded);
    t = await startTestServer({ storeUri: `${mongo.uri}${uniqueDbName('sgoutage')}`, masterKeyFile, heartbeatMs: 200 });
  });
  afterAll(async () => {
    await t?.stop();
    await mongo?.dispose();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  it('writes are UNAVAILABLE, Resolve and Watch are served from memory, and all recovers on its own', async (ctx) => {
    if (!mongo.controllable) ctx.skip();
    const a = api(t.admin);
    await a.createProject('p');
    await a.createWorkload({ project: 'p', name: 'api' });
    await a.createGroup({ project: 'p', name: 'g', variables: { A: '1' } });
    const workloadToken = (await a.createToken({ name: 'agent', workload: { project: 'p', workload: 'api' } })).token;
    const agent = api(t.as(workloadToken));
    // Seen once: the server now knows the token and holds the project in memory.
    expect(await vars(agent.resolve('p', 'api'))).toEqual({ A: '1' });

    const messages: WatchResponse[] = [];
    let heartbeats = 0;
    let streamError: grpc.ServiceError | null = null;
    let ended = false;
    const stream = t.as(workloadToken).resolver.watch(WatchRequest.fromPartial({ project: 'p', workload: 'api', scope: Scope.SCOPE_RUNTIME }));
    stream.on('data', (m: WatchResponse) => (m.heartbeat ? heartbeats++ : messages.push(m)));
    stream.on('error', (e: grpc.ServiceError) => (streamError = e));
    stream.on('end', () => (ended = true));
    await eventually('the first Watch message', 5_000, async () => (messages.length > 0 ? true : undefined));
    expect(messages[0]!.resolution!.variables).toEqual({ A: '1' });

    await mongo.stop();
    const outageStarted = Date.now();
    try {
      // A write: UNAVAILABLE, in bounded time (the token lookup and then the write each wait for
      // the driver's 5 s server selection), with a message that names no URI or host.
      const write = await failure(a.setVars('p', 'g', { A: '2' }));
      expect(write.code).toBe('UNAVAILABLE');
      expect(write.details).toMatch(/store is unavailable.*retry later/);
      expect(write.details).not.toMatch(/mongodb:|127\.0\.0\.1|localhost/);
      expect(Date.now() - outageStarted).toBeLessThan(15_000);

      // Resolve from memory for the recently seen token, every time. Each call first tries to
      // refresh the token from the store and falls back to the cached one when that fails, so
      // it answers after the server-selection timeout (5 s): bounded, never a hang.
      for (let i = 0; i < 2; i++) {
        const started = Date.now();
        expect(await vars(agent.resolve('p', 'api'))).toEqual({ A: '1' });
        expect(Date.now() - started).toBeLessThan(8_000);
      }
      // A token the server never saw cannot be checked now: UNAVAILABLE, not UNAUTHENTICATED.
      expect((await failure(api(t.as('sg_never_seen_token')).resolve('p', 'api'))).code).toBe('UNAVAILABLE');

      // The Watch stream stays open on its last snapshot and keeps getting heartbeats.
      const beats = heartbeats;
      await eventually('heartbeats during the outage', 5_000, async () => (heartbeats >= beats + 3 ? true : undefined));
      expect(streamError).toBeNull();
      expect(ended).toBe(false);
      expect(messages).toHaveLength(1);
    } finally {
      await mongo.start();
    }

    // Recovery needs no restart: the same write succeeds once the driver reconnects...
    await eventually('writes work again', 30_000, async () => ((await failure(a.setVars('p', 'g', { A: '3' }))).code === 'OK' ? true : undefined));
    // ...and reaches the stream that stayed open through the outage.
    await eventually('the write reaches the open Watch stream', 5_000, async () =>
      messages.at(-1)?.resolution?.variables.A === '3' ? true : undefined,
    );
    expect(messages.map((m) => m.resolution?.variables.A)).toEqual(['1', '3']);
    expect(streamError).toBeNull();
    expect(await vars(agent.resolve('p', 'api'))).toEqual({ A: '3' });
    stream.cancel();
  }, 120_000);
});
