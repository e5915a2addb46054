/**
 * The encrypted last-known-good copy of a resolution in `--cache-dir`, used only when the
 * server cannot be reached at start and the copy is younger than `--max-stale`.
 *
 * Format: "SGLKG1" | salt(16) | iv(12) | tag(16) | AES-256-GCM(savedAtMs u64 BE | Resolution).
 * The key is HKDF-SHA256 over the workload token with a fresh random salt per write: tokens are
 * long random secrets, so a slow password KDF would add start-up latency without adding
 * strength. The identity (project/workload/scope) is the associated data, so a copy cannot be
 * replayed under another identity, and the saved time is inside the ciphertext, so it cannot be
 * moved forward. A copy that does not decrypt (other token, tampering) counts as missing.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWrite } from '../sinks/atomic-write.js';
import { decodeResolution, encodeResolution, type Identity, type Resolution } from '../../client/wire.js';
import { identityKey } from './memory.js';

const MAGIC = Buffer.from('SGLKG1');
const SALT = 16;
const IV = 12;
const TAG = 16;

export interface CachedResolution {
  resolution: Resolution;
  savedAtMs: number;
}

export type LoadResult =
  | { status: 'ok'; cached: CachedResolution; ageMs: number }
  | { status: 'missing' | 'unreadable' | 'stale'; ageMs?: number };

function deriveKey(token: string, salt: Buffer, id: Identity): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(token, 'utf8'), salt, `sg-agent last-known-good v1 ${identityKey(id)}`, 32));
}

export class LastKnownGood {
  readonly path: string;

  constructor(
    dir: string,
    private readonly token: string,
    private readonly id: Identity,
  ) {
    // The file name reveals nothing about the identity; one file per identity and scope.
    const name = createHash('sha256').update(identityKey(id)).digest('hex').slice(0, 32);
    this.path = join(dir, `${name}.lkg`);
  }

  seal(resolution: Resolution, savedAtMs: number): Buffer {
    const salt = randomBytes(SALT);
    const iv = randomBytes(IV);
    const cipher = createCipheriv('aes-256-gcm', deriveKey(this.token, salt, this.id), iv);
    cipher.setAAD(Buffer.from(identityKey(this.id)));
    const ts = Buffer.alloc(8);
    ts.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(savedAtMs))));
    const body = Buffer.concat([cipher.update(ts), cipher.update(encodeResolution(resolution)), cipher.final()]);
    return Buffer.concat([MAGIC, salt, iv, cipher.getAuthTag(), body]);
  }

  open(blob: Buffer): CachedResolution | undefined {
    if (blob.length < MAGIC.length + SALT + IV + TAG + 8 || !blob.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    let off = MAGIC.length;
    const salt = blob.subarray(off, (off += SALT));
    const iv = blob.subarray(off, (off += IV));
    const tag = blob.subarray(off, (off += TAG));
    try {
      const d = createDecipheriv('aes-256-gcm', deriveKey(this.token, salt, this.id), iv);
      d.setAAD(Buffer.from(identityKey(this.id)));
      d.setAuthTag(tag);
      const plain = Buffer.concat([d.update(blob.subarray(off)), d.final()]);
      const savedAtMs = Number(plain.readBigUInt64BE(0));
      return { savedAtMs, resolution: decodeResolution(plain.subarray(8)) };
    } catch {
      return undefined;
    }
  }

  async save(resolution: Resolution, savedAtMs = Date.now()): Promise<void> {
    // Rewritten on every confirmation (its bytes always differ: fresh salt and IV).
    await atomicWrite(this.path, this.seal(resolution, savedAtMs), { mode: 0o600, mkdir: true });
  }

  /** Loads the copy and judges it against `maxStaleMs` (0 disables the cache). */
  async load(maxStaleMs: number, now = Date.now()): Promise<LoadResult> {
    let blob: Buffer;
    try {
      blob = await readFile(this.path);
    } catch (e) {
      return { status: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable' };
    }
    const cached = this.open(blob);
    if (!cached) return { status: 'unreadable' };
    const ageMs = now - cached.savedAtMs;
    if (maxStaleMs <= 0 || ageMs > maxStaleMs || ageMs < -60_000) return { status: 'stale', ageMs };
    return { status: 'ok', cached, ageMs };
  }
}
