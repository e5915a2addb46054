import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { encodeHistory } from '../../server/store/codec.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import { group } from '../helpers/fixtures.js';
import type { Store } from '../../server/store/store.js';
import { storeContract } from './store-contract.js';

const dirs = new Map<Store, string>();
storeContract('sqlite', {
  async create(opts) {
    const dir = mkdtempSync(join(tmpdir(), 'sg-sqlite-'));
    const store = new SqliteStore(join(dir, 'sg.db'), opts?.history);
    await store.init();
    dirs.set(store, dir);
    return store;
  },
  async destroy(store) {
    await store.close();
    rmSync(dirs.get(store)!, { recursive: true, force: true });
  },
});

describe('SQLite store: a file written before the history budget', () => {
  it('is weighed and pruned to the budget when first opened, keeping the newest revisions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-sqlite-legacy-'));
    try {
      const file = join(dir, 'sg.db');
      const old = new Database(file);
      old.exec(`CREATE TABLE group_history (
        project TEXT NOT NULL, name TEXT NOT NULL, revision INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (project, name, revision))`);
      for (let r = 1; r <= 10; r++) {
        const g = group('g', { revision: r, variables: { A: String(r) } });
        const entry = { project: 'p', name: 'g', revision: r, time: r, actor: 't', action: 'SetVariables', changedKeys: ['A'], group: g };
        old.prepare('INSERT INTO group_history (project, name, revision, data) VALUES (?, ?, ?, ?)').run('p', 'g', r, JSON.stringify(encodeHistory(entry)));
      }
      old.close();
      const store = new SqliteStore(file, { bytes: 1 << 30, revisions: 3 });
      await store.init();
      expect((await store.listGroupHistory('p', 'g')).map((h) => h.revision)).toEqual([8, 9, 10]);
      expect(await store.groupHistoryBounds('p', 'g')).toEqual({ first: 8, last: 10 });
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
