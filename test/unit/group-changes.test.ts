/** Group mutations as pure functions: every change kind, its validation, and the revision bookkeeping. */
import { describe, expect, it } from 'vitest';
import { DomainError, type ErrorCode } from '../../server/domain/errors.js';
import { applyGroupChange, changedKeys, checkGroup, type GroupChange, type NewGroup } from '../../server/domain/group-changes.js';
import { LIMITS } from '../../server/domain/limits.js';
import type { SecretFile, SecretGroup, Vars } from '../../server/domain/types.js';
import { addon, group } from '../helpers/fixtures.js';

const ctx = {
  addons: new Map([
    ['pg', addon('pg', { connectionDetails: { url: 'postgres://x', password: 'pw' } })],
    ['redis', addon('redis', { connectionDetails: { url: 'redis://r' } })],
  ]),
  now: 5000,
  actor: 'alice',
};

const file = (path: string, content = 'c', mode = 0o600): SecretFile => ({ path, content: new TextEncoder().encode(content), mode });

function newGroup(over: Partial<NewGroup> = {}): NewGroup {
  return {
    project: 'p',
    name: 'g',
    description: 'd',
    type: 'config',
    scope: 'both',
    priority: 10,
    restrictions: { restricted: false, workloads: [], tags: [] },
    variables: {},
    ...over,
  };
}

/** A stored secret group (only those may link addons) at revision 3, created at time 1. */
function current(over: Partial<SecretGroup> = {}): SecretGroup {
  return group('g', { type: 'secret', revision: 3, createdAt: 1, updatedAt: 2, updatedBy: 'bob', variables: { A: '1', B: '2' }, ...over });
}

function apply(cur: SecretGroup | null, change: GroupChange): SecretGroup {
  const next = applyGroupChange(cur, change, ctx);
  expect(next).not.toBeNull();
  return next!;
}

/** Asserts the change is refused with `code` (message matching `message`) and that `cur` was not mutated. */
function expectRefused(cur: SecretGroup | null, change: GroupChange, code: ErrorCode, message?: RegExp | string): void {
  const before = structuredClone(cur);
  let err: unknown;
  try {
    applyGroupChange(cur, change, ctx);
  } catch (e) {
    err = e;
  }
  expect(err, 'the change was accepted').toBeInstanceOf(DomainError);
  expect((err as DomainError).code).toBe(code);
  if (message) expect((err as DomainError).message).toMatch(message);
  expect(cur).toEqual(before);
}

