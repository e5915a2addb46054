/**
 * Session tossing: a page on another port of the same host can set the console's cookie
 * (cookies are not port-scoped) to a session of the attacker's own. The page that signed in
 * holds its session's binding secret and sends it on every request; the server refuses a
 * cookie whose session that binding does not belong to, so the admin's page never acts as the
 * attacker's viewer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListProjectsResponse } from '../../gen/secretgroups/v1/project_service.js';
import { api } from '../helpers/api.js';
import { call, startTestServer, type TestServer } from '../helpers/in-process.js';
import { ConsoleClient } from './http.js';

let t: TestServer;
let url: string;
let viewerToken: string;

beforeAll(async () => {
  t = await startTestServer({ consoleAddr: '127.0.0.1:0' });
  url = t.server.consoleUrl!;
  await api(t.admin).createProject('p');
  viewerToken = (await api(t.admin).createToken({ role: 'viewer', projects: ['p'] })).token;
});
afterAll(async () => {
  await t?.stop();
});

/** The admin's page, and the attacker's own viewer session (cookie and binding). */
async function adminAndAttacker() {
  const admin = new ConsoleClient(url);
  expect((await admin.signIn(t.adminToken)).status).toBe(200);
  const attacker = new ConsoleClient(url);
  expect((await attacker.signIn(viewerToken)).status).toBe(200);
  return { admin, attacker };
}

describe('a session cookie tossed into the admin’s browser', () => {
  it('the sign-in answer carries a binding secret that no cookie holds', async () => {
    const { admin } = await adminAndAttacker();
    expect(admin.binding).toMatch(/^[0-9a-f]{64}$/);
    expect(admin.cookie).not.toContain(admin.binding);
    expect((await admin.get('/session')).json.token.role).toBe('admin');
  });

  it('replacing the cookie: the admin page’s requests are refused ("session changed"), never answered as the viewer', async () => {
    const { admin, attacker } = await adminAndAttacker();
    admin.cookie = attacker.cookie; // what a page on another port sets with Path=/
    const who = await admin.get('/session');
    expect(who.status).toBe(401);
    expect(who.json.code).toBe('unauthenticated');
    expect(who.json.message).toMatch(/^session changed: /);
    expect(who.body).not.toMatch(/viewer/);
    const rpc = await admin.rpc('AccessService/WhoAmI');
    expect(rpc.status).toBe(401);
    expect(rpc.json.message).toMatch(/^session changed: /);
    // The admin's action does not run as the viewer either (nor as anyone).
    const create = await admin.rpc('ProjectService/CreateProject', { name: 'tossed' });
    expect(create.status).toBe(401);
    const projects = await call<object, ListProjectsResponse>(t.admin.projects, 'listProjects', {});
    expect(projects.projects.map((p) => p.name)).not.toContain('tossed');
    // The attacker's session itself is untouched (it is the attacker's own).
    expect((await attacker.get('/session')).json.token.role).toBe('viewer');
  });

  it('a cookie without the page’s binding is refused even when the binding header is absent', async () => {
    const { attacker } = await adminAndAttacker();
    const noBinding = new ConsoleClient(url);
    noBinding.cookie = attacker.cookie;
    const res = await noBinding.rpc('AccessService/WhoAmI');
    expect(res.status).toBe(401);
    expect(res.json.message).toMatch(/not signed in on this page/);
  });

  it('a tossed cookie with a narrower path (sent first) is passed over: the page stays the admin', async () => {
    const { admin, attacker } = await adminAndAttacker();
    admin.cookie = `${attacker.cookie}; ${admin.cookie}`;
    const who = await admin.rpc('AccessService/WhoAmI');
    expect(who.status).toBe(200);
    expect(who.json.token.role).toBe('admin');
  });

  it('signing out with a tossed cookie ends neither the admin’s nor the attacker’s session by mistake', async () => {
    const { admin, attacker } = await adminAndAttacker();
    const own = admin.cookie;
    admin.cookie = attacker.cookie;
    expect((await admin.send('DELETE', '/session')).status).toBe(204);
    expect((await attacker.get('/session')).status).toBe(200);
    admin.cookie = own;
    expect((await admin.get('/session')).json.token.role).toBe('admin');
  });
});
