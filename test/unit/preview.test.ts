/** Change preview: which workloads' resolutions a change would alter, and which keys and files. Never values. */
import { describe, expect, it } from 'vitest';
import { applyGroupChange, type GroupChange } from '../../server/domain/group-changes.js';
import type { WorkloadChange } from '../../server/domain/group-diff.js';
import { previewChange } from '../../server/domain/preview.js';
import type { Addon, ProjectSnapshot, SecretFile, SecretGroup, Workload } from '../../server/domain/types.js';
import { addon, group, snapshot, workload } from '../helpers/fixtures.js';

const CANARY = 'CANARY-prev1ew-s3cret-value-5521';
const file = (path: string, content: string, mode = 0o600): SecretFile => ({ path, content: Buffer.from(content), mode });

interface Parts {
  workloads: Workload[];
  groups: SecretGroup[];
  addons: Addon[];
}

const base: Parts = {
  workloads: [
    workload('api', { tags: ['team:pay'], runtimeVariables: { OWN: `${CANARY}-own` } }),
    workload('web', { tags: ['team:web'] }),
    workload('worker', { kind: 'job' }),
  ],
  addons: [addon('pg', { connectionDetails: { url: `${CANARY}-pg-url`, password: `${CANARY}-pg-pw` } })],
  groups: [
    group('shared', {
      priority: 10,
      variables: { LOG_LEVEL: `${CANARY}-info`, REGION: `${CANARY}-eu`, OWN: `${CANARY}-shadowed-by-workload` },
      files: [file('/etc/shared.conf', `${CANARY}-shared-file`)],
    }),
    group('pay', {
      type: 'secret',
      priority: 50,
      restrictions: { restricted: true, workloads: [], tags: ['team:pay'] },
      variables: { LOG_LEVEL: `${CANARY}-debug`, DSN: '${PG_URL}?ssl=1' },
      addonLinks: [{ addon: 'pg', keys: [] }],
    }),
    group('build-only', { priority: 30, scope: 'build', variables: { NPM_TOKEN: `${CANARY}-npm` } }),
    group('runtime-only', { priority: 30, scope: 'runtime', variables: { PORT: `${CANARY}-8080` } }),
  ],
};

const ctx = { addons: new Map(base.addons.map((a) => [a.name, a])), now: 10, actor: 't' };

/** The project after applying `change` to group `name`, as PreviewChange does. */
function afterChange(name: string, change: GroupChange, parts: Parts = base): ProjectSnapshot {
  const current = parts.groups.find((g) => g.name === name) ?? null;
  const next = applyGroupChange(current, change, ctx);
  const groups = parts.groups.filter((g) => g.name !== name);
  return snapshot({ ...parts, groups: next ? [...groups, next] : groups });
}

function change(workloadName: string, scope: 'runtime' | 'build', over: Partial<WorkloadChange>): WorkloadChange {
  return {
    workload: workloadName,
    scope,
    addedKeys: [],
    removedKeys: [],
    changedKeys: [],
    addedFiles: [],
    removedFiles: [],
    changedFiles: [],
    ...over,
  };
}

interface Case {
  rule: string;
  after: () => ProjectSnapshot;
  expected: WorkloadChange[];
}