describe('create', () => {
  it('creates revision 1 with the context time and actor, no files and no links', () => {
    const g = apply(null, { kind: 'create', group: newGroup({ variables: { HOST: 'h', URL: 'http://${HOST}' } }) });
    expect(g).toEqual({
      ...newGroup({ variables: { HOST: 'h', URL: 'http://${HOST}' } }),
      files: [],
      addonLinks: [],
      revision: 1,
      createdAt: 5000,
      updatedAt: 5000,
      updatedBy: 'alice',
    });
  });

  it('normalises restrictions (sorted, de-duplicated, restricted when anything is named)', () => {
    const g = apply(null, {
      kind: 'create',
      group: newGroup({ restrictions: { restricted: false, workloads: ['web', 'api', 'api'], tags: ['b', 'a'] } }),
    });
    expect(g.restrictions).toEqual({ restricted: true, workloads: ['api', 'web'], tags: ['a', 'b'] });
  });

  it.each<[string, Partial<NewGroup>, ErrorCode, RegExp]>([
    ['an invalid project name', { project: 'Bad_Project' }, 'INVALID_ARGUMENT', /project/],
    ['an invalid group name', { name: 'My Group' }, 'INVALID_ARGUMENT', /group name/],
    ['priority 101', { priority: 101 }, 'INVALID_ARGUMENT', /priority/],
    ['priority -1', { priority: -1 }, 'INVALID_ARGUMENT', /priority/],
    ['priority 1.5', { priority: 1.5 }, 'INVALID_ARGUMENT', /priority/],
    ['key BAD KEY', { variables: { 'BAD KEY': 'x' } }, 'INVALID_ARGUMENT', /BAD KEY/],
    ['key 1ABC', { variables: { '1ABC': 'x' } }, 'INVALID_ARGUMENT', /1ABC/],
    ['an empty key', { variables: { '': 'x' } }, 'INVALID_ARGUMENT', /key/],
    ['an invalid restriction tag', { restrictions: { restricted: true, workloads: [], tags: ['a b'] } }, 'INVALID_ARGUMENT', /restrictions\.tags/],
    ['an invalid restriction workload', { restrictions: { restricted: true, workloads: ['API'], tags: [] } }, 'INVALID_ARGUMENT', /restrictions\.workloads/],
    ['an undefined template reference', { variables: { URL: '${HOST}' } }, 'INVALID_ARGUMENT', /value of "URL"/],
    ['a template cycle', { variables: { A: '${B}', B: '${A}' } }, 'INVALID_ARGUMENT', /A -> B -> A/],
    ['a malformed template', { variables: { A: 'x${' } }, 'INVALID_ARGUMENT', /malformed/],
    ['a value over the size limit', { variables: { BIG: 'x'.repeat(LIMITS.valueBytes + 1) } }, 'RESOURCE_EXHAUSTED', /BIG/],
    ['a description over the limit', { description: 'd'.repeat(LIMITS.descriptionLength + 1) }, 'INVALID_ARGUMENT', /description/],
  ])('refuses %s', (_rule, over, code, message) => {
    expectRefused(null, { kind: 'create', group: newGroup(over) }, code, message);
  });

  it('refuses a group larger than the group size limit even when each value fits', () => {
    const n = Math.ceil(LIMITS.groupBytes / LIMITS.valueBytes) + 1;
    const variables: Vars = {};
    for (let i = 0; i < n; i++) variables[`K${i}`] = 'x'.repeat(LIMITS.valueBytes);
    expectRefused(null, { kind: 'create', group: newGroup({ variables }) }, 'RESOURCE_EXHAUSTED', /limit/);
  });
});

describe('changes to a group that does not exist', () => {
  it.each<GroupChange>([
    { kind: 'delete' },
    { kind: 'settings', priority: 1 },
    { kind: 'set', variables: { A: '1' } },
    { kind: 'unset', keys: ['A'] },
    { kind: 'import', format: 'json', content: '{}', replace: false },
    { kind: 'add-file', file: file('/f') },
    { kind: 'remove-file', path: '/f' },
    { kind: 'link', addon: 'pg', keys: [] },
    { kind: 'unlink', addon: 'pg' },
    { kind: 'rollback', revision: 1, to: current() },
  ])('$kind is NOT_FOUND', (change) => {
    expectRefused(null, change, 'NOT_FOUND');
  });
});

describe('every change bumps the revision and records time and actor', () => {
  it.each<[string, GroupChange]>([
    ['settings', { kind: 'settings', description: 'new' }],
    ['set', { kind: 'set', variables: { C: '3' } }],
    ['unset', { kind: 'unset', keys: ['A'] }],
    ['import', { kind: 'import', format: 'dotenv', content: 'C=3', replace: false }],
    ['add-file', { kind: 'add-file', file: file('/etc/x') }],
    ['link', { kind: 'link', addon: 'redis', keys: [] }],
    ['rollback', { kind: 'rollback', revision: 1, to: current({ revision: 1, variables: {} }) }],
  ])('%s', (_kind, change) => {
    const cur = current();
    const next = apply(cur, change);
    expect(next.revision).toBe(4);
    expect(next.createdAt).toBe(1);
    expect(next.updatedAt).toBe(5000);
    expect(next.updatedBy).toBe('alice');
    expect(next.name).toBe('g');
    expect(next.project).toBe('p');
    expect(cur.revision).toBe(3);
  });

  it('delete returns null', () => {
    expect(applyGroupChange(current(), { kind: 'delete' }, ctx)).toBeNull();
  });
});

