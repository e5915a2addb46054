/**
 * The session with injected fakes (no server, no disk): the merged set lives in the memory
 * cache, and what the sinks apply is read from there; the cached copy stands in for an
 * unreachable server; a token refused past --auth-grace ends with EXIT.auth.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryCache } from '../../agent/cache/memory.js';
import { Code, RpcError, type WatchEvent } from '../../client/index.js';
import { CliError, EXIT } from '../../client/exit-codes.js';
import { SCOPE_RUNTIME, type Resolution } from '../../client/wire.js';
import { AgentLog } from '../../agent/log.js';
import { Credentials } from '../../agent/session/credentials.js';
import { DiskCopy, type CopyStore } from '../../agent/session/disk-copy.js';
import { Session, type SessionOptions, type WatchClient } from '../../agent/session/session.js';
import { ChildSink } from '../../agent/sinks/child.js';
import { applyAll, type Sink } from '../../agent/sinks/sink.js';

const id = { project: 'shop', workload: 'api', scope: SCOPE_RUNTIME };
const resolution = (etag: string, variables: Record<string, string>): Resolution => ({
  project: 'shop',
  workload: 'api',
  scope: SCOPE_RUNTIME,
  variables,
  files: [],
  etag,
  conflicts: [],
});

/** A client whose Watch stream yields what the test pushes (an RpcError ends it with that error). */
function fakeClient() {
  const queue: (WatchEvent | RpcError)[] = [];
  let wake: (() => void) | undefined;
  const client = {
    addr: 'fake:1',
    watches: 0,
    closed: false,
    push(ev: WatchEvent | RpcError) {
      queue.push(ev);
      wake?.();
    },
    async *watch(_target: unknown, opts: { signal?: AbortSignal } = {}): AsyncGenerator<WatchEvent, void, undefined> {
      client.watches++;
      opts.signal?.addEventListener('abort', () => wake?.());
      for (;;) {
        const ev = queue.shift();
        if (ev instanceof RpcError) throw ev;
        if (ev) yield ev;
        else if (opts.signal?.aborted) return;
        else await new Promise<void>((r) => (wake = r));
      }
    },
    close() {
      client.closed = true;
      wake?.();
    },
  };
  return client;
}

const options = (o: Partial<SessionOptions> = {}): SessionOptions => ({ id, maxStaleMs: 60_000, startTimeoutMs: 5_000, authGraceMs: 30_000, waitOnAuthError: false, ...o });
const log = new AgentLog('silent');

