/**
 * Bearer tokens: `sg_` + 32 random bytes (base64url). Only a SHA-256 hash is stored; a
 * high-entropy secret needs no slow hash, and a fast one keeps authentication off the
 * hot path's budget.
 */
import { createHash, randomBytes } from 'node:crypto';

/** A stored token: only the hash of its secret. */
export interface TokenRecord {
  id: string;
  hash: string;
  name: string;
  role: string;
  /** Empty: every project. */
  projects: string[];
  /**
   * A workload token's identity. `uid` is the workload's creation identity (Workload.uid) when
   * the token was made: a workload deleted and re-created under the same name has another one,
   * so the old token is dead. Absent on tokens made before workloads had one.
   */
  workload: { project: string; workload: string; uid?: string } | null;
  scopes: ('runtime' | 'build')[];
  createdAt: number;
  /** 0: never. */
  expiresAt: number;
  revoked: boolean;
  createdBy: string;
  /**
   * Set on a Kubernetes service-account binding ("NAMESPACE/NAME"): a workload identity with no
   * secret of its own (its `hash` is no SHA-256 of anything, so no bearer token matches it); a
   * pod running as that service account authenticates with its projected token instead.
   */
  k8sServiceAccount?: string;
}

/**
 * What authentication, the role registry and the stream guard read from the store (the
 * Store interface, store/store.ts, is one): security defines what it needs, so it imports
 * nothing from the store.
 */
export interface TokenStore {
  getTokenByHash(hash: string): Promise<TokenRecord | null>;
  getTokensByServiceAccount(account: string): Promise<TokenRecord[]>;
  getTokensByIds(ids: readonly string[]): Promise<TokenRecord[]>;
  listTokens(): Promise<TokenRecord[]>;
  /** A number that moves on every revocation. */
  tokenChanges(): Promise<number>;
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;
}

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
