import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateMasterKey } from '../../server/security/master-key.js';
import { SealedStore } from '../../server/store/sealed-store.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import type { Store } from '../../server/store/store.js';
import { storeContract } from '../contract/store-contract.js';

const dirs = new Map<Store, string>();
storeContract('sealed sqlite', {
  async create(opts) {
    const dir = mkdtempSync(join(tmpdir(), 'sg-sealed-contract-'));
    const store = new SealedStore(new SqliteStore(join(dir, 'sg.db'), opts?.history), generateMasterKey().key);
    await store.init();
    dirs.set(store, dir);
    return store;
  },
  async destroy(store) {
    await store.close();
    rmSync(dirs.get(store)!, { recursive: true, force: true });
  },
});
