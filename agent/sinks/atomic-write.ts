/**
 * Atomic file replacement, as Vault's file sink and consul-template's renderer do it: a
 * temporary file in the same directory (so rename stays on one filesystem), fsync, chmod,
 * rename over the target, fsync the directory. Skipped when the bytes and mode are unchanged,
 * so watchers of the file see no event for a no-op.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lstat, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** Permission bits of the result; default 0600. */
  mode?: number;
  /** Create the parent directory (0700) when missing. */
  mkdir?: boolean;
}

/** Returns false when the file already had these bytes and this mode (nothing was written). */
export async function atomicWrite(path: string, data: Uint8Array | string, opts: AtomicWriteOptions = {}): Promise<boolean> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const mode = (opts.mode ?? 0o600) & 0o777;
  const dir = dirname(path);
  if (opts.mkdir) await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    const st = await lstat(path);
    // Only a regular file is compared; a symlink at the target is replaced, never followed.
    if (st.isFile() && (st.mode & 0o777) === mode && st.size === bytes.length && (await readFile(path)).equals(bytes)) return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx' (O_CREAT|O_EXCL) never opens an existing file or a planted symlink; 0600 until chmod.
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
    await fh.chmod(mode);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  // Make the rename itself durable; some filesystems cannot fsync a directory, which is fine.
  try {
    const d = await open(dir, 'r');
    await d.sync().catch(() => undefined);
    await d.close();
  } catch {
    /* directory fsync is best effort */
  }
  return true;
}

/**
 * Fails unless `path` can be written atomically: its directory exists and accepts a new file,
 * and the path is not a directory. Probes with a real temporary file (removed at once), since
 * access(2) says yes to root on read-only mounts.
 */
export async function checkWritable(path: string): Promise<void> {
  const dir = dirname(path);
  let st;
  try {
    st = await stat(dir);
  } catch (e) {
    throw new Error(`directory ${dir} does not exist (${(e as NodeJS.ErrnoException).code})`);
  }
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  try {
    if ((await stat(path)).isDirectory()) throw new Error(`${path} is a directory`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await access(dir, constants.W_OK).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`directory ${dir} is not writable (${e.code})`);
  });
  const probe = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.probe`);
  try {
    const fh = await open(probe, 'wx', 0o600);
    await fh.close();
  } catch (e) {
    throw new Error(`directory ${dir} is not writable (${(e as NodeJS.ErrnoException).code})`);
  } finally {
    await rm(probe, { force: true });
  }
}
