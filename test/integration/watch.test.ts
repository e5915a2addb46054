/** Watch: snapshot first, a message only when the etag changes, restart events, resume, clean cancel. */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WatchRequest, type ResolutionDelta, type WatchResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import { Scope, type Resolution } from '../../gen/secretgroups/v1/resources.js';
import { applyDelta, createClient } from '../../client/index.js';
import type { Clients } from '../../client/connection.js';
import { api } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/in-process.js';

let t: TestServer;
let a: ReturnType<typeof api>;
beforeAll(async () => {
  t = await startTestServer({ heartbeatMs: 200 });
  a = api(t.admin);
  await a.createProject('p');
  await a.createWorkload({ project: 'p', name: 'api', tags: ['web'] });
  await a.createWorkload({ project: 'p', name: 'other' });
  await a.createGroup({ project: 'p', name: 'g', variables: { A: '1' } });
  await a.createGroup({ project: 'p', name: 'only-other', restrictions: { restricted: true, workloads: ['other'], tags: [] } });
});
afterAll(() => t.stop());

/** A Watch call that collects messages (heartbeats apart) and can wait for the next ones. */
function watch(c: Clients, req: Partial<WatchRequest>) {
  const messages: WatchResponse[] = [];
  let heartbeats = 0;
  let error: grpc.ServiceError | null = null;
  const waiters: (() => void)[] = [];
  const stream = c.resolver.watch(WatchRequest.fromPartial({ project: 'p', workload: 'api', scope: Scope.SCOPE_RUNTIME, ...req }));
  stream.on('data', (m: WatchResponse) => {
    if (m.heartbeat) heartbeats++;
    else messages.push(m);
    waiters.splice(0).forEach((w) => w());
  });
  stream.on('error', (e: grpc.ServiceError) => {
    error = e;
    waiters.splice(0).forEach((w) => w());
  });
  const until = async (cond: () => boolean, what: string, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(messages)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  return {
    messages,
    heartbeats: () => heartbeats,
    error: () => error,
    until,
    count: (n: number) => until(() => messages.length >= n, `${n} messages`),
    cancel: () => stream.cancel(),
  };
}

describe('Watch', () => {
  it('sends the current resolution first, then a new one on change', async () => {
    const w = watch(t.admin, {});
    await w.count(1);
    expect(w.messages[0]!.resolution!.variables).toEqual({ A: '1' });
    await a.setVars('p', 'g', { A: '2' });
    await w.count(2);
    expect(w.messages[1]!.resolution!.variables).toEqual({ A: '2' });
    w.cancel();
  });

  it('sends nothing for a change that leaves the resolution equal, but heartbeats flow', async () => {
    const w = watch(t.admin, {});
    await w.count(1);
    const beats = w.heartbeats();
    await a.setVars('p', 'g', { A: (await a.getGroup('p', 'g')).group!.variables.A! }); // same value
    await a.setVars('p', 'only-other', { X: '1' }); // a group that does not reach api
    // Then a real change: it must be the very next message.
    await a.setVars('p', 'g', { B: 'new' });
    await w.count(2);
    expect(w.messages).toHaveLength(2);
    expect(Object.keys(w.messages[1]!.resolution!.variables)).toContain('B');
    await w.until(() => w.heartbeats() > beats, 'a heartbeat');
    w.cancel();
  });

  it('a caller that asks for deltas gets what changed; applied in turn, each is the resolution Resolve gives', async () => {
    // A workload of its own, with a group large enough that deltas are smaller than the whole.
    await a.createWorkload({ project: 'p', name: 'dw' });
    const bulk = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`BULK_${i}`, 'x'.repeat(30)]));
    await a.createGroup({ project: 'p', name: 'bulk', variables: bulk, restrictions: { restricted: true, workloads: ['dw'], tags: [] } });
    const w = watch(t.admin, { workload: 'dw', deltas: true });
    const plain = watch(t.admin, { workload: 'dw' });
    try {
      await steps(w, plain);
    } finally {
      w.cancel();
      plain.cancel();
    }
  });

  async function steps(w: ReturnType<typeof watch>, plain: ReturnType<typeof watch>) {
    await w.count(1);
    await plain.count(1);
    let held = w.messages[0]!.resolution!; // the first message is always whole
    const step = async (change: () => Promise<unknown>, n: number, expected: Partial<ResolutionDelta> | 'whole') => {
      await change();
      await w.count(n);
      await plain.count(n);
      const m = w.messages[n - 1]!;
      const now = (await a.resolve('p', 'dw')).resolution!;
      if (expected === 'whole') {
        expect(m.delta).toBeUndefined();
        held = m.resolution!;
      } else {
        expect(m.resolution).toBeUndefined();
        expect(m.delta).toMatchObject({ ...expected, baseEtag: held.etag, etag: now.etag });
        held = applyDelta(held, m.delta!)!;
      }
      expect(held).toEqual(now);
      expect(plain.messages[n - 1]!.resolution).toEqual(now); // callers that did not ask: whole, as before
    };
    await step(() => a.setVars('p', 'g', { A: 'changed' }), 2, { set: { A: 'changed' }, removed: [] });
    await step(() => a.setVars('p', 'g', { NEW_KEY: 'n' }), 3, { set: { NEW_KEY: 'n' }, removed: [] });
    await step(() => a.unsetVars('p', 'g', ['NEW_KEY']), 4, { set: {}, removed: ['NEW_KEY'] });
    // A file changes: a delta says variables only, so this one comes whole.
    await step(() => a.addFile({ project: 'p', name: 'g', file: { path: '/etc/app/ca.pem', content: Buffer.from('ca'), mode: 0o600 } }), 5, 'whole');
    await step(() => a.setVars('p', 'bulk', { BULK_3: 'again' }), 6, { set: { BULK_3: 'again' } });
  }

  it("the typed client asks for deltas and hands out whole resolutions, the same as a client that does not", async () => {
    await a.createWorkload({ project: 'p', name: 'tw' });
    const bulk = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`TW_${i}`, 'y'.repeat(30)]));
    await a.createGroup({ project: 'p', name: 'tw-bulk', variables: bulk, restrictions: { restricted: true, workloads: ['tw'], tags: [] } });
    const raw = watch(t.admin, { workload: 'tw', deltas: true }); // what the wire carries
    const withDeltas = createClient({ addr: t.server.addr, token: t.adminToken });
    const without = createClient({ addr: t.server.addr, token: t.adminToken });
    const abort = new AbortController();
    const collect = async (c: typeof withDeltas, deltas: boolean, out: Resolution[]) => {
      for await (const ev of c.watch({ project: 'p', workload: 'tw' }, { signal: abort.signal, deltas })) if (ev.type === 'resolution') out.push(ev.resolution);
    };
    const a1: Resolution[] = [];
    const a2: Resolution[] = [];
    const done = Promise.all([collect(withDeltas, true, a1), collect(without, false, a2)]);
    const waitFor = async (n: number) => {
      for (let i = 0; i < 200 && (a1.length < n || a2.length < n); i++) await new Promise((r) => setTimeout(r, 25));
    };
    await waitFor(1);
    await a.setVars('p', 'tw-bulk', { TW_1: 'typed-1', T: 't' });
    await waitFor(2);
    await a.unsetVars('p', 'tw-bulk', ['T']);
    await waitFor(3);
    await raw.count(3);
    abort.abort();
    raw.cancel();
    await done;
    withDeltas.close();
    without.close();
    expect(raw.messages.slice(1).map((m) => (m.delta ? 'delta' : 'whole'))).toEqual(['delta', 'delta']);
    expect(a1).toHaveLength(3);
    expect(a1).toEqual(a2);
    expect(a1[2]).toEqual((await a.resolve('p', 'tw')).resolution);
  });

  it('resumes from an etag: `unchanged` when it is still current', async () => {
    const first = (await a.resolve('p', 'api')).resolution!;
    const w = watch(t.admin, { etag: first.etag });
    await w.count(1);
    expect(w.messages[0]).toMatchObject({ unchanged: { etag: first.etag } });
    w.cancel();
    const stale = watch(t.admin, { etag: 'stale-etag' });
    await stale.count(1);
    expect(stale.messages[0]!.resolution!.etag).toBe(first.etag);
    stale.cancel();
  });

  it('delivers restart events from RestartDependents and counts the subscribers reached', async () => {
    const w1 = watch(t.admin, {});
    const w2 = watch(t.admin, {});
    const other = watch(t.admin, { workload: 'other' });
    await Promise.all([w1.count(1), w2.count(1), other.count(1)]);
    const res = await a.restartDependents('p', 'only-other');
    expect(res.workloads).toEqual(['other']);
    expect(res.delivered).toBe(1);
    await other.count(2);
    expect(other.messages[1]!.restart).toMatchObject({ group: 'only-other' });
    const res2 = await a.restartDependents('p', 'g');
    expect(res2.delivered).toBe(3);
    await Promise.all([w1.count(2), w2.count(2)]);
    expect(w1.messages[1]!.restart!.group).toBe('g');
    for (const w of [w1, w2, other]) w.cancel();
  });

  it('cleans up on cancel', async () => {
    const settle = async (n: number) => {
      const deadline = Date.now() + 5000;
      while (t.server.watchers() !== n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    };
    await settle(0); // earlier tests' cancels
    const base = t.server.watchers();
    expect(base).toBe(0);
    const ws = Array.from({ length: 5 }, () => watch(t.admin, {}));
    await Promise.all(ws.map((w) => w.count(1)));
    expect(t.server.watchers()).toBe(base + 5);
    ws.forEach((w) => w.cancel());
    await settle(base);
    expect(t.server.watchers()).toBe(base);
  });

  it('ends the stream with NOT_FOUND when the workload is deleted, and refuses unknown ones', async () => {
    await a.createWorkload({ project: 'p', name: 'temp' });
    const w = watch(t.admin, { workload: 'temp' });
    await w.count(1);
    await new Promise<void>((resolve, reject) =>
      t.admin.projects.deleteWorkload({ project: 'p', name: 'temp', expectedRevision: 0 }, (e) => (e ? reject(e) : resolve())),
    );
    await w.until(() => w.error() !== null, 'an error');
    expect(w.error()!.code).toBe(grpc.status.NOT_FOUND);
    const unknown = watch(t.admin, { workload: 'ghost' });
    await unknown.until(() => unknown.error() !== null, 'an error');
    expect(unknown.error()!.code).toBe(grpc.status.NOT_FOUND);
  });
});
