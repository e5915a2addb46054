/**
 * The console under TLS: HTTPS with the gRPC certificate, and the session cookie a `__Host-`
 * cookie (Secure, Path=/, no Domain), which a page served over plain HTTP on the same host
 * cannot set.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/in-process.js';

let dir: string;
let t: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sg-console-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.crt', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { cwd: dir, stdio: 'ignore' });
  t = await startTestServer({ consoleAddr: '127.0.0.1:0', tlsCert: join(dir, 'server.crt'), tlsKey: join(dir, 'server.key') });
});
afterAll(async () => {
  await t?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  cookie: string | undefined;
  json: { binding?: string; token?: { role?: string }; message?: string };
}

function post(url: string, path: string, body: string, headers: Record<string, string> = {}, method = 'POST'): Promise<Answer> {
  const u = new URL(path, url);
  return new Promise((resolve, reject) => {
    const req = https.request(
      u,
      { method, ca: readFileSync(join(dir, 'server.crt')), headers: { 'content-type': 'application/json', 'x-sg-console': '1', origin: new URL(url).origin, ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, cookie: res.headers['set-cookie']?.[0], json: text ? JSON.parse(text) : {} });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const pair = (setCookie: string | undefined) => setCookie!.split(';')[0]!;

it('serves HTTPS with the gRPC certificate; the session cookie is __Host- and Secure', async () => {
  const url = t.server.consoleUrl!;
  expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
  const res = await post(url, '/session', JSON.stringify({ token: t.adminToken }));
  expect(res.status).toBe(200);
  expect(res.cookie).toMatch(/^__Host-sg_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Secure$/);
  expect(res.cookie).not.toMatch(/Domain=/i);
});

it('a tossed cookie is refused under TLS too, and a plain sg_session cookie is not read at all', async () => {
  const url = t.server.consoleUrl!;
  const admin = await post(url, '/session', JSON.stringify({ token: t.adminToken }));
  const bound = { 'x-sg-session': admin.json.binding! };
  const made = await post(url, '/rpc/secretgroups.v1.AccessService/CreateToken', JSON.stringify({ role: 'viewer' }), { ...bound, cookie: pair(admin.cookie) });
  const viewerToken = (made.json as { token?: string }).token!;
  const viewer = await post(url, '/session', JSON.stringify({ token: viewerToken }));
  const who = (cookie: string) => post(url, '/session', '', { ...bound, cookie }, 'GET');

  expect((await who(pair(admin.cookie))).json.token?.role).toBe('admin');
  // The viewer's session under the __Host- name, with the admin page's binding: refused.
  const tossed = await who(pair(viewer.cookie));
  expect(tossed.status).toBe(401);
  expect(tossed.json.message).toMatch(/^session changed: /);
  // What a plain-HTTP page on the same host could set (no __Host- prefix) is ignored.
  const plain = pair(viewer.cookie).replace(/^__Host-/, '');
  expect((await who(`${plain}; ${pair(admin.cookie)}`)).json.token?.role).toBe('admin');
  expect((await who(plain)).status).toBe(401);
});