describe('settings', () => {
  it('changes only the given fields', () => {
    const cur = current({ description: 'old', type: 'config', scope: 'both', priority: 10 });
    const next = apply(cur, { kind: 'settings', type: 'secret', priority: 0 });
    expect(next).toMatchObject({ description: 'old', type: 'secret', scope: 'both', priority: 0, variables: { A: '1', B: '2' } });
    expect(apply(cur, { kind: 'settings', scope: 'build', priority: 100 })).toMatchObject({ scope: 'build', priority: 100 });
    expect(apply(cur, { kind: 'settings', description: 'new' }).description).toBe('new');
  });

  it('restrictions are replaced and normalised', () => {
    const next = apply(current(), { kind: 'settings', restrictions: { restricted: false, workloads: [], tags: ['gpu', 'gpu'] } });
    expect(next.restrictions).toEqual({ restricted: true, workloads: [], tags: ['gpu'] });
    const open = apply(next, { kind: 'settings', restrictions: { restricted: false, workloads: [], tags: [] } });
    expect(open.restrictions.restricted).toBe(false);
  });

  it.each<[string, GroupChange, RegExp]>([
    ['priority 101', { kind: 'settings', priority: 101 }, /priority/],
    ['priority -1', { kind: 'settings', priority: -1 }, /priority/],
    ['priority 1.5', { kind: 'settings', priority: 1.5 }, /priority/],
    ['an invalid restriction', { kind: 'settings', restrictions: { restricted: true, workloads: ['Nope!'], tags: [] } }, /restrictions/],
    ['a description over the limit', { kind: 'settings', description: 'x'.repeat(LIMITS.descriptionLength + 1) }, /description/],
  ])('refuses %s', (_rule, change, message) => {
    expectRefused(current(), change, 'INVALID_ARGUMENT', message);
  });
});

describe('set', () => {
  it('adds and overwrites keys, keeping the others', () => {
    expect(apply(current(), { kind: 'set', variables: { B: 'two', C: '3' } }).variables).toEqual({ A: '1', B: 'two', C: '3' });
  });

  it('accepts a template over an existing key or an addon alias', () => {
    const cur = current({ addonLinks: [{ addon: 'pg', keys: [] }] });
    expect(apply(cur, { kind: 'set', variables: { C: '${A}-${PG_URL}' } }).variables.C).toBe('${A}-${PG_URL}');
  });

  it.each<[string, Vars, ErrorCode, RegExp]>([
    ['no variables', {}, 'INVALID_ARGUMENT', /no variables/],
    ['key BAD KEY', { 'BAD KEY': 'x' }, 'INVALID_ARGUMENT', /BAD KEY/],
    ['key 1ABC', { '1ABC': 'x' }, 'INVALID_ARGUMENT', /1ABC/],
    ['an empty key', { '': 'x' }, 'INVALID_ARGUMENT', /key/],
    ['an undefined template reference', { C: '${NOPE}' }, 'INVALID_ARGUMENT', /value of "C"/],
    ['a self-reference', { C: '${C}' }, 'INVALID_ARGUMENT', /C -> C/],
    ['a cycle through an existing key', { A: '${C}', C: '${A}' }, 'INVALID_ARGUMENT', /cycle/],
    ['a value over the size limit', { C: 'x'.repeat(LIMITS.valueBytes + 1) }, 'RESOURCE_EXHAUSTED', /C/],
  ])('refuses %s', (_rule, variables, code, message) => {
    expectRefused(current(), { kind: 'set', variables }, code, message);
  });

  it('refuses a key that collides with an addon alias of the group', () => {
    expectRefused(current({ addonLinks: [{ addon: 'pg', keys: [] }] }), { kind: 'set', variables: { PG_URL: 'x' } }, 'INVALID_ARGUMENT', /PG_URL/);
  });

  it('refuses a key beyond the per-group key limit', () => {
    const variables: Vars = {};
    for (let i = 0; i < LIMITS.keysPerGroup; i++) variables[`K${i}`] = '';
    expectRefused(current({ variables }), { kind: 'set', variables: { ONE_MORE: '' } }, 'RESOURCE_EXHAUSTED', /limit/);
  });
});

