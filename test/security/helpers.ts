/** Shared setup for the encryption-at-rest tests: a SealedStore over a SQLite file in a temp dir. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainError } from '../../server/domain/errors.js';
import type { SecretKey } from '../../server/security/envelope.js';
import { generateMasterKey } from '../../server/security/master-key.js';
import { SealedStore } from '../../server/store/sealed-store.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';

export interface SealedSqlite {
  dir: string;
  file: string;
  /** The master key `store` was opened with. */
  key: SecretKey;
  store: SealedStore;
  /** Opens another SealedStore over the same file, e.g. with another master key. */
  reopen(key: SecretKey): Promise<SealedStore>;
  cleanup(): Promise<void>;
}

export async function sealedSqlite(key: SecretKey = generateMasterKey().key): Promise<SealedSqlite> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-sealed-'));
  const file = join(dir, 'sg.db');
  const opened: SealedStore[] = [];
  const open = async (k: SecretKey) => {
    const s = new SealedStore(new SqliteStore(file), k);
    await s.init();
    opened.push(s);
    return s;
  };
  const store = await open(key);
  return {
    dir,
    file,
    key,
    store,
    reopen: open,
    async cleanup() {
      for (const s of opened) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every byte SQLite keeps on disk for the database: main file, WAL and shared memory. */
export function rawDatabaseBytes(dir: string): Buffer {
  return Buffer.concat(
    readdirSync(dir)
      .filter((f) => f.startsWith('sg.db'))
      .map((f) => readFileSync(join(dir, f))),
  );
}

/**
 * Byte strings that would betray `secret` on disk: itself, its hex, and its base64 at each of
 * the three alignments it can have inside a longer base64 text (edges trimmed, since they
 * depend on the neighbouring bytes).
 */
export function leakNeedles(secret: string): Buffer[] {
  const raw = Buffer.from(secret, 'utf8');
  const needles = [raw, Buffer.from(raw.toString('hex')), Buffer.from(raw.toString('hex').toUpperCase())];
  for (let o = 0; o < 3; o++) {
    const b64 = Buffer.concat([Buffer.alloc(o), raw]).toString('base64');
    needles.push(Buffer.from(b64.slice(4, -4)));
    needles.push(Buffer.from(b64.slice(4, -4).replace(/\+/g, '-').replace(/\//g, '_')));
  }
  return needles;
}

export function leaks(haystack: Buffer, secret: string): string[] {
  return leakNeedles(secret)
    .filter((n) => haystack.includes(n))
    .map((n) => n.toString());
}

/** The DomainError a promise rejects with (fails the test when it resolves or throws something else). */
export async function domainErrorOf(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error('expected a DomainError, but the call succeeded');
}
