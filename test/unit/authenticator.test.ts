/**
 * Token look-ups of the Authenticator: cached for TOKEN_CACHE_MS; concurrent calls that find the
 * entry expired share one store read; a revocation on this replica (invalidate) is never
 * answered from a look-up that started before it.
 */
import { describe, expect, it } from 'vitest';
import { Authenticator, TOKEN_CACHE_MS } from '../../server/security/authenticator.js';
import { BUILTIN_ROLES } from '../../server/security/roles.js';
import { hashToken, type TokenRecord } from '../../server/security/tokens.js';

const SECRET = 'sg_test_secret';
const HEADER = `Bearer ${SECRET}`;

function token(revoked = false): TokenRecord {
  return { id: 't1', hash: hashToken(SECRET), name: 'ci', role: 'admin', projects: [], workload: null, scopes: [], createdAt: 1, expiresAt: 0, revoked, createdBy: 'test' };
}

/** A token store whose reads wait until released, counting them. */
function slowStore() {
  let current = token();
  const waiting: (() => void)[] = [];
  const store = {
    reads: 0,
    revoke: () => (current = token(true)),
    release: () => waiting.splice(0).forEach((go) => go()),
    getTokenByHash: async (hash: string) => {
      store.reads++;
      const answer = hash === current.hash ? { ...current } : null;
      await new Promise<void>((go) => waiting.push(go));
      return answer;
    },
    getTokensByServiceAccount: async () => [],
  };
  return store;
}

const roles = async (name: string) => BUILTIN_ROLES.find((r) => r.name === name);

describe('Authenticator token look-ups', () => {
  it('shares one store read among concurrent calls once the cached entry expired', async () => {
    let now = 1_000;
    const store = slowStore();
    const auth = new Authenticator(store, roles, () => now);
    const first = Promise.all(Array.from({ length: 8 }, () => auth.authenticate(HEADER)));
    store.release();
    expect((await first).every((p) => p.token.id === 't1')).toBe(true);
    expect(store.reads).toBe(1);
    now += TOKEN_CACHE_MS; // expired: the next calls read again, once
    const again = Promise.all(Array.from({ length: 8 }, () => auth.authenticate(HEADER)));
    await new Promise((r) => setImmediate(r));
    store.release();
    await again;
    expect(store.reads).toBe(2);
  });

  it('answers no call after invalidate from a read that started before it, and does not cache that read', async () => {
    const now = 1_000;
    const store = slowStore();
    const auth = new Authenticator(store, roles, () => now);
    const before = auth.authenticate(HEADER); // reads the token while it is still live
    await new Promise((r) => setImmediate(r));
    store.revoke();
    auth.invalidate(); // this replica revoked it
    const after = auth.authenticate(HEADER);
    await new Promise((r) => setImmediate(r));
    expect(store.reads).toBe(2); // a read of its own, not the one on its way
    store.release();
    await expect(before).resolves.toMatchObject({ token: { id: 't1' } });
    await expect(after).rejects.toThrow(/revoked/);

    const fresh = slowStore();
    const auth2 = new Authenticator(fresh, roles, () => now);
    const early = auth2.authenticate(HEADER);
    await new Promise((r) => setImmediate(r));
    auth2.invalidate();
    fresh.release();
    await early;
    const next = auth2.authenticate(HEADER);
    await new Promise((r) => setImmediate(r));
    expect(fresh.reads).toBe(2); // the early read's answer was not cached
    fresh.release();
    await next;
  });
});
