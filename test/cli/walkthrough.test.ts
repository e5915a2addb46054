/**
 * The README walkthrough and every command form, through the real `sg` against a real server
 * started with `sg serve`.
 */
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../cli/errors.js';
import { ROOT, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { runner, type Runner } from './harness.js';

let server: ServerProcess;
let sg: Runner;
let dir: string;

beforeAll(async () => {
  server = await startServerProcess();
  sg = runner(server);
  dir = mkdtempSync(join(tmpdir(), 'sg-cli-'));
});

afterAll(async () => {
  await server?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface GroupJson {
  name: string;
  type: string;
  scope: string;
  priority: number;
  description: string;
  restrictions: { restricted: boolean; workloads: string[]; tags: string[] };
  variables: Record<string, string | null>;
  files: Array<{ path: string; mode: string; size: number; contentBase64: string | null }>;
  addonLinks: Array<{ addon: string; keys: Array<{ key: string; alias: string }> }>;
  revision: number;
  valuesRedacted: boolean;
}

interface ResolutionJson {
  variables: Record<string, string>;
  files: Array<{ path: string; mode: string; contentBase64: string }>;
  provenance?: { variables: Array<{ key: string; winner: { group: string | null; kind: string }; shadowed: Array<{ group: string }> }> };
}

const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('README walkthrough: the seed example', () => {
  it('A (50) and B (20): KEY_1 and KEY_2 from A, KEY_3 from B', async () => {
    expect(await sg.ok(['project', 'create', 'shop'])).toBe('Created project shop\n');
    await sg.ok(['workload', 'create', 'shop', 'api', '--kind', 'service', '--tag', 'web', '--var', 'PORT=8080', '--build-arg', 'NODE_ENV=production']);
    await sg.ok(['group', 'create', 'shop', 'a', '--type', 'config', '--scope', 'both', '--priority', '50']);
    await sg.ok(['group', 'set', 'shop', 'a', 'KEY_1=a1', 'KEY_2=a2']);
    await sg.ok(['group', 'create', 'shop', 'b', '--priority', '20']);
    await sg.ok(['group', 'set', 'shop', 'b', 'KEY_1=b1', 'KEY_2=b2', 'KEY_3=b3']);

    const res = await sg.json<ResolutionJson>(['resolve', 'shop', 'api']);
    expect(res.variables).toEqual({ KEY_1: 'a1', KEY_2: 'a2', KEY_3: 'b3', PORT: '8080' });

    // Human output masks values unless asked: a resolution holds secrets.
    const masked = await sg.ok(['resolve', 'shop', 'api']);
    expect(masked).toMatch(/^KEY_3\s+\*{8}$/m);
    expect(masked).not.toMatch(/b3/);
    const human = await sg.ok(['resolve', 'shop', 'api', '--show-values']);
    expect(human).toMatch(/^KEY\s+VALUE$/m);
    expect(human).toMatch(/^KEY_3\s+b3$/m);
    expect(await sg.ok(['resolve', 'shop', 'api', '--format', 'dotenv'])).toMatch(/^KEY_3=['"]?b3['"]?$/m);

    const explained = await sg.ok(['resolve', 'shop', 'api', '--explain', '--show-values']);
    expect(explained).toMatch(/^KEY_1\s+a1\s+group a \(50\)\s+group b \(20\)$/m);
    expect(explained).toMatch(/^KEY_2\s+a2\s+group a \(50\)\s+group b \(20\)$/m);
    expect(explained).toMatch(/^KEY_3\s+b3\s+group b \(20\)\s+-$/m);
    expect(explained).toMatch(/^PORT\s+8080\s+workload\s+-$/m);

    const ej = await sg.json<ResolutionJson>(['resolve', 'shop', 'api', '--explain']);
    const k1 = ej.provenance!.variables.find((p) => p.key === 'KEY_1')!;
    expect(k1.winner.group).toBe('a');
    expect(k1.shadowed.map((s) => s.group)).toEqual(['b']);

    const build = await sg.json<ResolutionJson>(['resolve', 'shop', 'api', '--scope', 'build']);
    expect(build.variables).toEqual({ KEY_1: 'a1', KEY_2: 'a2', KEY_3: 'b3', NODE_ENV: 'production' });

    const explain = await sg.ok(['explain', 'shop', 'api']);
    expect(explain).toMatch(/^KEY_3\s+group b \(20\)\s+-\s+no$/m);
    expect(explain).not.toContain('a1');
    const explainJson = await sg.json<{ variables: Array<{ key: string }> }>(['explain', 'shop', 'api']);
    expect(explainJson.variables.map((v) => v.key)).toEqual(['KEY_1', 'KEY_2', 'KEY_3', 'PORT']);
  });

  it('group get --json prints one object whose "variables" maps keys to values', async () => {
    const g = await sg.json<GroupJson>(['group', 'get', 'shop', 'a']);
    expect(g).toMatchObject({ name: 'a', type: 'config', scope: 'both', priority: 50, valuesRedacted: false });
    expect(g.variables).toEqual({ KEY_1: 'a1', KEY_2: 'a2' });
    const human = await sg.ok(['group', 'get', 'shop', 'a']);
    expect(human).toMatch(/^Priority\s+50$/m);
    expect(human).toMatch(/^KEY_1\s+a1$/m);
  });

  it('group list, project get/list', async () => {
    const list = await sg.json<{ groups: GroupJson[] }>(['group', 'list', 'shop']);
    expect(list.groups.map((g) => [g.name, g.priority])).toEqual([['a', 50], ['b', 20]]);
    expect(await sg.ok(['group', 'list', 'shop'])).toMatch(/^a\s+config\s+both\s+50\s+no\s+2\s+0\s+-\s+2$/m);
    expect(await sg.json(['project', 'get', 'shop'])).toMatchObject({ name: 'shop' });
    expect((await sg.json<{ projects: Array<{ name: string }> }>(['project', 'list'])).projects.map((p) => p.name)).toContain('shop');
  });
});

describe('groups', () => {
  it('secret groups are masked in tables unless --show-values; --json carries the values (docs/architecture.md, values in client output)', async () => {
    await sg.ok(['group', 'create', 'shop', 'creds', '--type', 'secret', '--priority', '10', '--description', 'db creds', '--var', 'DB_PASSWORD=hunter2']);
    const human = await sg.ok(['group', 'get', 'shop', 'creds']);
    expect(human).not.toContain('hunter2');
    expect(human).toMatch(/^DB_PASSWORD\s+\*{8}$/m);
    expect(await sg.ok(['group', 'get', 'shop', 'creds', '--show-values'])).toMatch(/^DB_PASSWORD\s+hunter2$/m);
    // One rule for every --json: the values the token may read, --show-values or not.
    const g = await sg.json<GroupJson>(['group', 'get', 'shop', 'creds']);
    expect(g.variables).toEqual({ DB_PASSWORD: 'hunter2' });
    expect(g.valuesRedacted).toBe(false);
    expect(await sg.json<GroupJson>(['group', 'get', 'shop', 'creds', '--show-values'])).toEqual(g);
    expect((await sg.json<GroupJson>(['group', 'set', 'shop', 'creds', 'DB_PASSWORD=hunter3'])).variables).toEqual({ DB_PASSWORD: 'hunter3' });
    expect(await sg.ok(['group', 'set', 'shop', 'creds', 'DB_PASSWORD=hunter2'])).not.toContain('hunter');
    expect(JSON.stringify(await sg.json(['group', 'history', 'shop', 'creds']))).toContain('hunter3');
  });

  it('set keeps "=" in values and unset removes keys', async () => {
    const g = await sg.json<GroupJson>(['group', 'set', 'shop', 'b', 'URL=postgres://h/db?a=b', 'TPL=${URL}/x']);
    expect(g.variables.URL).toBe('postgres://h/db?a=b');
    expect((await sg.json<ResolutionJson>(['resolve', 'shop', 'api'])).variables.TPL).toBe('postgres://h/db?a=b/x');
    const after = await sg.json<GroupJson>(['group', 'unset', 'shop', 'b', 'URL', 'TPL']);
    expect(Object.keys(after.variables)).toEqual(['KEY_1', 'KEY_2', 'KEY_3']);
  });

  it('import: .env by default, JSON by extension or --format, stdin with "-", --replace', async () => {
    await sg.ok(['group', 'create', 'shop', 'imp']);
    const env = file('vars.env', '# comment\nA=1\nB="two words"\nexport C=3\n');
    const r1 = await sg.json<{ imported: number; group: GroupJson }>(['group', 'import', 'shop', 'imp', env]);
    expect(r1.imported).toBe(3);
    expect(r1.group.variables).toEqual({ A: '1', B: 'two words', C: '3' });
    const js = file('vars.json', '{"D":"4"}');
    expect((await sg.json<{ group: GroupJson }>(['group', 'import', 'shop', 'imp', js])).group.variables).toEqual({ A: '1', B: 'two words', C: '3', D: '4' });
    const odd = file('vars.txt', '{"E":"5"}');
    expect((await sg.json<{ group: GroupJson }>(['group', 'import', 'shop', 'imp', odd, '--format', 'json'])).group.variables.E).toBe('5');
    const replaced = await sg.json<{ group: GroupJson }>(['group', 'import', 'shop', 'imp', '-', '--replace'], { input: 'ONLY=x\n' });
    expect(replaced.group.variables).toEqual({ ONLY: 'x' });
    expect(await sg.ok(['group', 'import', 'shop', 'imp', '-', '--format', 'json'], { input: '{"Z":"z"}' })).toMatch(/^Imported 1 variable\(s\)$/m);
  });

  it('settings, restrict and unrestrict', async () => {
    await sg.ok(['workload', 'create', 'shop', 'worker', '--kind', 'job', '--tag', 'batch']);
    const s = await sg.json<GroupJson>(['group', 'settings', 'shop', 'imp', '--priority', '5', '--scope', 'runtime', '--type', 'secret', '--description', 'imported']);
    expect(s).toMatchObject({ priority: 5, scope: 'runtime', type: 'secret', description: 'imported' });
    const r = await sg.json<GroupJson>(['group', 'restrict', 'shop', 'imp', '--workload', 'worker']);
    expect(r.restrictions).toEqual({ restricted: true, workloads: ['worker'], tags: [] });
    expect((await sg.json<ResolutionJson>(['resolve', 'shop', 'api'])).variables).not.toHaveProperty('ONLY');
    expect((await sg.json<ResolutionJson>(['resolve', 'shop', 'worker'])).variables).toHaveProperty('ONLY', 'x');
    const r2 = await sg.json<GroupJson>(['group', 'restrict', 'shop', 'imp', '--tag', 'web']);
    expect(r2.restrictions).toEqual({ restricted: true, workloads: ['worker'], tags: ['web'] });
    expect((await sg.json<ResolutionJson>(['resolve', 'shop', 'api'])).variables).toHaveProperty('ONLY', 'x');
    const u = await sg.json<GroupJson>(['group', 'unrestrict', 'shop', 'imp', '--workload', 'worker']);
    expect(u.restrictions).toEqual({ restricted: true, workloads: [], tags: ['web'] });
    expect(await sg.ok(['group', 'get', 'shop', 'imp'])).toMatch(/^Restricted\s+yes: tags web$/m);
    const all = await sg.json<GroupJson>(['group', 'unrestrict', 'shop', 'imp']);
    expect(all.restrictions).toEqual({ restricted: false, workloads: [], tags: [] });
  });

  it('group create with --workload/--tag restricts to their union', async () => {
    const r = await sg.raw(['group', 'create', 'shop', 'jobs', '--scope', 'runtime', '--priority', '90', '--workload', 'worker', '--tag', 'nothing', '--var', 'JOB_ONLY=1', '--json']);
    expect(r.code).toBe(0);
    // A tag no workload carries yet is accepted (declared ahead) with a warning naming who is reached.
    expect(r.stderr).toBe('sg: warning: tag nothing is carried by no workload yet; group shop/jobs reaches worker\n');
    const g = JSON.parse(r.stdout) as GroupJson;
    expect(g.restrictions).toEqual({ restricted: true, workloads: ['worker'], tags: ['nothing'] });
    expect((await sg.json<ResolutionJson>(['resolve', 'shop', 'worker'])).variables).toHaveProperty('JOB_ONLY', '1');
    expect((await sg.json<ResolutionJson>(['resolve', 'shop', 'api'])).variables).not.toHaveProperty('JOB_ONLY');
  });

  it('secret files: add with --mode, resolve carries them, rm removes them', async () => {
    const local = file('key.pem', '-----BEGIN KEY-----\n');
    const g = await sg.json<GroupJson>(['group', 'file', 'add', 'shop', 'a', '/etc/tls/key.pem', '--from', local, '--mode', '0640']);
    expect(g.files).toEqual([{ path: '/etc/tls/key.pem', mode: '0640', size: 20, contentBase64: Buffer.from('-----BEGIN KEY-----\n').toString('base64') }]);
    const res = await sg.json<ResolutionJson>(['resolve', 'shop', 'api']);
    expect(res.files.map((f) => [f.path, f.mode, Buffer.from(f.contentBase64, 'base64').toString()])).toEqual([['/etc/tls/key.pem', '0640', '-----BEGIN KEY-----\n']]);
    expect(await sg.ok(['resolve', 'shop', 'api', '--explain', '--show-values'])).toMatch(/^\/etc\/tls\/key\.pem\s+0640\s+20\s+group a \(50\)\s+-$/m);
    await sg.ok(['group', 'file', 'add', 'shop', 'a', '/etc/app.conf', '--from', '-'], { input: 'x=1\n' });
    const removed = await sg.json<GroupJson>(['group', 'file', 'rm', 'shop', 'a', '/etc/tls/key.pem']);
    expect(removed.files.map((f) => f.path)).toEqual(['/etc/app.conf']);
  });

  it('history, rollback, and --expected-revision', async () => {
    const before = await sg.json<GroupJson>(['group', 'get', 'shop', 'b']);
    const hist = await sg.json<{ revisions: Array<{ revision: number; action: string; changedKeys: string[] }> }>(['group', 'history', 'shop', 'b']);
    expect(hist.revisions[0]).toMatchObject({ revision: 1, action: 'CreateGroup' });
    expect(hist.revisions[1]).toMatchObject({ revision: 2, action: 'SetVariables', changedKeys: ['KEY_1', 'KEY_2', 'KEY_3'] });
    expect(await sg.ok(['group', 'history', 'shop', 'b'])).toMatch(/^2\s+\S+\s+\S+\s+Set variables: KEY_1, KEY_2, KEY_3$/m);

    const stale = await sg.fails(['group', 'set', 'shop', 'b', 'X=1', '--expected-revision', String(before.revision - 1)], { exitCode: EXIT.server });
    expect(stale).toMatch(/^ABORTED: /);
    const fresh = await sg.json<GroupJson>(['group', 'set', 'shop', 'b', 'X=1', '--expected-revision', String(before.revision)]);
    expect(fresh.revision).toBe(before.revision + 1);

    const rolled = await sg.json<GroupJson>(['group', 'rollback', 'shop', 'b', '2', '--expected-revision', String(fresh.revision)]);
    expect(rolled.revision).toBe(fresh.revision + 1);
    expect(rolled.variables).toEqual({ KEY_1: 'b1', KEY_2: 'b2', KEY_3: 'b3' });
    expect(await sg.fails(['group', 'settings', 'shop', 'b', '--priority', '21', '--expected-revision', '1'])).toMatch(/^ABORTED: /);
    expect(await sg.fails(['group', 'delete', 'shop', 'b', '--expected-revision', '1'])).toMatch(/^ABORTED: /);
  });

  it('preview: which workloads would change and which keys, changing nothing', async () => {
    const before = await sg.json<GroupJson>(['group', 'get', 'shop', 'b']);
    const p = await sg.json<{ changes: Array<{ workload: string; scope: string; changedKeys: string[]; addedKeys: string[] }> }>([
      'group', 'preview', 'shop', 'b', '--priority', '60',
    ]);
    expect(p.changes).toContainEqual(expect.objectContaining({ workload: 'api', scope: 'runtime', changedKeys: ['KEY_1', 'KEY_2'] }));
    const set = await sg.ok(['group', 'preview', 'shop', 'b', '--set', 'NEW=1']);
    expect(set).toMatch(/^api\s+runtime\s+NEW\s+-\s+-\s+-$/m);
    expect(await sg.ok(['group', 'preview', 'shop', 'b', '--set', 'KEY_1=same-as-shadowed'])).toBe("No workload's resolution would change.\n");
    const del = await sg.json<{ changes: Array<{ workload: string; removedKeys: string[] }> }>(['group', 'preview', 'shop', 'b', '--delete']);
    expect(del.changes).toContainEqual(expect.objectContaining({ workload: 'api', removedKeys: ['KEY_3'] }));
    await sg.ok(['group', 'preview', 'shop', 'new', '--create', '--priority', '99', '--set', 'KEY_1=n']);
    await sg.ok(['group', 'preview', 'shop', 'b', '--rollback', '1']);
    await sg.ok(['group', 'preview', 'shop', 'b', '--import', '-', '--replace'], { input: 'K=v\n' });
    await sg.ok(['group', 'preview', 'shop', 'b', '--unrestrict']);
    await sg.ok(['group', 'preview', 'shop', 'b', '--workload', 'worker']);
    const several = await sg.fails(['group', 'preview', 'shop', 'b', '--set', 'A=1', '--delete'], { exitCode: EXIT.usage });
    expect(several).toContain('one change at a time');
    expect(await sg.json<GroupJson>(['group', 'get', 'shop', 'b'])).toEqual(before);
  });

  it('restart-dependents names the workloads', async () => {
    const r = await sg.json<{ workloads: string[]; delivered: number }>(['group', 'restart-dependents', 'shop', 'a']);
    expect(r.workloads).toEqual(['api', 'worker']);
    expect(r.delivered).toBe(0);
    expect(await sg.ok(['group', 'restart-dependents', 'shop', 'a'])).toContain('Restart requested for 2 workload(s)');
  });

  it('delete', async () => {
    expect(await sg.ok(['group', 'delete', 'shop', 'jobs'])).toBe('Deleted group shop/jobs\nIt reached 1 workload(s): worker (runtime)\nUndo: sg group restore shop jobs\n');
    expect(await sg.fails(['group', 'get', 'shop', 'jobs'])).toBe('NOT_FOUND: group shop/jobs not found');
  });
});

describe('addons', () => {
  it('create, link with aliases, rotate through every dependent resolution, unlink, delete', async () => {
    const created = await sg.json<{ connectionDetails: Record<string, string> }>([
      'addon', 'create', 'shop', 'db', '--type', 'postgresql', '--detail', 'host=h1', '--detail', 'url=postgres://u:p@h1/db?sslmode=require',
    ]);
    expect(created.connectionDetails).toEqual({ host: 'h1', url: 'postgres://u:p@h1/db?sslmode=require' });
    expect(await sg.ok(['addon', 'get', 'shop', 'db'])).not.toContain('h1');
    expect(await sg.ok(['addon', 'get', 'shop', 'db', '--show-values'])).toMatch(/^host\s+h1$/m);
    expect(await sg.ok(['addon', 'list', 'shop'])).toMatch(/^db\s+postgresql\s+host, url\s+1$/m);

    const linked = await sg.json<GroupJson>(['group', 'link', 'shop', 'b', 'db', '--addon-key', 'host=DB_HOST', '--addon-key', 'url']);
    expect(linked.addonLinks).toEqual([{ addon: 'db', keys: [{ key: 'host', alias: 'DB_HOST' }, { key: 'url', alias: 'DB_URL' }] }]);
    expect((await sg.json<ResolutionJson>(['resolve', 'shop', 'api'])).variables).toMatchObject({ DB_HOST: 'h1' });

    const details = file('details.json', JSON.stringify({ host: 'h2', url: 'postgres://h2' }));
    const rotated = await sg.json<{ connectionDetails: Record<string, string>; revision: number }>(['addon', 'update', 'shop', 'db', '--details-file', details]);
    expect(rotated.connectionDetails).toEqual({ host: 'h2', url: 'postgres://h2' });
    expect((await sg.json<ResolutionJson>(['resolve', 'shop', 'api'])).variables).toMatchObject({ DB_HOST: 'h2', DB_URL: 'postgres://h2' });
    expect(await sg.ok(['resolve', 'shop', 'api', '--explain', '--show-values'])).toMatch(/^DB_HOST\s+h2\s+addon db via group b \(20\)\s+-$/m);

    expect(await sg.fails(['addon', 'delete', 'shop', 'db'])).toMatch(/^FAILED_PRECONDITION: /);
    await sg.ok(['group', 'link', 'shop', 'imp', 'db']);
    expect((await sg.json<GroupJson>(['group', 'get', 'shop', 'imp'])).addonLinks).toEqual([{ addon: 'db', keys: [] }]);
    await sg.ok(['group', 'unlink', 'shop', 'imp', 'db']);
    await sg.ok(['group', 'unlink', 'shop', 'b', 'db']);
    expect(await sg.fails(['addon', 'update', 'shop', 'db', '--detail', 'host=h3', '--expected-revision', '1'])).toMatch(/^ABORTED: /);
    expect(await sg.json(['addon', 'delete', 'shop', 'db', '--expected-revision', String(rotated.revision)])).toEqual({ deleted: true, project: 'shop', addon: 'db' });
  });
});

describe('workloads', () => {
  it('get masks own variables unless --show-values; update tags, variables, kind; delete', async () => {
    const human = await sg.ok(['workload', 'get', 'shop', 'api']);
    expect(human).toMatch(/^PORT\s+\*{8}$/m);
    expect(await sg.ok(['workload', 'get', 'shop', 'api', '--show-values'])).toMatch(/^PORT\s+8080$/m);
    const w = await sg.json<{ tags: string[]; runtimeVariables: Record<string, string>; buildArguments: Record<string, string>; kind: string; revision: number }>([
      'workload', 'update', 'shop', 'api', '--tag', 'blue', '--var', 'PORT=9090', '--var', 'X=a=b', '--unset-build-arg', 'NODE_ENV', '--build-arg', 'V=1',
    ]);
    expect(w.tags).toEqual(['blue', 'web']);
    expect(w.runtimeVariables).toEqual({ PORT: '9090', X: 'a=b' });
    expect(w.buildArguments).toEqual({ V: '1' });
    const w2 = await sg.json<{ tags: string[]; kind: string; runtimeVariables: Record<string, string> }>([
      'workload', 'update', 'shop', 'api', '--replace-tags', '--tag', 'web', '--unset-var', 'X', '--kind', 'job', '--expected-revision', String(w.revision),
    ]);
    expect(w2).toMatchObject({ tags: ['web'], kind: 'job', runtimeVariables: { PORT: '9090' } });
    expect(await sg.ok(['workload', 'list', 'shop'])).toMatch(/^api\s+job\s+web\s+1\s+1\s+3$/m);
    await sg.ok(['workload', 'create', 'shop', 'tmp']);
    expect(await sg.ok(['workload', 'delete', 'shop', 'tmp'])).toBe('Deleted workload shop/tmp\n');
    expect(await sg.fails(['workload', 'update', 'shop', 'api'], { exitCode: EXIT.usage })).toContain('nothing to update');
  });
});

describe('tokens and roles', () => {
  it('token create prints the token alone; config-editor sees keys of secret groups only (null in --json)', async () => {
    const out = await sg.ok(['token', 'create', '--role', 'config-editor', '--project', 'shop', '--name', 'ce', '--ttl', '1h']);
    expect(out).toMatch(/^\S+\n$/);
    const token = out.trim();
    const env = { SG_TOKEN: token };
    const g = await sg.json<GroupJson>(['group', 'get', 'shop', 'creds'], { env });
    expect(g.variables).toEqual({ DB_PASSWORD: null });
    expect(g.valuesRedacted).toBe(true);
    const human = await sg.ok(['group', 'get', 'shop', 'creds', '--show-values'], { env });
    expect(human).toMatch(/^DB_PASSWORD\s+\(hidden\)$/m);
    expect(human).not.toContain('hunter2');
    // Config groups stay readable and writable.
    expect((await sg.json<GroupJson>(['group', 'get', 'shop', 'a'], { env })).variables.KEY_1).toBe('a1');
    await sg.ok(['group', 'set', 'shop', 'a', 'FROM_CE=1'], { env });
    expect(await sg.fails(['group', 'set', 'shop', 'creds', 'X=1'], { env, exitCode: EXIT.server })).toMatch(/^PERMISSION_DENIED: /);

    const me = await sg.json<{ role: string; projects: string[]; name: string; id: string }>(['whoami'], { env });
    expect(me).toMatchObject({ role: 'config-editor', projects: ['shop'], name: 'ce' });
    const list = await sg.json<{ tokens: Array<{ id: string; role: string; revoked: boolean }> }>(['token', 'list']);
    expect(list.tokens.find((t) => t.id === me.id)).toMatchObject({ role: 'config-editor', revoked: false });
    expect(await sg.ok(['token', 'list'])).toMatch(new RegExp(`^${me.id}\\s+ce\\s+config-editor\\s+shop\\s+-`, 'm'));

    expect(await sg.ok(['token', 'revoke', me.id])).toBe(`Revoked token ${me.id}\n`);
    expect(await sg.fails(['whoami'], { env, exitCode: EXIT.auth })).toMatch(/^UNAUTHENTICATED: .*\(check SG_TOKEN\)$/);
  });

  it('a workload token resolves only its own workload', async () => {
    const token = (await sg.ok(['token', 'create', '--workload', 'shop/worker'])).trim();
    const env = { SG_TOKEN: token };
    expect((await sg.json<ResolutionJson>(['resolve', 'shop', 'worker'], { env })).variables).toHaveProperty('ONLY');
    expect(await sg.fails(['resolve', 'shop', 'api'], { env, exitCode: EXIT.server })).toMatch(/^PERMISSION_DENIED: /);
    expect(await sg.fails(['resolve', 'shop', 'worker', '--scope', 'build'], { env })).toMatch(/^PERMISSION_DENIED: /);
    const withBuild = (await sg.ok(['token', 'create', '--workload', 'shop/worker', '--build'])).trim();
    await sg.ok(['resolve', 'shop', 'worker', '--scope', 'build'], { env: { SG_TOKEN: withBuild } });
    const json = await sg.json<{ token: string; info: { workload: string; scopes: string[] } }>(['token', 'create', '--workload', 'shop/api']);
    expect(json.info).toMatchObject({ workload: 'shop/api', scopes: ['runtime'] });
  });

  it('role list', async () => {
    const roles = await sg.json<{ roles: Array<{ name: string; secret: string; config: string }> }>(['role', 'list']);
    expect(roles.roles).toContainEqual(expect.objectContaining({ name: 'config-editor', secret: 'keys', config: 'write' }));
    expect(await sg.ok(['role', 'list'])).toMatch(/^admin\s+write\s+write\s+yes\s+yes\s+yes\s+/m);
  });
});

describe('projects', () => {
  it('delete refuses a non-empty project unless --force', async () => {
    await sg.ok(['project', 'create', 'scratch']);
    await sg.ok(['group', 'create', 'scratch', 'g']);
    expect(await sg.fails(['project', 'delete', 'scratch'], { exitCode: EXIT.server })).toMatch(/^FAILED_PRECONDITION: /);
    expect(await sg.ok(['project', 'delete', 'scratch', '--force'])).toBe('Deleted project scratch\n');
    expect(await sg.fails(['project', 'get', 'scratch'])).toMatch(/^NOT_FOUND: /);
  });
});

describe('the command itself', () => {
  it('--help works for every command and prints to stdout', async () => {
    for (const args of [[], ['group'], ['group', 'file'], ['group', 'set'], ['group', 'preview'], ['token', 'create'], ['serve'], ['resolve']]) {
      const out = await sg.ok([...args, '--help']);
      expect(out).toMatch(/^Usage: sg/);
    }
    expect(await sg.ok(['--help'])).toContain('SG_TOKEN');
  });

  it('npm run --silent sg -- ARGS prints only the command output', async () => {
    const res = await new Promise<{ code: number | null; stdout: string }>((done, fail) => {
      const child = spawn('npm', ['run', '--silent', 'sg', '--', 'group', 'get', 'shop', 'a', '--json'], {
        cwd: ROOT,
        env: { ...process.env, SG_ADDR: server.addr, SG_TOKEN: server.adminToken },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.on('error', fail);
      child.on('close', (code) => done({ code, stdout }));
    });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ name: 'a', variables: { KEY_1: 'a1' } });
  });
});
