/**
 * Fuzzing with fast-check (well over 10,000 generated cases): .env and JSON import text,
 * templates, keys, file paths and group changes against the pure domain functions, then
 * protobuf messages with random fields and random raw bytes through the real server.
 * Properties: never a crash, never INTERNAL or UNKNOWN; invalid input gets INVALID_ARGUMENT
 * (RESOURCE_EXHAUSTED for sizes, NOT_FOUND for unknown names) with a message that never echoes
 * a value; the store is unchanged after every rejected request.
 */
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProjectServiceService } from '../../gen/secretgroups/v1/project_service.js';
import {
  AddFileRequest,
  CreateGroupRequest,
  ImportVariablesRequest,
  SecretGroupServiceService,
  SetVariablesRequest,
} from '../../gen/secretgroups/v1/secret_group_service.js';
import { AccessServiceService } from '../../gen/secretgroups/v1/access_service.js';
import { ResolverServiceService } from '../../gen/secretgroups/v1/resolver_service.js';
import { DomainError } from '../../server/domain/errors.js';
import { applyGroupChange, type GroupChange } from '../../server/domain/group-changes.js';
import { parseImport } from '../../server/domain/import-parse.js';
import { checkTemplates, expandAll } from '../../server/domain/templates.js';
import type { SecretGroup } from '../../server/domain/types.js';
import { validateFilePath, validateKey } from '../../server/domain/validation.js';
import { api } from '../helpers/api.js';
import { call, startTestServer, type TestServer } from '../helpers/in-process.js';
import { dumpStore } from '../helpers/store-dump.js';

const CANARY = 'FUZZCANARY';
const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
let cases = 0;
const runs = (numRuns: number) => {
  cases += numRuns;
  return { numRuns };
};

/** Runs a domain function: its result, or a DomainError with an allowed code; anything else fails. */
function domain<T>(fn: () => T, codes: string[] = ['INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED']): { ok: true; value: T } | { ok: false; error: DomainError } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (!(e instanceof DomainError)) throw new Error(`not a DomainError: ${(e as Error)?.stack ?? String(e)}`);
    expect(codes).toContain(e.code);
    expect(e.message.length).toBeGreaterThan(5);
    return { ok: false, error: e };
  }
}

// -----------------------------------------------------------------------------------------
// Generators

const keyish = fc.oneof(
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/),
  fc.string({ maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'A B', '1A', 'export', 'K=V', ''),
);
const valueish = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('"', "'", '`', '\\', '#', '${', '$${X}', '${A}', '\n', '\r\n', ' # c', 'C:\\'),
).map((v) => `${CANARY}${v}`);
const dotenvLine = fc.oneof(
  fc.tuple(keyish, fc.constantFrom('=', ' = ', '= ', ': '), fc.constantFrom('', '"', "'", '`'), valueish, fc.constantFrom('', '"', "'", '`', ' # comment')).map(
    ([k, eq, q1, v, q2]) => `${k}${eq}${q1}${v}${q2}`,
  ),
  fc.constantFrom('', '# comment', '   ', 'export A=1', '\t', '=', '"'),
  fc.string({ maxLength: 30 }),
);
const dotenvText = fc.array(dotenvLine, { maxLength: 12 }).chain((lines) => fc.constantFrom('\n', '\r\n', '\r').map((nl) => lines.join(nl)));
const jsonText = fc.oneof(
  fc.dictionary(keyish, fc.oneof(valueish, fc.jsonValue())).map((o) => JSON.stringify(o)),
  fc.json(),
  fc.string({ maxLength: 60 }),
  fc.dictionary(keyish, valueish).map((o) => JSON.stringify(o).slice(0, -1)), // truncated
  fc.dictionary(keyish, valueish).map((o) => `// comment\n${JSON.stringify(o, null, 2)}`),
);
const templateValue = fc
  .array(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('${', '}', '$', '$${', '${A}', '${B}', '${C}', '${a b}', '${1}', '$$')), { maxLength: 8 })
  .map((parts) => parts.join(''));
const pathish = fc.oneof(
  fc.array(fc.oneof(fc.stringMatching(/^[a-z.]{0,6}$/), fc.constantFrom('..', '.', '', '\0', 'a b', '~')), { maxLength: 6 }).map((s) => s.join('/')),
  fc.array(fc.stringMatching(/^[a-z.]{0,6}$/), { maxLength: 6 }).map((s) => `/${s.join('/')}`),
  fc.string({ maxLength: 30 }),
);

// -----------------------------------------------------------------------------------------