describe('unset', () => {
  it('removes the keys', () => {
    expect(apply(current({ variables: { A: '1', B: '2', C: '3' } }), { kind: 'unset', keys: ['A', 'C'] }).variables).toEqual({ B: '2' });
  });

  it('refuses an empty key list', () => {
    expectRefused(current(), { kind: 'unset', keys: [] }, 'INVALID_ARGUMENT', /no keys/);
  });

  it('refuses a key the group does not hold, naming it, and removes nothing', () => {
    expectRefused(current(), { kind: 'unset', keys: ['A', 'MISSING'] }, 'NOT_FOUND', /MISSING/);
  });

  it('refuses removing a key that a template still references', () => {
    expectRefused(current({ variables: { HOST: 'h', URL: '${HOST}' } }), { kind: 'unset', keys: ['HOST'] }, 'INVALID_ARGUMENT', /value of "URL"/);
  });
});

describe('import', () => {
  it('merge keeps existing keys and overwrites imported ones', () => {
    const next = apply(current(), { kind: 'import', format: 'dotenv', content: 'B=dos\nC=tres', replace: false });
    expect(next.variables).toEqual({ A: '1', B: 'dos', C: 'tres' });
  });

  it('replace drops keys that are not imported', () => {
    const next = apply(current(), { kind: 'import', format: 'json', content: '{"C": "tres"}', replace: true });
    expect(next.variables).toEqual({ C: 'tres' });
  });

  it('imported templates are checked against the merged group', () => {
    const next = apply(current(), { kind: 'import', format: 'json', content: '{"C": "${A}${B}"}', replace: false });
    expect(next.variables.C).toBe('${A}${B}');
    expectRefused(current(), { kind: 'import', format: 'json', content: '{"C": "${A}"}', replace: true }, 'INVALID_ARGUMENT', /value of "C"/);
  });

  it('replace refuses to drop a key a remaining template references', () => {
    const cur = current({ variables: { HOST: 'h', URL: '${HOST}' } });
    expectRefused(cur, { kind: 'import', format: 'dotenv', content: 'URL=${HOST}/x', replace: true }, 'INVALID_ARGUMENT', /value of "URL"/);
  });

  it.each<[string, 'dotenv' | 'json', string, RegExp]>([
    ['a malformed .env line', 'dotenv', 'C=3\nnope', /line 2/],
    ['a bad .env key', 'dotenv', '1ABC=x', /line 1/],
    ['JSON that is not an object', 'json', '["C"]', /object/],
    ['a JSON non-string value', 'json', '{"C": 3}', /C/],
    ['a JSON syntax error', 'json', '{\n"C": }', /line 2/],
  ])('refuses %s and changes nothing', (_rule, format, content, message) => {
    expectRefused(current(), { kind: 'import', format, content, replace: true }, 'INVALID_ARGUMENT', message);
  });

  it('refuses an imported key colliding with an addon alias', () => {
    const cur = current({ addonLinks: [{ addon: 'redis', keys: [] }] });
    expectRefused(cur, { kind: 'import', format: 'dotenv', content: 'REDIS_URL=x', replace: false }, 'INVALID_ARGUMENT', /REDIS_URL/);
  });
});

