/**
 * Console sessions: a random id (the sg_session cookie) -> the token it signed in with, in
 * memory only. A session ends at sign-out, when its token expires, after IDLE_MS without a
 * request, or when the token is refused (revoked). The count is bounded: the least recently
 * used session is dropped first.
 */
import { randomBytes } from 'node:crypto';

export const SESSION_IDLE_MS = 30 * 60_000;
export const MAX_SESSIONS = 10_000;

interface Session {
  token: string;
  /** 0 = the token never expires. */
  expiresAt: number;
  lastUsed: number;
}

export class Sessions {
  // Insertion order = least recently used first (touching re-inserts).
  private readonly byId = new Map<string, Session>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly idleMs = SESSION_IDLE_MS,
    private readonly max = MAX_SESSIONS,
  ) {}

  create(token: string, expiresAt: number): string {
    const id = randomBytes(32).toString('base64url');
    this.byId.set(id, { token, expiresAt, lastUsed: this.now() });
    while (this.byId.size > this.max) this.byId.delete(this.byId.keys().next().value!);
    return id;
  }

  /** The session's token, refreshing its idle timer; undefined when unknown or ended. */
  token(id: string | undefined): string | undefined {
    if (!id) return undefined;
    const s = this.byId.get(id);
    if (!s) return undefined;
    const now = this.now();
    if (now - s.lastUsed > this.idleMs || (s.expiresAt && s.expiresAt <= now)) {
      this.byId.delete(id);
      return undefined;
    }
    s.lastUsed = now;
    this.byId.delete(id);
    this.byId.set(id, s);
    return s.token;
  }

  delete(id: string | undefined): void {
    if (id) this.byId.delete(id);
  }

  get size(): number {
    return this.byId.size;
  }
}
