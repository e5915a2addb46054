/**
 * `sg migrate`: a real embedded installation, filled through the CLI, moved into MongoDB
 * (FerretDB here) and served from there with the same master key and the copied admin token.
 * Values never appear in the migration's output nor, unsealed, in the target's documents.
 * Requires `npm run build`.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateMasterKey } from '../../server/security/master-key.js';
import { MongoStore } from '../../server/store/mongo-store.js';
import { describeWithMongo, startMongo, uniqueDbName, type MongoServer } from '../helpers/mongodb.js';
import { runNode, SG, sg, startServerProcess, type RunResult, type ServerProcess } from '../helpers/server-process.js';

async function ok(server: Pick<ServerProcess, 'addr' | 'adminToken'>, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await sg(server, args, env);
  if (r.code !== 0) throw new Error(`sg ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

const jsonOf = async (server: ServerProcess, args: string[], env: NodeJS.ProcessEnv = {}) => JSON.parse(await ok(server, [...args, '--json'], env)) as Record<string, unknown>;

/** Runs `sg migrate ARGS` to completion. */
const migrate = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> => runNode(SG, ['migrate', ...args], env, undefined, 120_000);

/** Every document of every collection of a database, as one string. */
async function rawDump(uri: string, dbName: string): Promise<string> {
  const client = new MongoClient(uri);
  try {
    const db = client.db(dbName);
    let out = '';
    for (const c of await db.listCollections().toArray()) out += JSON.stringify(await db.collection(c.name).find({}).toArray());
    return out;
  } finally {
    await client.close();
  }
}

