import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../server/store/sqlite-store.js';
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
