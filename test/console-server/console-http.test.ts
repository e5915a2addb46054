/**
 * The web console's HTTP server, without a browser: sessions and their cookie, CSRF refusals
 * that change nothing, security headers and static assets, the error shape, streams, the
 * brute-force throttle, and the address rules (default port taken, explicit port taken,
 * plaintext on a non-loopback address).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupType } from '../../gen/secretgroups/v1/resources.js';
import type { ListProjectsResponse } from '../../gen/secretgroups/v1/project_service.js';
import { startServer } from '../../server/app/start-server.js';
import { CSP } from '../../server/console/http-guard.js';
import { createLogger } from '../../server/log.js';
import { api } from '../helpers/api.js';
import { call, startTestServer, type TestServer } from '../helpers/in-process.js';
import { dumpStore } from '../helpers/store-dump.js';
import { ConsoleClient, envelopes, openStream, rawGet } from './http.js';

let t: TestServer;
let assets: string;
let url: string;

beforeAll(async () => {
  assets = mkdtempSync(join(tmpdir(), 'sg-console-assets-'));
  mkdirSync(join(assets, 'assets'));
  writeFileSync(join(assets, 'index.html'), '<!doctype html><title>console</title><script type="module" src="/assets/app-1.js"></script>');
  writeFileSync(join(assets, 'assets/app-1.js'), 'export {};');
  t = await startTestServer({ consoleAddr: '127.0.0.1:0', consoleAssetDir: assets });
  url = t.server.consoleUrl!;
  const a = api(t.admin);
  await a.createProject('p');
  await a.createWorkload({ project: 'p', name: 'api' });
  await a.createGroup({ project: 'p', name: 'db', type: GroupType.GROUP_TYPE_SECRET, variables: { PASSWORD: 's3cret' } });
});
afterAll(async () => {
  await t?.stop();
  rmSync(assets, { recursive: true, force: true });
});

const projects = async () => (await call<object, ListProjectsResponse>(t.admin.projects, 'listProjects', {})).projects.map((p) => p.name);

describe('session', () => {
  it('signs in with a token: HttpOnly, SameSite=Strict cookie on /, then who am I, then sign-out', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const c = new ConsoleClient(url);
    const res = await c.signIn(t.adminToken);
    expect(res.status).toBe(200);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^sg_session=[A-Za-z0-9_-]{40,};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/');
    expect(cookie).not.toContain('Secure'); // plaintext loopback; Secure under TLS
    expect(cookie).not.toContain(t.adminToken);
    expect(res.json.token.role).toBe('admin');
    expect(res.json.role.name).toBe('admin');
    expect(res.json.role.secret).toBe('ACCESS_LEVEL_WRITE');
    expect(res.body).not.toContain(t.adminToken);

    const who = await c.get('/session');
    expect(who.status).toBe(200);
    expect(who.json.token.id).toBe(res.json.token.id);
    expect((await c.rpc('ProjectService/ListProjects')).json.projects.map((p: { name: string }) => p.name)).toContain('p');

    const out = await c.send('DELETE', '/session');
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await c.get('/session')).status).toBe(401);
  });

  it('the old session id is dead after sign-out, even if replayed', async () => {
    const c = new ConsoleClient(url);
    await c.signIn(t.adminToken);
    const stolen = c.cookie;
    await c.send('DELETE', '/session');
    const replay = new ConsoleClient(url);
    replay.cookie = stolen;
    const res = await replay.rpc('ProjectService/ListProjects');
    expect(res.status).toBe(401);
    expect(res.json.code).toBe('unauthenticated');
  });

  it('a bad token gets 401 with a clear message and no cookie', async () => {
    const c = new ConsoleClient(url);
    const res = await c.signIn('sg_not-a-real-token');
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ code: 'unauthenticated', message: 'sign-in refused: unknown token' });
    expect(res.headers.get('set-cookie')).toBeNull();
    expect((await c.signIn('')).status).toBe(400);
  });

  it('a workload token signs in without a role, and only resolves its own identity', async () => {
    const made = await api(t.admin).createToken({ workload: { project: 'p', workload: 'api' } });
    const c = new ConsoleClient(url);
    const res = await c.signIn(made.token);
    expect(res.status).toBe(200);
    expect(res.json.role).toBeNull();
    expect(res.json.token.workload).toEqual({ project: 'p', workload: 'api' });
    expect((await c.rpc('ResolverService/Resolve', { project: 'p', workload: 'api' })).status).toBe(200);
    expect((await c.rpc('SecretGroupService/GetGroup', { project: 'p', name: 'db' })).status).toBe(403);
    expect((await c.rpc('SecretGroupService/ListGroups', { project: 'p' })).json.groups).toBeUndefined();
  });

  it('RPCs without a session are refused with 401', async () => {
    const res = await new ConsoleClient(url).rpc('ProjectService/ListProjects');
    expect(res.status).toBe(401);
    expect(res.json.code).toBe('unauthenticated');
  });

  it('a revoked token ends the session', async () => {
    const made = await api(t.admin).createToken({ name: 'to-revoke', role: 'viewer' });
    const c = new ConsoleClient(url);
    expect((await c.signIn(made.token)).status).toBe(200);
    expect((await c.rpc('ProjectService/ListProjects')).status).toBe(200);
    await call(t.admin.access, 'revokeToken', { id: made.info!.id });
    await new Promise((r) => setTimeout(r, 600)); // the token cache lifetime
    expect((await c.rpc('ProjectService/ListProjects')).status).toBe(401);
    expect((await c.get('/session')).status).toBe(401);
  });
});

describe('CSRF: cross-site state-changing requests are refused and change nothing', () => {
  const attempts: [string, Record<string, string>, string?][] = [
    ['Origin: http://evil.example', { origin: 'http://evil.example' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }],
    ['no X-SG-Console header', { 'x-sg-console': '' }],
    ['text/plain body (a form or a simple fetch)', { 'content-type': 'text/plain' }],
    ['form-encoded body', { 'content-type': 'application/x-www-form-urlencoded' }],
  ];
  it.each(attempts)('%s → 403', async (_name, headers) => {
    const c = new ConsoleClient(url);
    expect((await c.signIn(t.adminToken)).status).toBe(200);
    const name = `csrf-${Math.random().toString(36).slice(2, 8)}`;
    const before = dumpStore(t.dataDir);
    const res = await c.rpc('ProjectService/CreateProject', { name }, headers);
    expect(res.status).toBe(403);
    expect(res.json.code).toBe('permission_denied');
    expect((await c.rpc('SecretGroupService/SetVariables', { project: 'p', name: 'db', variables: { PASSWORD: 'pwned' } }, headers)).status).toBe(403);
    expect(dumpStore(t.dataDir), 'a refused request changed the store').toBe(before);
    expect(await projects()).not.toContain(name);
    // Sign-out is state-changing too: refused the same way, the session survives.
    expect((await c.send('DELETE', '/session', undefined, headers)).status).toBe(403);
    expect((await c.get('/session')).status).toBe(200);
  });

  it('a same-origin request with the header and a JSON body passes', async () => {
    const c = new ConsoleClient(url);
    await c.signIn(t.adminToken);
    const origin = url.replace(/\/$/, '');
    const res = await c.rpc('ProjectService/CreateProject', { name: 'same-origin' }, { origin, 'sec-fetch-site': 'same-origin' });
    expect(res.status, res.body).toBe(200);
    expect(await projects()).toContain('same-origin');
  });

  it('a loopback console answers only loopback host names (DNS rebinding)', async () => {
    expect(await rawGet(url, '/', 'evil.example')).toBe(421);
    expect(await rawGet(url, '/', `localhost:${new URL(url).port}`)).toBe(200);
  });
});

describe('static assets and headers', () => {
  it('every answer carries the CSP, nosniff and no-referrer; index.html is not cached', async () => {
    const c = new ConsoleClient(url);
    for (const path of ['/', '/projects/p', '/assets/app-1.js', '/session']) {
      const res = await c.get(path);
      expect(res.headers.get('content-security-policy'), path).toBe(CSP);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
    const index = await c.get('/');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(index.headers.get('cache-control')).toBe('no-store');
    expect(CSP).toContain("script-src 'self'");
    expect(CSP).toContain("frame-ancestors 'none'");
    const js = await c.get('/assets/app-1.js');
    expect(js.headers.get('content-type')).toContain('text/javascript');
    expect(js.headers.get('cache-control')).toContain('immutable');
  });

  it('unknown UI paths get index.html; missing assets and traversal get 404', async () => {
    const c = new ConsoleClient(url);
    expect((await c.get('/projects/p/groups/db')).body).toContain('<title>console</title>');
    expect((await c.get('/assets/missing.js')).status).toBe(404);
    for (const path of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2fpackage.json', '/%00']) {
      const res = await c.get(path);
      expect(res.body, path).not.toContain('root:');
      expect(res.body, path).not.toContain('"name"');
    }
    expect((await c.get('/assets/..%2f..%2fpackage.json')).status).toBe(404);
  });

  it('RPCs are POST only; unknown RPCs are 404', async () => {
    const c = new ConsoleClient(url);
    await c.signIn(t.adminToken);
    expect((await c.get('/rpc/secretgroups.v1.ProjectService/ListProjects')).status).toBe(405);
    const res = await c.rpc('ProjectService/Nope');
    expect(res.status).toBe(404);
    expect(res.json.code).toBe('unimplemented');
  });
});

describe('values reach the browser only through audited reads', () => {
  it('mutations answer keys only through the console (gRPC still answers values)', async () => {
    const c = new ConsoleClient(url);
    await c.signIn(t.adminToken);
    const set = await c.rpc('SecretGroupService/SetVariables', { project: 'p', name: 'db', variables: { FRESH: 'fresh-secret' } });
    expect(set.status).toBe(200);
    expect(set.json.group.valuesRedacted).toBe(true);
    expect(set.json.group.variables.FRESH).toBe('');
    expect(Object.values(set.json.group.variables).every((v) => v === '')).toBe(true);
    expect(set.body).not.toContain('fresh-secret');
    expect(set.body).not.toContain('s3cret');
    const file = await c.rpc('SecretGroupService/AddFile', { project: 'p', name: 'db', file: { path: '/etc/k.pem', content: Buffer.from('file-secret').toString('base64') } });
    expect(file.json.group.files[0]).toEqual({ path: '/etc/k.pem', mode: 0o600, size: '11' }); // int64 as a string (proto3 JSON)
    expect(file.body).not.toContain(Buffer.from('file-secret').toString('base64'));
    const w = await c.rpc('ProjectService/UpdateWorkload', { project: 'p', name: 'api', setRuntimeVariables: { OWN: 'own-secret' } });
    expect(w.json.workload.valuesRedacted).toBe(true);
    expect(w.body).not.toContain('own-secret');
    // The explicit read still answers values (and is audited as such).
    const read = await c.rpc('SecretGroupService/GetGroup', { project: 'p', name: 'db' });
    expect(read.json.group.variables.FRESH).toBe('fresh-secret');
    expect((await api(t.admin).setVars('p', 'db', { VIA_GRPC: 'grpc-value' })).group!.variables.VIA_GRPC).toBe('grpc-value');
  });
});

describe('errors', () => {
  it('unparseable JSON and non-objects are invalid_argument', async () => {
    const c = new ConsoleClient(url);
    await c.signIn(t.adminToken);
    for (const body of ['{', '[]', '"x"', 'null']) {
      const res = await c.rpc('ProjectService/ListProjects', body);
      expect(res.status, body).toBe(400);
      expect(res.json.code).toBe('invalid_argument');
    }
  });

  it('a body over the request limit is refused', async () => {
    const c = new ConsoleClient(url);
    await c.signIn(t.adminToken);
    const res = await c.rpc('SecretGroupService/SetVariables', { project: 'p', name: 'db', variables: { BIG: 'x'.repeat(9 * 1024 * 1024) } }).catch(() => undefined);
    // Either the 413 answer, or the connection is cut while the body is still being sent.
    if (res) {
      expect(res.status).toBe(413);
      expect(res.json.code).toBe('resource_exhausted');
    }
    expect((await api(t.admin).getGroup('p', 'db')).group!.variables.BIG).toBeUndefined();
  });

  it('service errors keep the gRPC message and map the code to an HTTP status', async () => {
    const c = new ConsoleClient(url);
    await c.signIn(t.adminToken);
    const missing = await c.rpc('SecretGroupService/GetGroup', { project: 'p', name: 'nope' });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ code: 'not_found', message: 'group p/nope not found' });
    const bad = await c.rpc('SecretGroupService/SetVariables', { project: 'p', name: 'db', variables: { 'bad key': 'x' } });
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe('invalid_argument');
    const stale = await c.rpc('SecretGroupService/SetVariables', { project: 'p', name: 'db', expectedRevision: '999', variables: { A: 'x' } });
    expect(stale.status).toBe(409);
    expect(stale.json.code).toBe('aborted');
  });
});

describe('server streams in the Connect protocol (enveloped JSON)', () => {
  const open = (c: ConsoleClient, method: string, body: unknown, signal: AbortSignal) => openStream(c, method, body, signal);

  it('Watch sends the resolution, then each change; aborting the fetch ends the subscription', async () => {
    const c = new ConsoleClient(url);
    await c.signIn(t.adminToken);
    const abort = new AbortController();
    const res = await open(c, 'ResolverService/Watch', { project: 'p', workload: 'api', scope: 'SCOPE_RUNTIME' }, abort.signal);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/connect+json');
    const it = envelopes(res);
    const first = (await it.next()).value;
    expect(first.message.resolution.variables.PASSWORD).toBe('s3cret');
    expect(t.server.watchers()).toBe(1);
    await api(t.admin).setVars('p', 'db', { STREAMED: 'yes' });
    const second = (await it.next()).value;
    expect(second.message.resolution.variables.STREAMED).toBe('yes');
    abort.abort();
    await expect.poll(() => t.server.watchers()).toBe(0);
  });

  it('signing out ends the session\'s open streams', async () => {
    const c = new ConsoleClient(url);
    await c.signIn(t.adminToken);
    const res = await open(c, 'ResolverService/Watch', { project: 'p', workload: 'api' }, AbortSignal.timeout(10_000));
    const it = envelopes(res);
    expect((await it.next()).value.message).toBeDefined();
    expect(t.server.watchers()).toBe(1);
    expect((await c.send('DELETE', '/session')).status).toBe(204);
    expect((await it.next()).value).toEqual({ end: { error: { code: 'unauthenticated', message: 'the session ended: sign in again' } } });
    expect((await it.next()).done).toBe(true);
    await expect.poll(() => t.server.watchers()).toBe(0);
  });

  it('a stream refused before its first message ends with the error, as Connect streams do', async () => {
    const viewer = await api(t.admin).createToken({ name: 'stream-viewer', role: 'viewer' });
    const c = new ConsoleClient(url);
    await c.signIn(viewer.token);
    const res = await open(c, 'ResolverService/Watch', { project: 'p', workload: 'api' }, AbortSignal.timeout(5000));
    expect(res.status).toBe(200);
    const all = [];
    for await (const e of envelopes(res)) all.push(e);
    expect(all).toHaveLength(1);
    expect(all[0]!.end.error.code).toBe('permission_denied');
  });

  it('WatchProject announces changes made through gRPC', async () => {
    const c = new ConsoleClient(url);
    await c.signIn(t.adminToken);
    const abort = new AbortController();
    const res = await open(c, 'ProjectService/WatchProject', { project: 'p' }, abort.signal);
    const it = envelopes(res);
    const first = Number((await it.next()).value.message.version);
    await api(t.admin).setVars('p', 'db', { ANOTHER: '1' });
    const next = (await it.next()).value;
    expect(Number(next.message.version)).toBeGreaterThan(first);
    expect(JSON.stringify(next)).not.toContain('ANOTHER');
    abort.abort();
  });

  it('an idle WatchProject stream repeats its last version as a keep-alive', async () => {
    const own = await startTestServer({ consoleAddr: '127.0.0.1:0', consoleAssetDir: assets, consoleStreamKeepAliveMs: 100 });
    try {
      await api(own.admin).createProject('quiet');
      const c = new ConsoleClient(own.server.consoleUrl!);
      await c.signIn(own.adminToken);
      const abort = new AbortController();
      const it = envelopes(await openStream(c, 'ProjectService/WatchProject', { project: 'quiet' }, abort.signal));
      const first = (await it.next()).value.message;
      // Nothing changes: the same message comes again (and again), never an end.
      expect((await it.next()).value).toEqual({ message: first });
      expect((await it.next()).value).toEqual({ message: first });
      abort.abort();
    } finally {
      await own.stop();
    }
  });
});

describe('brute force', () => {
  it('failed console sign-ins count in the same throttle as gRPC, per address', async () => {
    const own = await startTestServer({ consoleAddr: '127.0.0.1:0', consoleAssetDir: assets });
    try {
      const c = new ConsoleClient(own.server.consoleUrl!);
      for (let i = 0; i < 20; i++) expect((await c.signIn(`sg_wrong-${i}`)).status).toBe(401);
      const locked = await c.signIn(own.adminToken);
      expect(locked.status).toBe(429);
      expect(locked.json.code).toBe('resource_exhausted');
      expect(locked.headers.get('set-cookie')).toBeNull();
      // The same address is locked out of gRPC as well: one throttle.
      const grpc = await call(own.admin.access, 'whoAmI', {}).then(() => 'OK', (e: { code: number }) => e.code);
      expect(grpc).toBe(8); // RESOURCE_EXHAUSTED
    } finally {
      await own.stop();
    }
  });
});

describe('console address', () => {
  let holder: Server;
  let taken: number;
  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    taken = (holder.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => holder.close(() => r())));

  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'sg-console-addr-'));
    dirs.push(d);
    return d;
  };
  const log = createLogger('silent');

  it('the default address taken: the server runs without the console', async () => {
    const s = await startServer({ addr: '127.0.0.1:0', dataDir: dataDir(), consoleAddr: `127.0.0.1:${taken}`, consoleAddrIsDefault: true }, log);
    try {
      expect(s.consoleUrl).toBeUndefined();
      expect(s.port).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });

  it('an explicit address taken is an error', async () => {
    await expect(startServer({ addr: '127.0.0.1:0', dataDir: dataDir(), consoleAddr: `127.0.0.1:${taken}` }, log)).rejects.toThrow(
      `cannot serve the console on 127.0.0.1:${taken}: EADDRINUSE`,
    );
  });

  it('plaintext on a non-loopback address is refused unless insecure', async () => {
    await expect(startServer({ addr: '127.0.0.1:0', dataDir: dataDir(), consoleAddr: '0.0.0.0:0' }, log)).rejects.toThrow(/refusing plaintext console/);
  });

  it('off (or absent) serves no console', async () => {
    const s = await startServer({ addr: '127.0.0.1:0', dataDir: dataDir(), consoleAddr: 'off' }, log);
    expect(s.consoleUrl).toBeUndefined();
    await s.close();
  });
});
