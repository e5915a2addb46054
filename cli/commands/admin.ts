/**
 * `sg admin rotate-master-key`: re-wraps every project's data key under a new master key,
 * offline (servers stopped), following SECURITY.md's runbook. Prints counts and key ids only.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { usage } from '../errors.js';
import { emit, withJson } from '../kit.js';

interface Opts {
  data?: string;
  store?: string;
  masterKeyFile?: string;
  newMasterKeyFile?: string;
  json?: boolean;
}

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('offline administration of a stopped installation');
  withJson(
    admin
      .command('rotate-master-key')
      .description('re-wrap every data key under a new master key (stop every server first; resumable)')
      .option('--data <dir>', 'data directory (default: $SG_DATA_DIR, else ./data)')
      .option('--store <uri>', 'mongodb://... when the servers use MongoDB (default: $SG_STORE_URI)')
      .option('--master-key-file <file>', 'the current key file (default: $SG_MASTER_KEY, else DATA/master.key)')
      .option('--new-master-key-file <file>', 'the new key (base64 of 32 bytes, mode 0600); without it a key file is rotated in place')
      .addHelpText('after', '\nSee SECURITY.md, "Master key rotation runbook".'),
  ).action(async (opts: Opts) => {
    const dataDir = opts.data ?? (process.env.SG_DATA_DIR || './data');
    const storeUri = opts.store ?? (process.env.SG_STORE_URI || '');
    const [{ loadMasterKey, readMasterKeyFile, rotateMasterKeyFile }, { SealedStore }, { openStore }] = await Promise.all([
      import('../../server/security/master-key.js'),
      import('../../server/store/sealed-store.js'),
      import('../../server/app/start-server.js'),
    ]);
    const current = loadMasterKey({ dataDir, keyFile: opts.masterKeyFile, allowCreate: false });
    if (current.source === 'env' && !opts.newMasterKeyFile) {
      throw usage('the current key comes from SG_MASTER_KEY: give the new one with --new-master-key-file FILE');
    }
    const store = new SealedStore(await openStore(storeUri, dataDir), current.key);
    try {
      await store.init();
      let report;
      let newKeyId: string;
      if (opts.newMasterKeyFile) {
        const next = readMasterKeyFile(opts.newMasterKeyFile);
        report = await store.rotateMasterKey(next);
        newKeyId = next.id;
      } else {
        const path = current.path ?? join(dataDir, 'master.key');
        const { key } = await rotateMasterKeyFile(path, async (k) => (report = await store.rotateMasterKey(k)));
        newKeyId = key.id;
      }
      const r = report!;
      emit(
        opts,
        () => ({ masterKeyId: newKeyId, rewrapped: r.rewrapped.length, alreadyCurrent: r.alreadyCurrent.length, withoutKey: r.withoutKey.length }),
        () =>
          `Rotated the master key: ${r.rewrapped.length} data key(s) re-wrapped, ${r.alreadyCurrent.length} already current, ` +
          `${r.withoutKey.length} project(s) without a data key.\nNew master key id: ${newKeyId}\n`,
      );
    } finally {
      await store.close();
    }
  });
}
