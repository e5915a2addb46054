/** The console under TLS: HTTPS with the gRPC certificate, and the session cookie marked Secure. */
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

function post(url: string, path: string, body: string): Promise<{ status: number; cookie: string | undefined }> {
  const u = new URL(path, url);
  return new Promise((resolve, reject) => {
    const req = https.request(
      u,
      { method: 'POST', ca: readFileSync(join(dir, 'server.crt')), headers: { 'content-type': 'application/json', 'x-sg-console': '1', origin: new URL(url).origin } },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, cookie: res.headers['set-cookie']?.[0] });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

it('serves HTTPS with the gRPC certificate; the session cookie is Secure', async () => {
  const url = t.server.consoleUrl!;
  expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
  const res = await post(url, '/session', JSON.stringify({ token: t.adminToken }));
  expect(res.status).toBe(200);
  expect(res.cookie).toMatch(/; HttpOnly; SameSite=Strict; Path=\/; Secure$/);
});
