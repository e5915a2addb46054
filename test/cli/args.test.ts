import { describe, expect, it } from 'vitest';
import { GroupType, Scope, WorkloadKind } from '../../gen/secretgroups/v1/resources.js';
import { ImportFormat } from '../../gen/secretgroups/v1/secret_group_service.js';
import { importFormat } from '../../cli/commands/group-requests.js';
import {
  collect,
  formatMode,
  parseAssignments,
  parseDetailsJson,
  parseGroupScope,
  parseGroupType,
  parseKind,
  parseLinkKey,
  parseMode,
  parsePriority,
  parseResolveScope,
  parseRevision,
  parseTtl,
  parseWorkloadRef,
  splitAssignment,
} from '../../cli/args.js';
import { CliError, describeError, EXIT } from '../../cli/errors.js';

/** The error line a helper produces, as `sg` would print it. */
function errorOf(fn: () => unknown): { message: string; exitCode: number } {
  try {
    fn();
  } catch (err) {
    return describeError(err);
  }
  throw new Error('expected an error');
}

describe('KEY=VALUE parsing', () => {
  it('splits at the first "=" so values keep theirs', () => {
    expect(splitAssignment('--var', 'URL=postgres://u:p@h/db?a=b')).toEqual(['URL', 'postgres://u:p@h/db?a=b']);
  });
  it('allows an empty value', () => {
    expect(splitAssignment('--var', 'EMPTY=')).toEqual(['EMPTY', '']);
  });
  it('refuses a missing "=" without echoing the argument (it may be a secret)', () => {
    const e = errorOf(() => splitAssignment('--var', 's3cr3t-value'));
    expect(e.exitCode).toBe(EXIT.usage);
    expect(e.message).toContain('--var');
    expect(e.message).not.toContain('s3cr3t-value');
  });
  it('refuses an empty key without echoing the value', () => {
    const e = errorOf(() => splitAssignment('--var', '=s3cr3t'));
    expect(e.message).toContain('empty key');
    expect(e.message).not.toContain('s3cr3t');
  });
  it('collects repeated assignments into a map', () => {
    expect(parseAssignments('--var', ['A=1', 'B=x=y'])).toEqual({ A: '1', B: 'x=y' });
    expect(parseAssignments('--var', undefined)).toEqual({});
  });
  it('refuses the same key twice instead of silently dropping one', () => {
    expect(errorOf(() => parseAssignments('--var', ['A=1', 'A=2'])).message).toContain('"A" is given more than once');
  });
  it('does not let __proto__ corrupt the map', () => {
    const m = parseAssignments('--var', ['__proto__=x']);
    expect(Object.keys(m)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
  });
  it('accumulates repeatable flags', () => {
    expect(collect('b', collect('a', undefined))).toEqual(['a', 'b']);
  });
});

describe('addon link keys', () => {
  it('KEY alone uses the default alias', () => expect(parseLinkKey('host')).toEqual({ key: 'host', alias: '' }));
  it('KEY=ALIAS sets the alias', () => expect(parseLinkKey('host=DB_HOST')).toEqual({ key: 'host', alias: 'DB_HOST' }));
  it('refuses an empty key', () => expect(errorOf(() => parseLinkKey('=X')).exitCode).toBe(EXIT.usage));
});

describe('numbers', () => {
  it.each(['0', '50', '100', ' 7 '])('priority %j is accepted', (p) => expect(parsePriority(p)).toBe(Number(p)));
  it.each(['101', '-1', '1.5', 'abc', '', '1e2'])('priority %j is a usage error naming --priority', (p) => {
    const e = errorOf(() => parsePriority(p));
    expect(e.exitCode).toBe(EXIT.usage);
    expect(e.message).toMatch(/^--priority must be an integer from 0 to 100/);
  });
  it('expected revision: absent is 0 (no check), digits parse, anything else is refused', () => {
    expect(parseRevision('--expected-revision', undefined)).toBe(0);
    expect(parseRevision('--expected-revision', '12')).toBe(12);
    expect(errorOf(() => parseRevision('--expected-revision', '-1')).exitCode).toBe(EXIT.usage);
    expect(errorOf(() => parseRevision('--expected-revision', 'x')).exitCode).toBe(EXIT.usage);
  });
  it('file modes are octal', () => {
    expect(parseMode('0640')).toBe(0o640);
    expect(parseMode('600')).toBe(0o600);
    expect(formatMode(0o640)).toBe('0640');
    expect(formatMode(0)).toBe('0600');
    for (const bad of ['0999', '64', 'rw', '01777']) expect(errorOf(() => parseMode(bad)).exitCode).toBe(EXIT.usage);
  });
  it('ttl takes units, plain seconds and 0 for never', () => {
    expect(parseTtl('90s')).toBe(90);
    expect(parseTtl('30m')).toBe(1800);
    expect(parseTtl('24h')).toBe(86400);
    expect(parseTtl('7d')).toBe(604800);
    expect(parseTtl('2w')).toBe(1209600);
    expect(parseTtl('45')).toBe(45);
    expect(parseTtl('0')).toBe(0);
    for (const bad of ['1.5h', '-1h', 'h', '1y']) expect(errorOf(() => parseTtl(bad)).exitCode).toBe(EXIT.usage);
  });
});

describe('enums', () => {
  it('maps the words of the CLI contract to proto enums', () => {
    expect(parseKind('service')).toBe(WorkloadKind.WORKLOAD_KIND_SERVICE);
    expect(parseKind('job')).toBe(WorkloadKind.WORKLOAD_KIND_JOB);
    expect(parseGroupType('secret')).toBe(GroupType.GROUP_TYPE_SECRET);
    expect(parseGroupType('config')).toBe(GroupType.GROUP_TYPE_CONFIG);
    expect(parseGroupScope('runtime')).toBe(Scope.SCOPE_RUNTIME);
    expect(parseGroupScope('build')).toBe(Scope.SCOPE_BUILD);
    expect(parseGroupScope('both')).toBe(Scope.SCOPE_BOTH);
    expect(parseResolveScope(undefined)).toBe(Scope.SCOPE_RUNTIME);
    expect(parseResolveScope('build')).toBe(Scope.SCOPE_BUILD);
  });
  it('refuses other words with a usage error', () => {
    for (const fn of [() => parseKind('daemon'), () => parseGroupType('SECRET'), () => parseGroupScope('all'), () => parseResolveScope('both')]) {
      const e = errorOf(fn);
      expect(e.exitCode).toBe(EXIT.usage);
    }
  });
});

describe('import format', () => {
  it('defaults from the extension: .json is JSON, anything else and stdin are .env', () => {
    expect(importFormat('vars.json', undefined)).toBe(ImportFormat.IMPORT_FORMAT_JSON);
    expect(importFormat('VARS.JSON', undefined)).toBe(ImportFormat.IMPORT_FORMAT_JSON);
    expect(importFormat('.env', undefined)).toBe(ImportFormat.IMPORT_FORMAT_DOTENV);
    expect(importFormat('prod.env', undefined)).toBe(ImportFormat.IMPORT_FORMAT_DOTENV);
    expect(importFormat('-', undefined)).toBe(ImportFormat.IMPORT_FORMAT_DOTENV);
  });
  it('--format wins over the extension', () => {
    expect(importFormat('vars.json', 'dotenv')).toBe(ImportFormat.IMPORT_FORMAT_DOTENV);
    expect(importFormat('-', 'json')).toBe(ImportFormat.IMPORT_FORMAT_JSON);
    expect(errorOf(() => importFormat('x', 'yaml')).exitCode).toBe(EXIT.usage);
  });
});

describe('other values', () => {
  it('workload refs are PROJECT/NAME', () => {
    expect(parseWorkloadRef('shop/api')).toEqual({ project: 'shop', workload: 'api' });
    for (const bad of ['shop', 'shop/', '/api', 'a/b/c']) expect(errorOf(() => parseWorkloadRef(bad)).exitCode).toBe(EXIT.usage);
  });
  it('addon details JSON must be an object of strings; errors name the key, never a value', () => {
    expect(parseDetailsJson('f.json', '{"host":"h","url":"a=b"}')).toEqual({ host: 'h', url: 'a=b' });
    expect(errorOf(() => parseDetailsJson('f.json', '[1]')).message).toBe('f.json: expected a JSON object of strings');
    const nonString = errorOf(() => parseDetailsJson('f.json', '{"port": 5432}'));
    expect(nonString.message).toBe('f.json: the value of "port" must be a string');
    const broken = errorOf(() => parseDetailsJson('f.json', '{"pw": "hunter2'));
    expect(broken.message).toMatch(/^f\.json: not valid JSON/);
    expect(broken.message).not.toContain('hunter2');
  });
  it('a CliError keeps its exit code', () => {
    expect(describeError(new CliError('x', EXIT.auth))).toEqual({ message: 'x', exitCode: EXIT.auth });
  });
});
