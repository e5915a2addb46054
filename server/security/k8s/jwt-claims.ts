/**
 * A JSON Web Token's claims, read WITHOUT verifying its signature. Only ever used to refuse a
 * token early (it says it has expired) or to shorten how long a review is cached (never past
 * its `exp`): a forged claim can make the server refuse sooner, never accept.
 */

/** Bearer credentials longer than this are not reviewed (Kubernetes tokens are ~1 KB). */
export const MAX_JWT_LENGTH = 16 * 1024;

export interface UnverifiedClaims {
  /** Seconds since the epoch, when present and a number. */
  exp?: number;
  /** The audiences it names (a string claim becomes a list of one). */
  aud?: string[];
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

function decodeJsonObject(segment: string): Record<string, unknown> | undefined {
  if (!SEGMENT.test(segment)) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The claims of something shaped like a signed JWT (three base64url segments, a JSON header
 * naming an algorithm, a JSON payload), or undefined when it is not shaped so.
 */
export function unverifiedClaims(token: string): UnverifiedClaims | undefined {
  if (token.length > MAX_JWT_LENGTH) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[2] || !SEGMENT.test(parts[2])) return undefined;
  const header = decodeJsonObject(parts[0]!);
  if (!header || typeof header.alg !== 'string') return undefined;
  const payload = decodeJsonObject(parts[1]!);
  if (!payload) return undefined;
  const claims: UnverifiedClaims = {};
  if (typeof payload.exp === 'number' && Number.isFinite(payload.exp)) claims.exp = payload.exp;
  if (typeof payload.aud === 'string') claims.aud = [payload.aud];
  else if (Array.isArray(payload.aud)) claims.aud = payload.aud.filter((a): a is string => typeof a === 'string');
  return claims;
}

/** Whether a bearer credential is worth a TokenReview (it is shaped like a JWT). */
export function looksLikeJwt(token: string): boolean {
  return unverifiedClaims(token) !== undefined;
}
