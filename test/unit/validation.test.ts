/** Input validation: every failure is a DomainError naming the field, never echoing a whole value. */
import { describe, expect, it } from 'vitest';
import { DomainError, type ErrorCode } from '../../server/domain/errors.js';
import { LIMITS } from '../../server/domain/limits.js';
import {
  parsePriority,
  validateFile,
  validateFilePath,
  validateKey,
  validateName,
  validatePriority,
  validateRestrictions,
  validateTag,
  validateTags,
  validateValue,
  validateVars,
} from '../../server/domain/validation.js';

function failure(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return e as DomainError;
  }
  throw new Error('expected a DomainError, nothing was thrown');
}

function expectRefused(fn: () => unknown, code: ErrorCode = 'INVALID_ARGUMENT', field?: string): DomainError {
  const e = failure(fn);
  expect(e.code).toBe(code);
  if (field) expect(e.message).toContain(field);
  return e;
}

describe('names (projects, workloads, addons, groups): DNS labels', () => {
  it.each(['a', 'api', 'my-service-2', '0', '9lives', 'a'.repeat(63)])('accepted: %j', (name) => {
    expect(validateName('group name', name)).toBe(name);
  });

  it.each([
    ['empty', ''],
    ['upper case', 'Api'],
    ['underscore', 'my_service'],
    ['leading dash', '-api'],
    ['trailing dash', 'api-'],
    ['a dot', 'api.v2'],
    ['a space', 'my api'],
    ['a slash', 'p/api'],
    ['64 characters', 'a'.repeat(64)],
    ['unicode', 'ápi'],
    ['a trailing newline', 'api\n'],
  ])('refused: %s', (_rule, name) => {
    expectRefused(() => validateName('group name', name), 'INVALID_ARGUMENT', 'group name');
  });

  it('an error echoes at most 40 characters of the input', () => {
    const secretish = `x${'S3CRET'.repeat(20)}`;
    const e = expectRefused(() => validateName('name', secretish));
    expect(e.message).not.toContain(secretish);
    expect(e.message).toContain(secretish.slice(0, 40));
  });
});

describe('keys', () => {
  it.each(['A', 'a', '_', 'KEY_1', '_PRIVATE', 'camelCase9', 'K'.repeat(LIMITS.keyLength), 'constructor', 'toString'])(
    'accepted: %j',
    (key) => {
      expect(validateKey('key', key)).toBe(key);
    },
  );

  it.each([
    ['with a space', 'BAD KEY'],
    ['starting with a digit', '1ABC'],
    ['empty', ''],
    ['with a dash', 'MY-KEY'],
    ['with a dot', 'A.B'],
    ['with =', 'A=B'],
    ['with a trailing newline', 'KEY\n'],
    ['non-ASCII', 'KÉY'],
    ['longer than the key limit', 'K'.repeat(LIMITS.keyLength + 1)],
    ['__proto__ (reserved: it would corrupt an object map)', '__proto__'],
  ])('refused: %s', (_rule, key) => {
    expectRefused(() => validateKey('variables key', key), 'INVALID_ARGUMENT', 'variables key');
  });
});

describe('tags', () => {
  it.each(['prod', 'env:prod', 'team/payments', 'a.b_c-d', 'X', 'v1'])('accepted: %j', (tag) => {
    expect(validateTag('tags', tag)).toBe(tag);
  });

  it.each([
    ['empty', ''],
    ['a space', 'my tag'],
    ['leading colon', ':prod'],
    ['trailing slash', 'team/'],
    ['64 characters', 't'.repeat(64)],
    ['a comma', 'a,b'],
  ])('refused: %s', (_rule, tag) => {
    expectRefused(() => validateTag('tags', tag), 'INVALID_ARGUMENT', 'tags');
  });

  it('a tag list is de-duplicated and sorted', () => {
    expect(validateTags('tags', ['b', 'a', 'b'])).toEqual(['a', 'b']);
  });

  it('more tags than the limit is RESOURCE_EXHAUSTED', () => {
    const tags = Array.from({ length: LIMITS.tagsPerWorkload + 1 }, (_, i) => `t${i}`);
    expectRefused(() => validateTags('tags', tags), 'RESOURCE_EXHAUSTED', 'tags');
  });
});

