/**
 * Day-two operations through the real `sg` against a real server: imports that keep every
 * byte or say why, literal values, undelete, rename, partial addon updates, no empty
 * revisions, restrictions that name nothing, confirmation of deletes, kept file modes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SG, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { runner, type Runner } from './harness.js';

let server: ServerProcess;
let sg: Runner;
let dir: string;

type Group = { name: string; revision: number; variables: Record<string, string | null>; files: { path: string; mode: string }[]; unchanged?: boolean };
type History = { revisions: { revision: number; action: string; change: string; deleted?: boolean; renamedFrom: string | null; renamedTo: string | null; rolledBackTo: number | null }[] };
const vars = async (w = 'api') => (await sg.json<{ variables: Record<string, string> }>(['resolve', 'shop', w])).variables;

beforeAll(async () => {
  server = await startServerProcess();
  sg = runner(server);
  dir = mkdtempSync(join(tmpdir(), 'sg-day2-'));
  await sg.ok(['project', 'create', 'shop']);
  await sg.ok(['workload', 'create', 'shop', 'api', '--tag', 'web']);
  await sg.ok(['workload', 'create', 'shop', 'worker', '--tag', 'jobs']);
});

afterAll(async () => {
  await server?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('imports keep every byte, or say why', () => {
  it('a value cut at an unquoted "#" is imported as dotenv reads it, with a warning naming line and key', async () => {
    await sg.ok(['group', 'create', 'shop', 'imp']);
    const r = await sg.raw(['group', 'import', 'shop', 'imp', '-'], {}, 'A=1\nHASHNOSPACE=abc#def\nQUOTED="abc#def"\n');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('sg: warning: .env line 2: the value of HASHNOSPACE was cut at an unquoted "#" (dotenv reads the rest as a comment; quote the value to keep it)\n');
    expect(await vars()).toMatchObject({ HASHNOSPACE: 'abc', QUOTED: 'abc#def' });
  });

  it('a key given twice is refused naming both lines, and nothing is imported', async () => {
    const before = await sg.json<Group>(['group', 'get', 'shop', 'imp']);
    expect(await sg.fails(['group', 'import', 'shop', 'imp', '-'], { input: 'DUP=1\nB=2\nDUP=3\n' })).toBe(
      'INVALID_ARGUMENT: .env line 3: DUP is already set on line 1; give each key once',
    );
    expect((await sg.json<Group>(['group', 'get', 'shop', 'imp'])).revision).toBe(before.revision);
  });

  it('JSON piped on stdin without --format is read as JSON', async () => {
    const out = await sg.json<{ imported: number }>(['group', 'import', 'shop', 'imp', '-'], { input: ' {"FROM_JSON": "x y", "N": "1"}\n' });
    expect(out.imported).toBe(2);
    expect(await vars()).toMatchObject({ FROM_JSON: 'x y', N: '1' });
  });

  it('--literal stores passwords holding ${ verbatim (import and set); without it they are templates', async () => {
    expect(await sg.fails(['group', 'import', 'shop', 'imp', '-'], { input: "PW='p${ss'\n" })).toMatch(/malformed template/);
    await sg.ok(['group', 'import', 'shop', 'imp', '-', '--literal'], { input: "PW='p${ss'\nPW2='p${HOME}'\nPW3='a$${b'\n" });
    await sg.ok(['group', 'set', 'shop', 'imp', '--literal', 'PW4=x${y}z$$']);
    expect(await vars()).toMatchObject({ PW: 'p${ss', PW2: 'p${HOME}', PW3: 'a$${b', PW4: 'x${y}z$$' });
  });
});

describe('no empty revisions', () => {
  it('a set, import, settings or file add that changes nothing writes no revision and says so', async () => {
    await sg.ok(['group', 'create', 'shop', 'same', '--var', 'A=1']);
    const rev = (await sg.json<Group>(['group', 'get', 'shop', 'same'])).revision;
    expect(await sg.ok(['group', 'set', 'shop', 'same', 'A=1'])).toMatch(/^No change: group shop\/same already holds this \(still revision \d+\)\n/);
    expect(await sg.json<Group>(['group', 'set', 'shop', 'same', 'A=1'])).toMatchObject({ unchanged: true, revision: rev });
    expect((await sg.json<{ unchanged?: boolean }>(['group', 'import', 'shop', 'same', '-'], { input: 'A=1\n' })).unchanged).toBe(true);
    expect((await sg.json<Group>(['group', 'settings', 'shop', 'same', '--priority', '0'])).unchanged).toBe(true);
    const history = await sg.json<History>(['group', 'history', 'shop', 'same']);
    expect(history.revisions.map((r) => r.revision)).toEqual([rev]);
    const changed = await sg.json<Group>(['group', 'set', 'shop', 'same', 'A=2']);
    expect(changed.revision).toBe(rev + 1);
    expect(changed.unchanged).toBeUndefined();
  });
});

describe('paged history', () => {
  it('history prints one page at a time and says how to ask for the older one', async () => {
    await sg.ok(['group', 'create', 'shop', 'paged', '--var', 'N=0']);
    for (let i = 1; i <= 4; i++) await sg.ok(['group', 'set', 'shop', 'paged', `N=${i}`]);
    const first = await sg.json<History & { nextBeforeRevision: number; oldestKeptRevision: number }>(['group', 'history', 'shop', 'paged', '--limit', '2']);
    expect(first.revisions.map((r) => r.revision)).toEqual([4, 5]);
    expect(first).toMatchObject({ nextBeforeRevision: 4, oldestKeptRevision: 1 });
    expect(await sg.ok(['group', 'history', 'shop', 'paged', '--limit', '2'])).toMatch(/\(older revisions: sg group history shop paged --before 4\)\n$/);
    const last = await sg.json<History & { nextBeforeRevision: number }>(['group', 'history', 'shop', 'paged', '--limit', '3', '--before', '4']);
    expect(last.revisions.map((r) => r.revision)).toEqual([1, 2, 3]);
    expect(last.nextBeforeRevision).toBe(0);
    expect(await sg.fails(['group', 'history', 'shop', 'paged', '--limit', 'many'])).toMatch(/--limit must be a non-negative integer/);
  });
});

describe('undelete and rename', () => {
  it('restore brings a deleted group back with its last content; history runs across the deletion', async () => {
    await sg.ok(['group', 'create', 'shop', 'gone', '--var', 'K=v1']);
    await sg.ok(['group', 'set', 'shop', 'gone', 'K=v2']);
    await sg.ok(['group', 'delete', 'shop', 'gone']);
    expect(await vars()).not.toHaveProperty('K');
    const restored = await sg.ok(['group', 'restore', 'shop', 'gone']);
    expect(restored).toMatch(/^Restored group shop\/gone\n/);
    expect(await vars()).toMatchObject({ K: 'v2' });
    const h = await sg.json<History>(['group', 'history', 'shop', 'gone']);
    expect(h.revisions.map((r) => r.action)).toEqual(['CreateGroup', 'SetVariables', 'DeleteGroup', 'RestoreGroup']);
    expect(await sg.fails(['group', 'restore', 'shop', 'gone'])).toMatch(/^ALREADY_EXISTS: group shop\/gone \(only a deleted group can be restored\) already exists/);
    expect(await sg.fails(['group', 'restore', 'shop', 'never'])).toBe('NOT_FOUND: deleted group shop/never not found');
  });

  it('rename moves the group and its history; the old name is free of content', async () => {
    await sg.ok(['group', 'create', 'shop', 'old', '--var', 'R=1']);
    await sg.ok(['group', 'set', 'shop', 'old', 'R=2']);
    expect(await sg.ok(['group', 'rename', 'shop', 'old', 'new'])).toMatch(/^Renamed group shop\/old to new\n/);
    expect(await sg.fails(['group', 'get', 'shop', 'old'])).toBe('NOT_FOUND: group shop/old not found');
    const h = await sg.json<History>(['group', 'history', 'shop', 'new']);
    expect(h.revisions.map((r) => r.action)).toEqual(['CreateGroup', 'SetVariables', 'RenameGroup']);
    // In words, naming the old name under the new one and the new name under the old one.
    expect(h.revisions.map((r) => r.change)).toEqual(['Created: R', 'Set variables: R', 'Renamed from old']);
    expect(h.revisions[2]).toMatchObject({ renamedFrom: 'old', renamedTo: null, rolledBackTo: null });
    expect(await sg.ok(['group', 'history', 'shop', 'new'])).toMatch(/^3\s+\S+\s+\S+\s+Renamed from old$/m);
    expect(await sg.ok(['group', 'history', 'shop', 'old'])).toMatch(/^3\s+\S+\s+\S+\s+Renamed to new$/m);
    await sg.ok(['group', 'rollback', 'shop', 'new', '1']);
    expect(await sg.ok(['group', 'history', 'shop', 'new'])).toMatch(/^4\s+\S+\s+\S+\s+Rolled back to revision 1: R$/m);
    expect((await sg.json<History>(['group', 'history', 'shop', 'new'])).revisions[3]).toMatchObject({ action: 'RollbackGroup', rolledBackTo: 1 });
    await sg.ok(['group', 'rollback', 'shop', 'new', '3']);
    expect(await vars()).toMatchObject({ R: '2' });
    expect(await sg.fails(['group', 'rename', 'shop', 'new', 'same'])).toBe('ALREADY_EXISTS: group shop/same already exists');
    expect(await sg.fails(['group', 'rename', 'shop', 'new', 'old'])).toMatch(/^ALREADY_EXISTS: history of a deleted group shop\/old/);
  });
});

describe('partial addon update', () => {
  it('merges by default, --unset removes, --replace replaces', async () => {
    await sg.ok(['addon', 'create', 'shop', 'db', '--type', 'postgresql', '--detail', 'host=h1', '--detail', 'user=u']);
    const details = async () => (await sg.json<{ connectionDetails: Record<string, string> }>(['addon', 'get', 'shop', 'db'])).connectionDetails;
    await sg.ok(['addon', 'update', 'shop', 'db', '--detail', 'host=h2']);
    expect(await details()).toEqual({ host: 'h2', user: 'u' });
    await sg.ok(['addon', 'update', 'shop', 'db', '--unset', 'user', '--detail', 'port=5432']);
    expect(await details()).toEqual({ host: 'h2', port: '5432' });
    expect(await sg.ok(['addon', 'update', 'shop', 'db', '--detail', 'host=h2'])).toMatch(/^No change: addon shop\/db already has these details/);
    await sg.ok(['addon', 'update', 'shop', 'db', '--replace', '--detail', 'url=postgres://x']);
    expect(await details()).toEqual({ url: 'postgres://x' });
    expect(await sg.fails(['addon', 'update', 'shop', 'db', '--unset', 'nosuch'])).toBe('NOT_FOUND: detail nosuch of addon db not found');
    expect(await sg.fails(['addon', 'update', 'shop', 'db', '--replace', '--unset', 'url'], { exitCode: 2 })).toMatch(/--unset goes without --replace/);
  });
});

describe('restrictions that name nothing', () => {
  it('refuses an unknown workload, warns for a tag declared ahead, refuses reaching nobody unless --allow-empty', async () => {
    await sg.ok(['group', 'create', 'shop', 'r', '--var', 'RR=1']);
    expect(await sg.fails(['group', 'restrict', 'shop', 'r', '--workload', 'nosuch'])).toMatch(/^INVALID_ARGUMENT: restrictions.workloads: no workload named nosuch in this project/);
    const ahead = await sg.raw(['group', 'restrict', 'shop', 'r', '--workload', 'api', '--tag', 'future']);
    expect(ahead.code).toBe(0);
    expect(ahead.stderr).toBe('sg: warning: tag future is carried by no workload yet; group shop/r reaches api\n');
    expect(await sg.fails(['group', 'unrestrict', 'shop', 'r', '--workload', 'api'])).toMatch(/^FAILED_PRECONDITION: group shop\/r would be restricted to no existing workload; .*--allow-empty/);
    expect(await vars()).toMatchObject({ RR: '1' });
    await sg.raw(['group', 'unrestrict', 'shop', 'r', '--workload', 'api', '--allow-empty']);
    expect(await vars()).not.toHaveProperty('RR');
    expect(await sg.fails(['group', 'create', 'shop', 'r2', '--tag', 'future'])).toMatch(/^FAILED_PRECONDITION/);
  });
});

describe('help texts', () => {
  it('group link names its real flag, --addon-key', async () => {
    const help = (await sg.ok(['group', 'link', '--help'])).replace(/\s+/g, ' ');
    expect(help).toContain('with no --addon-key, every key');
    expect(help).not.toContain('no --key');
  });
});

describe('secret files', () => {
  it('re-adding a file keeps its mode unless --mode is given', async () => {
    const local = join(dir, 'f.txt');
    writeFileSync(local, 'one');
    await sg.ok(['group', 'create', 'shop', 'files']);
    await sg.ok(['group', 'file', 'add', 'shop', 'files', '/etc/app/f', '--from', local, '--mode', '0640']);
    writeFileSync(local, 'two');
    const kept = await sg.json<Group>(['group', 'file', 'add', 'shop', 'files', '/etc/app/f', '--from', local]);
    expect(kept.files).toEqual([expect.objectContaining({ path: '/etc/app/f', mode: '0640' })]);
    const changed = await sg.json<Group>(['group', 'file', 'add', 'shop', 'files', '/etc/app/f', '--from', local, '--mode', '0400']);
    expect(changed.files[0]!.mode).toBe('0400');
  });
});

/** Runs sg under a pseudo-terminal (util-linux `script`), typing `answer`. */
function onTerminal(args: string[], answer: string): Promise<{ code: number | null; out: string }> {
  const cmd = [process.execPath, SG, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return new Promise((done, fail) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, SG_ADDR: server.addr, SG_TOKEN: server.adminToken }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('to confirm') && answer) {
        child.stdin.write(`${answer}\r`);
        answer = '';
      }
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, out }));
  });
}

