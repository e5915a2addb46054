import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { atomicWrite, checkWritable } from '../../agent/sinks/atomic-write.js';
import { SecretFileWriter, SecretPathError, fileMode, secretPathSegments } from '../../agent/sinks/secret-files.js';

const base = mkdtempSync(join(tmpdir(), 'sg-files-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let dir: string;
let n = 0;
beforeEach(() => {
  dir = join(base, `case-${n++}`);
  mkdirSync(dir);
});

const file = (path: string, content: string, mode = 0) => ({ path, content: Buffer.from(content), mode, size: content.length });

describe('atomicWrite', () => {
  it('writes with mode 0600 by default and leaves no temporary file', async () => {
    const p = join(dir, 'out.env');
    expect(await atomicWrite(p, 'A=1\n')).toBe(true);
    expect(readFileSync(p, 'utf8')).toBe('A=1\n');
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['out.env']);
  });

  it('does not touch the file when the bytes are unchanged', async () => {
    const p = join(dir, 'out.env');
    await atomicWrite(p, 'A=1\n');
    const before = statSync(p);
    expect(await atomicWrite(p, 'A=1\n')).toBe(false);
    const after = statSync(p);
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });

  it('replaces the file by rename (a new inode), so readers never see a partial file', async () => {
    const p = join(dir, 'out.env');
    await atomicWrite(p, 'A=1\n');
    const before = statSync(p).ino;
    expect(await atomicWrite(p, 'A=2\n')).toBe(true);
    expect(statSync(p).ino).not.toBe(before);
    expect(readFileSync(p, 'utf8')).toBe('A=2\n');
  });

  it('fixes the mode even when the bytes are equal', async () => {
    const p = join(dir, 'out.env');
    writeFileSync(p, 'A=1\n');
    chmodSync(p, 0o644);
    expect(await atomicWrite(p, 'A=1\n')).toBe(true);
    expect(statSync(p).mode & 0o777).toBe(0o600);
  });

  it('replaces a symlink at the target instead of writing through it', async () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep');
    const p = join(dir, 'out.env');
    symlinkSync(victim, p);
    await atomicWrite(p, 'new');
    expect(readFileSync(victim, 'utf8')).toBe('keep');
    expect(lstatSync(p).isFile()).toBe(true);
  });
});

describe('checkWritable', () => {
  it('accepts a file in an existing directory and leaves nothing behind', async () => {
    await checkWritable(join(dir, 'out.env'));
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each([
    ['a missing directory', () => join(dir, 'missing', 'out.env'), /does not exist/],
    ['a directory given as the file', () => dir, /is a directory/],
    ['a path under a regular file', () => (writeFileSync(join(dir, 'f'), ''), join(dir, 'f', 'out.env')), /not a directory|does not exist/],
  ])('refuses %s', async (_name, path, message) => {
    await expect(checkWritable(path())).rejects.toThrow(message);
  });
});

describe('secret file paths', () => {
  it.each(['/etc/app/tls.key', '/a', '/with space/é.txt'])('accepts %s', (p) => {
    expect(() => secretPathSegments(p)).not.toThrow();
  });

  it.each([
    ['relative', 'etc/app'],
    ['parent segment', '/etc/../passwd'],
    ['leading parent', '/../x'],
    ['dot segment', '/etc/./x'],
    ['double slash', '/etc//x'],
    ['trailing slash', '/etc/app/'],
    ['the root itself', '/'],
    ['NUL byte', '/etc/a\0b'],
    ['empty', ''],
  ])('refuses a %s path', (_name, p) => {
    expect(() => secretPathSegments(p)).toThrow(SecretPathError);
  });

  it('defaults the mode to 0600 and drops set-id bits', () => {
    expect(fileMode(0)).toBe(0o600);
    expect(fileMode(0o4755)).toBe(0o755);
    expect(fileMode(0o640)).toBe(0o640);
  });
});

describe('SecretFileWriter', () => {
  it('writes under the files root with the record mode, creating directories', async () => {
    const w = new SecretFileWriter(dir);
    const r = await w.write([file('/etc/app/tls.key', 'KEY'), file('/etc/app/ca.pem', 'CA', 0o644)]);
    expect(r.written).toEqual(['/etc/app/tls.key', '/etc/app/ca.pem']);
    expect(readFileSync(join(dir, 'etc/app/tls.key'), 'utf8')).toBe('KEY');
    expect(statSync(join(dir, 'etc/app/tls.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'etc/app/ca.pem')).mode & 0o777).toBe(0o644);
    const again = await w.write([file('/etc/app/tls.key', 'KEY')]);
    expect(again).toEqual({ written: [], unchanged: ['/etc/app/tls.key'], skipped: [] });
  });

  it('writes nothing without a files root, and says how many it skipped', async () => {
    const skipped: number[] = [];
    const w = new SecretFileWriter(undefined, (n) => skipped.push(n));
    const target = join(dir, 'would-be-absolute');
    const r = await w.write([file(target, 'S', 0o755)]);
    expect(r).toEqual({ written: [], unchanged: [], skipped: [target] });
    expect(skipped).toEqual([1]);
    expect(existsSync(target)).toBe(false);
    // Paths are still validated, so a bad record is reported the same with or without a root.
    await expect(w.write([file('relative', 'S')])).rejects.toThrow(/not absolute/);
  });

  it('refuses to follow a symlink out of the root, and writes nothing', async () => {
    const outside = join(dir, 'outside');
    const root = join(dir, 'root');
    mkdirSync(outside);
    mkdirSync(root);
    symlinkSync(outside, join(root, 'escape'));
    const w = new SecretFileWriter(root);
    await expect(w.write([file('/escape/x', 'S')])).rejects.toThrow(/refusing to follow symlink/);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('follows a symlink that stays inside the root', async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'real'), { recursive: true });
    symlinkSync(join(root, 'real'), join(root, 'alias'));
    await new SecretFileWriter(root).write([file('/alias/x', 'S')]);
    expect(readFileSync(join(root, 'real/x'), 'utf8')).toBe('S');
  });

  it('replaces a symlink at the file itself rather than writing through it', async () => {
    const root = join(dir, 'root');
    mkdirSync(root);
    writeFileSync(join(dir, 'target'), 'keep');
    symlinkSync(join(dir, 'target'), join(root, 'x'));
    await new SecretFileWriter(root).write([file('/x', 'S')]);
    expect(readFileSync(join(dir, 'target'), 'utf8')).toBe('keep');
    expect(readFileSync(join(root, 'x'), 'utf8')).toBe('S');
  });

  it('validates every path before writing any', async () => {
    const w = new SecretFileWriter(dir);
    await expect(w.write([file('/ok', 'S'), file('/bad/../x', 'S')])).rejects.toThrow(SecretPathError);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a root that does not exist', async () => {
    await expect(new SecretFileWriter(join(dir, 'nope')).write([file('/x', 'S')])).rejects.toThrow(/does not exist/);
  });

  it('keeps a symlinked root usable (its real path is the boundary)', async () => {
    mkdirSync(join(dir, 'real'));
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    await new SecretFileWriter(join(dir, 'link')).write([file('/x', 'S')]);
    expect(readFileSync(join(dir, 'real/x'), 'utf8')).toBe('S');
    expect(readlinkSync(join(dir, 'link'))).toBe(join(dir, 'real'));
  });
});
