import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { GroupType, Scope, SecretGroup } from '../../gen/secretgroups/v1/resources.js';
import { CallFailed, describeError, EXIT, oneLine } from '../../cli/errors.js';
import fc from 'fast-check';
import { cliTable3, fields, HIDDEN, MASK, table } from '../../cli/output.js';
import { groupHuman, groupJson, resolutionHuman, resolutionJson, roleJson, sourceText } from '../../cli/views.js';
import { AccessLevel, Role } from '../../gen/secretgroups/v1/access_service.js';
import { Resolution } from '../../gen/secretgroups/v1/resources.js';
import { ExplainResponse } from '../../gen/secretgroups/v1/resolver_service.js';

const serviceError = (code: status, details: string): ServiceError =>
  Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: new Metadata() });

const group = (over: Partial<SecretGroup> = {}) =>
  SecretGroup.fromPartial({
    project: 'p',
    name: 'a',
    type: GroupType.GROUP_TYPE_SECRET,
    scope: Scope.SCOPE_BOTH,
    priority: 50,
    variables: { KEY_2: 'v2', KEY_1: 'v1' },
    files: [{ path: '/etc/x', content: Buffer.from('hi'), mode: 0o640, size: 2 }],
    revision: 3,
    updatedAtMs: Date.UTC(2025, 0, 2, 3, 4, 5),
    ...over,
  });