describeWithMongo('sg migrate', () => {
  let mongo: MongoServer;
  const dirs: string[] = [];
  const tmp = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  beforeAll(async () => {
    mongo = await startMongo();
  });
  afterAll(async () => {
    await mongo?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('moves a whole embedded installation into MongoDB; a server on the copy answers as before', async () => {
    const canary = `c4n4ry${randomBytes(6).toString('hex')}`;
    const secret = (n: string) => `${canary}-${n}`;
    const dataDir = tmp('sg-migrate-src-');
    const fileContent = `-----BEGIN KEY-----\n${secret('file')}\n`;
    const localFile = join(dataDir, '..', `${canary}.pem`);
    writeFileSync(localFile, fileContent);
    dirs.push(localFile);

    // 1. An embedded installation with every kind of data, made through the real CLI.
    const src = await startServerProcess({ dataDir });
    let before: {
      resolveApi: unknown;
      resolveWorker: unknown;
      history: unknown;
      oldHistory: unknown;
      tokens: unknown;
      workloadToken: string;
    };
    try {
      await ok(src, ['project', 'create', 'shop']);
      await ok(src, ['project', 'create', 'blog']);
      await ok(src, ['project', 'execution-keys', 'shop', '--add', 'ACME_*']);
      await ok(src, ['workload', 'create', 'shop', 'api', '--tag', 'web', '--var', `OWN=${secret('own')}`]);
      await ok(src, ['workload', 'create', 'shop', 'worker', '--kind', 'job', '--build-arg', `BUILD=${secret('build')}`]);
      await ok(src, ['addon', 'create', 'shop', 'db', '--type', 'postgresql', '--detail', `PASSWORD=${secret('addon')}`, '--detail', 'HOST=db']);
      await ok(src, ['group', 'create', 'shop', 'common', '--priority', '10']);
      await ok(src, ['group', 'set', 'shop', 'common', `DB_URL=postgres://u:${secret('r2')}@db/shop`, 'MODE=one']);
      await ok(src, ['group', 'set', 'shop', 'common', 'MODE=two', `EXTRA=${secret('r3')}`]);
      await ok(src, ['group', 'file', 'add', 'shop', 'common', '/etc/app/key.pem', '--from', localFile]);
      await ok(src, ['group', 'link', 'shop', 'common', 'db']);
      await ok(src, ['group', 'create', 'shop', 'old']);
      await ok(src, ['group', 'set', 'shop', 'old', `GONE=${secret('gone')}`]);
      await ok(src, ['group', 'delete', 'shop', 'old']);
      await ok(src, ['workload', 'create', 'blog', 'web']);
      await ok(src, ['group', 'create', 'blog', 'g']);
      await ok(src, ['group', 'set', 'blog', 'g', `B=${secret('blog')}`]);
      const workloadToken = (await ok(src, ['token', 'create', '--workload', 'shop/api', '--name', 'api-agent'])).trim();
      const revoked = JSON.parse(await ok(src, ['token', 'create', '--role', 'viewer', '--name', 'gone', '--json'])) as { info: { id: string } };
      await ok(src, ['token', 'revoke', revoked.info.id]);

      before = {
        resolveApi: await jsonOf(src, ['resolve', 'shop', 'api']),
        resolveWorker: await jsonOf(src, ['resolve', 'shop', 'worker', '--scope', 'build']),
        history: await jsonOf(src, ['group', 'history', 'shop', 'common']),
        oldHistory: await jsonOf(src, ['group', 'history', 'shop', 'old']),
        tokens: await jsonOf(src, ['token', 'list']),
        workloadToken,
      };
      expect(JSON.stringify(before.resolveApi)).toContain(secret('r3'));
    } finally {
      await src.stop();
    }

    // 2. Migrate (master key from DATA/master.key, the embedded default).
    const dbName = uniqueDbName('sgmigrate');
    const uri = `${mongo.uri}${dbName}`;
    const run = await migrate(['--from', dataDir, '--to', uri]);
    expect(run.stderr + run.stdout).not.toContain(canary);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/project 1\/2 blog: 1 workloads, 0 addons, 1 groups, 2 history entries/);
    expect(run.stderr).toMatch(/project 2\/2 shop: 2 workloads, 1 addons, 1 groups \(\+1 deleted, history kept\), \d+ history entries/);
    expect(run.stdout).toMatch(/Migrated into database sgmigrate_\S+ and verified/);
    expect(run.stdout).toMatch(/tokens 3, audit events [1-9]\d*/);
    expect(run.stdout + run.stderr).not.toContain(mongo.uri);

    // Nothing unsealed reached the target: no value, no file content (raw or base64).
    const raw = await rawDump(mongo.uri, dbName);
    expect(raw).toContain('common');
    expect(raw).not.toContain(canary);
    expect(raw).not.toContain(Buffer.from(fileContent).toString('base64').slice(0, 24));

    // 3. A rerun refuses the non-empty target, names the fix, and changes nothing.
    const again = await migrate(['--from', dataDir, '--to', uri]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not empty \(an earlier sg migrate already completed into it\).*drop that database/);
    expect(again.stderr).not.toContain(mongo.uri);

    // 4. A MongoDB server with the same master key and the copied admin token.
    const serveDir = tmp('sg-migrate-dst-');
    copyFileSync(join(dataDir, 'admin.token'), join(serveDir, 'admin.token'));
    const masterKey = readFileSync(join(dataDir, 'master.key'), 'utf8').trim();
    const dst = await startServerProcess({ dataDir: serveDir, args: ['--store', uri], env: { SG_MASTER_KEY: masterKey } });
    try {
      expect(await jsonOf(dst, ['resolve', 'shop', 'api'])).toEqual(before.resolveApi);
      expect(await jsonOf(dst, ['resolve', 'shop', 'worker', '--scope', 'build'])).toEqual(before.resolveWorker);
      expect(await jsonOf(dst, ['group', 'history', 'shop', 'common'])).toEqual(before.history);
      expect(await jsonOf(dst, ['group', 'history', 'shop', 'old'])).toEqual(before.oldHistory);
      expect(await jsonOf(dst, ['token', 'list'])).toEqual(before.tokens);
      expect(((await jsonOf(dst, ['project', 'execution-keys', 'shop'])) as { projectKeys: string[] }).projectKeys).toEqual(['ACME_*']);
      // The workload token keeps working; the revoked one stays revoked (listed as such above).
      const asWorkload = await sg(dst, ['resolve', 'shop', 'api', '--json'], { SG_TOKEN: before.workloadToken });
      expect(asWorkload.code, asWorkload.stderr).toBe(0);
      expect(JSON.parse(asWorkload.stdout)).toEqual(before.resolveApi);
      expect((await sg(dst, ['resolve', 'blog', 'web'], { SG_TOKEN: before.workloadToken })).code).not.toBe(0);

      // History still opens: roll back to revision 2 (sealed at revision 2 in the old store).
      const revisions = (before.history as { revisions: { revision: number }[] }).revisions.map((r) => r.revision);
      await ok(dst, ['group', 'rollback', 'shop', 'common', '2']);
      const rolled = (await jsonOf(dst, ['resolve', 'shop', 'api'])) as { variables: Record<string, string> };
      expect(rolled.variables.MODE).toBe('one');
      expect(rolled.variables.EXTRA).toBeUndefined();
      const after = (await jsonOf(dst, ['group', 'history', 'shop', 'common'])) as { revisions: { revision: number }[] };
      expect(after.revisions.map((r) => r.revision)).toEqual([...revisions, Math.max(...revisions) + 1]);

      // A deleted group recreated on the copy continues its history.
      await ok(dst, ['group', 'create', 'shop', 'old']);
      const old = (await jsonOf(dst, ['group', 'history', 'shop', 'old'])) as { revisions: { revision: number }[] };
      expect(old.revisions.map((r) => r.revision)).toEqual([1, 2, 3, 4]);
    } finally {
      await dst.stop();
    }
  });

  it('refuses a wrong master key before writing anything, and an interrupted copy with a clear fix', async () => {
    const dataDir = tmp('sg-migrate-key-');
    const src = await startServerProcess({ dataDir });
    try {
      await ok(src, ['project', 'create', 'p']);
      await ok(src, ['group', 'create', 'p', 'g']);
      await ok(src, ['group', 'set', 'p', 'g', 'K=v']);
    } finally {
      await src.stop();
    }

    const dbName = uniqueDbName('sgmigratekey');
    const uri = `${mongo.uri}${dbName}`;
    const wrong = await migrate(['--from', dataDir, '--to', uri], { SG_MASTER_KEY: generateMasterKey().encoded });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/cannot open the data keys of 1 project\(s\): p/);
    const store = new MongoStore(mongo.uri, { dbName });
    try {
      await store.init();
      expect(await store.listProjects()).toEqual([]);

      // An interrupted migration leaves its marker: a rerun names it and says what to do.
      await store.setMeta('migration', JSON.stringify({ state: 'in-progress', startedAt: Date.now() }));
      await store.createProject({ name: 'p', createdAt: 1 });
      const rerun = await migrate(['--from', dataDir, '--to', uri]);
      expect(rerun.code).toBe(1);
      expect(rerun.stderr).toMatch(/holds the partial copy of an interrupted sg migrate.*drop that database and run sg migrate again/);

      // After dropping the database the same command succeeds.
      await store.dropDatabase();
      const ok2 = await migrate(['--from', dataDir, '--to', uri]);
      expect(ok2.code, ok2.stderr).toBe(0);
      expect(await store.listProjects()).toEqual([{ name: 'p', createdAt: expect.any(Number) }]);
    } finally {
      await store.close();
    }

    const usage = await migrate(['--from', dataDir, '--to', 'postgres://x']);
    expect(usage.code).toBe(2);
    const missing = await migrate(['--from', join(dataDir, 'nope'), '--to', uri]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no embedded store at/);
  });
});
