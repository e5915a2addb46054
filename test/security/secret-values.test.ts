/**
 * Keys-only must mean keys-only (issue 10, item 2): a config-editor cannot route an addon's
 * details into a config group, cannot set what controls execution in a workload (PATH,
 * LD_PRELOAD, NODE_OPTIONS, files) on any route — set, import, create, delete, settings,
 * rollback — and a viewer cannot use PreviewChange to confirm a guessed secret value, addon
 * password or secret file. Against a real in-process server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupType } from '../../gen/secretgroups/v1/resources.js';
import { ImportFormat } from '../../gen/secretgroups/v1/secret_group_service.js';
import { api, vars } from '../helpers/api.js';
import type { Clients } from '../../client/connection.js';
import { call as grpcCall, codeOf, startTestServer, type TestServer } from '../helpers/in-process.js';
import { retypeGroupRaw } from '../helpers/raw-store.js';
import { dumpStore } from '../helpers/store-dump.js';

const SECRET = 'sk_live_51TopSecretCanary';
const DB_PASSWORD = 'pg-password-canary-8812';
const KEY_PEM = '-----BEGIN PRIVATE KEY-----canary';
const CONFIG = GroupType.GROUP_TYPE_CONFIG;
const SECRET_TYPE = GroupType.GROUP_TYPE_SECRET;

let t: TestServer;
let admin: ReturnType<typeof api>;
let editor: ReturnType<typeof api>;
let ce: ReturnType<typeof api>;
let viewer: ReturnType<typeof api>;
let ceClients: Clients;

/** The gRPC code and message of a call. */
async function outcome(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
    return { code: 'OK', message: '' };
  } catch (e) {
    const err = e as { details?: string; message: string };
    return { code: await codeOf(Promise.reject(e)), message: err.details ?? err.message };
  }
}

/** Refused with `code`, nothing written, no value in the message. */
async function refused(p: () => Promise<unknown>, code: string, message?: RegExp) {
  const before = dumpStore(t.dataDir);
  const out = await outcome(p());
  expect(out.code, out.message).toBe(code);
  if (message) expect(out.message).toMatch(message);
  for (const v of [SECRET, DB_PASSWORD, KEY_PEM]) expect(out.message).not.toContain(v);
  expect(dumpStore(t.dataDir), 'a refused call wrote to the store').toBe(before);
}

beforeAll(async () => {
  t = await startTestServer();
  admin = api(t.admin);
  await admin.createProject('shop');
  await admin.createWorkload({ project: 'shop', name: 'api', runtimeVariables: { W_TOKEN: SECRET } });
  await admin.createAddon({ project: 'shop', name: 'db', type: 'postgresql', connectionDetails: { password: DB_PASSWORD, host: 'db.internal' } });
  await admin.createGroup({ project: 'shop', name: 'vault', type: SECRET_TYPE, priority: 10, variables: { STRIPE_KEY: SECRET } });
  await admin.addFile({ project: 'shop', name: 'vault', file: { path: '/etc/shop/key.pem', content: Buffer.from(KEY_PEM), mode: 0o600, size: 0 } });
  await admin.createGroup({ project: 'shop', name: 'creds', type: SECRET_TYPE, priority: 10 });
  await admin.link({ project: 'shop', name: 'creds', addon: 'db', keys: [{ key: 'password', alias: 'DB_PASSWORD' }] });
  await admin.createGroup({ project: 'shop', name: 'cfg', type: CONFIG, priority: 5, variables: { LOG_LEVEL: 'info' } });
  const token = async (role: string) => t.as((await admin.createToken({ name: role, role })).token);
  editor = api(await token('editor'));
  ceClients = await token('config-editor');
  ce = api(ceClients);
  viewer = api(await token('viewer'));
}, 60_000);
afterAll(() => t?.stop());

