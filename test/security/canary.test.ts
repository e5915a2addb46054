/**
 * Plants a canary in every sealed place (variable, build argument, runtime variable, addon
 * detail, file content, history) and searches the raw SQLite files for it. A control run
 * through the plain store proves the search would find a leak.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GroupHistoryEntry, SecretGroup } from '../../server/domain/types.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import type { Store } from '../../server/store/store.js';
import { addon, group, workload } from '../helpers/fixtures.js';
import { leaks, rawDatabaseBytes, sealedSqlite, type SealedSqlite } from './helpers.js';

const CANARY = 'CANARY-q7Zx3-do-not-store-in-clear-91f2';

function hist(g: SecretGroup, action: string, deleted = false): GroupHistoryEntry {
  return {
    project: g.project,
    name: g.name,
    revision: g.revision,
    time: 1,
    actor: 't',
    action,
    changedKeys: Object.keys(g.variables),
    group: deleted ? null : g,
  };
}

async function plantCanaries(store: Store, canary: string): Promise<void> {
  await store.createProject({ name: 'p', createdAt: 1 });
  await store.createRecord('workload', workload('w', { runtimeVariables: { RUN: `${canary}-run` }, buildArguments: { BUILD: `${canary}-build` } }));
  await store.createRecord('addon', addon('db', { connectionDetails: { password: `${canary}-addon` } }));
  const g1 = group('g', {
    type: 'secret',
    variables: { SECRET: `${canary}-var` },
    files: [{ path: '/etc/canary.txt', content: Buffer.from(`${canary}-file`), mode: 0o600 }],
  });
  await store.createRecord('group', g1, hist(g1, 'CreateGroup'));
  const g2 = { ...g1, revision: 2, variables: { SECRET: `${canary}-var2`, OTHER: `${canary}-hist` } };
  await store.updateRecord('group', g2, hist(g2, 'SetVariables'));
  // A deleted group's history keeps its values: they must be sealed too.
  const d = group('gone', { variables: { OLD: `${canary}-deleted` } });
  await store.createRecord('group', d, hist(d, 'CreateGroup'));
  await store.deleteRecord('group', 'p', 'gone', 1, hist({ ...d, revision: 2 }, 'DeleteGroup', true));
}

describe('no plaintext at rest', () => {
  let env: SealedSqlite | undefined;
  afterEach(async () => {
    await env?.cleanup();
    env = undefined;
  });

  it('control: the plain store leaves the canary on disk, so the search works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-plain-'));
    const plain = new SqliteStore(join(dir, 'sg.db'));
    await plain.init();
    await plantCanaries(plain, CANARY);
    const raw = rawDatabaseBytes(dir);
    await plain.close();
    rmSync(dir, { recursive: true, force: true });
    expect(leaks(raw, CANARY).length).toBeGreaterThan(0);
    // The file content is stored base64-encoded by the codec: the base64 needles must catch it.
    expect(raw.includes(Buffer.from(`${CANARY}-file`))).toBe(false);
    expect(leaks(raw, `${CANARY}-file`).length).toBeGreaterThan(0);
  });

  it('the sealed store leaves no canary in the SQLite file or its WAL, and reads every value back', async () => {
    env = await sealedSqlite();
    await plantCanaries(env.store, CANARY);

    // With the writer still open the data sits in the WAL; check then, and after a checkpoint.
    expect(leaks(rawDatabaseBytes(env.dir), CANARY)).toEqual([]);
    for (const part of ['run', 'build', 'addon', 'file', 'var', 'var2', 'hist', 'deleted']) {
      expect(leaks(rawDatabaseBytes(env.dir), `${CANARY}-${part}`)).toEqual([]);
    }

    const s = env.store;
    expect((await s.getRecord('workload', 'p', 'w'))!.runtimeVariables).toEqual({ RUN: `${CANARY}-run` });
    expect((await s.getRecord('workload', 'p', 'w'))!.buildArguments).toEqual({ BUILD: `${CANARY}-build` });
    expect((await s.getRecord('addon', 'p', 'db'))!.connectionDetails).toEqual({ password: `${CANARY}-addon` });
    const g = (await s.getRecord('group', 'p', 'g'))!;
    expect(g.variables).toEqual({ SECRET: `${CANARY}-var2`, OTHER: `${CANARY}-hist` });
    expect(Buffer.from(g.files[0]!.content).toString()).toBe(`${CANARY}-file`);
    const h = await s.listGroupHistory('p', 'g');
    expect(h[0]!.group!.variables).toEqual({ SECRET: `${CANARY}-var` });
    expect(Buffer.from(h[0]!.group!.files[0]!.content).toString()).toBe(`${CANARY}-file`);
    expect((await s.listGroupHistory('p', 'gone'))[0]!.group!.variables).toEqual({ OLD: `${CANARY}-deleted` });
    const snap = (await s.loadProject('p'))!;
    expect(snap.addons.get('db')!.connectionDetails.password).toBe(`${CANARY}-addon`);

    await s.close();
    // Closing checkpoints the WAL into the main file: search once more.
    expect(leaks(rawDatabaseBytes(env.dir), CANARY)).toEqual([]);
  });

  it('keys and file paths stay readable in the raw store; values are sg1 ciphertexts', async () => {
    env = await sealedSqlite();
    await plantCanaries(env.store, CANARY);
    const raw = rawDatabaseBytes(env.dir).toString('latin1');
    for (const name of ['SECRET', 'OTHER', 'RUN', 'BUILD', 'password', '/etc/canary.txt']) expect(raw).toContain(name);
    expect(raw).toMatch(/"SECRET":"sg1:[A-Za-z0-9_-]+:[A-Za-z0-9+/=]+"/);
  });

  it('the same value sealed twice gives different ciphertexts (random nonces)', async () => {
    env = await sealedSqlite();
    await env.store.createProject({ name: 'p', createdAt: 1 });
    await env.store.createRecord('group', group('g', { variables: { A: 'same', B: 'same' } }));
    const inner = new SqliteStore(env.file);
    const doc = (await inner.getRecord('group', 'p', 'g'))!;
    await inner.close();
    expect(doc.variables.A).not.toBe(doc.variables.B);
  });
});
