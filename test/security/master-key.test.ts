import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadMasterKey, MASTER_KEY_ENV, parseMasterKey, writeMasterKeyFile } from '../../server/security/master-key.js';
import { domainErrorOf } from './helpers.js';

const errorOf = (f: () => unknown) => domainErrorOf(Promise.resolve().then(f));

describe('master key loading', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-mk-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes SG_MASTER_KEY when it is base64 of 32 bytes, and creates no file', () => {
    const bytes = randomBytes(32);
    const a = loadMasterKey({ dataDir: dir, env: { [MASTER_KEY_ENV]: bytes.toString('base64') }, allowCreate: true });
    const b = loadMasterKey({ dataDir: dir, env: { [MASTER_KEY_ENV]: `${bytes.toString('base64')}\n` } });
    expect(a.source).toBe('env');
    expect(a.created).toBe(false);
    expect(a.key.id).toMatch(/^[0-9a-f]{16}$/);
    expect(b.key.id).toBe(a.key.id);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each([
    ['too short', randomBytes(31).toString('base64'), /SG_MASTER_KEY decodes to 31 bytes; a master key must be exactly 32 bytes/],
    ['too long', randomBytes(33).toString('base64'), /decodes to 33 bytes/],
    ['not base64', 'this is not base64 at all!!!', /SG_MASTER_KEY is not valid base64/],
    ['hex instead of base64', randomBytes(32).toString('hex'), /decodes to 48 bytes/],
    ['empty', '', /SG_MASTER_KEY is set but empty/],
  ])('refuses SG_MASTER_KEY that is %s, without echoing it', async (_what, value, message) => {
    const e = await errorOf(() => loadMasterKey({ dataDir: dir, env: { [MASTER_KEY_ENV]: value }, allowCreate: true }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(message);
    if (value) expect(e.message).not.toContain(value);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('creates DATA/master.key with mode 0600 on first start, says so, and reuses it', () => {
    const dataDir = join(dir, 'data');
    const first = loadMasterKey({ dataDir, env: {}, allowCreate: true });
    const path = join(dataDir, 'master.key');
    expect(first).toMatchObject({ source: 'file', path, created: true });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64')).toHaveLength(32);
    // No temp file left behind.
    expect(readdirSync(dataDir)).toEqual(['master.key']);

    const second = loadMasterKey({ dataDir, env: {}, allowCreate: true });
    expect(second).toMatchObject({ source: 'file', path, created: false });
    expect(second.key.id).toBe(first.key.id);
  });

  it('never overwrites an existing key file when creating', () => {
    const path = join(dir, 'master.key');
    expect(writeMasterKeyFile(path, randomBytes(32).toString('base64'))).toBe(true);
    const before = readFileSync(path, 'utf8');
    expect(writeMasterKeyFile(path, randomBytes(32).toString('base64'))).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(readdirSync(dir)).toEqual(['master.key']);
  });

  it('without permission to create (MongoDB replicas), a missing key is a clear error', async () => {
    const e = await errorOf(() => loadMasterKey({ dataDir: dir, env: {} }));
    expect(e.code).toBe('FAILED_PRECONDITION');
    expect(e.message).toMatch(/no master key: set SG_MASTER_KEY or --master-key-file/);
    expect(existsSync(join(dir, 'master.key'))).toBe(false);
  });

  it('reads an explicit --master-key-file, which must exist and is never created', async () => {
    const path = join(dir, 'custom.key');
    const missing = await errorOf(() => loadMasterKey({ dataDir: dir, keyFile: path, env: {}, allowCreate: true }));
    expect(missing.message).toMatch(/master key file .*custom\.key cannot be read \(ENOENT\)/);
    expect(existsSync(path)).toBe(false);

    const bytes = randomBytes(32);
    writeFileSync(path, `${bytes.toString('base64')}\n`, { mode: 0o600 });
    const got = loadMasterKey({ dataDir: dir, keyFile: path, env: {} });
    expect(got).toMatchObject({ source: 'file', path, created: false });
    expect(got.key.id).toBe(parseMasterKey(bytes.toString('base64'), 'x').id);
  });

  it('refuses a key file readable by group or others, and one with a bad key', async () => {
    const path = join(dir, 'open.key');
    writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600 });
    chmodSync(path, 0o644);
    const e = await errorOf(() => loadMasterKey({ dataDir: dir, keyFile: path, env: {} }));
    expect(e.message).toMatch(/is accessible by group or others \(mode 644\); run chmod 600 on it/);

    const bad = randomBytes(16).toString('base64');
    writeFileSync(path, bad);
    chmodSync(path, 0o600);
    const b = await errorOf(() => loadMasterKey({ dataDir: dir, keyFile: path, env: {} }));
    expect(b.message).toMatch(/master key file .*open\.key decodes to 16 bytes/);
    expect(b.message).not.toContain(bad);
  });

  it('refuses both SG_MASTER_KEY and --master-key-file at once', async () => {
    const e = await errorOf(() =>
      loadMasterKey({ dataDir: dir, keyFile: join(dir, 'k'), env: { [MASTER_KEY_ENV]: randomBytes(32).toString('base64') } }),
    );
    expect(e.message).toBe('both SG_MASTER_KEY and --master-key-file are set; give only one');
  });

  it('repeated starts all use the one key created by the first', () => {
    const dataDir = join(dir, 'again');
    const results = Array.from({ length: 5 }, () => loadMasterKey({ dataDir, env: {}, allowCreate: true }));
    expect(new Set(results.map((r) => r.key.id)).size).toBe(1);
    expect(results.map((r) => r.created)).toEqual([true, false, false, false, false]);
  });
});
