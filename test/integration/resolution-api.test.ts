/** The secret-groups model end to end through the gRPC API (grpc-js client, real server). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupType, Scope } from '../../gen/secretgroups/v1/resources.js';
import { api, vars } from '../helpers/api.js';
import { codeOf, startTestServer, type TestServer } from '../helpers/in-process.js';

let t: TestServer;
let a: ReturnType<typeof api>;
beforeAll(async () => {
  t = await startTestServer();
  a = api(t.admin);
});
afterAll(() => t.stop());

let n = 0;
/** A fresh project per test, so cases stay independent. */
async function project(): Promise<string> {
  const name = `p${++n}`;
  await a.createProject(name);
  return name;
}

describe('resolution through the API', () => {
  it("reproduces the seed's example: KEY_1 and KEY_2 from A (50), KEY_3 from B (20)", async () => {
    const p = await project();
    await a.createWorkload({ project: p, name: 'api' });
    await a.createGroup({ project: p, name: 'a', priority: 50, variables: { KEY_1: 'a1', KEY_2: 'a2' } });
    await a.createGroup({ project: p, name: 'b', priority: 20, variables: { KEY_1: 'b1', KEY_2: 'b2', KEY_3: 'b3' } });
    expect(await vars(a.resolve(p, 'api'))).toEqual({ KEY_1: 'a1', KEY_2: 'a2', KEY_3: 'b3' });
    const ex = await a.explain(p, 'api');
    const winner = Object.fromEntries(ex.variables.map((v) => [v.key, v.winner!.group]));
    expect(winner).toEqual({ KEY_1: 'a', KEY_2: 'a', KEY_3: 'b' });
    expect(ex.variables.find((v) => v.key === 'KEY_1')!.shadowed.map((s) => s.group)).toEqual(['b']);
  });

  it("a workload's own variables override every group, per scope", async () => {
    const p = await project();
    await a.createWorkload({ project: p, name: 'api', runtimeVariables: { K: 'own' }, buildArguments: { B: 'own-build' } });
    await a.createGroup({ project: p, name: 'g', priority: 100, variables: { K: 'group', B: 'group' } });
    expect(await vars(a.resolve(p, 'api'))).toEqual({ K: 'own', B: 'group' });
    expect(await vars(a.resolve(p, 'api', Scope.SCOPE_BUILD))).toEqual({ K: 'group', B: 'own-build' });
  });

  it('restrictions reach named workloads and tagged workloads (union); scope filters groups', async () => {
    const p = await project();
    await a.createWorkload({ project: p, name: 'api', tags: ['web'] });
    await a.createWorkload({ project: p, name: 'worker', tags: ['batch'] });
    await a.createWorkload({ project: p, name: 'cron', kind: 2 });
    await a.createGroup({ project: p, name: 'r', restrictions: { restricted: true, workloads: ['cron'], tags: ['web'] }, variables: { R: '1' } });
    await a.createGroup({ project: p, name: 'b', scope: Scope.SCOPE_BUILD, variables: { BUILD_ONLY: '1' } });
    expect(await vars(a.resolve(p, 'api'))).toEqual({ R: '1' });
    expect(await vars(a.resolve(p, 'cron'))).toEqual({ R: '1' });
    expect(await vars(a.resolve(p, 'worker'))).toEqual({});
    expect(await vars(a.resolve(p, 'worker', Scope.SCOPE_BUILD))).toEqual({ BUILD_ONLY: '1' });
  });

  it('equal priority: the lexically first group wins and the conflict is reported', async () => {
    const p = await project();
    await a.createWorkload({ project: p, name: 'api' });
    await a.createGroup({ project: p, name: 'zeta', priority: 10, variables: { K: 'z' } });
    await a.createGroup({ project: p, name: 'alpha', priority: 10, variables: { K: 'a' } });
    const r = (await a.resolve(p, 'api')).resolution!;
    expect(r.variables).toEqual({ K: 'a' });
    expect(r.conflicts).toEqual([{ key: 'K', priority: 10, groups: ['alpha', 'zeta'], winner: 'alpha' }]);
  });

  it('templates expand within a group, and addon rotation flows through linked aliases', async () => {
    const p = await project();
    await a.createWorkload({ project: p, name: 'api' });
    await a.createAddon({ project: p, name: 'main-db', type: 'postgresql', connectionDetails: { host: 'h1', password: 'pw1' } });
    // A template naming a key that is not (yet) linked is refused at save time.
    expect(await codeOf(a.createGroup({ project: p, name: 'db', variables: { URL: '${HOST}' } }))).toBe('INVALID_ARGUMENT');
    await a.createGroup({ project: p, name: 'db', variables: { LIT: '$${NOT}' } });
    await a.link({ project: p, name: 'db', addon: 'main-db', keys: [{ key: 'host', alias: 'HOST' }, { key: 'password', alias: '' }] });
    await a.setVars(p, 'db', { DATABASE_URL: 'postgres://app:${MAIN_DB_PASSWORD}@${HOST}/app' });
    expect(await vars(a.resolve(p, 'api'))).toEqual({
      DATABASE_URL: 'postgres://app:pw1@h1/app',
      HOST: 'h1',
      MAIN_DB_PASSWORD: 'pw1',
      LIT: '${NOT}',
    });
    const before = (await a.resolve(p, 'api')).resolution!.etag;
    await a.updateAddon({ project: p, name: 'main-db', connectionDetails: { host: 'h2', password: 'pw2' } });
    const after = (await a.resolve(p, 'api')).resolution!;
    expect(after.variables.DATABASE_URL).toBe('postgres://app:pw2@h2/app');
    expect(after.etag).not.toBe(before);
    // Rotation that drops a key a template needs is refused, and so is deleting a linked addon.
    expect(await codeOf(a.updateAddon({ project: p, name: 'main-db', connectionDetails: { host: 'h3' } }))).toBe('FAILED_PRECONDITION');
    expect(await codeOf(a.deleteAddon(p, 'main-db'))).toBe('FAILED_PRECONDITION');
  });

  it('secret files merge by path by priority', async () => {
    const p = await project();
    await a.createWorkload({ project: p, name: 'api' });
    await a.createGroup({ project: p, name: 'hi', priority: 60 });
    await a.createGroup({ project: p, name: 'lo', priority: 10 });
    await a.addFile({ project: p, name: 'hi', file: { path: '/etc/tls/key.pem', content: Buffer.from('HIGH'), mode: 0o640 } });
    await a.addFile({ project: p, name: 'lo', file: { path: '/etc/tls/key.pem', content: Buffer.from('LOW') } });
    await a.addFile({ project: p, name: 'lo', file: { path: '/etc/ca.pem', content: Buffer.from([0, 255, 1]) } });
    const files = (await a.resolve(p, 'api')).resolution!.files;
    expect(files.map((f) => [f.path, Buffer.from(f.content).toString('hex'), f.mode])).toEqual([
      ['/etc/ca.pem', '00ff01', 0o600],
      ['/etc/tls/key.pem', Buffer.from('HIGH').toString('hex'), 0o640],
    ]);
  });

  it('keeps the history of every change and rolls back to an earlier revision', async () => {
    const p = await project();
    await a.createWorkload({ project: p, name: 'api' });
    await a.createGroup({ project: p, name: 'g', variables: { A: '1' } });
    await a.setVars(p, 'g', { A: '2', B: '2' });
    await a.unsetVars(p, 'g', ['B']);
    const hist = (await a.history(p, 'g')).revisions;
    expect(hist.map((h) => [h.revision, h.action, h.changedKeys])).toEqual([
      [1, 'CreateGroup', ['A']],
      [2, 'SetVariables', ['A', 'B']],
      [3, 'UnsetVariables', ['B']],
    ]);
    await a.rollback({ project: p, name: 'g', toRevision: 1 });
    const g = (await a.getGroup(p, 'g')).group!;
    expect(g.variables).toEqual({ A: '1' });
    expect(g.revision).toBe(4);
    expect(await vars(a.resolve(p, 'api'))).toEqual({ A: '1' });
  });

  it('a stale expected_revision is ABORTED, names the current revision and changes nothing', async () => {
    const p = await project();
    await a.createGroup({ project: p, name: 'g', variables: { A: '1' } });
    await a.setVars(p, 'g', { A: '2' }, 1);
    const err = await a.setVars(p, 'g', { A: 'lost' }, 1).catch((e: Error) => e);
    expect(String(err)).toMatch(/ABORTED.*revision 2/);
    expect((await a.getGroup(p, 'g')).group!.variables).toEqual({ A: '2' });
  });

  it('8 concurrent writers without expected_revision lose no update', async () => {
    const p = await project();
    await a.createGroup({ project: p, name: 'g' });
    await Promise.all(Array.from({ length: 8 }, (_, i) => Promise.all(Array.from({ length: 5 }, (_, j) => a.setVars(p, 'g', { [`K_${i}_${j}`]: `${i}.${j}` })))));
    const g = (await a.getGroup(p, 'g')).group!;
    expect(Object.keys(g.variables)).toHaveLength(40);
    expect(g.revision).toBe(41);
  });

  it('PreviewChange lists affected workloads and keys, never values, and writes nothing', async () => {
    const p = await project();
    await a.createWorkload({ project: p, name: 'api', tags: ['web'] });
    await a.createWorkload({ project: p, name: 'worker' });
    await a.createGroup({ project: p, name: 'g', restrictions: { restricted: true, tags: ['web'] }, variables: { A: '1' } });
    const res = await a.preview({ setVariables: { project: p, name: 'g', variables: { A: 'CANARY-VALUE', NEW: 'CANARY-VALUE' } } });
    expect(res.changes.map((c) => [c.workload, c.scope, c.addedKeys, c.changedKeys])).toEqual([
      ['api', Scope.SCOPE_RUNTIME, ['NEW'], ['A']],
      ['api', Scope.SCOPE_BUILD, ['NEW'], ['A']],
    ]);
    expect(JSON.stringify(res)).not.toContain('CANARY-VALUE');
    expect((await a.getGroup(p, 'g')).group!.variables).toEqual({ A: '1' });
  });

  it('RestartDependents names the workloads whose runtime resolution includes the group', async () => {
    const p = await project();
    await a.createWorkload({ project: p, name: 'api', tags: ['web'] });
    await a.createWorkload({ project: p, name: 'worker' });
    await a.createGroup({ project: p, name: 'g', restrictions: { restricted: true, tags: ['web'] }, variables: { A: '1' } });
    const res = await a.restartDependents(p, 'g');
    expect(res).toEqual({ workloads: ['api'], delivered: 0 });
  });

  it('import merges or replaces, from .env and JSON', async () => {
    const p = await project();
    await a.createGroup({ project: p, name: 'g', variables: { OLD: '1' } });
    await a.importVars({ project: p, name: 'g', format: 1, content: 'A=1\nexport B="two words"\n# comment\nC=\'x#y\'\n' });
    expect((await a.getGroup(p, 'g')).group!.variables).toEqual({ OLD: '1', A: '1', B: 'two words', C: 'x#y' });
    await a.importVars({ project: p, name: 'g', format: 2, content: '{"J":"json"}', replace: true });
    expect((await a.getGroup(p, 'g')).group!.variables).toEqual({ J: 'json' });
  });

  it('settings change type, scope, priority and restrictions', async () => {
    const p = await project();
    await a.createWorkload({ project: p, name: 'api' });
    await a.createWorkload({ project: p, name: 'other' });
    await a.createGroup({ project: p, name: 'g', variables: { A: '1' } });
    await a.settings({ project: p, name: 'g', type: GroupType.GROUP_TYPE_SECRET, scope: Scope.SCOPE_BUILD, priority: 77 });
    const g = (await a.getGroup(p, 'g')).group!;
    expect([g.type, g.scope, g.priority]).toEqual([GroupType.GROUP_TYPE_SECRET, Scope.SCOPE_BUILD, 77]);
    expect(await vars(a.resolve(p, 'api'))).toEqual({});
    await a.settings({ project: p, name: 'g', scope: Scope.SCOPE_BOTH, restrictions: { restricted: true, workloads: ['other'], tags: [] } });
    expect(await vars(a.resolve(p, 'api'))).toEqual({});
    await a.settings({ project: p, name: 'g', restrictions: { restricted: false, workloads: [], tags: [] } });
    expect(await vars(a.resolve(p, 'api'))).toEqual({ A: '1' });
  });
});
