/**
 * Bearer tokens: `sg_` + 32 random bytes (base64url). Only a SHA-256 hash is stored; a
 * high-entropy secret needs no slow hash, and a fast one keeps authentication off the
 * hot path's budget.
 */
import { createHash, randomBytes } from 'node:crypto';

export function newTokenSecret(): string {
  return `sg_${randomBytes(32).toString('base64url')}`;
}

export function newTokenId(): string {
  return randomBytes(6).toString('hex');
}

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Reads `authorization: Bearer <token>`; undefined when absent or malformed. */
export function bearerFrom(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