describe('domain functions', () => {
  it('.env import: parsed or a clear refusal naming a line, never echoing a value', () => {
    fc.assert(
      fc.property(dotenvText, (text) => {
        const r = domain(() => parseImport('dotenv', text));
        if (r.ok) {
          for (const [k, v] of Object.entries(r.value)) {
            expect(k).toMatch(KEY_RE);
            expect(typeof v).toBe('string');
          }
        } else {
          expect(r.error.message).not.toContain(CANARY);
          expect(r.error.message).toMatch(/^\.env/);
        }
      }),
      runs(3000),
    );
  });

  it('JSON import: parsed or a clear refusal, never echoing a value', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        const r = domain(() => parseImport('json', text));
        if (r.ok) {
          for (const [k, v] of Object.entries(r.value)) {
            expect(k).toMatch(KEY_RE);
            expect(typeof v).toBe('string');
          }
        } else {
          expect(r.error.message).not.toContain(CANARY);
          expect(r.error.message).toMatch(/^JSON/);
        }
      }),
      runs(2000),
    );
  });

  it('templates: a group is either refused at save time or expands without failing', () => {
    const vars = fc.dictionary(fc.constantFrom('A', 'B', 'C', 'D'), templateValue, { maxKeys: 4 });
    fc.assert(
      fc.property(vars, fc.dictionary(fc.constantFrom('L', 'D'), fc.string({ maxLength: 5 })), (templated, literal) => {
        const r = domain(() => checkTemplates(templated, literal));
        if (r.ok) {
          const out = expandAll(templated, literal);
          expect(Object.keys(out).sort()).toEqual(Object.keys(templated).sort());
          for (const v of Object.values(out)) expect(typeof v).toBe('string');
        }
      }),
      runs(2000),
    );
  });

  it('keys: accepted exactly when they match ^[A-Za-z_][A-Za-z0-9_]*$ (at most 256, not __proto__)', () => {
    fc.assert(
      fc.property(fc.oneof(keyish, fc.string({ maxLength: 300 }), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{250,260}$/)), (key) => {
        const r = domain(() => validateKey('key', key));
        expect(r.ok).toBe(KEY_RE.test(key) && key.length <= 256 && key !== '__proto__');
      }),
      runs(1500),
    );
  });

  it('file paths: accepted only absolute, normalised, without "..", NUL or a trailing slash', () => {
    fc.assert(
      fc.property(pathish, (path) => {
        const r = domain(() => validateFilePath('path', path));
        if (r.ok) {
          expect(path.startsWith('/')).toBe(true);
          expect(path.split('/')).not.toContain('..');
          expect(path.includes('\0')).toBe(false);
          expect(path.endsWith('/')).toBe(false);
          expect(path.includes('//')).toBe(false);
        }
      }),
      runs(1500),
    );
  });

  it('group changes: the result is valid or the change is refused with a domain error', () => {
    const base: SecretGroup = {
      project: 'p',
      name: 'g',
      description: '',
      type: 'secret',
      scope: 'runtime',
      priority: 50,
      restrictions: { restricted: false, workloads: [], tags: [] },
      variables: { A: 'a', B: '${A}' },
      files: [],
      addonLinks: [],
      revision: 1,
      createdAt: 1,
      updatedAt: 1,
      updatedBy: 't',
    };
    const change: fc.Arbitrary<GroupChange> = fc.oneof(
      fc.dictionary(keyish, fc.oneof(valueish, templateValue), { maxKeys: 4 }).map((variables) => ({ kind: 'set' as const, variables })),
      fc.array(keyish, { maxLength: 3 }).map((keys) => ({ kind: 'unset' as const, keys })),
      fc.tuple(fc.boolean(), dotenvText).map(([replace, content]) => ({ kind: 'import' as const, format: 'dotenv' as const, content, replace })),
      fc.tuple(fc.boolean(), jsonText).map(([replace, content]) => ({ kind: 'import' as const, format: 'json' as const, content, replace })),
      fc.tuple(pathish, fc.integer({ min: -5, max: 0o2000 })).map(([path, mode]) => ({ kind: 'add-file' as const, file: { path, content: Buffer.from('x'), mode } })),
      pathish.map((path) => ({ kind: 'remove-file' as const, path })),
      fc.record({ priority: fc.oneof(fc.integer({ min: -10, max: 200 }), fc.double()), description: fc.string({ maxLength: 20 }) }).map((s) => ({ kind: 'settings' as const, ...s })),
      fc.tuple(fc.string({ maxLength: 10 }), fc.array(fc.record({ key: fc.string({ maxLength: 5 }), alias: fc.string({ maxLength: 8 }) }), { maxLength: 2 })).map(([addon, keys]) => ({ kind: 'link' as const, addon, keys })),
    );
    fc.assert(
      fc.property(change, (c) => {
        const r = domain(() => applyGroupChange(base, c, { addons: new Map(), now: 2, actor: 't' }), ['INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED', 'NOT_FOUND']);
        if (r.ok && r.value) {
          for (const k of Object.keys(r.value.variables)) expect(k).toMatch(KEY_RE);
          expect(r.value.revision).toBe(2);
        }
      }),
      runs(1500),
    );
  });
});

// -----------------------------------------------------------------------------------------