const cases: Case[] = [
  {
    rule: 'setting a new key in an unrestricted BOTH group adds it for every workload and both scopes',
    after: () => afterChange('shared', { kind: 'set', variables: { NEW_KEY: `${CANARY}-new` } }),
    expected: ['api', 'web', 'worker'].flatMap((w) => [
      change(w, 'runtime', { addedKeys: ['NEW_KEY'] }),
      change(w, 'build', { addedKeys: ['NEW_KEY'] }),
    ]),
  },
  {
    rule: 'changing a value reports the key as changed only where it wins (shadowed elsewhere: no change)',
    after: () => afterChange('shared', { kind: 'set', variables: { LOG_LEVEL: `${CANARY}-warn` } }),
    // api gets LOG_LEVEL from "pay" (priority 50), so only web and worker see the change.
    expected: ['web', 'worker'].flatMap((w) => [
      change(w, 'runtime', { changedKeys: ['LOG_LEVEL'] }),
      change(w, 'build', { changedKeys: ['LOG_LEVEL'] }),
    ]),
  },
  {
    rule: "a change to a key the workload overrides is not reported where the workload's own value wins",
    after: () => afterChange('shared', { kind: 'set', variables: { OWN: `${CANARY}-still-shadowed` } }),
    // api overrides OWN at runtime only; at build time (and for others) the group value shows through.
    expected: [
      change('api', 'build', { changedKeys: ['OWN'] }),
      change('web', 'runtime', { changedKeys: ['OWN'] }),
      change('web', 'build', { changedKeys: ['OWN'] }),
      change('worker', 'runtime', { changedKeys: ['OWN'] }),
      change('worker', 'build', { changedKeys: ['OWN'] }),
    ],
  },
  {
    rule: 'a change to a restricted group reaches only the workloads it is restricted to',
    after: () => afterChange('pay', { kind: 'set', variables: { PAY_ONLY: `${CANARY}-p` } }),
    expected: [change('api', 'runtime', { addedKeys: ['PAY_ONLY'] }), change('api', 'build', { addedKeys: ['PAY_ONLY'] })],
  },
  {
    rule: 'a change to a RUNTIME group reports runtime resolutions only',
    after: () => afterChange('runtime-only', { kind: 'unset', keys: ['PORT'] }),
    expected: ['api', 'web', 'worker'].map((w) => change(w, 'runtime', { removedKeys: ['PORT'] })),
  },
  {
    rule: 'a change to a BUILD group reports build resolutions only',
    after: () => afterChange('build-only', { kind: 'set', variables: { NPM_TOKEN: `${CANARY}-npm2` } }),
    expected: ['api', 'web', 'worker'].map((w) => change(w, 'build', { changedKeys: ['NPM_TOKEN'] })),
  },
  {
    rule: 'unsetting a key that is shadowed reveals the lower-priority value as a changed key',
    after: () => afterChange('pay', { kind: 'unset', keys: ['LOG_LEVEL'] }),
    expected: [change('api', 'runtime', { changedKeys: ['LOG_LEVEL'] }), change('api', 'build', { changedKeys: ['LOG_LEVEL'] })],
  },
  {
    rule: 'widening a restriction adds every key of the group to the newly reached workloads',
    after: () =>
      afterChange('pay', { kind: 'settings', restrictions: { restricted: true, workloads: ['web'], tags: ['team:pay'] } }),
    expected: [
      change('web', 'runtime', { addedKeys: ['DSN', 'PG_PASSWORD', 'PG_URL'], changedKeys: ['LOG_LEVEL'] }),
      change('web', 'build', { addedKeys: ['DSN', 'PG_PASSWORD', 'PG_URL'], changedKeys: ['LOG_LEVEL'] }),
    ],
  },
  {
    rule: 'changing the scope removes the group from the scope it leaves',
    after: () => afterChange('pay', { kind: 'settings', scope: 'runtime' }),
    expected: [change('api', 'build', { removedKeys: ['DSN', 'PG_PASSWORD', 'PG_URL'], changedKeys: ['LOG_LEVEL'] })],
  },
  {
    rule: 'a priority change that flips the winner reports the key as changed',
    after: () => afterChange('shared', { kind: 'settings', priority: 90 }),
    expected: [change('api', 'runtime', { changedKeys: ['LOG_LEVEL'] }), change('api', 'build', { changedKeys: ['LOG_LEVEL'] })],
  },
  {
    rule: 'a priority change that flips no winner changes nothing',
    after: () => afterChange('shared', { kind: 'settings', priority: 20, description: 'new description' }),
    expected: [],
  },
  {
    rule: 'deleting a group removes its keys and files wherever they won',
    after: () => afterChange('shared', { kind: 'delete' }),
    expected: [
      change('api', 'runtime', { removedKeys: ['REGION'], removedFiles: ['/etc/shared.conf'] }),
      change('api', 'build', { removedKeys: ['OWN', 'REGION'], removedFiles: ['/etc/shared.conf'] }),
      ...['web', 'worker'].flatMap((w) => [
        change(w, 'runtime', { removedKeys: ['LOG_LEVEL', 'OWN', 'REGION'], removedFiles: ['/etc/shared.conf'] }),
        change(w, 'build', { removedKeys: ['LOG_LEVEL', 'OWN', 'REGION'], removedFiles: ['/etc/shared.conf'] }),
      ]),
    ],
  },
  {
    rule: 'adding a file reports it as an added file',
    after: () => afterChange('pay', { kind: 'add-file', file: file('/etc/pay/key.pem', `${CANARY}-pem`) }),
    expected: [
      change('api', 'runtime', { addedFiles: ['/etc/pay/key.pem'] }),
      change('api', 'build', { addedFiles: ['/etc/pay/key.pem'] }),
    ],
  },
  {
    rule: 'replacing a file content or mode reports it as a changed file',
    after: () => afterChange('shared', { kind: 'add-file', file: file('/etc/shared.conf', `${CANARY}-shared-file`, 0o644) }),
    expected: ['api', 'web', 'worker'].flatMap((w) => [
      change(w, 'runtime', { changedFiles: ['/etc/shared.conf'] }),
      change(w, 'build', { changedFiles: ['/etc/shared.conf'] }),
    ]),
  },
  {
    rule: 'a higher-priority file at the same path is a changed file where it reaches',
    after: () => afterChange('pay', { kind: 'add-file', file: file('/etc/shared.conf', `${CANARY}-pay-version`) }),
    expected: [
      change('api', 'runtime', { changedFiles: ['/etc/shared.conf'] }),
      change('api', 'build', { changedFiles: ['/etc/shared.conf'] }),
    ],
  },
  {
    rule: 'removing a file reports it as a removed file',
    after: () => afterChange('shared', { kind: 'remove-file', path: '/etc/shared.conf' }),
    expected: ['api', 'web', 'worker'].flatMap((w) => [
      change(w, 'runtime', { removedFiles: ['/etc/shared.conf'] }),
      change(w, 'build', { removedFiles: ['/etc/shared.conf'] }),
    ]),
  },
  {
    rule: 'relinking an addon with fewer keys removes the aliases it no longer brings',
    after: () =>
      afterChange('pay', { kind: 'link', addon: 'pg', keys: [{ key: 'url', alias: 'PG_URL' }] }),
    expected: [change('api', 'runtime', { removedKeys: ['PG_PASSWORD'] }), change('api', 'build', { removedKeys: ['PG_PASSWORD'] })],
  },
  {
    rule: 'addon rotation changes the aliases and every template over them',
    after: () =>
      snapshot({ ...base, addons: [addon('pg', { connectionDetails: { url: `${CANARY}-rotated`, password: `${CANARY}-pg-pw` } })] }),
    expected: [
      change('api', 'runtime', { changedKeys: ['DSN', 'PG_URL'] }),
      change('api', 'build', { changedKeys: ['DSN', 'PG_URL'] }),
    ],
  },
  {
    rule: 'a new workload is reported with every key and file it would receive',
    after: () => snapshot({ ...base, workloads: [...base.workloads, workload('new-svc', { buildArguments: { ARG: `${CANARY}-a` } })] }),
    expected: [
      change('new-svc', 'runtime', { addedKeys: ['LOG_LEVEL', 'OWN', 'PORT', 'REGION'], addedFiles: ['/etc/shared.conf'] }),
      change('new-svc', 'build', { addedKeys: ['ARG', 'LOG_LEVEL', 'NPM_TOKEN', 'OWN', 'REGION'], addedFiles: ['/etc/shared.conf'] }),
    ],
  },
  {
    rule: 'no change at all reports nothing',
    after: () => snapshot(base),
    expected: [],
  },
];

