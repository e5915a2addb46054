/**
 * Loading the master key. Sources, first match wins:
 *   1. an explicit key file (`--master-key-file`), which must exist;
 *   2. `SG_MASTER_KEY` (base64 of exactly 32 bytes);
 *   3. the default key file DATA/master.key — created on first start (mode 0600) when the
 *      caller allows it, i.e. for the embedded store. With MongoDB every replica must share one
 *      master key, so a per-replica generated key would be wrong: callers pass allowCreate false.
 * Giving both 1 and 2 is refused: silently preferring one would hide a misconfiguration.
 *
 * Nothing here logs; errors name the source and the problem, never the key.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DomainError } from '../domain/errors.js';
import { masterKeyFromBytes, type SecretKey } from './envelope.js';

export const MASTER_KEY_ENV = 'SG_MASTER_KEY';
export const DEFAULT_MASTER_KEY_FILE = 'master.key';

export interface MasterKeyOptions {
  /** The data directory; the default key file is DATA/master.key. */
  dataDir: string;
  /** `--master-key-file`: must exist. */
  keyFile?: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Create DATA/master.key when no key is configured (embedded store only). Default false. */
  allowCreate?: boolean;
}

export interface LoadedMasterKey {
  key: SecretKey;
  source: 'env' | 'file';
  /** The key file, when source is 'file'. */
  path?: string;
  /** True when this call generated the key file: the server should say so (never print the key). */
  created: boolean;
  /**
   * A rotation of this key file was interrupted (`<path>.new` exists): some data keys may be
   * wrapped by the new key already. Run the rotation again to finish it.
   */
  pendingRotation: boolean;
}

const STRICT_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parses base64 of exactly 32 bytes; `source` names where it came from in the error. */
export function parseMasterKey(text: string, source: string): SecretKey {
  const t = text.trim();
  if (t.length === 0) throw new DomainError('INVALID_ARGUMENT', `${source} is empty; it must be the base64 encoding of 32 random bytes`);
  if (t.length % 4 !== 0 || !STRICT_BASE64.test(t)) {
    throw new DomainError(
      'INVALID_ARGUMENT',
      `${source} is not valid base64; it must be the base64 encoding of 32 random bytes (e.g. \`openssl rand -base64 32\`)`,
    );
  }
  const bytes = Buffer.from(t, 'base64');
  if (bytes.length !== 32) {
    throw new DomainError(
      'INVALID_ARGUMENT',
      `${source} decodes to ${bytes.length} bytes; a master key must be exactly 32 bytes (e.g. \`openssl rand -base64 32\`)`,
    );
  }
  return masterKeyFromBytes(bytes);
}

/** A new random master key and its base64 text (for a key file or a secret manager). */
export function generateMasterKey(): { key: SecretKey; encoded: string } {
  const bytes = randomBytes(32);
  return { key: masterKeyFromBytes(bytes), encoded: bytes.toString('base64') };
}

/** Reads a key file; refuses one that group or others can read, as ssh does. */
export function readMasterKeyFile(path: string): SecretKey {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DomainError('FAILED_PRECONDITION', `master key file ${path} cannot be read (${code ?? 'error'})`);
  }
  if (!st.isFile()) throw new DomainError('FAILED_PRECONDITION', `master key file ${path} is not a regular file`);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new DomainError(
      'FAILED_PRECONDITION',
      `master key file ${path} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 on it`,
    );
  }
  return parseMasterKey(readFileSync(path, 'utf8'), `master key file ${path}`);
}

/**
 * Writes `encoded` to `path` with mode 0600, atomically and without clobbering: a temp file
 * is written and fsynced, then hard-linked into place (fails if `path` exists, so two
 * processes starting at once cannot each write a different key). Returns false when `path`
 * already existed.
 */
export function writeMasterKeyFile(path: string, encoded: string, opts: { overwrite?: boolean } = {}): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${encoded}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    if (opts.overwrite) {
      renameSync(tmp, path);
      return true;
    }
    try {
      linkSync(tmp, path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      // Filesystems without hard links: fall back to exclusive-open semantics via a check.
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
      try {
        statSync(path);
        return false;
      } catch {
        renameSync(tmp, path);
        return true;
      }
    }
    return true;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // Already renamed into place.
    }
    syncDir(dirname(path));
  }
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Directory fsync is best effort (not supported everywhere).
  }
}

export function loadMasterKey(opts: MasterKeyOptions): LoadedMasterKey {
  const env = opts.env ?? process.env;
  const fromEnv = env[MASTER_KEY_ENV];
  const hasEnv = fromEnv !== undefined && fromEnv !== '';
  if (opts.keyFile && hasEnv) {
    throw new DomainError('INVALID_ARGUMENT', `both ${MASTER_KEY_ENV} and --master-key-file are set; give only one`);
  }
  if (opts.keyFile) return fromFile(opts.keyFile, false);
  if (hasEnv) return { key: parseMasterKey(fromEnv, MASTER_KEY_ENV), source: 'env', created: false, pendingRotation: false };
  if (fromEnv === '') throw new DomainError('INVALID_ARGUMENT', `${MASTER_KEY_ENV} is set but empty`);

  const path = join(opts.dataDir, DEFAULT_MASTER_KEY_FILE);
  let exists = true;
  try {
    statSync(path);
  } catch {
    exists = false;
  }
  if (!exists) {
    if (!opts.allowCreate) {
      throw new DomainError(
        'FAILED_PRECONDITION',
        `no master key: set ${MASTER_KEY_ENV} or --master-key-file (every server replica sharing a store must use the same master key)`,
      );
    }
    const { encoded } = generateMasterKey();
    if (writeMasterKeyFile(path, encoded)) return fromFile(path, true);
    // Another process created it first: use theirs.
  }
  return fromFile(path, false);
}

function fromFile(path: string, created: boolean): LoadedMasterKey {
  const key = readMasterKeyFile(path);
  return { key, source: 'file', path, created, pendingRotation: existsSync(pendingKeyPath(path)) };
}

/** Where a rotation of the key file `path` keeps the new key until it has taken over. */
export function pendingKeyPath(path: string): string {
  return `${path}.new`;
}

/**
 * Rotates a key file (the embedded default DATA/master.key, or a --master-key-file), safe to
 * interrupt at any point and to run again:
 *   1. the new key is written to `<path>.new` (0600) — or, after an interrupted run, reused;
 *   2. `rewrap` re-wraps every data key under it (SealedStore.rotateMasterKey, itself resumable);
 *   3. `<path>.new` is renamed over `path`; the old key is gone from disk.
 * Until step 3 the old key stays in `path`, and the store opens with either key's help on a
 * re-run, so no crash leaves data without a usable key.
 */
export async function rotateMasterKeyFile(
  path: string,
  rewrap: (newKey: SecretKey) => Promise<unknown>,
): Promise<{ key: SecretKey; resumed: boolean }> {
  const pending = pendingKeyPath(path);
  const resumed = !writeMasterKeyFile(pending, generateMasterKey().encoded);
  const key = readMasterKeyFile(pending);
  await rewrap(key);
  renameSync(pending, path);
  syncDir(dirname(path));
  return { key, resumed };
}
