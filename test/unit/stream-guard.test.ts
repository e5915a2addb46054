/** The stream guard with a real in-memory store and snapshots, and fake streams. */
import { beforeEach, describe, expect, it } from 'vitest';
import { DomainError } from '../../server/domain/errors.js';
import { Principal } from '../../server/security/principal.js';
import { RoleRegistry } from '../../server/security/role-registry.js';
import { builtinRole, type Role } from '../../server/security/roles.js';
import { StreamGuard, type CutCode } from '../../server/security/stream-guard.js';
import { Snapshots } from '../../server/watch/snapshots.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import type { TokenRecord } from '../../server/store/store.js';
import { group, workload } from '../helpers/fixtures.js';

/** Counts the store calls the guard makes. */
class CountingStore extends SqliteStore {
  tokenReads = 0;
  override async getTokensByIds(ids: readonly string[]): Promise<TokenRecord[]> {
    this.tokenReads++;
    return super.getTokensByIds(ids);
  }
}

let store: CountingStore;
let snapshots: Snapshots;
let roles: RoleRegistry;
let guard: StreamGuard;

function token(id: string, over: Partial<TokenRecord> = {}): TokenRecord {
  return { id, hash: `h-${id}`, name: id, role: 'workload', projects: ['p'], workload: { project: 'p', workload: 'api', uid: 'uid-1' }, scopes: ['runtime'], createdAt: 1, expiresAt: 0, revoked: false, createdBy: 'test', ...over };
}

/** A fake stream that records how it was ended. */
function stream(workload = 'api') {
  const s = { ended: undefined as string | undefined, project: 'p', workload, scope: 'runtime' as const, end: (code: CutCode, message: string) => (s.ended = `${code}: ${message}`) };
  return s;
}

async function admitted(t: TokenRecord, role: Role = builtinRole(t.role)!, s = stream()) {
  await store.createToken(t).catch(() => undefined);
  const admission = guard.admit(new Principal(t, role), s);
  return { s, release: () => guard.release(s, admission) };
}

beforeEach(async () => {
  store = new CountingStore(':memory:');
  await store.init();
  await store.createProject({ name: 'p', createdAt: 1 });
  await store.createRecord('workload', { ...workload('api'), uid: 'uid-1' });
  snapshots = new Snapshots(store, (r) => Buffer.from(r.etag));
  await snapshots.get('p');
  roles = new RoleRegistry(store);
  guard = new StreamGuard(store, roles, snapshots, { maxStreamsPerToken: 2, checkMs: 1_000_000 });
});

describe('StreamGuard', () => {
  it('caps the streams of one token, frees a slot on release, and leaves other tokens alone', async () => {
    const a = await admitted(token('a'));
    await admitted(token('a'));
    const third = () => guard.admit(new Principal(token('a'), builtinRole('workload')!), stream());
    expect(third).toThrow(DomainError);
    expect(third).toThrow(/already holds 2 open Watch streams.*--max-streams-per-token/);
    await admitted(token('b'));
    a.release();
    a.release(); // idempotent: frees one slot only
    expect(() => guard.admit(new Principal(token('a'), builtinRole('workload')!), stream())).not.toThrow();
    expect(third).toThrow(/already holds 2/);
    expect(guard.streamCount).toBe(3);
  });

  it('reports the number of open streams on every admit, release and cut', async () => {
    const counts: number[] = [];
    guard = new StreamGuard(store, roles, snapshots, { maxStreamsPerToken: 2, checkMs: 1_000_000, onOpenStreams: (n) => counts.push(n) });
    const a = await admitted(token('a'));
    await admitted(token('a'));
    await admitted(token('b'));
    a.release();
    a.release(); // counted once
    guard.revoked('a');
    guard.revoked('b');
    expect(counts).toEqual([1, 2, 3, 2, 1, 0]);
    expect(guard.streamCount).toBe(0);
  });

  it('ends a revoked token\'s streams at once on this replica (revoked) and through the store counter otherwise', async () => {
    const a = await admitted(token('a'));
    guard.revoked('a');
    expect(a.s.ended).toBe('UNAUTHENTICATED: token has been revoked');

    const b = await admitted(token('b'));
    await guard.fresh();
    expect(b.s.ended).toBeUndefined();
    await store.revokeToken('b'); // as another replica would
    await guard.fresh();
    expect(b.s.ended).toBe('UNAUTHENTICATED: token has been revoked');
    expect(guard.streamCount).toBe(0);
  });

  it('quiet checks do not read the tokens: only the change counter and the roles', async () => {
    for (let i = 0; i < 20; i++) await admitted(token(`t${i}`));
    await guard.fresh(); // first: reads the new tokens once
    const reads = store.tokenReads;
    for (let i = 0; i < 5; i++) await guard.fresh();
    expect(store.tokenReads).toBe(reads);
    await admitted(token('late')); // a token that started watching since: read once
    await guard.fresh();
    await guard.fresh();
    expect(store.tokenReads).toBe(reads + 1);
    await store.revokeToken('t3');
    await guard.fresh();
    expect(store.tokenReads).toBe(reads + 2);
    expect(guard.streamCount).toBe(20);
  });

  it('ends streams with PERMISSION_DENIED when a custom role loses the right to resolve', async () => {
    const watcher = await roles.create({ name: 'watcher', description: '', access: { secret: 'none', config: 'none' }, projectAdmin: false, tokenAdmin: false, resolve: true });
    const t = token('r', { role: 'watcher', workload: null, scopes: [] });
    const { s } = await admitted(t, watcher);
    await guard.fresh();
    expect(s.ended).toBeUndefined();
    await store.setMeta('roles', JSON.stringify([{ ...watcher, resolve: false }]));
    await guard.fresh();
    expect(s.ended).toMatch(/^PERMISSION_DENIED: role watcher may not resolve workloads/);
  });

  it('ends a bound token\'s streams when its workload is re-created, before other listeners hear of the change', async () => {
    const { s } = await admitted(token('w'));
    const order: string[] = [];
    snapshots.on('changed', () => order.push(s.ended ? 'hub saw an ended stream' : 'hub saw an open stream'));
    await store.deleteRecord('workload', 'p', 'api', 1);
    await store.createRecord('workload', { ...workload('api'), uid: 'uid-2' });
    await snapshots.refresh('p');
    expect(s.ended).toMatch(/^UNAUTHENTICATED: the workload of this token \(p\/api\) was deleted and re-created/);
    expect(order).toEqual(['hub saw an ended stream']);
  });

  it('a change written after a revocation elsewhere is published only after the revoked token\'s streams ended', async () => {
    snapshots.beforePublish = () => guard.fresh();
    const { s } = await admitted(token('x'));
    await guard.fresh();
    const seen: string[] = [];
    snapshots.on('changed', () => seen.push(s.ended ?? 'open'));
    // Another replica revokes the token, then someone rotates a value.
    await store.revokeToken('x');
    await store.createRecord('group', group('rotated', { variables: { K: 'new' } }));
    await snapshots.refresh('p');
    expect(seen).toEqual(['UNAUTHENTICATED: token has been revoked']);
  });

  it('ends a stream when its token expires, by a timer', async () => {
    const { s } = await admitted(token('e', { expiresAt: Date.now() + 30 }));
    expect(s.ended).toBeUndefined();
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => s.ended && (clearInterval(poll), resolve()), 5);
    });
    expect(s.ended).toBe('UNAUTHENTICATED: token has expired');
  });
});
