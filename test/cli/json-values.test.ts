/**
 * One rule for values, through the real `sg` against a real server (docs/architecture.md, "Values in client output"):
 * --json is the machine form and carries every value the token may read (null where it may see
 * keys only), with or without --show-values; human output masks secrets unless --show-values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { runner, type Runner } from './harness.js';

let server: ServerProcess;
let sg: Runner;
let reader: NodeJS.ProcessEnv;
let keysOnly: NodeJS.ProcessEnv;

type Vars = Record<string, string | null>;
type Group = { name: string; variables: Vars; files: { contentBase64: string | null }[]; valuesRedacted: boolean };
type History = { revisions: { revision: number; group: Group | null }[] };
type Workload = { runtimeVariables: Vars; valuesRedacted: boolean };
type Addon = { connectionDetails: Vars; valuesRedacted: boolean };
type Diff = { valuesRedacted: boolean; fromValues: Vars | null; toValues: Vars | null };

const token = async (role: string) => ({ SG_TOKEN: (await sg.ok(['token', 'create', '--role', role, '--project', 'shop'])).trim() });

beforeAll(async () => {
  server = await startServerProcess();
  sg = runner(server);
  await sg.ok(['project', 'create', 'shop']);
  await sg.ok(['workload', 'create', 'shop', 'api', '--var', 'W_TOKEN=w-secret']);
  await sg.ok(['addon', 'create', 'shop', 'db', '--type', 'postgresql', '--detail', 'password=a-secret']);
  await sg.ok(['group', 'create', 'shop', 'creds', '--type', 'secret', '--var', 'DB_PASSWORD=hunter2']);
  await sg.ok(['group', 'set', 'shop', 'creds', 'DB_PASSWORD=hunter3']);
  await sg.ok(['group', 'create', 'shop', 'conf', '--type', 'config', '--var', 'LOG=debug']);
  reader = await token('editor');
  keysOnly = await token('config-editor');
}, 60_000);

afterAll(() => server?.cleanup());

const getGroup = (env: NodeJS.ProcessEnv, extra: string[] = []) => sg.json<Group>(['group', 'get', 'shop', 'creds', ...extra], { env });
const listGroups = async (env: NodeJS.ProcessEnv, extra: string[] = []) =>
  Object.fromEntries((await sg.json<{ groups: Group[] }>(['group', 'list', 'shop', ...extra], { env })).groups.map((g) => [g.name, g]));
const history = (env: NodeJS.ProcessEnv, extra: string[] = []) => sg.json<History>(['group', 'history', 'shop', 'creds', ...extra], { env });

describe('--json carries every value the token may read', () => {
  it('a reader gets values from group get, list and history, without --show-values', async () => {
    const g = await getGroup(reader);
    expect(g.variables).toEqual({ DB_PASSWORD: 'hunter3' });
    expect(g.valuesRedacted).toBe(false);
    const list = await listGroups(reader);
    expect(list.creds.variables).toEqual({ DB_PASSWORD: 'hunter3' });
    expect(list.conf.variables).toEqual({ LOG: 'debug' });
    const revs = (await history(reader)).revisions;
    expect(revs.map((r) => r.group?.variables.DB_PASSWORD).sort()).toEqual(['hunter2', 'hunter3']);
  });

  it('a keys-only role (config-editor on a secret group) gets null in get, list and history', async () => {
    const g = await getGroup(keysOnly);
    expect(g.variables).toEqual({ DB_PASSWORD: null });
    expect(g.valuesRedacted).toBe(true);
    const list = await listGroups(keysOnly);
    expect(list.creds).toMatchObject({ variables: { DB_PASSWORD: null }, valuesRedacted: true });
    // Its config groups stay readable: the rule is the token's permission, not the command.
    expect(list.conf.variables).toEqual({ LOG: 'debug' });
    const revs = (await history(keysOnly)).revisions;
    expect(revs.length).toBeGreaterThanOrEqual(2);
    for (const r of revs) expect(r.group?.variables).toEqual({ DB_PASSWORD: null });
    expect(JSON.stringify(revs)).not.toContain('hunter');
  });

  it('workloads and addons follow the same rule (get and list)', async () => {
    expect((await sg.json<Workload>(['workload', 'get', 'shop', 'api'], { env: reader })).runtimeVariables).toEqual({ W_TOKEN: 'w-secret' });
    const workloads = await sg.json<{ workloads: Workload[] }>(['workload', 'list', 'shop'], { env: reader });
    expect(workloads.workloads[0].runtimeVariables).toEqual({ W_TOKEN: 'w-secret' });
    expect((await sg.json<Addon>(['addon', 'get', 'shop', 'db'], { env: reader })).connectionDetails).toEqual({ password: 'a-secret' });
    const addons = await sg.json<{ addons: Addon[] }>(['addon', 'list', 'shop'], { env: reader });
    expect(addons.addons[0].connectionDetails).toEqual({ password: 'a-secret' });
  });

  it('group diff --json asks for values; null for a keys-only role', async () => {
    const d = await sg.json<Diff>(['group', 'diff', 'shop', 'creds', '1'], { env: reader });
    expect(d).toMatchObject({ valuesRedacted: false, fromValues: { DB_PASSWORD: 'hunter2' }, toValues: { DB_PASSWORD: 'hunter3' } });
    const k = await sg.json<Diff>(['group', 'diff', 'shop', 'creds', '1'], { env: keysOnly });
    expect(k).toMatchObject({ valuesRedacted: true, fromValues: null, toValues: null });
  });

  it('--show-values with --json changes nothing (scripts that pass it keep working)', async () => {
    expect(await getGroup(reader, ['--show-values'])).toEqual(await getGroup(reader));
    expect(await listGroups(reader, ['--show-values'])).toEqual(await listGroups(reader));
    expect(await history(reader, ['--show-values'])).toEqual(await history(reader));
    expect(await getGroup(keysOnly, ['--show-values'])).toMatchObject({ variables: { DB_PASSWORD: null }, valuesRedacted: true });
  });
});

describe('human output masks secrets unless --show-values', () => {
  it('get masks, --show-values prints; a keys-only role sees (hidden) either way', async () => {
    const masked = await sg.ok(['group', 'get', 'shop', 'creds'], { env: reader });
    expect(masked).toMatch(/^DB_PASSWORD\s+\*{8}$/m);
    expect(masked).not.toContain('hunter');
    expect(await sg.ok(['group', 'get', 'shop', 'creds', '--show-values'], { env: reader })).toMatch(/^DB_PASSWORD\s+hunter3$/m);
    expect(await sg.ok(['group', 'get', 'shop', 'creds', '--show-values'], { env: keysOnly })).toMatch(/^DB_PASSWORD\s+\(hidden\)$/m);
    expect(await sg.ok(['workload', 'get', 'shop', 'api'], { env: reader })).not.toContain('w-secret');
    expect(await sg.ok(['addon', 'get', 'shop', 'db'], { env: reader })).not.toContain('a-secret');
  });

  it('list, history and diff tables print no value unless diff is given --show-values', async () => {
    for (const args of [['group', 'list', 'shop'], ['group', 'history', 'shop', 'creds'], ['group', 'diff', 'shop', 'creds', '1'], ['workload', 'list', 'shop'], ['addon', 'list', 'shop']]) {
      for (const extra of [[], ['--show-values']]) {
        if (args[1] === 'diff' && extra.length) continue;
        const out = await sg.ok([...args, ...extra], { env: reader });
        expect(out, `sg ${[...args, ...extra].join(' ')}`).not.toMatch(/hunter|w-secret|a-secret/);
      }
    }
    expect(await sg.ok(['group', 'diff', 'shop', 'creds', '1', '--show-values'], { env: reader })).toContain('~ DB_PASSWORD: hunter2 → hunter3');
  });
});
