/**
 * Secret files of a resolution, written under `--files-root`, and only when one was given:
 * without it they are skipped with a warning. A default of `/` would let whoever may add a file
 * to a group write any path the agent can (a 0755 file in PATH, a shell profile).
 *
 * A record's path must be absolute and normalised, without `..`; it is placed under the root,
 * whose real path is resolved once. Every existing directory on the way is checked by its real
 * path: a symlink that stays inside the root is followed, one that leads out of it is refused.
 * A symlink at the file itself is replaced, never written through. Missing directories are
 * created (0755: paths are configuration, contents are the secret). Files are written
 * atomically with the record's mode (default 0600; set-id and sticky bits are dropped).
 */
import { lstat, mkdir, realpath } from 'node:fs/promises';
import { posix, sep } from 'node:path';
import { atomicWrite } from './atomic-write.js';
import type { Resolution, SecretFile } from '../../client/wire.js';
import type { AgentLog } from '../log.js';
import type { Sink } from './sink.js';

export class SecretPathError extends Error {
  override name = 'SecretPathError';
}

/** Validates a record's path; returns its segments. */
export function secretPathSegments(p: string): string[] {
  if (typeof p !== 'string' || !p.startsWith('/')) throw new SecretPathError(`secret file path ${JSON.stringify(p)} is not absolute`);
  if (p.includes('\0')) throw new SecretPathError('secret file path contains a NUL byte');
  const segs = p.split('/').slice(1);
  if (segs.includes('..') || segs.includes('.')) throw new SecretPathError(`secret file path ${JSON.stringify(p)} contains . or ..`);
  if (posix.normalize(p) !== p || p.endsWith('/') || segs.some((s) => s === '')) {
    throw new SecretPathError(`secret file path ${JSON.stringify(p)} is not normalised`);
  }
  return segs;
}

export function fileMode(mode: number | undefined): number {
  const m = (mode ?? 0) & 0o777;
  return m === 0 ? 0o600 : m;
}

function inside(root: string, real: string): boolean {
  return root === sep ? real.startsWith(sep) : real === root || real.startsWith(root + sep);
}

export interface WriteFilesResult {
  written: string[];
  unchanged: string[];
  /** Paths not written because no files root was given. */
  skipped: string[];
}

export class SecretFileWriter {
  private realRoot: string | undefined;

  /**
   * @param root the directory secret files are written under; undefined writes none.
   * @param onSkipped told how many files a write skipped for want of a root (to warn).
   */
  constructor(
    readonly root: string | undefined,
    private readonly onSkipped?: (count: number) => void,
  ) {}

  /** Resolves the root; fails when it does not exist or is not a directory. */
  async prepare(): Promise<string> {
    if (this.realRoot) return this.realRoot;
    if (this.root === undefined) throw new SecretPathError('no --files-root given');
    let real: string;
    try {
      real = await realpath(this.root);
    } catch (e) {
      throw new SecretPathError(`--files-root ${this.root} does not exist (${(e as NodeJS.ErrnoException).code})`);
    }
    if (!(await lstat(real)).isDirectory()) throw new SecretPathError(`--files-root ${this.root} is not a directory`);
    this.realRoot = real;
    return real;
  }

  /** The on-disk location of a record's path (after validation). */
  async target(p: string): Promise<string> {
    const root = await this.prepare();
    return posix.join(root, ...secretPathSegments(p));
  }

  /** Validates every path before anything is written, so bad input writes nothing. */
  async validate(files: SecretFile[]): Promise<void> {
    if (this.root !== undefined) await this.prepare();
    const seen = new Set<string>();
    for (const f of files) {
      secretPathSegments(f.path);
      if (seen.has(f.path)) throw new SecretPathError(`secret file path ${JSON.stringify(f.path)} appears twice`);
      seen.add(f.path);
    }
  }

  private async ensureDir(root: string, segs: string[]): Promise<string> {
    let cur = root;
    for (const s of segs) {
      const next = posix.join(cur, s);
      let st;
      try {
        st = await lstat(next);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        await mkdir(next, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
        st = await lstat(next);
      }
      if (st.isSymbolicLink()) {
        const real = await realpath(next);
        if (!inside(root, real)) throw new SecretPathError(`refusing to follow symlink ${next} out of the files root`);
        if (!(await lstat(real)).isDirectory()) throw new SecretPathError(`${next} is not a directory`);
        cur = real;
      } else if (st.isDirectory()) {
        cur = next;
      } else {
        throw new SecretPathError(`${next} is not a directory`);
      }
    }
    return cur;
  }

  async write(files: SecretFile[]): Promise<WriteFilesResult> {
    await this.validate(files);
    if (this.root === undefined) {
      if (files.length) this.onSkipped?.(files.length);
      return { written: [], unchanged: [], skipped: files.map((f) => f.path) };
    }
    const root = this.realRoot!;
    const result: WriteFilesResult = { written: [], unchanged: [], skipped: [] };
    for (const f of files) {
      const segs = secretPathSegments(f.path);
      const dir = await this.ensureDir(root, segs.slice(0, -1));
      const target = posix.join(dir, segs[segs.length - 1]!);
      try {
        if ((await lstat(target)).isDirectory()) throw new SecretPathError(`${target} is a directory`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      const changed = await atomicWrite(target, f.content, { mode: fileMode(f.mode) });
      (changed ? result.written : result.unchanged).push(f.path);
    }
    return result;
  }
}

/** The warning for secret files skipped because no --files-root was given. */
export function skippedFilesWarning(log: { warn(msg: string, fields?: Record<string, unknown>): void }): (count: number) => void {
  return (count) => log.warn('secret files not written: no --files-root given (pass --files-root DIR to write them under DIR)', { files: count });
}

/** The secret files of every resolution, under --files-root (none without it: a warning). */
export class SecretFilesSink implements Sink {
  readonly writer: SecretFileWriter;

  constructor(
    root: string | undefined,
    private readonly log: Pick<AgentLog, 'debug' | 'info' | 'warn'>,
  ) {
    this.writer = new SecretFileWriter(root, skippedFilesWarning(log));
  }

  private applied = false;

  validate(res: Resolution): Promise<void> {
    return this.writer.validate(res.files);
  }

  async apply(res: Resolution): Promise<boolean> {
    const r = await this.writer.write(res.files);
    // The first write is part of starting; later ones are changes worth a line at info.
    if (r.written.length) this.log[this.applied ? 'info' : 'debug'](this.applied ? 'secret files updated' : 'secret files written', { paths: r.written });
    this.applied = true;
    return r.written.length > 0;
  }
}