describe('files', () => {
  it('add-file adds files sorted by path, replacing one at the same path', () => {
    let g = apply(current(), { kind: 'add-file', file: file('/z', 'z') });
    g = apply(g, { kind: 'add-file', file: file('/a', 'a', 0o644) });
    g = apply(g, { kind: 'add-file', file: file('/z', 'z2', 0o400) });
    expect(g.files.map((f) => [f.path, Buffer.from(f.content).toString(), f.mode])).toEqual([
      ['/a', 'a', 0o644],
      ['/z', 'z2', 0o400],
    ]);
  });

  it('add-file with mode 0 stores 0600', () => {
    expect(apply(current(), { kind: 'add-file', file: file('/f', 'c', 0) }).files[0]!.mode).toBe(0o600);
  });

  it.each<[string, SecretFile, ErrorCode, RegExp]>([
    ['a relative path', file('etc/app.conf'), 'INVALID_ARGUMENT', /absolute/],
    ['a path with ..', file('/etc/../passwd'), 'INVALID_ARGUMENT', /\.\./],
    ['a path that is not normalised', file('/etc//x'), 'INVALID_ARGUMENT', /normalised/],
    ['a trailing slash', file('/etc/'), 'INVALID_ARGUMENT', /directory/],
    ['a NUL in the path', file('/etc/x\0'), 'INVALID_ARGUMENT', /NUL/],
    ['content over the file limit', { path: '/big', content: new Uint8Array(LIMITS.fileBytes + 1), mode: 0o600 }, 'RESOURCE_EXHAUSTED', /\/big/],
    ['a mode beyond permission bits', file('/f', 'c', 0o4755), 'INVALID_ARGUMENT', /mode/],
  ])('add-file refuses %s', (_rule, f, code, message) => {
    expectRefused(current(), { kind: 'add-file', file: f }, code, message);
  });

  it('add-file refuses a file beyond the per-group file limit', () => {
    const files = Array.from({ length: LIMITS.filesPerGroup }, (_, i) => file(`/f${String(i).padStart(3, '0')}`));
    expectRefused(current({ files }), { kind: 'add-file', file: file('/one-more') }, 'RESOURCE_EXHAUSTED', /files/);
  });

  it('remove-file removes the file at the path', () => {
    const g = apply(current({ files: [file('/a'), file('/b')] }), { kind: 'remove-file', path: '/a' });
    expect(g.files.map((f) => f.path)).toEqual(['/b']);
  });

  it('remove-file refuses a path the group does not hold (NOT_FOUND) or an invalid path', () => {
    expectRefused(current({ files: [file('/a')] }), { kind: 'remove-file', path: '/b' }, 'NOT_FOUND', /\/b/);
    expectRefused(current({ files: [file('/a')] }), { kind: 'remove-file', path: 'a' }, 'INVALID_ARGUMENT', /absolute/);
  });
});

describe('addon links', () => {
  it('links chosen keys under chosen aliases', () => {
    const g = apply(current(), { kind: 'link', addon: 'pg', keys: [{ key: 'url', alias: 'DATABASE_URL' }] });
    expect(g.addonLinks).toEqual([{ addon: 'pg', keys: [{ key: 'url', alias: 'DATABASE_URL' }] }]);
  });

  it('an empty alias becomes the default alias <ADDON>_<KEY>', () => {
    const g = apply(current(), { kind: 'link', addon: 'pg', keys: [{ key: 'password', alias: '' }] });
    expect(g.addonLinks[0]!.keys).toEqual([{ key: 'password', alias: 'PG_PASSWORD' }]);
  });

  it('no keys links every key of the addon (by default alias, resolved later)', () => {
    const g = apply(current(), { kind: 'link', addon: 'pg', keys: [] });
    expect(g.addonLinks).toEqual([{ addon: 'pg', keys: [] }]);
  });

  it('linking an addon again replaces its link; links stay sorted by addon', () => {
    let g = apply(current(), { kind: 'link', addon: 'redis', keys: [] });
    g = apply(g, { kind: 'link', addon: 'pg', keys: [{ key: 'url', alias: 'A_URL' }] });
    g = apply(g, { kind: 'link', addon: 'pg', keys: [{ key: 'url', alias: 'B_URL' }] });
    expect(g.addonLinks).toEqual([
      { addon: 'pg', keys: [{ key: 'url', alias: 'B_URL' }] },
      { addon: 'redis', keys: [] },
    ]);
  });

  it.each<[string, SecretGroup, GroupChange, RegExp]>([
    ['an invalid addon name', current(), { kind: 'link', addon: 'No Such', keys: [] }, /addon/],
    ['a key the addon does not have', current(), { kind: 'link', addon: 'pg', keys: [{ key: 'host', alias: 'H' }] }, /pg has no key host/],
    ['an invalid alias', current(), { kind: 'link', addon: 'pg', keys: [{ key: 'url', alias: 'BAD ALIAS' }] }, /BAD ALIAS/],
    ['an alias colliding with a variable', current(), { kind: 'link', addon: 'pg', keys: [{ key: 'url', alias: 'A' }] }, /alias A .*collides/],
    ['a default alias colliding with a variable', current({ variables: { PG_URL: 'x' } }), { kind: 'link', addon: 'pg', keys: [] }, /PG_URL/],
    [
      'an alias used by another addon link',
      current({ addonLinks: [{ addon: 'redis', keys: [{ key: 'url', alias: 'CACHE' }] }] }),
      { kind: 'link', addon: 'pg', keys: [{ key: 'url', alias: 'CACHE' }] },
      /CACHE .*redis.*pg|CACHE .*pg.*redis/,
    ],
    [
      'two keys of one link under the same alias',
      current(),
      { kind: 'link', addon: 'pg', keys: [{ key: 'url', alias: 'X' }, { key: 'password', alias: 'X' }] },
      /alias X/,
    ],
  ])('link refuses %s', (_rule, cur, change, message) => {
    expectRefused(cur, change, 'INVALID_ARGUMENT', message);
  });

  it('link refuses an unknown addon with NOT_FOUND', () => {
    expectRefused(current(), { kind: 'link', addon: 'nope', keys: [] }, 'NOT_FOUND', /addon nope in this project not found/);
  });

  it('unlink removes the link', () => {
    const g = apply(current({ addonLinks: [{ addon: 'pg', keys: [] }, { addon: 'redis', keys: [] }] }), { kind: 'unlink', addon: 'pg' });
    expect(g.addonLinks).toEqual([{ addon: 'redis', keys: [] }]);
  });

  it('unlink refuses an addon the group does not link (NOT_FOUND)', () => {
    expectRefused(current(), { kind: 'unlink', addon: 'pg' }, 'NOT_FOUND', /pg/);
  });

  it('unlink refuses when a template still references one of its aliases', () => {
    const cur = current({ variables: { DSN: '${PG_URL}' }, addonLinks: [{ addon: 'pg', keys: [] }] });
    expectRefused(cur, { kind: 'unlink', addon: 'pg' }, 'INVALID_ARGUMENT', /value of "DSN"/);
  });
});