describe('confirmation of destructive commands', () => {
  it('on a terminal, group delete asks for the name; a wrong answer deletes nothing', async () => {
    await sg.ok(['group', 'create', 'shop', 'ask']);
    const no = await onTerminal(['group', 'delete', 'shop', 'ask'], 'nope');
    expect(no.out).toContain('This deletes group shop/ask. It reaches 2 workload(s): api (runtime, build), worker (runtime, build). Type ask to confirm (or give --yes):');
    expect(no.out).toContain('sg: not confirmed: nothing deleted');
    expect(no.code).toBe(2);
    await sg.ok(['group', 'get', 'shop', 'ask']);
    const yes = await onTerminal(['group', 'delete', 'shop', 'ask'], 'ask');
    expect(yes.code).toBe(0);
    expect(yes.out).toContain('Deleted group shop/ask');
    await sg.fails(['group', 'get', 'shop', 'ask']);
  });

  it('group delete without a terminal names the workloads the group reached and how to undo it', async () => {
    await sg.ok(['group', 'create', 'shop', 'reach', '--var', 'REACH=1', '--scope', 'runtime']);
    expect(await sg.ok(['group', 'delete', 'shop', 'reach'])).toBe(
      'Deleted group shop/reach\nIt reached 2 workload(s): api (runtime), worker (runtime)\nUndo: sg group restore shop reach\n',
    );
    await sg.ok(['group', 'restore', 'shop', 'reach']);
    const json = await sg.json<{ deleted: boolean; dependents: { workload: string; scopes: string[] }[]; restore: string }>(['group', 'delete', 'shop', 'reach']);
    expect(json).toMatchObject({ deleted: true, dependents: [{ workload: 'api', scopes: ['runtime'] }, { workload: 'worker', scopes: ['runtime'] }], restore: 'sg group restore shop reach' });
    expect((await sg.raw(['group', 'create', 'shop', 'alone', '--tag', 'nothing', '--allow-empty'])).code).toBe(0);
    expect(await sg.ok(['group', 'delete', 'shop', 'alone'])).toBe('Deleted group shop/alone\nIt reached no workload\nUndo: sg group restore shop alone\n');
  });

  it('on a terminal, group delete names the dependents in its question', async () => {
    await sg.ok(['group', 'create', 'shop', 'asked', '--var', 'Q=1', '--workload', 'api']);
    const r = await onTerminal(['group', 'delete', 'shop', 'asked'], 'asked');
    expect(r.out).toContain('This deletes group shop/asked. It reaches 1 workload(s): api (runtime, build). Type asked to confirm (or give --yes):');
    expect(r.code).toBe(0);
  });

  it('--yes skips the question on a terminal; scripts (stdin not a terminal) are not asked', async () => {
    await sg.ok(['project', 'create', 'tmp1']);
    const r = await onTerminal(['project', 'delete', 'tmp1', '--yes'], '');
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('confirm');
    await sg.ok(['project', 'create', 'tmp2']);
    expect(await sg.ok(['project', 'delete', 'tmp2'])).toBe('Deleted project tmp2\n');
  });
});
