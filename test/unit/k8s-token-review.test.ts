/**
 * Kubernetes service-account tokens: the review cache (accepted, refused and unavailable
 * answers, their lifetimes, the token's own expiry, bounds), the unverified JWT claims, the
 * server's API settings with in-cluster defaults, and the stream guard's re-review. A fake clock
 * and a fake API server (a function answering TokenReview statuses); the real API server is
 * exercised in test/kubernetes/identity.test.ts.
 */
import type { TokenReviewStatus } from 'kubernetes-types/authentication/v1.js';
import { beforeEach, describe, expect, it } from 'vitest';
import { kubeApiConfig } from '../../server/app/k8s-options.js';
import { DomainError } from '../../server/domain/errors.js';
import { looksLikeJwt, unverifiedClaims } from '../../server/security/k8s/jwt-claims.js';
import { KubeApiError } from '../../server/security/k8s/review-errors.js';
import { ReviewUnavailable, TokenReviewer } from '../../server/security/k8s/token-reviewer.js';
import { Principal } from '../../server/security/principal.js';
import { RoleRegistry } from '../../server/security/role-registry.js';
import { builtinRole } from '../../server/security/roles.js';
import { StreamGuard, type CutCode } from '../../server/security/stream-guard.js';
import { Snapshots } from '../../server/watch/snapshots.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import type { TokenRecord } from '../../server/store/store.js';
import { workload } from '../helpers/fixtures.js';

const T0 = 1_700_000_000_000;
let now = T0;
const clock = () => now;