describe('rollback', () => {
  it('restores the content of the earlier revision as a new revision', () => {
    const old = current({
      revision: 1,
      description: 'v1',
      type: 'secret',
      scope: 'runtime',
      priority: 77,
      restrictions: { restricted: true, workloads: ['api'], tags: [] },
      variables: { OLD: 'o' },
      files: [file('/old')],
      addonLinks: [{ addon: 'redis', keys: [] }],
    });
    const cur = current({ files: [file('/new')], addonLinks: [{ addon: 'pg', keys: [] }] });
    const next = apply(cur, { kind: 'rollback', revision: 1, to: old });
    expect(next).toEqual({
      ...old,
      revision: 4,
      createdAt: cur.createdAt,
      updatedAt: 5000,
      updatedBy: 'alice',
    });
  });

  it('the restored content is a copy: mutating it does not touch the history entry', () => {
    const old = current({ revision: 1, variables: { OLD: 'o' } });
    const next = apply(current(), { kind: 'rollback', revision: 1, to: old });
    next.variables.NEW = 'x';
    next.files.push(file('/x'));
    expect(old.variables).toEqual({ OLD: 'o' });
    expect(old.files).toEqual([]);
  });

  it('refuses a revision that was not found (NOT_FOUND)', () => {
    expectRefused(current(), { kind: 'rollback', revision: 9 }, 'NOT_FOUND', /revision 9/);
  });

  it('refuses a revision whose addon links no longer hold', () => {
    const old = current({ revision: 1, addonLinks: [{ addon: 'deleted-addon', keys: [] }] });
    expectRefused(current(), { kind: 'rollback', revision: 1, to: old }, 'NOT_FOUND', /deleted-addon/);
  });
});

describe('checkGroup', () => {
  it('accepts a consistent group and returns it', () => {
    const g = group('g', { variables: { DSN: '${PG_URL}' }, addonLinks: [{ addon: 'pg', keys: [] }] });
    expect(checkGroup(g, ctx)).toBe(g);
  });

  it('refuses a template reference to an alias of an addon the group does not link', () => {
    expect(() => checkGroup(group('g', { variables: { DSN: '${PG_URL}' } }), ctx)).toThrowError(/value of "DSN"/);
  });
});