describe('tables', () => {
  it('are plain columns: no borders, colours or trailing spaces', () => {
    const out = table(['KEY', 'VALUE'], [['A', '1'], ['LONGER', '2']]);
    expect(out).toBe('KEY     VALUE\nA       1\nLONGER  2\n');
    expect(out).not.toMatch(/\u001b\[/);
  });
  it('field lists align values', () => {
    expect(fields([['Group', 'p/a'], ['Priority', 50]])).toBe('Group     p/a\nPriority  50\n');
  });
});

describe('group --json', () => {
  it('maps each key to its value, sorted', () => {
    const j = groupJson(group());
    expect(j.variables).toEqual({ KEY_1: 'v1', KEY_2: 'v2' });
    expect(Object.keys(j.variables)).toEqual(['KEY_1', 'KEY_2']);
    expect(j.type).toBe('secret');
    expect(j.scope).toBe('both');
    expect(j.files).toEqual([{ path: '/etc/x', mode: '0640', size: 2, contentBase64: Buffer.from('hi').toString('base64') }]);
    expect(j.updatedAt).toBe('2025-01-02T03:04:05.000Z');
    expect(j.createdAt).toBeNull();
  });
  it('maps each key to null when the server sent keys only', () => {
    const j = groupJson(group({ valuesRedacted: true, variables: { KEY_1: '', KEY_2: '' }, files: [{ path: '/etc/x', content: Buffer.alloc(0), mode: 0, size: 2 }] }));
    expect(j.variables).toEqual({ KEY_1: null, KEY_2: null });
    expect(j.files[0]!.contentBase64).toBeNull();
    expect(j.files[0]!.size).toBe(2);
    expect(j.valuesRedacted).toBe(true);
  });
});

describe('group human output', () => {
  it('masks the values of a secret group unless asked', () => {
    const masked = groupHuman(group(), false);
    expect(masked).toContain(MASK);
    expect(masked).not.toContain('v1');
    expect(masked).toContain('--show-values');
    expect(groupHuman(group(), true)).toContain('v1');
  });
  it('shows the values of a config group', () => {
    expect(groupHuman(group({ type: GroupType.GROUP_TYPE_CONFIG }), false)).toContain('v1');
  });
  it('marks withheld values as hidden, even with --show-values', () => {
    const out = groupHuman(group({ valuesRedacted: true, variables: { KEY_1: '' } }), true);
    expect(out).toContain(HIDDEN);
  });
  it('describes restrictions, including one that reaches nobody', () => {
    expect(groupHuman(group({ restrictions: { restricted: true, workloads: ['api'], tags: ['web'] } }), false)).toContain(
      'yes: workloads api; tags web',
    );
    expect(groupHuman(group({ restrictions: { restricted: true, workloads: [], tags: [] } }), false)).toContain('reaches no workload');
  });
});

describe('resolution output', () => {
  const res = Resolution.fromPartial({ project: 'p', workload: 'api', scope: Scope.SCOPE_RUNTIME, etag: 'e', variables: { B: '2', A: '1' } });
  const explain = ExplainResponse.fromPartial({
    variables: [
      { key: 'A', winner: { kind: 'group', group: 'a', priority: 50 }, shadowed: [{ kind: 'group', group: 'b', priority: 20 }] },
      { key: 'B', winner: { kind: 'addon', group: 'b', priority: 20, addon: 'db' } },
    ],
  });
  it('--json: one object whose "variables" maps keys to values; --explain adds provenance', () => {
    expect(resolutionJson(res)).toMatchObject({ project: 'p', workload: 'api', scope: 'runtime', variables: { A: '1', B: '2' } });
    expect(resolutionJson(res)).not.toHaveProperty('provenance');
    const j = resolutionJson(res, explain) as { provenance: { variables: Array<{ key: string; winner: unknown; shadowed: unknown[] }> } };
    expect(j.provenance.variables[0]).toEqual({
      key: 'A',
      winner: { kind: 'group', group: 'a', priority: 50, addon: null },
      shadowed: [{ kind: 'group', group: 'b', priority: 20, addon: null }],
      conflict: false,
    });
  });
  it('--explain names the winner and what it shadowed', () => {
    const out = resolutionHuman(res, explain);
    expect(out).toMatch(/^A\s+1\s+group a \(50\)\s+group b \(20\)$/m);
    expect(out).toMatch(/^B\s+2\s+addon db via group b \(20\)\s+-$/m);
  });
  it('sources read naturally', () => {
    expect(sourceText({ kind: 'workload', group: '', priority: 0, addon: '' })).toBe('workload');
    expect(sourceText(undefined)).toBe('-');
  });
});

describe('error lines', () => {
  it('use the gRPC status name and details', () => {
    expect(describeError(new CallFailed(serviceError(status.NOT_FOUND, 'group p/x not found'), 'h:1'))).toEqual({
      message: 'NOT_FOUND: group p/x not found',
      exitCode: EXIT.server,
    });
  });
  it('name the address when the server cannot be reached', () => {
    const e = describeError(
      new CallFailed(serviceError(status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1'), '127.0.0.1:1'),
    );
    expect(e.exitCode).toBe(EXIT.unreachable);
    expect(e.message).toContain('cannot connect to the server at 127.0.0.1:1 (connection refused)');
  });
  it('point at SG_TOKEN on UNAUTHENTICATED', () => {
    const e = describeError(new CallFailed(serviceError(status.UNAUTHENTICATED, 'unknown token'), 'h:1'));
    expect(e).toEqual({ message: 'UNAUTHENTICATED: unknown token (check SG_TOKEN)', exitCode: EXIT.auth });
  });
  it('are always one line', () => {
    expect(oneLine('a\n  b\r\nc')).toBe('a b c');
    expect(describeError(new Error('x\ny')).message).toBe('x y');
  });
});

describe('role views', () => {
  it('names every access level (views keys them by the enum values)', () => {
    const names = [AccessLevel.ACCESS_LEVEL_NONE, AccessLevel.ACCESS_LEVEL_KEYS, AccessLevel.ACCESS_LEVEL_READ, AccessLevel.ACCESS_LEVEL_WRITE].map(
      (level) => roleJson(Role.fromPartial({ name: 'r', secret: level, config: level })).secret,
    );
    expect(names).toEqual(['none', 'keys', 'read', 'write']);
  });
});

describe('tables', () => {
  const cell = fc.string({ unit: fc.constantFrom('a', 'B', ' ', '-', '=', '7', '|', '~') , maxLength: 12 });
  it('lays out printable ASCII exactly as cli-table3 does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.array(cell, { minLength: 4, maxLength: 4 }), { maxLength: 6 }), fc.array(cell, { minLength: 4, maxLength: 4 }), (n, rows, head) => {
        const r = rows.map((row) => row.slice(0, n));
        expect(table(head.slice(0, n), r)).toBe(cliTable3(head.slice(0, n), r));
        if (r.length) expect(fields(r.map((row) => [row[0]!, row[n - 1]!]))).toBe(cliTable3(undefined, r.map((row) => [row[0]!, row[n - 1]!])));
      }),
    );
  });

  it('leaves wide characters and multi-line cells to cli-table3', () => {
    expect(table(['K', 'V'], [['名前', 'x'], ['a', 'two\nlines']])).toBe(cliTable3(['K', 'V'], [['名前', 'x'], ['a', 'two\nlines']]));
  });
});
