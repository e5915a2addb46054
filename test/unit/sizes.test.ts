/** Sizes computed without expanding: templates, groups and merged resolutions. */
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../server/domain/errors.js';
import { previewChange } from '../../server/domain/preview.js';
import { prepareGroups, resolve } from '../../server/domain/resolve.js';
import { findOversizedResolution, groupSizes } from '../../server/domain/sizes.js';
import { expandAll, expandedSizes } from '../../server/domain/templates.js';
import type { ProjectSnapshot, SecretGroup, Vars } from '../../server/domain/types.js';
import { addon, group, workload } from '../helpers/fixtures.js';

const snap = (groups: SecretGroup[], workloads = [workload('api'), workload('web', { tags: ['t'] })]): ProjectSnapshot => ({
  project: { name: 'p', createdAt: 1 },
  workloads: new Map(workloads.map((w) => [w.name, w])),
  addons: new Map([['db', addon('db', { connectionDetails: { host: 'hé' } })]]),
  groups: new Map(groups.map((g) => [g.name, g])),
});

function doubling(levels: number, base = 'x'): Vars {
  const v: Vars = { A0: base };
  for (let i = 1; i <= levels; i++) v[`A${i}`] = `\${A${i - 1}}\${A${i - 1}}`;
  return v;
}

describe('expandedSizes', () => {
  it.each<[string, Vars, Vars]>([
    ['plain values count their UTF-8 bytes', { A: 'héllo' }, {}],
    ['references add the referenced size', { A: 'ab', B: '<${A}>${A}' }, {}],
    ['$${ counts as the two characters it becomes', { A: '$${x}', B: 'a$b' }, {}],
    ['addon aliases count their value', { DSN: 'pg://${DB_HOST}/' }, { DB_HOST: 'hé' }],
    ['unicode and nesting', { A: 'ünï€😀', B: '<${A}>', C: '${B}${B}${A}' }, {}],
  ])('equals the expanded length: %s', (_rule, templated, literal) => {
    const sizes = expandedSizes(templated, literal, 1 << 20);
    const expanded = expandAll(templated, literal);
    for (const [k, v] of Object.entries(expanded)) expect(sizes.get(k), k).toBe(Buffer.byteLength(v));
  });

  it('a doubling chain of 60 levels is sized at once, saturating above the bound', () => {
    const sizes = expandedSizes(doubling(60), {}, 1000);
    expect(sizes.get('A9')).toBe(512);
    expect(sizes.get('A10')).toBe(1001);
    expect(sizes.get('A60')).toBe(1001);
  });

  it('expandAll refuses to build past its bound, naming a key and no value', () => {
    try {
      expandAll(doubling(40, 'secret-value'), {}, 1 << 20);
      throw new Error('expected a refusal');
    } catch (e) {
      expect((e as DomainError).code).toBe('FAILED_PRECONDITION');
      expect((e as DomainError).message).toMatch(/^variable A\d+: templates expand to more than the limit of 1048576 bytes$/);
    }
  });
});

describe('resolution with a group over the limit (stored before the rule)', () => {
  const bad = group('bad', { restrictions: { restricted: true, workloads: [], tags: ['t'] }, variables: doubling(40) });
  const ok = group('ok', { variables: { OK: '1' } });

  it('workloads it does not reach resolve; the ones it reaches fail naming the group', () => {
    const s = snap([bad, ok]);
    const prepared = prepareGroups(s);
    expect(resolve(s, 'api', 'runtime', prepared).variables).toEqual({ OK: '1' });
    expect(() => resolve(s, 'web', 'runtime', prepared)).toThrowError(/^group bad cannot be resolved: variable A\d+: templates expand/);
    expect(resolve(s, 'api', 'build', prepared).variables).toEqual({ OK: '1' });
  });
});

describe('findOversizedResolution', () => {
  const big = (name: string, over: Partial<SecretGroup> = {}) => group(name, { variables: { K: 'v'.repeat(400) }, ...over });

  it('counts the merge: groups overriding the same key count once', () => {
    const s = snap([big('a', { priority: 1 }), big('b'), big('c')]);
    expect(findOversizedResolution(s, s.workloads.values(), 500)).toBeNull();
  });

  it('names the workload, the scope and the exact merged size', () => {
    const s = snap([big('a'), group('b', { variables: { L: 'w'.repeat(200) }, restrictions: { restricted: true, workloads: [], tags: ['t'] } })]);
    expect(findOversizedResolution(s, s.workloads.values(), 500)).toEqual({ workload: 'web', scope: 'runtime', bytes: 401 + 201 });
  });

  it('counts addon aliases, expanded templates, files and the workload’s own variables', () => {
    const g = group('g', {
      variables: { URL: 'x${DB_HOST}x' },
      addonLinks: [{ addon: 'db', keys: [{ key: 'host', alias: 'DB_HOST' }] }],
      files: [{ path: '/f', content: Buffer.alloc(10), mode: 0o600 }],
    });
    const s = snap([g], [workload('api', { runtimeVariables: { OWN: 'abc', URL: 'own' } })]);
    // OWN=abc (6) + URL=own (6) wins over the group's URL; DB_HOST=hé (10); /f (12).
    expect(groupSizes(g, s.addons).bytes).toBe(3 + 5 + 10 + 12);
    expect(findOversizedResolution(s, s.workloads.values(), 0)).toEqual({ workload: 'api', scope: 'runtime', bytes: 6 + 6 + 10 + 12 });
  });
});