describe('through the real server', () => {
  let t: TestServer;
  let raw: grpc.Client;
  beforeAll(async () => {
    t = await startTestServer();
    const a = api(t.admin);
    await a.createProject('p');
    await a.createWorkload({ project: 'p', name: 'w' });
    await a.createGroup({ project: 'p', name: 'g', variables: { A: 'a' } });
    raw = new grpc.Client(t.server.addr, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    raw?.close();
    await t?.stop();
  });

  const ALLOWED = ['OK', 'INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED', 'NOT_FOUND', 'ALREADY_EXISTS', 'FAILED_PRECONDITION', 'ABORTED'];

  /**
   * Sends one request; checks the code, the message and the store. With `internal`, an
   * INTERNAL answer is collected there (so the run goes on) instead of failing at once.
   */
  async function probe(send: () => Promise<unknown>, internal?: string[]): Promise<string> {
    const before = dumpStore(t.dataDir);
    let code = 'OK';
    let details = '';
    try {
      await send();
    } catch (e) {
      const err = e as grpc.ServiceError;
      code = grpc.status[err.code] ?? String(err.code);
      details = err.details;
    }
    if (internal && code === 'INTERNAL') {
      internal.push(details);
      expect(dumpStore(t.dataDir)).toBe(before);
      return code;
    }
    expect(ALLOWED, `${code}: ${details}`).toContain(code);
    if (code !== 'OK') {
      expect(details.length, 'a refusal says why').toBeGreaterThan(5);
      expect(details).not.toContain(CANARY);
      expect(dumpStore(t.dataDir), `${code} (${details}) changed the store`).toBe(before);
    }
    return code;
  }

  const name = fc.oneof(fc.constantFrom('p', 'g', 'w', 'x', 'no-such'), fc.string({ maxLength: 70 }));
  const vars = fc.dictionary(keyish, valueish, { maxKeys: 5 });
  const num = fc.oneof(fc.integer(), fc.constantFrom(0, -1, 2 ** 31 - 1, -(2 ** 31)));

  it('protobuf messages with random fields (SetVariables, CreateGroup, AddFile, ImportVariables)', { timeout: 120_000 }, async () => {
    const request = fc.oneof(
      fc.record({ project: name, name, variables: vars, expectedRevision: fc.integer({ min: -3, max: 5 }) }).map((r) => ['setVariables', SetVariablesRequest.fromPartial(r)] as const),
      fc
        .record({ project: name, name, description: fc.string({ maxLength: 20 }), type: num, scope: num, priority: num, variables: vars, restrictions: fc.record({ restricted: fc.boolean(), workloads: fc.array(name, { maxLength: 2 }), tags: fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }) }) })
        .map((r) => ['createGroup', CreateGroupRequest.fromPartial(r)] as const),
      fc
        .record({ project: name, name, file: fc.record({ path: pathish, content: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)), mode: fc.nat(), size: fc.integer() }) })
        .map((r) => ['addFile', AddFileRequest.fromPartial(r)] as const),
      fc
        .record({ project: name, name, format: num, content: fc.oneof(dotenvText, jsonText), replace: fc.boolean() })
        .map((r) => ['importVariables', ImportVariablesRequest.fromPartial(r)] as const),
    );
    await fc.assert(
      fc.asyncProperty(request, async ([method, req]) => {
        await probe(() => call(t.admin.groups, method, req));
      }),
      runs(400),
    );
  });

  it('random raw bytes to every unary method: never INTERNAL or UNKNOWN, store unchanged', { timeout: 120_000 }, async () => {
    const defs = [ProjectServiceService, SecretGroupServiceService, AccessServiceService, ResolverServiceService];
    // Methods that would change the store even when the garbage decodes to something valid are
    // fine: probe only requires an unchanged store for refused calls.
    const paths = defs.flatMap((d) => Object.values(d).filter((m) => !m.responseStream).map((m) => m.path));
    const md = () => {
      const m = new grpc.Metadata();
      m.set('authorization', `Bearer ${t.adminToken}`);
      return m;
    };
    const internal: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.uint8Array({ maxLength: 200 }), async (path, bytes) => {
        await probe(
          () =>
            new Promise((resolve, reject) =>
              raw.makeUnaryRequest(path, (x: Buffer) => x, (x: Buffer) => x, Buffer.from(bytes), md(), (err, res) => (err ? reject(err) : resolve(res))),
            ),
          internal,
        );
      }),
      runs(400),
    );
    // Bytes that are not a valid protobuf message are the client's fault: INVALID_ARGUMENT.
    expect(internal.length, `${internal.length} of 400 answered INTERNAL, e.g. ${JSON.stringify([...new Set(internal)].slice(0, 3))}`).toBe(0);
  });

  it('ran at least 10,000 generated cases in total', () => {
    expect(cases).toBeGreaterThanOrEqual(10_000);
  });
});