describe('priority: integers 0..100 only', () => {
  it.each([0, 1, 50, 100])('accepted number: %j', (p) => {
    expect(validatePriority('priority', p)).toBe(p);
  });

  it.each<[string, unknown]>([
    ['101', 101],
    ['-1', -1],
    ['1.5', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['the string "50"', '50'],
    ['the string "abc"', 'abc'],
    ['null', null],
    ['undefined', undefined],
  ])('refused value: %s', (_rule, p) => {
    expectRefused(() => validatePriority('priority', p), 'INVALID_ARGUMENT', 'priority');
  });

  it.each<[string, number]>([
    ['0', 0],
    ['100', 100],
    ['50', 50],
    [' 42 ', 42],
    ['007', 7],
  ])('typed text accepted: %j', (text, value) => {
    expect(parsePriority('priority', text)).toBe(value);
  });

  it.each(['101', '-1', '1.5', 'abc', '', ' ', '1e2', '0x10', '+5', '50%', '5 0', '1000000000000000000000'])(
    'typed text refused: %j',
    (text) => {
      expectRefused(() => parsePriority('priority', text), 'INVALID_ARGUMENT', 'priority');
    },
  );
});

describe('secret file paths: absolute, normalised, no ..', () => {
  it.each(['/etc/app/config.json', '/a', '/run/secrets/tls.key', '/.env', '/a/..b/c', '/a/b..'])('accepted: %j', (path) => {
    expect(validateFilePath('file.path', path)).toBe(path);
  });

  it.each([
    ['relative', 'etc/app.conf', 'absolute'],
    ['relative with ./', './app.conf', 'absolute'],
    ['empty', '', 'absolute'],
    ['a .. segment', '/etc/../passwd', '..'],
    ['a trailing .. segment', '/etc/..', '..'],
    ['not normalised: double slash', '/etc//app.conf', 'normalised'],
    ['not normalised: a . segment', '/etc/./app.conf', 'normalised'],
    ['a trailing slash', '/etc/app/', 'directory'],
    ['the root', '/', 'directory'],
    ['a NUL byte', '/etc/app\0.conf', 'NUL'],
    ['longer than the path limit', `/${'a'.repeat(LIMITS.pathLength)}`, 'longer'],
  ])('refused: %s', (_rule, path, reason) => {
    const e = expectRefused(() => validateFilePath('file.path', path), 'INVALID_ARGUMENT', 'file.path');
    expect(e.message).toContain(reason);
  });
});

describe('sizes', () => {
  it('a value at the limit is accepted', () => {
    const value = 'v'.repeat(LIMITS.valueBytes);
    expect(validateValue('variables[K]', value)).toBe(value);
  });

  it('a value over the limit is RESOURCE_EXHAUSTED, naming the key but not the value', () => {
    const value = 'v'.repeat(LIMITS.valueBytes + 1);
    const e = expectRefused(() => validateVars('variables', { BIG: value }), 'RESOURCE_EXHAUSTED', 'BIG');
    expect(e.message).not.toContain('vvvvvvvvvv');
  });

  it('the value limit counts UTF-8 bytes, not characters', () => {
    const value = '€'.repeat(Math.floor(LIMITS.valueBytes / 3) + 1); // 3 bytes each
    expect(value.length).toBeLessThan(LIMITS.valueBytes);
    expectRefused(() => validateValue('v', value), 'RESOURCE_EXHAUSTED');
  });

  it('more keys than the limit is RESOURCE_EXHAUSTED', () => {
    const vars = Object.fromEntries(Array.from({ length: LIMITS.keysPerGroup + 1 }, (_, i) => [`K${i}`, '']));
    expectRefused(() => validateVars('variables', vars), 'RESOURCE_EXHAUSTED', 'variables');
  });

  it('validateVars refuses an invalid key, naming it', () => {
    expectRefused(() => validateVars('variables', { OK: '1', 'BAD KEY': '2' }), 'INVALID_ARGUMENT', 'BAD KEY');
  });

  it('a non-string value is refused', () => {
    expectRefused(() => validateValue('v', 42 as unknown as string), 'INVALID_ARGUMENT', 'string');
  });

  it('a file at the limit is accepted, one byte over is RESOURCE_EXHAUSTED', () => {
    const ok = { path: '/f', content: new Uint8Array(LIMITS.fileBytes), mode: 0o600 };
    expect(validateFile(ok).content.byteLength).toBe(LIMITS.fileBytes);
    const big = { path: '/f', content: new Uint8Array(LIMITS.fileBytes + 1), mode: 0o600 };
    expectRefused(() => validateFile(big), 'RESOURCE_EXHAUSTED', '/f');
  });

  it('a file with an invalid path is refused before its size is considered', () => {
    expectRefused(() => validateFile({ path: 'rel', content: new Uint8Array(1), mode: 0o600 }), 'INVALID_ARGUMENT');
  });
});

describe('file modes', () => {
  it.each<[number, number]>([
    [0o600, 0o600],
    [0o644, 0o644],
    [0o400, 0o400],
    [0, 0o600],
  ])('mode %o is stored as %o', (mode, stored) => {
    expect(validateFile({ path: '/f', content: new Uint8Array(), mode }).mode).toBe(stored);
  });

  it.each([0o1000, 0o4755, -1, 1.5])('mode %s is refused', (mode) => {
    expectRefused(() => validateFile({ path: '/f', content: new Uint8Array(), mode }), 'INVALID_ARGUMENT', 'mode');
  });
});

describe('restrictions', () => {
  it('workloads and tags are validated, de-duplicated and sorted', () => {
    expect(validateRestrictions({ restricted: true, workloads: ['web', 'api', 'web'], tags: ['z', 'a'] })).toEqual({
      restricted: true,
      workloads: ['api', 'web'],
      tags: ['a', 'z'],
    });
  });

  it('naming a workload or tag makes the group restricted', () => {
    expect(validateRestrictions({ restricted: false, workloads: ['api'], tags: [] }).restricted).toBe(true);
    expect(validateRestrictions({ restricted: false, workloads: [], tags: ['t'] }).restricted).toBe(true);
  });

  it('restricted with neither stays restricted (it reaches nobody); unrestricted stays open', () => {
    expect(validateRestrictions({ restricted: true, workloads: [], tags: [] }).restricted).toBe(true);
    expect(validateRestrictions({ restricted: false, workloads: [], tags: [] }).restricted).toBe(false);
  });

  it.each([
    ['an invalid workload name', { restricted: true, workloads: ['Bad_Name'], tags: [] }, 'restrictions.workloads'],
    ['an invalid tag', { restricted: true, workloads: [], tags: ['bad tag'] }, 'restrictions.tags'],
  ])('refused: %s', (_rule, r, field) => {
    expectRefused(() => validateRestrictions(r), 'INVALID_ARGUMENT', field);
  });
});