describe('previewChange', () => {
  it.each(cases)('$rule', ({ after, expected }) => {
    const result = previewChange(snapshot(base), after());
    expect(result).toEqual(expected);
    // Keys and paths only: not one value (or file content) may appear anywhere in the output.
    expect(JSON.stringify(result)).not.toContain(CANARY);
  });

  it('the canary check would catch a leak: resolved values do carry the canary', () => {
    // Control: a field holding values would fail the assertion above.
    expect(JSON.stringify(snapshot(base).groups.get('shared')!.variables)).toContain(CANARY);
  });

  it('results are ordered by workload name, runtime before build', () => {
    const result = previewChange(snapshot(base), afterChange('shared', { kind: 'set', variables: { Z: 'z' } }));
    expect(result.map((c) => `${c.workload}/${c.scope}`)).toEqual([
      'api/runtime',
      'api/build',
      'web/runtime',
      'web/build',
      'worker/runtime',
      'worker/build',
    ]);
  });
});

describe('previewChange for a caller who cannot read every value (presence only)', () => {
  const viewer = { secret: false, config: true };
  const SECRET = 'sk_live_the-real-value';
  const parts: Parts = {
    workloads: [workload('api', { runtimeVariables: { W_TOKEN: SECRET } })],
    addons: [addon('db', { connectionDetails: { password: SECRET } })],
    groups: [
      group('vault', { type: 'secret', priority: 10, variables: { STRIPE_KEY: SECRET }, files: [file('/etc/key.pem', SECRET)] }),
      group('links', { type: 'secret', priority: 10, addonLinks: [{ addon: 'db', keys: [{ key: 'password', alias: 'DB_PASSWORD' }] }] }),
      group('cfg', { type: 'config', priority: 5, variables: { LOG: 'info' } }),
    ],
  };
  const ctxFor = { addons: new Map(parts.addons.map((a) => [a.name, a])), now: 10, actor: 't' };
  /** A priority-100 config group created with the guessed values. */
  const guessing = (vars: Record<string, string>, files: SecretFile[] = []) => {
    const made = applyGroupChange(null, { kind: 'create', group: { ...group('guess', { type: 'config', priority: 100 }), variables: vars } }, ctxFor)!;
    return snapshot({ ...parts, groups: [...parts.groups, { ...made, files }] });
  };
  const preview = (after: ProjectSnapshot, readable = viewer) => previewChange(snapshot(parts), after, readable);

  it.each([
    ['a secret group variable', (g: string) => guessing({ STRIPE_KEY: g }), 'changedKeys', 'STRIPE_KEY'],
    ['an addon password', (g: string) => guessing({ DB_PASSWORD: g }), 'changedKeys', 'DB_PASSWORD'],
    ['a secret file content', (g: string) => guessing({}, [file('/etc/key.pem', g)]), 'changedFiles', '/etc/key.pem'],
  ] as const)('guessing %s: the answer is the same whether the guess is right or wrong', (_what, after, field, name) => {
    const right = preview(after(SECRET));
    const wrong = preview(after('wrong guess'));
    expect(right).toEqual(wrong);
    // A key that moves from a hidden source to a readable one counts as changed.
    expect(right.find((c) => c.scope === 'runtime')![field]).toContain(name);
    // Someone who may read secrets sees the truth: the right guess changes nothing there.
    const admin = previewChange(snapshot(parts), after(SECRET));
    expect(admin.find((c) => c.scope === 'runtime')?.[field] ?? []).not.toContain(name);
  });

  it('a workload variable shadows the guess: nothing changes either way, and nothing distinguishes the two', () => {
    expect(preview(guessing({ W_TOKEN: SECRET }))).toEqual(preview(guessing({ W_TOKEN: 'wrong' })));
  });

  it('readable values are still compared: an equal config value is no change', () => {
    expect(preview(guessing({ LOG: 'info' }))).toEqual([]);
    expect(preview(guessing({ LOG: 'debug' }))[0]!.changedKeys).toEqual(['LOG']);
  });

  it('a value moving from readable to hidden counts as changed, whatever it is', () => {
    const before = snapshot({ ...parts, groups: [...parts.groups, group('top', { type: 'config', priority: 100, variables: { STRIPE_KEY: SECRET } })] });
    const out = previewChange(before, snapshot(parts), viewer);
    expect(out.find((c) => c.scope === 'runtime')!.changedKeys).toEqual(['STRIPE_KEY']);
  });

  it('presence stays visible: adding or removing a key under a hidden source is reported', () => {
    const out = preview(guessing({ BRAND_NEW: 'x' }));
    expect(out.find((c) => c.scope === 'runtime')!.addedKeys).toEqual(['BRAND_NEW']);
  });
});