/** An unsigned-looking JWT with these claims (the reviewer never verifies it; the fake API server decides). */
function jwt(claims: Record<string, unknown>, tag = ''): string {
  const seg = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${seg({ alg: 'RS256', kid: 'k' })}.${seg({ ...claims, tag })}.${Buffer.from(`sig${tag}`).toString('base64url')}`;
}

const ok = (account = 'apps/api', audiences = ['secret-groups']): TokenReviewStatus => ({
  authenticated: true,
  audiences,
  user: { username: `system:serviceaccount:${account.replace('/', ':')}`, uid: 'u' },
});

/** A fake API server: answers from `answer`, counting the reviews it gets. */
function fakeApi(answer: (token: string) => Promise<TokenReviewStatus> | TokenReviewStatus) {
  const api = { calls: 0, ask: async (token: string) => (api.calls++, answer(token)) };
  return api;
}

const inAnHour = () => Math.floor(now / 1000) + 3600;

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return `${(e as DomainError).code}: ${(e as Error).message}`;
  }
  return 'OK';
}

beforeEach(() => {
  now = T0;
});

describe('TokenReviewer', () => {
  it('accepts a service account token for the audience and caches the answer 10 s', async () => {
    const api = fakeApi(() => ok());
    const r = new TokenReviewer(api.ask, { audience: 'secret-groups', now: clock });
    const token = jwt({ exp: inAnHour() });
    const first = await r.review(token);
    expect(first).toMatchObject({ namespace: 'apps', name: 'api', account: 'apps/api', until: T0 + 10_000 });
    now += 9_999;
    await r.review(token);
    expect(api.calls).toBe(1);
    now += 1;
    await r.review(token);
    expect(api.calls).toBe(2);
  });

  it('never caches an acceptance past the token\'s own exp, and refuses it once expired without asking', async () => {
    const api = fakeApi(() => ok());
    const r = new TokenReviewer(api.ask, { audience: 'secret-groups', now: clock });
    const token = jwt({ exp: Math.floor(T0 / 1000) + 4 });
    expect((await r.review(token)).until).toBe(T0 + 4_000);
    now += 3_999;
    await r.review(token);
    expect(api.calls).toBe(1);
    now += 1;
    expect(await reason(r.review(token))).toBe('UNAUTHENTICATED: the Kubernetes service-account token has expired');
    expect(api.calls).toBe(1);
    // A token that says it has expired is refused without a review.
    expect(await reason(r.review(jwt({ exp: Math.floor(T0 / 1000) }, 'old')))).toMatch(/has expired/);
    expect(api.calls).toBe(1);
  });

  it('refuses with a clear reason, and caches the refusal so a bad token costs one review per 10 s', async () => {
    const api = fakeApi((t) => {
      const { tag } = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString('utf8')) as { tag: string };
      switch (tag) {
        case 'bad':
          return { authenticated: false, error: '[invalid bearer token, service account token has been invalidated]' };
        case 'aud':
          return { authenticated: false, error: 'token audiences ["other"] is invalid for the target audiences ["secret-groups"]' };
        case 'noaud':
          return { authenticated: true, audiences: [], user: { username: 'system:serviceaccount:apps:api' } };
        case 'user':
          return { authenticated: true, audiences: ['secret-groups'], user: { username: 'admin' } };
        default:
          return ok();
      }
    });
    const r = new TokenReviewer(api.ask, { audience: 'secret-groups', now: clock });
    const exp = inAnHour();
    const bad = jwt({ exp }, 'bad');
    expect(await reason(r.review(bad))).toBe('UNAUTHENTICATED: Kubernetes did not authenticate the token: [invalid bearer token, service account token has been invalidated]');
    expect(await reason(r.review(jwt({ exp, aud: ['other'] }, 'aud')))).toMatch(/^UNAUTHENTICATED: the Kubernetes token is not for audience "secret-groups"/);
    expect(await reason(r.review(jwt({ exp }, 'noaud')))).toBe('UNAUTHENTICATED: Kubernetes did not confirm the token is for audience "secret-groups"');
    expect(await reason(r.review(jwt({ exp }, 'user')))).toBe('UNAUTHENTICATED: the Kubernetes token is not a service account\'s (user "admin")');
    expect(api.calls).toBe(4);
    for (let i = 0; i < 50; i++) await reason(r.review(bad));
    expect(api.calls).toBe(4);
    now += 10_000;
    await reason(r.review(bad));
    expect(api.calls).toBe(5);
    // No message repeats the token.
    expect(await reason(r.review(bad))).not.toContain(bad.split('.')[1]!);
  });

  it('answers UNAVAILABLE (not UNAUTHENTICATED) when the API server cannot be asked, retried after 1 s', async () => {
    let down = true;
    const api = fakeApi(() => {
      if (down) throw new KubeApiError('no answer within 5000 ms');
      return ok();
    });
    const r = new TokenReviewer(api.ask, { audience: 'secret-groups', now: clock });
    const token = jwt({ exp: inAnHour() });
    const e = await r.review(token).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ReviewUnavailable);
    expect((e as DomainError).code).toBe('UNAVAILABLE');
    expect((e as Error).message).toBe('cannot review the Kubernetes token: no answer within 5000 ms');
    await reason(r.review(token));
    expect(api.calls).toBe(1);
    down = false;
    now += 1_000;
    expect((await r.review(token)).account).toBe('apps/api');
    expect(api.calls).toBe(2);
  });

  it('shares one review among concurrent callers of a token, and bounds reviews in flight and answers kept', async () => {
    const gates: (() => void)[] = [];
    const api = fakeApi(() => new Promise<TokenReviewStatus>((done) => gates.push(() => done(ok()))));
    const r = new TokenReviewer(api.ask, { audience: 'secret-groups', now: clock, maxInFlight: 2, maxEntries: 3 });
    const exp = inAnHour();
    const same = [r.review(jwt({ exp }, 'a')), r.review(jwt({ exp }, 'a'))];
    const other = r.review(jwt({ exp }, 'b'));
    expect(await reason(r.review(jwt({ exp }, 'c')))).toBe('UNAVAILABLE: too many Kubernetes token reviews in progress; retry shortly');
    expect(api.calls).toBe(2);
    for (const g of gates.splice(0)) g();
    await Promise.all([...same, other]);
    // Four more tokens: only the three newest answers are kept.
    for (const tag of ['c', 'd', 'e', 'f']) {
      const p = r.review(jwt({ exp }, tag));
      gates.shift()!();
      await p;
    }
    const calls = api.calls;
    const again = r.review(jwt({ exp }, 'f'));
    await again;
    expect(api.calls).toBe(calls);
    const evicted = r.review(jwt({ exp }, 'a'));
    gates.shift()!();
    await evicted;
    expect(api.calls).toBe(calls + 1);
  });
});

describe('unverified JWT claims', () => {
  it('reads exp and aud of JWT-shaped text only', () => {
    expect(unverifiedClaims(jwt({ exp: 5, aud: 'x' }))).toEqual({ exp: 5, aud: ['x'] });
    expect(unverifiedClaims(jwt({ aud: ['a', 1, 'b'] }))).toEqual({ aud: ['a', 'b'] });
    expect(looksLikeJwt('sg_abcdef')).toBe(false);
    expect(looksLikeJwt('a.b.c')).toBe(false);
    expect(looksLikeJwt(`${Buffer.from('{"typ":"JWT"}').toString('base64url')}.e30.c2ln`)).toBe(false); // no alg
    expect(looksLikeJwt(`${Buffer.from('{"alg":"RS256"}').toString('base64url')}.e30.c2ln`)).toBe(true);
    expect(looksLikeJwt(`${Buffer.from('{"alg":"RS256"}').toString('base64url')}.e30.`)).toBe(false);
    expect(looksLikeJwt(`${jwt({})}${'a'.repeat(20_000)}`)).toBe(false);
  });
});

describe('sg serve Kubernetes settings', () => {
  const pod = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
  const inPod = () => true;
  const nowhere = () => false;

  it('is off outside a pod without --k8s-api, and uses the in-cluster defaults in a pod', () => {
    expect(kubeApiConfig({}, {}, nowhere)).toBeUndefined();
    expect(kubeApiConfig({}, pod, nowhere)).toBeUndefined(); // no mounted credential
    expect(kubeApiConfig({}, pod, inPod)).toEqual({
      url: 'https://10.0.0.1:443',
      caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
      tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      audience: 'secret-groups',
    });
    expect(kubeApiConfig({ audience: 'sg-prod' }, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, inPod)).toMatchObject({ url: 'https://[fd00::1]:6443', audience: 'sg-prod' });
    expect(kubeApiConfig({ api: 'off' }, pod, inPod)).toBeUndefined();
  });

  it('takes explicit flags, and refuses incomplete or unsafe ones', () => {
    expect(kubeApiConfig({ api: 'https://127.0.0.1:6443/', ca: '/ca.pem', tokenFile: '/tok' }, {}, nowhere)).toEqual({ url: 'https://127.0.0.1:6443', caFile: '/ca.pem', tokenFile: '/tok', audience: 'secret-groups' });
    expect(() => kubeApiConfig({ api: 'https://k:6443' }, {}, nowhere)).toThrow(/needs --k8s-token-file/);
    expect(() => kubeApiConfig({ api: 'http://k:6443', tokenFile: '/t' }, {}, nowhere)).toThrow(/https/);
    expect(() => kubeApiConfig({ api: 'not a url', tokenFile: '/t' }, {}, nowhere)).toThrow(/https:\/\/ URL or off/);
    expect(() => kubeApiConfig({ ca: '/ca.pem' }, {}, nowhere)).toThrow(/need --k8s-api/);
    expect(() => kubeApiConfig({ audience: 'x' }, {}, nowhere)).toThrow(/--k8s-audience needs --k8s-api/);
    expect(() => kubeApiConfig({ api: 'https://k', tokenFile: '/t', audience: 'a b' }, {}, nowhere)).toThrow(/printable ASCII/);
  });
});

describe('stream guard and service-account principals', () => {
  const binding: TokenRecord = {
    id: 'b1',
    hash: 'k8s-binding:b1',
    name: 'k8s:apps/api',
    role: 'workload',
    projects: ['p'],
    workload: { project: 'p', workload: 'api', uid: 'uid-1' },
    scopes: ['runtime'],
    createdAt: 1,
    expiresAt: 0,
    revoked: false,
    createdBy: 'test',
    k8sServiceAccount: 'apps/api',
  };
  const principal = (key: string, expiresAt = 0) => new Principal(binding, builtinRole('workload')!, { account: 'apps/api', credential: `jwt-${key}`, key, expiresAt });
  const stream = () => {
    const s = { ended: undefined as string | undefined, project: 'p', workload: 'api', scope: 'runtime' as const, end: (code: CutCode, message: string) => (s.ended = `${code}: ${message}`) };
    return s;
  };

  async function setup(review: (p: Principal) => Promise<void>) {
    const store = new SqliteStore(':memory:');
    await store.init();
    await store.createProject({ name: 'p', createdAt: 1 });
    await store.createRecord('workload', { ...workload('api'), uid: 'uid-1' });
    await store.createToken(binding);
    const snapshots = new Snapshots(store, (r) => Buffer.from(r.etag));
    await snapshots.get('p');
    return new StreamGuard(store, new RoleRegistry(store), snapshots, { maxStreamsPerToken: 1, checkMs: 1_000_000, review, reviewMs: 10_000, now: clock });
  }

  it('re-reviews each pod\'s token once a review period has passed, and ends only the refused one\'s streams', async () => {
    const refused = new Set<string>();
    const reviewed: string[] = [];
    const guard = await setup(async (p) => {
      reviewed.push(p.k8s!.key);
      if (refused.has(p.k8s!.key)) throw new DomainError('UNAUTHENTICATED', 'Kubernetes did not authenticate the token: service account deleted');
      if (p.k8s!.key === 'down') throw new ReviewUnavailable('cannot review the Kubernetes token: no answer within 5000 ms');
    });
    const a = stream();
    const b = stream();
    const d = stream();
    // One stream per presented token (the cap is per token, so per pod).
    guard.admit(principal('a'), a);
    guard.admit(principal('b'), b);
    guard.admit(principal('down'), d);
    expect(() => guard.admit(principal('a'), stream())).toThrow(/already holds 1/);
    await guard.reviewDue();
    expect(reviewed).toEqual([]);
    now += 10_000;
    refused.add('a');
    await guard.reviewDue();
    expect(reviewed.sort()).toEqual(['a', 'b', 'down']);
    expect(a.ended).toBe('UNAUTHENTICATED: Kubernetes did not authenticate the token: service account deleted');
    expect(b.ended).toBeUndefined();
    expect(d.ended).toBeUndefined(); // an API server that does not answer ends nothing
    expect(guard.streamCount).toBe(2);
    // Unbinding (revoking the binding) ends every pod's streams of that service account.
    guard.revoked('b1');
    expect(b.ended).toBe('UNAUTHENTICATED: the binding of Kubernetes service account apps/api was removed');
    expect(d.ended).toMatch(/binding .* was removed/);
  });

  it('ends a service account\'s streams at its token\'s expiry', async () => {
    const guard = await setup(async () => undefined);
    const s = stream();
    now = Date.now();
    const p = principal('x', now + 50);
    expect(p.token.expiresAt).toBe(p.k8s!.expiresAt);
    expect(p.actor).toBe('workload:p/api(k8s:apps/api)');
    guard.admit(p, s);
    now += 60; // the guard's timer fires at expiry; its clock then says it has passed
    await new Promise((r) => setTimeout(r, 120));
    expect(s.ended).toBe('UNAUTHENTICATED: token has expired');
  });
});
