/** The typed client (package export `./client`) against the real server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, RpcError, Code, SCOPE_BUILD, type WatchEvent, type RetryPolicy } from '../../client/index.js';
import { MemoryCache } from '../../agent/cache/memory.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { setVars, sgOk, until, workloadToken } from './helpers.js';

let server: ServerProcess;
let token: string;

beforeAll(async () => {
  server = await startServerProcess();
  await sgOk(server, ['project', 'create', 'shop']);
  await sgOk(server, ['workload', 'create', 'shop', 'api', '--build-arg', 'B=1']);
  await sgOk(server, ['group', 'create', 'shop', 'a', '--priority', '50']);
  await sgOk(server, ['group', 'create', 'shop', 'b', '--priority', '20']);
  await setVars(server, 'shop', 'a', { KEY_1: 'a1', KEY_2: 'a2' });
  await setVars(server, 'shop', 'b', { KEY_1: 'b1', KEY_2: 'b2', KEY_3: 'b3' });
  token = await workloadToken(server, 'shop/api');
});

afterAll(async () => {
  await server?.cleanup();
});

describe('typed client', () => {
  it('resolve() returns the merged variables; explain() the provenance', async () => {
    const c = createClient({ addr: server.addr, token });
    const res = await c.resolve({ project: 'shop', workload: 'api' });
    expect(res.variables).toEqual({ KEY_1: 'a1', KEY_2: 'a2', KEY_3: 'b3' });
    expect(res.etag).not.toBe('');
    const ex = await c.explain({ project: 'shop', workload: 'api' });
    expect(ex.etag).toBe(res.etag);
    const k3 = ex.variables.find((p) => p.key === 'KEY_3');
    expect(k3?.winner?.group).toBe('b');
    expect(ex.variables.find((p) => p.key === 'KEY_1')?.shadowed.map((s) => s.group)).toEqual(['b']);
    c.close();
  });

  it('reports errors as RpcError with the gRPC code', async () => {
    const c = createClient({ addr: server.addr, token });
    await expect(c.resolve({ project: 'shop', workload: 'api', scope: SCOPE_BUILD })).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
    const bad = createClient({ addr: server.addr, token: 'sg_nope' });
    const err = await bad.resolve({ project: 'shop', workload: 'api' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.UNAUTHENTICATED);
    c.close();
    bad.close();
  });

  it('resolve() reads through a node-cache memory cache', async () => {
    const cache = new MemoryCache({ ttlSeconds: 60 });
    const c = createClient({ addr: server.addr, token, cache });
    const first = await c.resolve({ project: 'shop', workload: 'api' });
    expect(await c.resolve({ project: 'shop', workload: 'api' })).toBe(first);
    c.close();
    cache.close();
  });

  it('watch(): snapshot, changes, resume from etag after the server is killed, backoff reset after success', async () => {
    const attempts: number[] = [];
    const policy: RetryPolicy = (attempt) => {
      attempts.push(attempt);
      return { retry: true, delayMs: 100 };
    };
    const c = createClient({ addr: server.addr, token, retry: policy, firstMessageTimeoutMs: 3000 });
    const abort = new AbortController();
    const events: WatchEvent[] = [];
    const done = (async () => {
      for await (const ev of c.watch({ project: 'shop', workload: 'api' }, { signal: abort.signal })) events.push(ev);
    })();
    await until(() => events.length >= 1, 'snapshot');
    expect(events[0]!.type).toBe('resolution');
    const etag1 = (events[0] as Extract<WatchEvent, { type: 'resolution' }>).resolution.etag;

    await setVars(server, 'shop', 'b', { KEY_3: 'b3-new' });
    await until(() => events.some((e) => e.type === 'resolution' && e.resolution.variables.KEY_3 === 'b3-new'), 'change');
    const etag2 = (events.at(-1) as Extract<WatchEvent, { type: 'resolution' }>).resolution.etag;
    expect(etag2).not.toBe(etag1);

    for (let outage = 0; outage < 2; outage++) {
      const before = events.length;
      await server.kill();
      await until(() => attempts.length > 0 && attempts.at(-1)! >= 2, 'failed attempts while down');
      await server.restart();
      // Resumed with the etag it holds: the server answers "unchanged", not a new snapshot.
      await until(() => events.slice(before).some((e) => e.type === 'unchanged'), 'resume after restart', 20_000);
      expect(events.slice(before).filter((e) => e.type === 'resolution')).toHaveLength(0);
      expect((events.slice(before).find((e) => e.type === 'unchanged') as { etag: string }).etag).toBe(etag2);
      attempts.push(0); // marks the success between outages
    }
    // Each outage started again from attempt 1: the counter is reset after a success.
    const runs = attempts.join(',').split(',0').filter(Boolean).map((r) => r.split(',').filter(Boolean).map(Number));
    expect(runs).toHaveLength(2);
    for (const r of runs) expect(r[0]).toBe(1);
    abort.abort();
    await done;
    c.close();
  });
});
