/**
 * FerretDB (MongoDB wire protocol, SQLite handler) for the MongoDB write figure, found and
 * started the way test/helpers/mongodb.ts does it (that helper imports vitest, which plain
 * node cannot load). SG_TEST_MONGODB_URI points at any MongoDB instead.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { MongoClient } from 'mongodb';
import { stopChild } from './procs.js';
import { pin, placement, sleep } from './util.js';

export interface Mongo {
  uri: string;
  /** FerretDB's process (absent for SG_TEST_MONGODB_URI). */
  pid?: number;
  stop(): Promise<void>;
}

function findFerretdb(): string | null {
  const candidates: string[] = [];
  if (process.env.FERRETDB_BIN) candidates.push(process.env.FERRETDB_BIN);
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'ferretdb'));
  const gopath = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8', timeout: 10_000 });
  if (gopath.status === 0 && gopath.stdout.trim()) candidates.push(join(gopath.stdout.trim(), 'bin', 'ferretdb'));
  candidates.push(join(homedir(), 'go', 'bin', 'ferretdb'));
  for (const c of candidates) {
    if (!existsSync(c)) continue;
    const v = spawnSync(c, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    if (v.status === 0 && /^version: v1\./m.test(v.stdout)) return c;
  }
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts FerretDB (pinned with the servers under test); throws with the reason when there is none. */
export async function startMongo(): Promise<Mongo> {
  if (process.env.SG_TEST_MONGODB_URI) return { uri: process.env.SG_TEST_MONGODB_URI, stop: async () => {} };
  const bin = findFerretdb();
  if (!bin) throw new Error('no MongoDB-protocol server: SG_TEST_MONGODB_URI is unset and no working ferretdb binary was found (run `bash .ci/install-ferretdb.sh`)');
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-ferretdb-'));
  mkdirSync(join(dir, 'data'));
  const port = await freePort();
  let log = '';
  const proc = spawn(
    bin,
    ['--handler=sqlite', `--sqlite-url=file:${join(dir, 'data')}/`, `--state-dir=${dir}`, `--listen-addr=127.0.0.1:${port}`, '--debug-addr=-', '--telemetry=disable', '--log-level=ERROR'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const p = placement();
  if (p) pin(proc.pid!, p.server);
  const uri = `mongodb://127.0.0.1:${port}/`;
  const stop = async () => {
    await stopChild(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`ferretdb exited (${proc.exitCode}): ${log.slice(-500)}`);
    }
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500 });
    try {
      await client.db('admin').command({ ping: 1 });
      break;
    } catch (e) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`ferretdb did not answer within 20 s: ${String(e)}`);
      }
      await sleep(100);
    } finally {
      await client.close().catch(() => undefined);
    }
  }
  return { uri, pid: proc.pid!, stop };
}
