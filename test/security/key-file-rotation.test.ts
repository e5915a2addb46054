import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadMasterKey, pendingKeyPath, rotateMasterKeyFile } from '../../server/security/master-key.js';
import { SealedStore } from '../../server/store/sealed-store.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import type { Store } from '../../server/store/store.js';
import { group } from '../helpers/fixtures.js';
import { domainErrorOf, sealedSqlite, type SealedSqlite } from './helpers.js';

describe('rotating the embedded key file', () => {
  let env: SealedSqlite;
  afterEach(async () => {
    await env.cleanup();
  });

  async function start(dataDir: string) {
    const loaded = loadMasterKey({ dataDir, env: {}, allowCreate: true });
    return { loaded, store: await env.reopen(loaded.key) };
  }

  it('replaces DATA/master.key; the next start reads everything with the new key only', async () => {
    env = await sealedSqlite();
    const first = await start(env.dir);
    expect(first.loaded.created).toBe(true);
    await first.store.createProject({ name: 'p', createdAt: 1 });
    await first.store.createRecord('group', group('g', { variables: { A: 'kept' } }));

    const path = join(env.dir, 'master.key');
    const { key, resumed } = await rotateMasterKeyFile(path, (k) => first.store.rotateMasterKey(k));
    expect(resumed).toBe(false);
    expect(key.id).not.toBe(first.loaded.key.id);
    expect(existsSync(pendingKeyPath(path))).toBe(false);
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const second = await start(env.dir);
    expect(second.loaded).toMatchObject({ created: false, pendingRotation: false });
    expect(second.loaded.key.id).toBe(key.id);
    await second.store.verifyMasterKey();
    expect((await second.store.getRecord('group', 'p', 'g'))!.variables).toEqual({ A: 'kept' });
  });

  it('an interrupted rotation is flagged at the next start and finishes when run again', async () => {
    env = await sealedSqlite();
    const first = await start(env.dir);
    for (const p of ['p', 'q']) {
      await first.store.createProject({ name: p, createdAt: 1 });
      await first.store.createRecord('group', group('g', { project: p, variables: { A: p } }));
    }
    const path = join(env.dir, 'master.key');
    // Re-wrap one project, then "crash".
    await expect(
      rotateMasterKeyFile(path, async (k) => {
        const inner = new SqliteStore(env.file);
        const half = new SealedStore(
          { ...bind(inner), listProjects: async () => [{ name: 'p', createdAt: 1 }] },
          first.loaded.key,
        );
        await half.rotateMasterKey(k);
        await inner.close();
        throw new Error('killed');
      }),
    ).rejects.toThrow('killed');

    const restarted = await start(env.dir);
    expect(restarted.loaded).toMatchObject({ pendingRotation: true });
    expect(restarted.loaded.key.id).toBe(first.loaded.key.id);
    const e = await domainErrorOf(restarted.store.verifyMasterKey());
    expect(e.message).toMatch(/cannot open the data keys of 1 project\(s\): p;/);

    const { key, resumed } = await rotateMasterKeyFile(path, (k) => restarted.store.rotateMasterKey(k));
    expect(resumed).toBe(true);
    const done = await start(env.dir);
    expect(done.loaded).toMatchObject({ pendingRotation: false });
    expect(done.loaded.key.id).toBe(key.id);
    await done.store.verifyMasterKey();
    for (const p of ['p', 'q']) expect((await done.store.getRecord('group', p, 'g'))!.variables).toEqual({ A: p });
  });
});

/** The store's methods bound to it, so single methods can be overridden by spreading. */
function bind(o: Store): Store {
  const out = {} as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(o))) {
    const v = (o as unknown as Record<string, unknown>)[name];
    if (typeof v === 'function' && name !== 'constructor') out[name] = (v as (...a: unknown[]) => unknown).bind(o);
  }
  return out as unknown as Store;
}
