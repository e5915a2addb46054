import Database from 'better-sqlite3';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { generateMasterKey } from '../../server/security/master-key.js';
import { SealedStore } from '../../server/store/sealed-store.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import type { Store } from '../../server/store/store.js';
import { addon, group } from '../helpers/fixtures.js';
import { domainErrorOf, sealedSqlite, type SealedSqlite } from './helpers.js';

function rawRows(file: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return [
      ...db.prepare('SELECT * FROM records ORDER BY project, kind, name').all(),
      ...db.prepare('SELECT * FROM group_history ORDER BY project, name, revision').all(),
    ];
  } finally {
    db.close();
  }
}

function metaEntry(file: string, project: string): { id: string; mk: string } {
  const db = new Database(file, { readonly: true });
  try {
    return JSON.parse((db.prepare('SELECT value FROM meta WHERE key = ?').get(`datakey:${project}`) as { value: string }).value);
  } finally {
    db.close();
  }
}

async function seed(s: Store): Promise<void> {
  for (const p of ['p', 'q']) {
    await s.createProject({ name: p, createdAt: 1 });
    const g = group('g', { project: p, variables: { A: `a-${p}` }, files: [{ path: '/x', content: Buffer.from(`x-${p}`), mode: 0o600 }] });
    await s.createRecord('group', g, { project: p, name: 'g', revision: 1, time: 1, actor: 't', action: 'Create', changedKeys: ['A'], group: g });
    await s.createRecord('addon', addon('db', { project: p, connectionDetails: { password: `pw-${p}` } }));
  }
}

async function expectReadable(s: Store): Promise<void> {
  for (const p of ['p', 'q']) {
    const g = (await s.getRecord('group', p, 'g'))!;
    expect(g.variables).toEqual({ A: `a-${p}` });
    expect(Buffer.from(g.files[0]!.content).toString()).toBe(`x-${p}`);
    expect((await s.listGroupHistory(p, 'g'))[0]!.group!.variables).toEqual({ A: `a-${p}` });
    expect((await s.getRecord('addon', p, 'db'))!.connectionDetails).toEqual({ password: `pw-${p}` });
  }
}

