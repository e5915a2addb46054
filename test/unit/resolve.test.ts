/**
 * Every resolution rule of docs/architecture.md ("Resolution rules"), one case per rule; each case name states the rule.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { applyGroupChange } from '../../server/domain/group-changes.js';
import { DomainError } from '../../server/domain/errors.js';
import { etagOf, isEligible, mergeOrder, prepareGroups, resolve, resolveWorkload } from '../../server/domain/resolve.js';
import type { ProjectSnapshot, Resolution, ResolveScope, SecretFile, Vars } from '../../server/domain/types.js';
import { addon, group, snapshot, workload } from '../helpers/fixtures.js';

const file = (path: string, content: string, mode = 0o600): SecretFile => ({ path, content: Buffer.from(content), mode });
const text = (r: Resolution, path: string) => Buffer.from(r.files.find((f) => f.path === path)!.content).toString();
const prov = (r: Resolution, key: string) => r.provenance.find((p) => p.key === key)!;

interface Case {
  rule: string;
  snap: ProjectSnapshot;
  workload?: string;
  scope?: ResolveScope;
  check: (r: Resolution) => void;
}

const seed = snapshot({
  workloads: [workload('api')],
  groups: [
    group('a', { priority: 50, variables: { KEY_1: 'a1', KEY_2: 'a2' } }),
    group('b', { priority: 20, variables: { KEY_1: 'b1', KEY_2: 'b2', KEY_3: 'b3' } }),
  ],
});

const cases: Case[] = [
  {
    rule: "seed example: A (priority 50) gives KEY_1 and KEY_2, B (priority 20) gives KEY_3 and is shadowed on KEY_1, KEY_2",
    snap: seed,
    check: (r) => {
      expect(r.variables).toEqual({ KEY_1: 'a1', KEY_2: 'a2', KEY_3: 'b3' });
      for (const key of ['KEY_1', 'KEY_2']) {
        expect(prov(r, key)).toEqual({
          key,
          winner: { kind: 'group', group: 'a', priority: 50 },
          shadowed: [{ kind: 'group', group: 'b', priority: 20 }],
          conflict: false,
        });
      }
      expect(prov(r, 'KEY_3')).toEqual({
        key: 'KEY_3',
        winner: { kind: 'group', group: 'b', priority: 20 },
        shadowed: [],
        conflict: false,
      });
      expect(r.conflicts).toEqual([]);
      expect(r.contributingGroups).toEqual(['a', 'b']);
      expect(r.eligibleGroups).toEqual(['a', 'b']);
    },
  },
  {
    rule: 'higher priority wins whatever the group names',
    snap: snapshot({
      workloads: [workload('api')],
      groups: [group('aaa', { priority: 10, variables: { K: 'low' } }), group('zzz', { priority: 60, variables: { K: 'high' } })],
    }),
    check: (r) => {
      expect(r.variables).toEqual({ K: 'high' });
      expect(prov(r, 'K').winner.group).toBe('zzz');
      expect(prov(r, 'K').shadowed.map((s) => s.group)).toEqual(['aaa']);
      expect(r.conflicts).toEqual([]);
    },
  },
  {
    rule: 'equal priority: the lexically first group name wins and a conflict is reported',
    snap: snapshot({
      workloads: [workload('api')],
      groups: [
        group('beta', { priority: 30, variables: { K: 'from-beta', ONLY_BETA: 'x' } }),
        group('alpha', { priority: 30, variables: { K: 'from-alpha' } }),
      ],
    }),
    check: (r) => {
      expect(r.variables).toEqual({ K: 'from-alpha', ONLY_BETA: 'x' });
      expect(r.conflicts).toEqual([{ key: 'K', priority: 30, groups: ['alpha', 'beta'], winner: 'alpha' }]);
      expect(prov(r, 'K').conflict).toBe(true);
      expect(prov(r, 'ONLY_BETA').conflict).toBe(false);
    },
  },
  {
    rule: 'a conflict lists only the groups tied at the winning priority',
    snap: snapshot({
      workloads: [workload('api')],
      groups: [
        group('c', { priority: 30, variables: { K: 'c' } }),
        group('b', { priority: 30, variables: { K: 'b' } }),
        group('a', { priority: 5, variables: { K: 'a' } }),
      ],
    }),
    check: (r) => {
      expect(r.variables.K).toBe('b');
      expect(r.conflicts).toEqual([{ key: 'K', priority: 30, groups: ['b', 'c'], winner: 'b' }]);
      expect(prov(r, 'K').shadowed.map((s) => s.group)).toEqual(['c', 'a']);
    },
  },
  {
    rule: 'a tie below the winning priority is not a conflict',
    snap: snapshot({
      workloads: [workload('api')],
      groups: [
        group('top', { priority: 90, variables: { K: 'top' } }),
        group('x', { priority: 10, variables: { K: 'x' } }),
        group('y', { priority: 10, variables: { K: 'y' } }),
      ],
    }),
    check: (r) => {
      expect(r.variables.K).toBe('top');
      expect(r.conflicts).toEqual([]);
      expect(prov(r, 'K')).toMatchObject({ conflict: false, winner: { group: 'top' } });
      expect(prov(r, 'K').shadowed.map((s) => s.group)).toEqual(['x', 'y']);
    },
  },
  {
    rule: "the workload's own runtime variables override every group at RUNTIME",
    snap: snapshot({
      workloads: [workload('api', { runtimeVariables: { KEY_1: 'own', OWN_ONLY: 'o' } })],
      groups: [
        group('a', { priority: 100, variables: { KEY_1: 'a1' } }),
        group('b', { priority: 20, variables: { KEY_1: 'b1' } }),
      ],
    }),
    scope: 'runtime',
    check: (r) => {
      expect(r.variables).toEqual({ KEY_1: 'own', OWN_ONLY: 'o' });
      expect(prov(r, 'KEY_1')).toEqual({
        key: 'KEY_1',
        winner: { kind: 'workload' },
        shadowed: [
          { kind: 'group', group: 'a', priority: 100 },
          { kind: 'group', group: 'b', priority: 20 },
        ],
        conflict: false,
      });
      expect(prov(r, 'OWN_ONLY')).toEqual({ key: 'OWN_ONLY', winner: { kind: 'workload' }, shadowed: [], conflict: false });
      expect(r.contributingGroups).toEqual([]);
      expect(r.eligibleGroups).toEqual(['a', 'b']);
    },
  },
  {
    rule: "the workload's own build arguments override every group at BUILD",
    snap: snapshot({
      workloads: [workload('api', { buildArguments: { NODE_ENV: 'own-build' } })],
      groups: [group('a', { priority: 100, scope: 'build', variables: { NODE_ENV: 'group' } })],
    }),
    scope: 'build',
    check: (r) => {
      expect(r.variables).toEqual({ NODE_ENV: 'own-build' });
      expect(prov(r, 'NODE_ENV').winner).toEqual({ kind: 'workload' });
    },
  },
  {
    rule: "equal group priorities do not make a conflict on a key the workload overrides",
    snap: snapshot({
      workloads: [workload('api', { runtimeVariables: { K: 'own' } })],
      groups: [group('a', { priority: 5, variables: { K: 'a' } }), group('b', { priority: 5, variables: { K: 'b' } })],
    }),
    check: (r) => {
      expect(r.variables).toEqual({ K: 'own' });
      expect(r.conflicts).toEqual([]);
    },
  },
  {
    rule: 'runtime variables do not leak into BUILD',
    snap: snapshot({
      workloads: [workload('api', { runtimeVariables: { RUN_ONLY: 'r', K: 'run' }, buildArguments: { BUILD_ONLY: 'b' } })],
      groups: [group('g', { variables: { K: 'group' } })],
    }),
    scope: 'build',
    check: (r) => expect(r.variables).toEqual({ BUILD_ONLY: 'b', K: 'group' }),
  },
  {
    rule: 'build arguments do not leak into RUNTIME',
    snap: snapshot({
      workloads: [workload('api', { runtimeVariables: { RUN_ONLY: 'r' }, buildArguments: { BUILD_ONLY: 'b', K: 'build' } })],
      groups: [group('g', { variables: { K: 'group' } })],
    }),
    scope: 'runtime',
    check: (r) => expect(r.variables).toEqual({ RUN_ONLY: 'r', K: 'group' }),
  },
  {
    rule: 'scope RUNTIME reaches runtime resolutions only (runtime side)',
    snap: snapshot({ workloads: [workload('api')], groups: [group('rt', { scope: 'runtime', variables: { R: '1' } })] }),
    scope: 'runtime',
    check: (r) => {
      expect(r.variables).toEqual({ R: '1' });
      expect(r.eligibleGroups).toEqual(['rt']);
    },
  },
  {
    rule: 'scope RUNTIME reaches runtime resolutions only (build side)',
    snap: snapshot({ workloads: [workload('api')], groups: [group('rt', { scope: 'runtime', variables: { R: '1' } })] }),
    scope: 'build',
    check: (r) => {
      expect(r.variables).toEqual({});
      expect(r.eligibleGroups).toEqual([]);
    },
  },
  {
    rule: 'scope BUILD reaches build resolutions only (build side)',
    snap: snapshot({ workloads: [workload('api')], groups: [group('bd', { scope: 'build', variables: { B: '1' } })] }),
    scope: 'build',
    check: (r) => expect(r.variables).toEqual({ B: '1' }),
  },
  {
    rule: 'scope BUILD reaches build resolutions only (runtime side)',
    snap: snapshot({ workloads: [workload('api')], groups: [group('bd', { scope: 'build', variables: { B: '1' } })] }),
    scope: 'runtime',
    check: (r) => {
      expect(r.variables).toEqual({});
      expect(r.eligibleGroups).toEqual([]);
    },
  },
  {
    rule: 'scope BOTH reaches runtime resolutions',
    snap: snapshot({ workloads: [workload('api')], groups: [group('both', { scope: 'both', variables: { X: '1' } })] }),
    scope: 'runtime',
    check: (r) => expect(r.variables).toEqual({ X: '1' }),
  },
  {
    rule: 'scope BOTH reaches build resolutions',
    snap: snapshot({ workloads: [workload('api')], groups: [group('both', { scope: 'both', variables: { X: '1' } })] }),
    scope: 'build',
    check: (r) => expect(r.variables).toEqual({ X: '1' }),
  },
  {
    rule: 'a lower-priority group of the requested scope is not shadowed by a group of the other scope',
    snap: snapshot({
      workloads: [workload('api')],
      groups: [
        group('build-hi', { scope: 'build', priority: 90, variables: { K: 'build' } }),
        group('rt-lo', { scope: 'runtime', priority: 1, variables: { K: 'runtime' } }),
      ],
    }),
    scope: 'runtime',
    check: (r) => {
      expect(r.variables).toEqual({ K: 'runtime' });
      expect(prov(r, 'K').shadowed).toEqual([]);
    },
  },
  {
    rule: 'an unrestricted group reaches every workload, whatever its name or tags',
    snap: snapshot({
      workloads: [workload('api', { tags: ['team:x'] })],
      groups: [group('open', { variables: { OPEN: '1' } })],
    }),
    check: (r) => expect(r.variables).toEqual({ OPEN: '1' }),
  },
  {
    rule: 'a group restricted by workload name reaches that workload',
    snap: snapshot({
      workloads: [workload('api')],
      groups: [group('r', { restrictions: { restricted: true, workloads: ['api'], tags: [] }, variables: { R: '1' } })],
    }),
    check: (r) => expect(r.variables).toEqual({ R: '1' }),
  },
  {
    rule: 'a group restricted by workload name does not reach another workload',
    snap: snapshot({
      workloads: [workload('worker')],
      groups: [group('r', { restrictions: { restricted: true, workloads: ['api'], tags: [] }, variables: { R: '1' } })],
    }),
    workload: 'worker',
    check: (r) => {
      expect(r.variables).toEqual({});
      expect(r.eligibleGroups).toEqual([]);
    },
  },
  {
    rule: 'a group restricted by tag reaches a workload sharing at least one tag',
    snap: snapshot({
      workloads: [workload('api', { tags: ['env:prod', 'team:pay'] })],
      groups: [group('r', { restrictions: { restricted: true, workloads: [], tags: ['team:pay', 'gpu'] }, variables: { R: '1' } })],
    }),
    check: (r) => expect(r.variables).toEqual({ R: '1' }),
  },
  {
    rule: 'a group restricted by tag does not reach a workload sharing no tag',
    snap: snapshot({
      workloads: [workload('api', { tags: ['env:prod'] })],
      groups: [group('r', { restrictions: { restricted: true, workloads: [], tags: ['env:staging'] }, variables: { R: '1' } })],
    }),
    check: (r) => expect(r.eligibleGroups).toEqual([]),
  },
  {
    rule: 'tag restriction unions with workload restriction: the named workload is reached without the tag',
    snap: snapshot({
      workloads: [workload('api', { tags: [] })],
      groups: [group('r', { restrictions: { restricted: true, workloads: ['api'], tags: ['gpu'] }, variables: { R: '1' } })],
    }),
    check: (r) => expect(r.variables).toEqual({ R: '1' }),
  },
  {
    rule: 'tag restriction unions with workload restriction: a tagged workload is reached without being named',
    snap: snapshot({
      workloads: [workload('trainer', { tags: ['gpu'] })],
      groups: [group('r', { restrictions: { restricted: true, workloads: ['api'], tags: ['gpu'] }, variables: { R: '1' } })],
    }),
    workload: 'trainer',
    check: (r) => expect(r.variables).toEqual({ R: '1' }),
  },
  {
    rule: 'tag restriction unions with workload restriction: a workload matching neither is not reached',
    snap: snapshot({
      workloads: [workload('web', { tags: ['cpu'] })],
      groups: [group('r', { restrictions: { restricted: true, workloads: ['api'], tags: ['gpu'] }, variables: { R: '1' } })],
    }),
    workload: 'web',
    check: (r) => expect(r.eligibleGroups).toEqual([]),
  },
  {
    rule: 'a restricted group with neither workloads nor tags reaches nobody',
    snap: snapshot({
      workloads: [workload('api', { tags: ['a', 'b'] })],
      groups: [group('nobody', { restrictions: { restricted: true, workloads: [], tags: [] }, variables: { R: '1' } })],
    }),
    check: (r) => {
      expect(r.variables).toEqual({});
      expect(r.eligibleGroups).toEqual([]);
    },
  },
  {
    rule: 'an ineligible group never shadows: a restricted high-priority group leaves the key to the eligible one',
    snap: snapshot({
      workloads: [workload('api')],
      groups: [
        group('hi', { priority: 99, restrictions: { restricted: true, workloads: ['other'], tags: [] }, variables: { K: 'hi' } }),
        group('lo', { priority: 1, variables: { K: 'lo' } }),
      ],
    }),
    check: (r) => {
      expect(r.variables).toEqual({ K: 'lo' });
      expect(prov(r, 'K').shadowed).toEqual([]);
    },
  },
  {
    rule: 'templates expand within a group',
    snap: snapshot({
      workloads: [workload('api')],
      groups: [group('db', { variables: { HOST: 'db.local', PORT: '5432', URL: 'postgres://${HOST}:${PORT}/app', LIT: 'a$${HOST}' } })],
    }),
    check: (r) => {
      expect(r.variables.URL).toBe('postgres://db.local:5432/app');
      expect(r.variables.LIT).toBe('a${HOST}');
    },
  },
  {
    rule: "templates use the group's own values, not the merged winner from another group",
    snap: snapshot({
      workloads: [workload('api')],
      groups: [
        group('hi', { priority: 90, variables: { HOST: 'hi-host' } }),
        group('lo', { priority: 10, variables: { HOST: 'lo-host', URL: 'http://${HOST}' } }),
      ],
    }),
    check: (r) => {
      expect(r.variables).toEqual({ HOST: 'hi-host', URL: 'http://lo-host' });
    },
  },
  {
    rule: "templates are not expanded from the workload's own variables",
    snap: snapshot({
      workloads: [workload('api', { runtimeVariables: { HOST: 'own', RAW: '${HOST}' } })],
      groups: [group('g', { variables: { HOST: 'group', URL: 'http://${HOST}' } })],
    }),
    check: (r) => expect(r.variables).toEqual({ HOST: 'own', RAW: '${HOST}', URL: 'http://group' }),
  },
  {
    rule: 'addon links bring each linked key under its chosen alias, with addon provenance',
    snap: snapshot({
      workloads: [workload('api')],
      addons: [addon('pg', { connectionDetails: { url: 'postgres://x', password: 'pw', user: 'u' } })],
      groups: [
        group('db', {
          priority: 40,
          addonLinks: [{ addon: 'pg', keys: [{ key: 'url', alias: 'DATABASE_URL' }, { key: 'password', alias: 'DB_PASS' }] }],
        }),
      ],
    }),
    check: (r) => {
      expect(r.variables).toEqual({ DATABASE_URL: 'postgres://x', DB_PASS: 'pw' });
      expect(prov(r, 'DATABASE_URL').winner).toEqual({ kind: 'addon', group: 'db', priority: 40, addon: 'pg' });
      expect(r.contributingGroups).toEqual(['db']);
    },
  },
  {
    rule: 'an addon link without keys brings every key under the default alias <ADDON>_<KEY>',
    snap: snapshot({
      workloads: [workload('api')],
      addons: [addon('main-db', { connectionDetails: { url: 'postgres://m', password: 'pw' } })],
      groups: [group('db', { addonLinks: [{ addon: 'main-db', keys: [] }] })],
    }),
    check: (r) => expect(r.variables).toEqual({ MAIN_DB_URL: 'postgres://m', MAIN_DB_PASSWORD: 'pw' }),
  },
  {
    rule: 'templates may reference addon aliases of the same group',
    snap: snapshot({
      workloads: [workload('api')],
      addons: [addon('pg', { connectionDetails: { url: 'postgres://x' } })],
      groups: [group('db', { variables: { DSN: '${PG_URL}?sslmode=require' }, addonLinks: [{ addon: 'pg', keys: [] }] })],
    }),
    check: (r) => expect(r.variables).toEqual({ DSN: 'postgres://x?sslmode=require', PG_URL: 'postgres://x' }),
  },
  {
    rule: 'addon-linked keys merge by priority like variables',
    snap: snapshot({
      workloads: [workload('api')],
      addons: [addon('pg', { connectionDetails: { url: 'from-addon' } })],
      groups: [
        group('override', { priority: 80, variables: { DATABASE_URL: 'from-override' } }),
        group('db', { priority: 40, addonLinks: [{ addon: 'pg', keys: [{ key: 'url', alias: 'DATABASE_URL' }] }] }),
      ],
    }),
    check: (r) => {
      expect(r.variables).toEqual({ DATABASE_URL: 'from-override' });
      expect(prov(r, 'DATABASE_URL').shadowed).toEqual([{ kind: 'addon', group: 'db', priority: 40, addon: 'pg' }]);
    },
  },
  {
    rule: 'secret files merge by path: the higher-priority group wins each path',
    snap: snapshot({
      workloads: [workload('api')],
      groups: [
        group('a', { priority: 50, files: [file('/etc/tls/cert.pem', 'A-cert')] }),
        group('b', { priority: 20, files: [file('/etc/tls/cert.pem', 'B-cert'), file('/etc/app/b.conf', 'B-conf', 0o640)] }),
      ],
    }),
    check: (r) => {
      expect(r.files.map((f) => f.path)).toEqual(['/etc/app/b.conf', '/etc/tls/cert.pem']);
      expect(text(r, '/etc/tls/cert.pem')).toBe('A-cert');
      expect(text(r, '/etc/app/b.conf')).toBe('B-conf');
      expect(r.files.find((f) => f.path === '/etc/app/b.conf')!.mode).toBe(0o640);
      expect(r.fileProvenance.find((p) => p.key === '/etc/tls/cert.pem')).toEqual({
        key: '/etc/tls/cert.pem',
        winner: { kind: 'group', group: 'a', priority: 50 },
        shadowed: [{ kind: 'group', group: 'b', priority: 20 }],
        conflict: false,
      });
    },
  },
  {
    rule: 'secret files at equal priority: the lexically first group wins the path and a conflict is reported',
    snap: snapshot({
      workloads: [workload('api')],
      groups: [group('b', { priority: 7, files: [file('/f', 'b')] }), group('a', { priority: 7, files: [file('/f', 'a')] })],
    }),
    check: (r) => {
      expect(text(r, '/f')).toBe('a');
      expect(r.conflicts).toEqual([{ key: '/f', priority: 7, groups: ['a', 'b'], winner: 'a' }]);
      expect(r.fileProvenance[0]!.conflict).toBe(true);
    },
  },
  {
    rule: 'a fully shadowed group is eligible but does not contribute',
    snap: snapshot({
      workloads: [workload('api')],
      groups: [group('a', { priority: 50, variables: { K: 'a' } }), group('b', { priority: 20, variables: { K: 'b' } })],
    }),
    check: (r) => {
      expect(r.eligibleGroups).toEqual(['a', 'b']);
      expect(r.contributingGroups).toEqual(['a']);
    },
  },
  {
    rule: 'the result names the project, workload and scope, and lists variables sorted by key',
    snap: snapshot({
      workloads: [workload('api')],
      groups: [group('g', { variables: { ZED: '1', ALPHA: '2', MID: '3' } })],
    }),
    scope: 'build',
    check: (r) => {
      expect(r).toMatchObject({ project: 'p', workload: 'api', scope: 'build' });
      expect(Object.keys(r.variables)).toEqual(['ALPHA', 'MID', 'ZED']);
      expect(r.provenance.map((p) => p.key)).toEqual(['ALPHA', 'MID', 'ZED']);
    },
  },
];

describe('resolve: the resolution rules', () => {
  it.each(cases)('$rule', ({ snap, workload: name, scope, check }) => {
    const r = resolve(snap, name ?? 'api', scope ?? 'runtime');
    check(r);
    expect(r.etag).toBe(etagOf(r.variables, r.files));
  });
});

describe('resolve: cross-group templates, rotation, etag and errors', () => {
  it('a template naming a key of another group is refused when the group is saved', () => {
    // Group "b" holds HOST; group "a" may not reference it: templates see only their own group.
    const create = () =>
      applyGroupChange(
        null,
        {
          kind: 'create',
          group: {
            project: 'p',
            name: 'a',
            description: '',
            type: 'config',
            scope: 'both',
            priority: 0,
            restrictions: { restricted: false, workloads: [], tags: [] },
            variables: { URL: 'http://${HOST}' },
          },
        },
        { addons: new Map(), now: 1, actor: 't' },
      );
    expect(create).toThrowError(DomainError);
    expect(create).toThrowError(/value of "URL"/);
  });

  it('a cross-group reference that bypassed the save check resolves to empty, never to the other group', () => {
    const snap = snapshot({
      workloads: [workload('api')],
      groups: [group('a', { variables: { URL: 'http://${HOST}/' } }), group('b', { variables: { HOST: 'b-host' } })],
    });
    expect(resolve(snap, 'api', 'runtime').variables).toEqual({ URL: 'http:///', HOST: 'b-host' });
  });

  it('addon rotation changes the resolution (aliases and templates over them) and the etag', () => {
    const parts = (password: string) => ({
      workloads: [workload('api')],
      addons: [addon('pg', { connectionDetails: { password } })],
      groups: [group('db', { variables: { DSN: 'user:${PG_PASSWORD}@host' }, addonLinks: [{ addon: 'pg', keys: [] }] })],
    });
    const before = resolve(snapshot(parts('old-pw')), 'api', 'runtime');
    const after = resolve(snapshot(parts('new-pw')), 'api', 'runtime');
    expect(before.variables).toEqual({ DSN: 'user:old-pw@host', PG_PASSWORD: 'old-pw' });
    expect(after.variables).toEqual({ DSN: 'user:new-pw@host', PG_PASSWORD: 'new-pw' });
    expect(after.etag).not.toBe(before.etag);
  });

  it('a rotation that removes a linked key drops it from the resolution', () => {
    const snapOf = (details: Record<string, string>) =>
      snapshot({
        workloads: [workload('api')],
        addons: [addon('pg', { connectionDetails: details })],
        groups: [group('db', { addonLinks: [{ addon: 'pg', keys: [{ key: 'url', alias: 'DATABASE_URL' }] }] })],
      });
    expect(resolve(snapOf({ url: 'u' }), 'api', 'runtime').variables).toEqual({ DATABASE_URL: 'u' });
    expect(resolve(snapOf({ host: 'h' }), 'api', 'runtime').variables).toEqual({});
  });

  it('etag and result are equal for equal content regardless of group creation order', () => {
    const groups = [
      group('a', { priority: 50, variables: { K: 'a', A: '1' }, files: [file('/x', 'a')] }),
      group('b', { priority: 50, variables: { K: 'b', B: '2' }, files: [file('/x', 'b'), file('/y', 'y')] }),
      group('c', { priority: 10, variables: { K: 'c', C: '${K}!' } }),
    ];
    const forward = resolve(snapshot({ workloads: [workload('api')], groups }), 'api', 'runtime');
    const backward = resolve(snapshot({ workloads: [workload('api')], groups: [...groups].reverse() }), 'api', 'runtime');
    expect(backward).toEqual(forward);
    expect(JSON.stringify(backward)).toBe(JSON.stringify(forward));
  });

  it('etag depends on content only: two workloads with equal resolutions share it', () => {
    const snap = snapshot({ workloads: [workload('api'), workload('web')], groups: [group('g', { variables: { K: 'v' } })] });
    expect(resolve(snap, 'api', 'runtime').etag).toBe(resolve(snap, 'web', 'runtime').etag);
  });

  it('etag keeps its value across releases (agents hold etags): the hash of each key and value piece in turn', () => {
    const variables: Vars = { B: 'zwei €', A: '1', E: '', 'K_\u00e9': 'x'.repeat(70_000) };
    const piecewise = (files: SecretFile[]) => {
      const h = createHash('sha256');
      for (const key of Object.keys(variables).sort()) {
        h.update(`v${key.length}:${key}${Buffer.byteLength(variables[key]!)}:`);
        h.update(variables[key]!);
      }
      for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
        h.update(`f${Buffer.byteLength(f.path)}:${f.path}${f.mode}:${f.content.byteLength}:`);
        h.update(f.content);
      }
      return h.digest('base64url').slice(0, 27);
    };
    const files = [file('/z', 'bytes\0'), file('/a', 'é', 0o644)];
    expect(etagOf(variables, files)).toBe(piecewise(files));
    expect(etagOf(variables, [])).toBe(piecewise([]));
    const snap = snapshot({ workloads: [workload('api', { runtimeVariables: variables })], groups: [group('g', { variables: { Z: 'z' }, files })] });
    const r = resolve(snap, 'api', 'runtime');
    expect(r.etag).toBe(etagOf(r.variables, r.files));
    expect(resolveWorkload('p', snap.workloads.get('api')!, 'runtime', prepareGroups(snap), { provenance: false }).etag).toBe(r.etag);
  });

  const base: { variables: Vars; files: SecretFile[] } = { variables: { K: 'v', L: 'w' }, files: [file('/f', 'content', 0o600)] };
  it.each([
    ['a value changes', { ...base, variables: { K: 'v2', L: 'w' } }],
    ['a key is added', { ...base, variables: { ...base.variables, M: '' } }],
    ['a key is removed', { ...base, variables: { K: 'v' } }],
    ['a key is renamed with the same value', { ...base, variables: { K2: 'v', L: 'w' } }],
    ['a file content changes', { ...base, files: [file('/f', 'content2', 0o600)] }],
    ['a file mode changes', { ...base, files: [file('/f', 'content', 0o644)] }],
    ['a file path changes', { ...base, files: [file('/g', 'content', 0o600)] }],
    ['a file is removed', { ...base, files: [] }],
    ['bytes move between key and value', { ...base, variables: { KL: 'v', L: 'w' } }],
  ])('etag differs when %s', (_name, changed) => {
    const etag = (g: typeof base) => resolve(snapshot({ workloads: [workload('api')], groups: [group('g', g)] }), 'api', 'runtime').etag;
    expect(etag(changed)).not.toBe(etag(base));
    expect(etag({ ...base })).toBe(etag(base));
  });

  it('NOT_FOUND for an unknown workload, naming it', () => {
    let err: unknown;
    try {
      resolve(seed, 'ghost', 'runtime');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('ghost') });
  });

  it('a prepared group list gives the same result as preparing on the fly', () => {
    expect(resolve(seed, 'api', 'runtime', prepareGroups(seed))).toEqual(resolve(seed, 'api', 'runtime'));
  });

  it('mergeOrder sorts by priority descending, then name ascending', () => {
    const gs = [group('b', { priority: 5 }), group('a', { priority: 5 }), group('z', { priority: 9 }), group('c', { priority: 0 })];
    expect(gs.sort(mergeOrder).map((g) => g.name)).toEqual(['z', 'a', 'b', 'c']);
  });

  it.each([
    ['runtime group, runtime scope', group('g', { scope: 'runtime' }), 'runtime', true],
    ['runtime group, build scope', group('g', { scope: 'runtime' }), 'build', false],
    ['build group, runtime scope', group('g', { scope: 'build' }), 'runtime', false],
    ['restricted to the name', group('g', { restrictions: { restricted: true, workloads: ['api'], tags: [] } }), 'build', true],
    ['restricted to a shared tag', group('g', { restrictions: { restricted: true, workloads: [], tags: ['t'] } }), 'build', true],
    ['restricted, matching neither', group('g', { restrictions: { restricted: true, workloads: ['x'], tags: ['u'] } }), 'build', false],
    ['restricted to a name but wrong scope', group('g', { scope: 'runtime', restrictions: { restricted: true, workloads: ['api'], tags: [] } }), 'build', false],
  ] as const)('isEligible: %s', (_name, g, scope, expected) => {
    expect(isEligible(g, workload('api', { tags: ['t'] }), scope)).toBe(expected);
  });
});