describe('addon links: only in secret groups, only with write on secret groups', () => {
  it('a config-editor cannot link an addon into a config group (sg group link shop cfg db)', async () => {
    await refused(() => ce.link({ project: 'shop', name: 'cfg', addon: 'db', keys: [] }), 'PERMISSION_DENIED', /addon links needs write on secret groups/);
    expect(Object.keys(await vars(admin.resolve('shop', 'api')))).not.toContain('DB_DB_PASSWORD');
  });

  it('nobody can link an addon into a config group; an editor can into a secret group', async () => {
    await refused(() => admin.link({ project: 'shop', name: 'cfg', addon: 'db', keys: [] }), 'FAILED_PRECONDITION', /only a secret group may link an addon/);
    await refused(() => editor.link({ project: 'shop', name: 'cfg', addon: 'db', keys: [] }), 'FAILED_PRECONDITION');
    await admin.createGroup({ project: 'shop', name: 'db-links', type: SECRET_TYPE });
    expect(await codeOf(editor.link({ project: 'shop', name: 'db-links', addon: 'db', keys: [{ key: 'host', alias: 'DB_HOST' }] }))).toBe('OK');
  });

  it('a linked secret group cannot become a config group', async () => {
    await refused(() => admin.settings({ project: 'shop', name: 'creds', type: CONFIG }), 'FAILED_PRECONDITION', /only a secret group may link an addon/);
  });

  it('a config group that linked an addon before the rule keeps resolving; changes are refused until it is fixed', async () => {
    await admin.createGroup({ project: 'shop', name: 'legacy', type: SECRET_TYPE, priority: 1, variables: { L: '1' } });
    await admin.link({ project: 'shop', name: 'legacy', addon: 'db', keys: [{ key: 'host', alias: 'LEGACY_HOST' }] });
    retypeGroupRaw(t.dataDir, 'shop', 'legacy', 'config');
    expect((await admin.getGroup('shop', 'legacy')).group!.type).toBe(CONFIG);
    expect((await vars(admin.resolve('shop', 'api'))).LEGACY_HOST).toBe('db.internal');
    await refused(() => ce.setVars('shop', 'legacy', { L: '2' }), 'FAILED_PRECONDITION', /change the group's type to secret, or unlink/);
    await refused(() => admin.setVars('shop', 'legacy', { L: '2' }), 'FAILED_PRECONDITION');
    await refused(() => ce.deleteGroup('shop', 'legacy'), 'PERMISSION_DENIED');
    expect(await codeOf(admin.settings({ project: 'shop', name: 'legacy', type: SECRET_TYPE }))).toBe('OK');
    expect(await codeOf(admin.setVars('shop', 'legacy', { L: '2' }))).toBe('OK');
  });
});

describe('execution-controlling keys and files need write on secret groups in a config group', () => {
  it.each([['PATH', '/tmp/evil:/usr/bin'], ['NODE_OPTIONS', '--require /tmp/evil.js'], ['LD_PRELOAD', '/tmp/evil.so'], ['BASH_ENV', '/tmp/evil.sh'], ['PYTHONPATH', '/tmp']])(
    'a config-editor setting %s is refused',
    async (key, value) => {
      await refused(() => ce.setVars('shop', 'cfg', { [key]: value }), 'PERMISSION_DENIED', new RegExp(`changing ${key} \\([a-z ]+\\) needs write on secret groups`));
    },
  );

  it('a config-editor still sets ordinary config keys; an editor sets execution-controlling ones', async () => {
    expect(await codeOf(ce.setVars('shop', 'cfg', { FEATURE_FLAG: 'on', PATH_PREFIX: '/api' }))).toBe('OK');
    expect(await codeOf(editor.setVars('shop', 'cfg', { NODE_OPTIONS: '--max-old-space-size=512' }))).toBe('OK');
    expect((await vars(admin.resolve('shop', 'api'))).NODE_OPTIONS).toBe('--max-old-space-size=512');
    // Unchanged, it does not stand in the way of other edits.
    expect(await codeOf(ce.setVars('shop', 'cfg', { LOG_LEVEL: 'debug' }))).toBe('OK');
  });

  it('every other route is closed too: import, unset, create, delete, priority, templates', async () => {
    await refused(() => ce.importVars({ project: 'shop', name: 'cfg', format: ImportFormat.IMPORT_FORMAT_DOTENV, content: 'LD_PRELOAD=/tmp/x.so\n' }), 'PERMISSION_DENIED');
    // --replace would drop NODE_OPTIONS set by the editor.
    await refused(() => ce.importVars({ project: 'shop', name: 'cfg', format: ImportFormat.IMPORT_FORMAT_DOTENV, content: 'LOG_LEVEL=info\n', replace: true }), 'PERMISSION_DENIED', /NODE_OPTIONS/);
    await refused(() => ce.unsetVars('shop', 'cfg', ['NODE_OPTIONS']), 'PERMISSION_DENIED');
    await refused(() => ce.createGroup({ project: 'shop', name: 'sneaky', type: CONFIG, priority: 100, variables: { PATH: '/tmp' } }), 'PERMISSION_DENIED');
    await refused(() => ce.deleteGroup('shop', 'cfg'), 'PERMISSION_DENIED');
    await refused(() => ce.settings({ project: 'shop', name: 'cfg', priority: 100 }), 'PERMISSION_DENIED');
    // A template: PATH follows BIN, so changing BIN changes PATH.
    await admin.createGroup({ project: 'shop', name: 'paths', type: CONFIG, variables: { BIN: '/opt/app/bin', PATH: '${BIN}:/usr/bin' } });
    await refused(() => ce.setVars('shop', 'paths', { BIN: '/tmp/evil' }), 'PERMISSION_DENIED', /changing PATH/);
    expect(await codeOf(ce.settings({ project: 'shop', name: 'paths', description: 'words only' }))).toBe('OK');
  });

  it('a config-editor adding an executable file (or any file) to a config group is refused; an editor may', async () => {
    const file = (mode: number) => ({ path: '/usr/local/bin/node', content: Buffer.from('#!/bin/sh\ncat /proc/self/environ\n'), mode, size: 0 });
    await refused(() => ce.addFile({ project: 'shop', name: 'cfg', file: file(0o755) }), 'PERMISSION_DENIED', /file \/usr\/local\/bin\/node/);
    await refused(() => ce.addFile({ project: 'shop', name: 'cfg', file: file(0o644) }), 'PERMISSION_DENIED');
    expect(await codeOf(editor.addFile({ project: 'shop', name: 'cfg', file: file(0o644) }))).toBe('OK');
    await refused(() => grpcCall(ceClients.groups, 'removeFile', { project: 'shop', name: 'cfg', path: '/usr/local/bin/node', expectedRevision: 0 }), 'PERMISSION_DENIED');
  });

  it('rollback: refused when it would change an execution-controlling key, allowed when it leaves them alone', async () => {
    await admin.createGroup({ project: 'shop', name: 'rb', type: CONFIG, variables: { A: '1' } }); // r1
    await editor.setVars('shop', 'rb', { NODE_OPTIONS: '--require /opt/apm.js' }); // r2
    await ce.setVars('shop', 'rb', { A: '2' }); // r3
    await refused(() => ce.rollback({ project: 'shop', name: 'rb', toRevision: 1 }), 'PERMISSION_DENIED', /NODE_OPTIONS/);
    expect(await codeOf(ce.rollback({ project: 'shop', name: 'rb', toRevision: 2 }))).toBe('OK');
    expect(await codeOf(editor.rollback({ project: 'shop', name: 'rb', toRevision: 1 }))).toBe('OK'); // r5: no NODE_OPTIONS
    // Back to a revision that holds NODE_OPTIONS: that sets it again.
    await refused(() => ce.rollback({ project: 'shop', name: 'rb', toRevision: 2 }), 'PERMISSION_DENIED', /NODE_OPTIONS/);
  });

  it('in a secret group nothing changes: its writers already hold write on secret groups', async () => {
    expect(await codeOf(editor.setVars('shop', 'vault', { LD_LIBRARY_PATH: '/opt/lib' }))).toBe('OK');
    await refused(() => ce.setVars('shop', 'vault', { LOG: 'x' }), 'PERMISSION_DENIED');
  });
});

describe('PreviewChange is no oracle for values the caller cannot read', () => {
  /** A viewer previews creating a priority-100 config group that sets the guess. */
  const guess = (variables: Record<string, string>) =>
    viewer.preview({ createGroup: { project: 'shop', name: 'guess', type: CONFIG, priority: 100, variables } });

  it.each([
    ['a secret group variable', 'STRIPE_KEY', SECRET],
    ['an addon password', 'DB_PASSWORD', DB_PASSWORD],
    ['a workload variable', 'W_TOKEN', SECRET],
  ])('%s: the answer is identical whether the guess is right or wrong', async (_what, key, value) => {
    const right = await guess({ [key]: value });
    const wrong = await guess({ [key]: 'wrong-guess' });
    expect(right).toEqual(wrong);
    expect(JSON.stringify(right)).not.toContain(value);
  });

  it('a secret file content: the answer is identical whether the guess is right or wrong', async () => {
    await admin.createGroup({ project: 'shop', name: 'files-cfg', type: CONFIG, priority: 100 });
    const preview = (content: string) =>
      viewer.preview({ addFile: { project: 'shop', name: 'files-cfg', file: { path: '/etc/shop/key.pem', content: Buffer.from(content), mode: 0o600, size: 0 } } });
    const right = await preview(KEY_PEM);
    const wrong = await preview('wrong');
    expect(right).toEqual(wrong);
    expect(right.changes.find((c) => c.workload === 'api')!.changedFiles).toEqual(['/etc/shop/key.pem']);
  });

  it('an administrator still sees that a right guess changes nothing (the masking is for callers who cannot read)', async () => {
    const res = await admin.preview({ createGroup: { project: 'shop', name: 'guess', type: CONFIG, priority: 100, variables: { STRIPE_KEY: SECRET } } });
    expect(res.changes.flatMap((c) => c.changedKeys)).not.toContain('STRIPE_KEY');
  });
});

describe('default group type', () => {
  it('a group created without a type is secret; config must be asked for', async () => {
    await admin.createGroup({ project: 'shop', name: 'untyped', variables: { TOKEN: SECRET } });
    expect((await admin.getGroup('shop', 'untyped')).group!.type).toBe(SECRET_TYPE);
    const seen = (await viewer.getGroup('shop', 'untyped')).group!;
    expect(seen.valuesRedacted).toBe(true);
    expect(JSON.stringify(seen)).not.toContain(SECRET);
    await refused(() => ce.createGroup({ project: 'shop', name: 'untyped-ce', variables: { A: '1' } }), 'PERMISSION_DENIED');
    expect(await codeOf(ce.createGroup({ project: 'shop', name: 'typed-ce', type: CONFIG, variables: { A: '1' } }))).toBe('OK');
  });
});
