/**
 * Console sessions: a random id (the session cookie) -> the token it signed in with, in
 * memory only. Each session also has a binding secret, handed to the page that signed in
 * (never in a cookie): a request counts for the session only when it carries both, so a
 * cookie set by another site on the same host ("session tossing") is not enough to swap a
 * signed-in page into another session. A session ends at sign-out, when its token expires, after IDLE_MS without a
 * request, or when the token is refused (revoked). The count is bounded: the least recently
 * used session is dropped first, and one token holds at most MAX_SESSIONS_PER_TOKEN sessions.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_IDLE_MS = 30 * 60_000;
export const MAX_SESSIONS = 10_000;
/** Per token: one token signing in again and again cannot push everyone else's sessions out. */
export const MAX_SESSIONS_PER_TOKEN = 32;

interface Session {
  token: string;
  /** 32 random bytes as hex: only the page that signed in holds it. */
  binding: string;
  /** Ends the session's open streams (Watch, WatchProject) when the session ends. */
  streams: Set<() => void>;
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
    private readonly maxPerToken = MAX_SESSIONS_PER_TOKEN,
  ) {}

  create(token: string, expiresAt: number): string {
    const same = [...this.byId].filter(([, s]) => s.token === token);
    for (const [old] of same.slice(0, Math.max(0, same.length - this.maxPerToken + 1))) this.delete(old);
    const id = randomBytes(32).toString('base64url');
    this.byId.set(id, { token, binding: randomBytes(32).toString('hex'), expiresAt, lastUsed: this.now(), streams: new Set() });
    while (this.byId.size > this.max) this.delete(this.byId.keys().next().value!);
    return id;
  }

  /** The session's token, refreshing its idle timer; undefined when unknown or ended. */
  token(id: string | undefined): string | undefined {
    if (!id) return undefined;
    const s = this.byId.get(id);
    if (!s) return undefined;
    const now = this.now();
    if (now - s.lastUsed > this.idleMs || (s.expiresAt && s.expiresAt <= now)) {
      this.delete(id);
      return undefined;
    }
    s.lastUsed = now;
    this.byId.delete(id);
    this.byId.set(id, s);
    return s.token;
  }

  /** The binding secret of a live session, for the sign-in answer. */
  binding(id: string): string | undefined {
    return this.byId.get(id)?.binding;
  }

  /** Whether `binding` is the session's binding secret (constant-time). */
  bound(id: string | undefined, binding: string | undefined): boolean {
    const s = id ? this.byId.get(id) : undefined;
    if (!s || !binding) return false;
    const a = Buffer.from(s.binding);
    const b = Buffer.from(binding);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  delete(id: string | undefined): void {
    const s = id ? this.byId.get(id) : undefined;
    if (!s) return;
    this.byId.delete(id!);
    for (const end of s.streams) end();
  }

  /** Registers a stream to end with the session; returns the function that unregisters it. */
  onEnd(id: string, end: () => void): () => void {
    const s = this.byId.get(id);
    if (!s) return () => undefined;
    s.streams.add(end);
    return () => s.streams.delete(end);
  }

  get size(): number {
    return this.byId.size;
  }
}