describe('changedKeys', () => {
  const g = (variables: Vars, files: SecretFile[] = []) => group('g', { variables, files });

  it.each<[string, SecretGroup | null, SecretGroup | null, string[]]>([
    ['nothing changed', g({ A: '1' }, [file('/f')]), g({ A: '1' }, [file('/f')]), []],
    ['a value changed', g({ A: '1', B: '2' }), g({ A: 'x', B: '2' }), ['A']],
    ['a key added', g({ A: '1' }), g({ A: '1', B: '2' }), ['B']],
    ['a key removed', g({ A: '1', B: '2' }), g({ A: '1' }), ['B']],
    ['a value changed to empty', g({ A: '1' }), g({ A: '' }), ['A']],
    ['creation: every key and file', null, g({ B: '2', A: '1' }, [file('/f')]), ['/f', 'A', 'B']],
    ['deletion: every key and file', g({ A: '1' }, [file('/f')]), null, ['/f', 'A']],
    ['a file content changed', g({}, [file('/f', 'a')]), g({}, [file('/f', 'b')]), ['/f']],
    ['a file mode changed', g({}, [file('/f', 'a', 0o600)]), g({}, [file('/f', 'a', 0o644)]), ['/f']],
    ['a file added and one removed', g({}, [file('/a')]), g({}, [file('/b')]), ['/a', '/b']],
    ['settings only: no keys', group('g', { priority: 1, variables: { A: '1' } }), group('g', { priority: 2, variables: { A: '1' } }), []],
    ['keys named like Object.prototype members', g({}), g({ constructor: 'x', toString: 'y' }), ['constructor', 'toString']],
  ])('%s', (_rule, before, after, expected) => {
    expect(changedKeys(before, after)).toEqual(expected);
  });
});

describe('addon links only in secret groups', () => {
  const code = (fn: () => unknown): ErrorCode | undefined => {
    try {
      fn();
    } catch (e) {
      return (e as DomainError).code;
    }
    return undefined;
  };

  it('linking into a config group is refused with FAILED_PRECONDITION, naming no value', () => {
    const cfg = current({ type: 'config' });
    expect(code(() => applyGroupChange(cfg, { kind: 'link', addon: 'pg', keys: [] }, ctx))).toBe('FAILED_PRECONDITION');
    expect(() => applyGroupChange(cfg, { kind: 'link', addon: 'pg', keys: [] }, ctx)).toThrow(/only a secret group may link an addon/);
    expect(() => applyGroupChange(cfg, { kind: 'link', addon: 'pg', keys: [] }, ctx)).not.toThrow(/postgres:|pw/);
  });

  it('a linked secret group cannot become a config group, nor be rolled back to a config revision with links', () => {
    const linked = current({ addonLinks: [{ addon: 'pg', keys: [] }] });
    expect(code(() => applyGroupChange(linked, { kind: 'settings', type: 'config' }, ctx))).toBe('FAILED_PRECONDITION');
    const cfg = current({ type: 'config' });
    expect(code(() => applyGroupChange(cfg, { kind: 'rollback', revision: 1, to: { ...linked, type: 'config' } }, ctx))).toBe('FAILED_PRECONDITION');
  });

  it('a config group that linked an addon before the rule: every change that keeps it so is refused; the fixes are allowed', () => {
    const legacy = current({ type: 'config', addonLinks: [{ addon: 'pg', keys: [] }] });
    expect(code(() => applyGroupChange(legacy, { kind: 'set', variables: { X: '1' } }, ctx))).toBe('FAILED_PRECONDITION');
    expect(applyGroupChange(legacy, { kind: 'settings', type: 'secret' }, ctx)!.type).toBe('secret');
    expect(applyGroupChange(legacy, { kind: 'unlink', addon: 'pg' }, ctx)!.addonLinks).toEqual([]);
    expect(applyGroupChange(legacy, { kind: 'delete' }, ctx)).toBeNull();
    // It still passes the whole-group checks, so an addon rotation is not blocked by it.
    expect(() => checkGroup(legacy, ctx)).not.toThrow();
  });
});