describe('master key rotation', () => {
  let env: SealedSqlite;
  afterEach(async () => {
    await env.cleanup();
  });

  it('re-wraps data keys without touching values; afterwards only the new key opens them', async () => {
    const oldKey = generateMasterKey().key;
    const newKey = generateMasterKey().key;
    env = await sealedSqlite(oldKey);
    await seed(env.store);
    const before = rawRows(env.file);
    const dataKeyId = metaEntry(env.file, 'p').id;
    expect(metaEntry(env.file, 'p').mk).toBe(oldKey.id);

    const report = await env.store.rotateMasterKey(newKey);
    expect(report).toEqual({ rewrapped: ['p', 'q'], alreadyCurrent: [], withoutKey: [] });
    expect(env.store.masterKeyId).toBe(newKey.id);
    expect(rawRows(env.file)).toEqual(before);
    expect(metaEntry(env.file, 'p')).toMatchObject({ id: dataKeyId, mk: newKey.id });
    await expectReadable(env.store);
    // New writes after rotation work, and new projects are wrapped by the new key.
    await env.store.createProject({ name: 'r', createdAt: 1 });
    await env.store.createRecord('group', group('g', { project: 'r', variables: { A: 'a-r' } }));
    expect(metaEntry(env.file, 'r').mk).toBe(newKey.id);

    // A restart with the new key reads everything.
    const withNew = await env.reopen(newKey);
    await withNew.verifyMasterKey();
    await expectReadable(withNew);
    expect((await withNew.getRecord('group', 'r', 'g'))!.variables).toEqual({ A: 'a-r' });

    // A restart with only the old key cannot: a clear error, no values.
    const withOld = await env.reopen(oldKey);
    const e = await domainErrorOf(withOld.getRecord('group', 'p', 'g'));
    expect(e.code).toBe('FAILED_PRECONDITION');
    expect(e.message).toBe(
      `the data key of project p is wrapped by master key ${newKey.id}, but the loaded master key is ${oldKey.id}; start the server with the master key that wrapped it`,
    );
    const v = await domainErrorOf(withOld.verifyMasterKey());
    expect(v.code).toBe('FAILED_PRECONDITION');
    expect(v.message).toMatch(new RegExp(`^the master key ${oldKey.id} cannot open the data keys of 3 project\\(s\\): p, q, r;`));
    // The failure is not cached as a success, and the store keeps no partial state.
    expect((await domainErrorOf(withOld.loadProject('q'))).code).toBe('FAILED_PRECONDITION');
  });

  it('an interrupted rotation can be run again and completes', async () => {
    const oldKey = generateMasterKey().key;
    const newKey = generateMasterKey().key;
    env = await sealedSqlite(oldKey);
    await seed(env.store);

    // An inner store whose second data-key write fails, as if the process died there.
    const inner = new SqliteStore(env.file);
    let writes = 0;
    const flaky = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'setMeta') {
          return async (k: string, v: string) => {
            if (k.startsWith('datakey:') && ++writes === 2) throw new Error('disk full');
            return target.setMeta(k, v);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const rotating = new SealedStore(flaky, oldKey);
    await expect(rotating.rotateMasterKey(newKey)).rejects.toThrow('disk full');
    expect(metaEntry(env.file, 'p').mk).toBe(newKey.id);
    expect(metaEntry(env.file, 'q').mk).toBe(oldKey.id);
    // Half rotated: the store that ran it still reads everything.
    await expectReadable(rotating);

    // Run again (here: after a restart with the old key, as the runbook says).
    const again = await env.reopen(oldKey);
    expect(await again.rotateMasterKey(newKey)).toEqual({ rewrapped: ['q'], alreadyCurrent: ['p'], withoutKey: [] });
    await expectReadable(await env.reopen(newKey));
    await inner.close();
  });

  it('a project deleted before a rotation and recreated after it gets a fresh data key', async () => {
    const oldKey = generateMasterKey().key;
    const newKey = generateMasterKey().key;
    env = await sealedSqlite(oldKey);
    await seed(env.store);
    await env.store.deleteProject('q');
    await env.store.rotateMasterKey(newKey);
    const withNew = await env.reopen(newKey);
    await withNew.verifyMasterKey();
    await withNew.createProject({ name: 'q', createdAt: 2 });
    await withNew.createRecord('group', group('g', { project: 'q', variables: { A: 'fresh' } }));
    expect((await withNew.getRecord('group', 'q', 'g'))!.variables).toEqual({ A: 'fresh' });
    expect(metaEntry(env.file, 'q').mk).toBe(newKey.id);
  });

  it('a recreated project reuses its data key, so another replica caching it keeps working', async () => {
    env = await sealedSqlite();
    const other = await env.reopen(env.key);
    await env.store.createProject({ name: 'p', createdAt: 1 });
    await other.createRecord('group', group('g', { variables: { A: '1' } }));
    const id = metaEntry(env.file, 'p').id;
    await env.store.deleteProject('p');
    await env.store.createProject({ name: 'p', createdAt: 2 });
    expect(metaEntry(env.file, 'p').id).toBe(id);
    await other.createRecord('group', group('g', { variables: { A: '2' } }));
    expect((await env.store.getRecord('group', 'p', 'g'))!.variables).toEqual({ A: '2' });
  });

  it('concurrent first writes to a project without a data key agree on one key', async () => {
    env = await sealedSqlite();
    // Created underneath the wrapper, e.g. data from before encryption was enabled.
    const inner = new SqliteStore(env.file);
    await inner.createProject({ name: 'p', createdAt: 1 });
    await inner.close();
    await Promise.all(Array.from({ length: 10 }, (_, i) => env.store.createRecord('group', group(`g${i}`, { variables: { A: `${i}` } }))));
    const fresh = await env.reopen(env.key);
    for (let i = 0; i < 10; i++) expect((await fresh.getRecord('group', 'p', `g${i}`))!.variables).toEqual({ A: `${i}` });
  });

  it('refuses to let callers overwrite a data key entry through setMeta', async () => {
    env = await sealedSqlite();
    await env.store.createProject({ name: 'p', createdAt: 1 });
    expect((await domainErrorOf(env.store.setMeta('datakey:p', '{}'))).code).toBe('INTERNAL');
    await env.store.setMeta('other', 'fine');
    expect(await env.store.getMeta('other')).toBe('fine');
  });

  it('a key object never prints its bytes', () => {
    const { key, encoded } = generateMasterKey();
    const shown = [String(key), JSON.stringify(key), JSON.stringify({ key }), inspect(key, { showHidden: true, depth: 9 })];
    for (const s of shown) {
      expect(s).toContain(key.id);
      expect(s).not.toContain(encoded);
      expect(s).not.toContain(Buffer.from(encoded, 'base64').toString('hex'));
    }
  });
});
