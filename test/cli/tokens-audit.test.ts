/** sg token list shows each token's status and scope; sg audit pages with --before and filters by actor and action. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { runner, type Runner } from './harness.js';

let s: ServerProcess;
let sg: Runner;
beforeAll(async () => {
  s = await startServerProcess();
  sg = runner(s);
  await sg.ok(['project', 'create', 'shop']);
  await sg.ok(['workload', 'create', 'shop', 'api']);
});
afterAll(() => s.cleanup());

interface TokenJson {
  id: string;
  name: string;
  status: string;
  scopes: string[];
}

describe('sg token list', () => {
  it('tells active, expired and revoked tokens apart, and a build-scoped workload token from a runtime one', async () => {
    await sg.ok(['token', 'create', '--workload', 'shop/api', '--name', 'api-run']);
    await sg.ok(['token', 'create', '--workload', 'shop/api', '--build', '--name', 'api-build']);
    await sg.ok(['token', 'create', '--role', 'viewer', '--ttl', '1s', '--name', 'brief']);
    await sg.ok(['token', 'create', '--role', 'viewer', '--name', 'gone']);
    const before = (await sg.json<{ tokens: TokenJson[] }>(['token', 'list'])).tokens;
    await sg.ok(['token', 'revoke', before.find((t) => t.name === 'gone')!.id]);
    await new Promise((r) => setTimeout(r, 1_100)); // "brief" expires

    const { tokens } = await sg.json<{ tokens: TokenJson[] }>(['token', 'list']);
    const by = (name: string) => tokens.find((t) => t.name === name)!;
    expect(by('api-run')).toMatchObject({ status: 'active', scopes: ['runtime'] });
    expect(by('api-build')).toMatchObject({ status: 'active', scopes: ['runtime', 'build'] });
    expect(by('brief')).toMatchObject({ status: 'expired', scopes: [] });
    expect(by('gone')).toMatchObject({ status: 'revoked' });

    const table = await sg.ok(['token', 'list']);
    expect(table).toMatch(/ID\s+NAME\s+ROLE\s+PROJECTS\s+WORKLOAD\s+SCOPE\s+EXPIRES\s+STATUS\s+CREATED BY/);
    const line = (name: string) => table.split('\n').find((l) => l.includes(` ${name} `)) ?? '';
    expect(line('api-run')).toMatch(/shop\/api\s+runtime\s+never\s+active/);
    expect(line('api-build')).toMatch(/shop\/api\s+runtime, build\s+never\s+active/);
    expect(line('brief')).toMatch(/\sexpired\s/);
    expect(line('gone')).toMatch(/\srevoked\s/);
  });
});

interface EventJson {
  id: string;
  time: string;
  actor: string;
  action: string;
  target: string;
}

describe('sg audit --before, --actor, --action', () => {
  it('pages newest first through every event exactly once, and filters by actor and action', async () => {
    const editor = (await sg.ok(['token', 'create', '--role', 'editor', '--name', 'ed'])).trim();
    const editorId = (await sg.json<{ id: string }>(['whoami'], { env: { SG_TOKEN: editor } })).id;
    for (let i = 0; i < 5; i++) await sg.ok(['group', 'create', 'shop', `g${i}`, '--type', 'config'], { env: { SG_TOKEN: editor } });
    await sg.ok(['group', 'set', 'shop', 'g0', 'A=1']);

    const all = (await sg.json<{ events: EventJson[]; nextCursor: string }>(['audit', '--project', 'shop', '--limit', '1000'])).events;
    const times = all.map((e) => Date.parse(e.time));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    // Pages of 3 with --before <cursor>: the same events, in the same order, none twice.
    const paged: string[] = [];
    let cursor = '';
    for (let n = 0; n < 100; n++) {
      const page = await sg.json<{ events: EventJson[]; nextCursor: string }>(['audit', '--project', 'shop', '--limit', '3', ...(cursor ? ['--before', cursor] : [])]);
      paged.push(...page.events.map((e) => e.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(paged).toEqual(all.map((e) => e.id));
    // The human output says how to get the next page.
    expect(await sg.ok(['audit', '--project', 'shop', '--limit', '2'])).toMatch(/Older events: the same command with --before \d+-\d+\n$/);

    // --before a time: only older events.
    const cut = all[2]!.time;
    const older = (await sg.json<{ events: EventJson[] }>(['audit', '--project', 'shop', '--before', cut])).events;
    expect(older.length).toBeGreaterThan(0);
    expect(older.every((e) => Date.parse(e.time) < Date.parse(cut))).toBe(true);

    const mine = (await sg.json<{ events: EventJson[] }>(['audit', '--actor', `token:${editorId}`])).events;
    expect(mine.map((e) => e.action)).toEqual(['CreateGroup', 'CreateGroup', 'CreateGroup', 'CreateGroup', 'CreateGroup']);
    expect(mine.map((e) => e.target)).toEqual(['g4', 'g3', 'g2', 'g1', 'g0'].map((g) => `group shop/${g}`));
    const sets = (await sg.json<{ events: EventJson[] }>(['audit', '--action', 'SetVariables', '--project', 'shop'])).events;
    expect(sets.map((e) => e.target)).toEqual(['group shop/g0']);

    expect(await sg.fails(['audit', '--before', 'last tuesday'], { exitCode: 2 })).toMatch(/--before must be a cursor printed by a previous page/);
    expect(await sg.fails(['audit', '--before', '1712345678901-zz'], { exitCode: 2 })).toMatch(/--before must be/);
  });
});