describe('previewChange resolves only what a change can affect', () => {
  it('a group over the limit that the change does not touch and that reaches no changed workload is never expanded', () => {
    const bad = group('bad', { restrictions: { restricted: true, workloads: ['web'], tags: [] }, variables: doubling(40) });
    const before = snap([bad, group('ok', { restrictions: { restricted: true, workloads: ['api'], tags: [] }, variables: { A: '1' } })]);
    const groups = new Map(before.groups).set('ok', group('ok', { restrictions: { restricted: true, workloads: ['api'], tags: [] }, variables: { A: '2' } }));
    const changes = previewChange(before, { ...before, groups });
    expect(changes.map((c) => [c.workload, c.scope, c.changedKeys])).toEqual([
      ['api', 'runtime', ['A']],
      ['api', 'build', ['A']],
    ]);
  });
});

describe('previewChange work is bounded', () => {
  it('a preview that would make more comparisons than the limit is refused before comparing', () => {
    const keys = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`K${i}`, 'v']));
    const groups = Array.from({ length: 10 }, (_, i) => group(`g${i}`, { variables: keys }));
    const workloads = Array.from({ length: 1000 }, (_, i) => workload(`w${i}`));
    const before = snap(groups, workloads);
    const after = { ...before, groups: new Map(before.groups).set('g0', group('g0', { variables: { ...keys, K0: 'changed' } })) };
    // 2,000 workload scopes × 20,000 definitions (before and after) of the changed keys.
    expect(() => previewChange(before, after)).toThrowError(/^this preview would compare 20000 definitions of the changed keys and files for 2000 workload scopes, more than the limit of 20000000 comparisons/);
    const fewer = snap(groups, workloads.slice(0, 100));
    expect(previewChange(fewer, { ...fewer, groups: after.groups })).toHaveLength(200);
  });
});

describe('size limits do not measure values the caller cannot read', () => {
  /** The most padding (config bytes) a caller's check accepts before the limit trips: what bisection would learn. */
  function threshold(secretLength: number, view: { secret: boolean; config: boolean }): number {
    const secret = group('vault', { type: 'secret', variables: { TOKEN: 's'.repeat(secretLength) } });
    let lo = 0;
    let hi = 4096;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      const pad = group('pad', { type: 'config', variables: { PAD: 'x'.repeat(mid) } });
      if (findOversizedResolution(snap([secret, pad]), [workload('api')], 2000, view)) hi = mid - 1;
      else lo = mid;
    }
    return lo;
  }

  it('exactly, for a caller who reads every value (the threshold moves with the secret)', () => {
    expect(threshold(10, { secret: true, config: true }) - threshold(11, { secret: true, config: true })).toBe(1);
  });

  it('by blocks for a keys-only caller: secrets of 0 to 256 bytes are indistinguishable', () => {
    const keysOnly = { secret: false, config: true };
    const t = threshold(1, keysOnly);
    for (const n of [0, 10, 100, 255, 256]) expect(threshold(n, keysOnly), `${n} bytes`).toBe(t);
    expect(threshold(257, keysOnly)).toBe(t - 256);
    // Never looser than the exact check.
    expect(t).toBeLessThanOrEqual(threshold(1, { secret: true, config: true }));
  });

  it("workload variables count as secret: a keys-only caller's check does not measure them either", () => {
    const w = (n: number) => workload('api', { runtimeVariables: { OWN: 'o'.repeat(n) } });
    const pad = group('pad', { type: 'config', variables: { PAD: 'x'.repeat(1900) } });
    const over = (n: number, secret: boolean) => findOversizedResolution(snap([pad]), [w(n)], 2000, { secret, config: true }) !== null;
    expect([over(1, true), over(200, true)]).toEqual([false, true]);
    // Both counted as one 256-byte block: the same answer whatever the length.
    expect([over(1, false), over(200, false)]).toEqual([true, true]);
  });
});