function session(client: ReturnType<typeof fakeClient>, o: Partial<SessionOptions> = {}, copy?: DiskCopy) {
  const memory = new MemoryCache();
  const s = new Session(options(o), { client: client as unknown as WatchClient, memory, credentials: new Credentials('sg_t', {}, log), copy, log });
  return { s, memory };
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('session', () => {
  it('keeps the merged set in the memory cache, and every sink applies what it reads from there', async () => {
    const client = fakeClient();
    const { s, memory } = session(client);
    client.push({ type: 'resolution', resolution: resolution('e1', { A: '1' }) });
    const first = await s.start();
    expect(first).toBe(memory.get(id));

    const applied: Resolution[] = [];
    const recorder: Sink = { apply: async (res) => (applied.push(res), true) };
    const child = new ChildSink({ PATH: '/bin' }, true);
    s.handlers = { onResolution: (res) => void applyAll([recorder, child], res) };
    client.push({ type: 'resolution', resolution: resolution('e2', { A: '2' }) });
    await vi.waitFor(() => expect(applied).toHaveLength(1), { timeout: 10_000 });
    expect(applied[0]).toBe(memory.get(id));
    expect(applied[0]!.variables).toEqual({ A: '2' });

    // What a (re)started child gets is read from the memory cache too, not from a copy of its own.
    memory.set(id, resolution('e3', { A: '3' }));
    expect(s.current.etag).toBe('e3');
    expect(child.environment(s.current)).toEqual({ PATH: '/bin', A: '3' });
    s.close();
    expect(client.closed).toBe(true);
  });

  it('a change that arrives before the command attaches its handlers is handed over when it does', async () => {
    const client = fakeClient();
    const { s } = session(client);
    client.push({ type: 'resolution', resolution: resolution('e1', { A: '1' }) });
    await s.start();
    client.push({ type: 'resolution', resolution: resolution('e2', { A: '2' }) });
    await vi.waitFor(() => expect(s.current.etag).toBe('e2'), { timeout: 10_000 });
    const seen: string[] = [];
    s.handlers = { onResolution: (res) => seen.push(res.etag) };
    expect(seen).toEqual(['e2']);
    s.close();
  });

  it('starts from the cached copy when the server stays unreachable, and puts it in memory', async () => {
    const client = fakeClient();
    const cached = resolution('old', { A: 'cached' });
    const store: CopyStore = { path: '/nowhere', load: async () => ({ status: 'ok', cached: { resolution: cached, savedAtMs: Date.now() - 1000 }, ageMs: 1000 }), save: async () => undefined };
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const { s, memory } = session(client, { startTimeoutMs: 50 }, new DiskCopy(async () => store, 'sg_t', log));
    expect(await s.start()).toBe(cached);
    expect(s.fromCache).toBe(true);
    expect(memory.get(id)).toBe(cached);
    expect(String(stderr.mock.calls[0]?.[0])).toMatch(/unreachable; running from the cached copy/);
    s.close();
  });

  it('without a copy, an unreachable server is a CliError that says why', async () => {
    const { s } = session(fakeClient(), { startTimeoutMs: 50 });
    await expect(s.start()).rejects.toThrow(/cannot reach the server at fake:1 .*no --cache-dir to fall back on/);
    s.close();
  });

  it('a token refused mid-watch past --auth-grace ends with EXIT.auth, the memory keeping the last values', async () => {
    const client = fakeClient();
    const { s, memory } = session(client, { authGraceMs: 100 });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    client.push({ type: 'resolution', resolution: resolution('e1', { A: '1' }) });
    await s.start();
    const fatal = new Promise<Error>((r) => (s.handlers = { onFatal: r }));
    client.push(new RpcError(Code.UNAUTHENTICATED, 'token has been revoked'));
    const err = await fatal;
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(EXIT.auth);
    expect(memory.get(id)?.etag).toBe('e1');
    expect(client.closed).toBe(true);
  });
});

describe('sinks', () => {
  const sink = (name: string, calls: string[], fail?: 'validate' | 'apply'): Sink => ({
    validate: () => {
      calls.push(`${name}.validate`);
      if (fail === 'validate') throw new Error(`${name} refuses`);
    },
    apply: async () => {
      calls.push(`${name}.apply`);
      if (fail === 'apply') throw new Error(`${name} failed`);
      return name === 'b';
    },
  });

  it('every sink validates before any applies; a refusal writes nothing', async () => {
    const calls: string[] = [];
    expect(await applyAll([sink('a', calls), sink('b', calls)], resolution('e', {}))).toBe(true);
    expect(calls).toEqual(['a.validate', 'b.validate', 'a.apply', 'b.apply']);
    calls.length = 0;
    await expect(applyAll([sink('a', calls), sink('b', calls, 'validate')], resolution('e', {}))).rejects.toThrow('b refuses');
    expect(calls).toEqual(['a.validate', 'b.validate']);
  });

  it('with an error handler each sink is on its own (exec: a file that cannot be written still lets the child hear of the change)', async () => {
    const calls: string[] = [];
    const errors: string[] = [];
    expect(await applyAll([sink('a', calls, 'apply'), sink('b', calls)], resolution('e', {}), (e) => errors.push(e.message))).toBe(true);
    expect(calls).toEqual(['a.validate', 'a.apply', 'b.validate', 'b.apply']);
    expect(errors).toEqual(['a failed']);
  });
});
