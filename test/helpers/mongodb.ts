/**
 * A MongoDB-protocol server for tests. SG_TEST_MONGODB_URI points at any MongoDB; otherwise
 * the harness starts FerretDB (SQLite handler) on a free loopback port in a temporary
 * directory, telemetry off, and stops it afterwards. `.ci/install-ferretdb.sh` installs it.
 *
 * When neither is available, `mongoAvailability()` says why: test files then fail under
 * CI=true and are reported as skipped (with the reason) elsewhere — never as passing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { MongoClient } from 'mongodb';
import { describe, it } from 'vitest';

export const FERRETDB_VERSION = 'v1.24.2';

export interface MongoServer {
  /** A mongodb:// URI without a database name. */
  uri: string;
  /** False with SG_TEST_MONGODB_URI: that server cannot be stopped or started by the tests. */
  controllable: boolean;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); data is kept. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** stop() and remove the temporary directory. */
  dispose(): Promise<void>;
}

export type Availability = { ok: true; uri?: string; binary?: string } | { ok: false; reason: string };

const INSTALL_HINT = 'run `bash .ci/install-ferretdb.sh` (needs Go) or set SG_TEST_MONGODB_URI';

/** Where a working ferretdb binary is, if any: $FERRETDB_BIN, PATH, $(go env GOPATH)/bin, ~/go/bin. */
function findFerretdb(): { binary?: string; broken?: string } {
  const candidates: string[] = [];
  if (process.env.FERRETDB_BIN) candidates.push(process.env.FERRETDB_BIN);
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'ferretdb'));
  const gopath = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8', timeout: 10_000 });
  if (gopath.status === 0 && gopath.stdout.trim()) candidates.push(join(gopath.stdout.trim(), 'bin', 'ferretdb'));
  candidates.push(join(homedir(), 'go', 'bin', 'ferretdb'));
  let broken: string | undefined;
  for (const c of candidates) {
    if (!existsSync(c)) continue;
    // A plain `go install` build panics at start (FerretDB#2982), so check it really runs.
    const v = spawnSync(c, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    if (v.status === 0 && /^version: v1\./m.test(v.stdout)) return { binary: c };
    broken ??= c;
  }
  return { broken };
}

let cached: Availability | undefined;

export function mongoAvailability(): Availability {
  if (cached) return cached;
  const uri = process.env.SG_TEST_MONGODB_URI;
  if (uri) return (cached = { ok: true, uri });
  const found = findFerretdb();
  if (found.binary) return (cached = { ok: true, binary: found.binary });
  const reason = found.broken
    ? `the ferretdb binary at ${found.broken} does not run (a plain \`go install\` build panics); ${INSTALL_HINT}`
    : `no MongoDB-protocol server: SG_TEST_MONGODB_URI is unset and no ferretdb binary was found; ${INSTALL_HINT}`;
  return (cached = { ok: false, reason });
}

/**
 * Declares `body` as a describe block when a MongoDB-protocol server is available. Otherwise:
 * under CI=true one failing test carrying the reason; elsewhere a skipped block naming it.
 */
export function describeWithMongo(name: string, body: () => void): void {
  const a = mongoAvailability();
  if (a.ok) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('has a MongoDB-protocol server to test against', () => {
        throw new Error(`CI=true requires a MongoDB-protocol server: ${a.reason}`);
      });
    });
  } else {
    console.warn(`[${name}] skipped: ${a.reason}`);
    describe.skip(`${name} (skipped: ${a.reason})`, body);
  }
}

export async function startMongo(): Promise<MongoServer> {
  const a = mongoAvailability();
  if (!a.ok) throw new Error(a.reason);
  if (a.uri) {
    const unsupported = async () => {
      throw new Error('SG_TEST_MONGODB_URI points at an external server, which the tests cannot stop or start');
    };
    await waitForPing(a.uri, 15_000, () => null);
    return { uri: a.uri, controllable: false, stop: unsupported, start: unsupported, dispose: async () => {} };
  }
  return startFerretdb(a.binary!);
}

async function startFerretdb(binary: string): Promise<MongoServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-ferretdb-'));
  mkdirSync(join(dir, 'data'));
  let port = 0;
  let proc: ChildProcess | null = null;
  let log = '';

  const launch = async () => {
    log = '';
    const child = spawn(
      binary,
      [
        '--handler=sqlite',
        `--sqlite-url=file:${join(dir, 'data')}/`,
        `--state-dir=${dir}`,
        `--listen-addr=127.0.0.1:${port}`,
        '--debug-addr=-',
        '--telemetry=disable',
        '--log-level=ERROR',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    proc = child;
    await waitForPing(`mongodb://127.0.0.1:${port}/`, 20_000, () =>
      child.exitCode !== null || child.signalCode !== null ? `ferretdb exited (${child.exitCode ?? child.signalCode}):\n${log}` : null,
    );
  };

  const stop = async () => {
    const child = proc;
    proc = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((done) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(killer);
        done();
      });
      child.kill('SIGTERM');
    });
  };

  // The free port may be taken between probing and binding; try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (e) {
      await stop();
      if (attempt === 3) {
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }
  const killOnExit = () => proc?.kill('SIGKILL');
  process.once('exit', killOnExit);

  return {
    uri: `mongodb://127.0.0.1:${port}/`,
    controllable: true,
    stop,
    start: async () => {
      if (proc) return;
      await launch();
    },
    dispose: async () => {
      process.off('exit', killOnExit);
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPing(uri: string, timeoutMs: number, failed: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const why = failed();
    if (why) throw new Error(why);
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500 });
    try {
      await client.db('admin').command({ ping: 1 });
      return;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.close().catch(() => undefined);
    }
  }
  throw new Error(`MongoDB-protocol server did not answer a ping within ${timeoutMs} ms: ${String(last)}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** A database name no other test uses. */
export function uniqueDbName(prefix = 'sgtest'): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
