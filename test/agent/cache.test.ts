import { mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LastKnownGood } from '../../agent/cache/last-known-good.js';
import { MemoryCache } from '../../agent/cache/memory.js';
import { SCOPE_BUILD, SCOPE_RUNTIME, type Resolution } from '../../client/wire.js';

const dir = mkdtempSync(join(tmpdir(), 'sg-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CANARY = 'canary-7f3a9c-value';
const id = { project: 'shop', workload: 'api', scope: SCOPE_RUNTIME };
const res: Resolution = {
  project: 'shop',
  workload: 'api',
  scope: SCOPE_RUNTIME,
  variables: { SECRET: CANARY, OTHER: 'x\ny' },
  files: [{ path: '/etc/app/key', content: Buffer.from(CANARY), mode: 0o600, size: CANARY.length }],
  etag: 'etag-1',
  conflicts: [],
};

describe('last-known-good cache', () => {
  it('round-trips a resolution, encrypted: the file holds no value, mode 0600', async () => {
    const lkg = new LastKnownGood(join(dir, 'a'), 'sg_token_one', id);
    await lkg.save(res, Date.now() - 1000);
    const raw = readFileSync(lkg.path);
    expect(raw.includes(Buffer.from(CANARY))).toBe(false);
    expect(raw.includes(Buffer.from('SECRET'))).toBe(false);
    expect(statSync(lkg.path).mode & 0o777).toBe(0o600);
    const r = await lkg.load(60_000);
    expect(r.status).toBe('ok');
    if (r.status === 'ok') {
      expect(r.cached.resolution).toEqual(res);
      expect(r.ageMs).toBeGreaterThanOrEqual(1000);
    }
  });

  it('is unreadable with another token (rotated or wrong)', async () => {
    await new LastKnownGood(join(dir, 'b'), 'sg_token_one', id).save(res);
    expect((await new LastKnownGood(join(dir, 'b'), 'sg_token_two', id).load(60_000)).status).toBe('unreadable');
  });

  it('cannot be replayed as another identity or scope', async () => {
    const a = new LastKnownGood(join(dir, 'c'), 't', id);
    await a.save(res);
    const other = new LastKnownGood(join(dir, 'c'), 't', { ...id, scope: SCOPE_BUILD });
    writeFileSync(other.path, readFileSync(a.path));
    expect((await other.load(60_000)).status).toBe('unreadable');
  });

  it('detects tampering, including an attempt to make it look younger', async () => {
    const lkg = new LastKnownGood(join(dir, 'd'), 't', id);
    await lkg.save(res, Date.now() - 48 * 3_600_000);
    const raw = readFileSync(lkg.path);
    raw[raw.length - 1]! ^= 1;
    writeFileSync(lkg.path, raw);
    expect((await lkg.load(24 * 3_600_000)).status).toBe('unreadable');
  });

  it('is stale past --max-stale, and disabled by 0', async () => {
    const lkg = new LastKnownGood(join(dir, 'e'), 't', id);
    await lkg.save(res, Date.now() - 2 * 3_600_000);
    expect((await lkg.load(3_600_000)).status).toBe('stale');
    expect((await lkg.load(0)).status).toBe('stale');
    expect((await lkg.load(3 * 3_600_000)).status).toBe('ok');
  });

  it('reports a missing copy', async () => {
    expect((await new LastKnownGood(join(dir, 'none'), 't', id).load(60_000)).status).toBe('missing');
  });
});

describe('memory cache (node-cache)', () => {
  it('keeps resolutions by identity and expires them after the TTL', async () => {
    const m = new MemoryCache({ ttlSeconds: 1 });
    m.set(id, res);
    expect(m.get(id)).toBe(res);
    expect(m.get({ ...id, scope: SCOPE_BUILD })).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1100));
    expect(m.get(id)).toBeUndefined();
    m.close();
  });
});
