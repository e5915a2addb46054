/**
 * One table names the fields that hold secret values (server/domain/secret-fields.ts). These
 * tests hold that adding a field to it is enough: the helpers hide a field added to a table,
 * every path (keys-only views, the console's answers, sealing at rest, the audit of reads,
 * log redaction) hides each field of the real table, and none of those paths names a secret
 * field itself — each takes them from the table.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  blankRecordsIn,
  blankSecrets,
  holdsSecrets,
  mapSecrets,
  SECRET_FIELDS,
  secretFieldsOf,
  secretKeys,
  secretLogPaths,
  type SecretFieldTable,
} from '../../server/domain/secret-fields.js';
import type { Addon, SecretFile, SecretGroup, Workload } from '../../server/domain/types.js';
import { REDACT_PATHS } from '../../server/log.js';
import type { Principal } from '../../server/security/principal.js';
import { viewAddon, viewGroup, viewWorkload } from '../../server/service/redact.js';
import { recordValueReads } from '../../server/service/value-reads.js';
import type { Deps } from '../../server/service/deps.js';
import { redactRecords } from '../../server/console/connect-mount.js';
import { sealedSqlite } from '../security/helpers.js';

const VALUE = 'hunter2-the-secret';
const file = (path: string): SecretFile => ({ path, content: new TextEncoder().encode(VALUE), mode: 0o600 });
const meta = { revision: 1, createdAt: 1, updatedAt: 1, updatedBy: 'test' };

/** The real table plus one map field on workloads and one file list on groups. */
const EXTENDED: SecretFieldTable = {
  ...SECRET_FIELDS,
  workload: { ...SECRET_FIELDS.workload, deployKeys: 'vars' },
  group: { ...SECRET_FIELDS.group, attachments: 'fileList' },
};

/** A record of `kind` whose every secret field of `table` holds one value (key or file `K_<field>`). */
function planted(kind: string, table: SecretFieldTable, base: object): Record<string, unknown> {
  const r: Record<string, unknown> = { ...base };
  for (const [field, shape] of secretFieldsOf(kind, table)) r[field] = shape === 'vars' ? { [`K_${field}`]: VALUE } : [file(`K_${field}`)];
  return r;
}

/** Whether any value survives in a record (a string equal to VALUE, or a file content holding it). */
function leaks(r: unknown): boolean {
  return JSON.stringify(r, (_k, v: unknown) => (v instanceof Uint8Array ? new TextDecoder().decode(v) : v)).includes(VALUE);
}

const BASES = {
  workload: { project: 'p', name: 'w', kind: 'service', tags: [], runtimeVariables: {}, buildArguments: {}, ...meta },
  addon: { project: 'p', name: 'a', type: 'postgres', connectionDetails: {}, ...meta },
  group: {
    project: 'p',
    name: 'g',
    description: '',
    type: 'secret',
    scope: 'both',
    priority: 0,
    restrictions: { restricted: false, workloads: [], tags: [] },
    variables: {},
    files: [],
    addonLinks: [],
    ...meta,
  },
} as const;

describe('a field added to the table is hidden by every helper', () => {
  for (const kind of Object.keys(SECRET_FIELDS) as (keyof typeof SECRET_FIELDS)[]) {
    it(`${kind}`, () => {
      const extra = secretFieldsOf(kind, EXTENDED).filter(([f]) => !(f in SECRET_FIELDS[kind]));
      // Only the added fields hold values.
      const only = { ...BASES[kind], ...Object.fromEntries(Object.entries(planted(kind, EXTENDED, {})).filter(([f]) => extra.some(([e]) => e === f))) };
      expect(holdsSecrets(kind, only, EXTENDED)).toBe(extra.length > 0);
      expect(secretKeys(kind, only, EXTENDED)).toEqual(extra.map(([f]) => `K_${f}`));
      const r = planted(kind, EXTENDED, BASES[kind]);
      expect(leaks(r)).toBe(true);
      expect(leaks(blankSecrets(kind, r, () => 0, EXTENDED))).toBe(false);
      const sealed = mapSecrets(kind, r, { vars: (v) => Object.fromEntries(Object.keys(v).map((k) => [k, 'sealed'])), fileList: (fs) => fs.map((f) => ({ ...f, content: new Uint8Array(1) })) }, EXTENDED);
      expect(leaks(sealed)).toBe(false);
      const holder: Record<string, unknown> = { [kind]: r };
      expect(blankRecordsIn(holder, () => 0, EXTENDED)).toEqual([kind]);
      expect(leaks(holder)).toBe(false);
    });
  }

  it('log paths', () => {
    expect(secretLogPaths(EXTENDED)).toContain('*.deployKeys');
    expect(secretLogPaths(EXTENDED)).toContain('*.content');
  });
});

describe('every path hides each field of the table', () => {
  const keysOnly = { seesValues: () => false, mayReadValues: () => false } as unknown as Principal;
  const reader = { seesValues: () => true, mayReadValues: () => true, actor: 'token:t' } as unknown as Principal;

  it('keys-only views and the console answers', () => {
    const g = planted('group', SECRET_FIELDS, BASES.group) as unknown as SecretGroup;
    const w = planted('workload', SECRET_FIELDS, BASES.workload) as unknown as Workload;
    const a = planted('addon', SECRET_FIELDS, BASES.addon) as unknown as Addon;
    expect(leaks([g, w, a])).toBe(true);
    expect(leaks([viewGroup(keysOnly, g), viewWorkload(keysOnly, w), viewAddon(keysOnly, a)])).toBe(false);
    const answer = { group: g, workload: w, addon: a };
    redactRecords(answer);
    expect(leaks(answer)).toBe(false);
  });

  it('the audit of reads names every key shown', () => {
    const reads: { keys: string[] }[] = [];
    const d = { audit: { recordRead: (e: { keys: string[] }) => reads.push(e) }, now: () => 1 } as unknown as Deps;
    for (const kind of Object.keys(SECRET_FIELDS) as (keyof typeof SECRET_FIELDS)[]) {
      const r = planted(kind, SECRET_FIELDS, BASES[kind]) as unknown as SecretGroup;
      recordValueReads(d, reader, 'Get', 'p', [{ record: r, redacted: false }]);
      expect(reads.at(-1)?.keys).toEqual(secretFieldsOf(kind).map(([f]) => `K_${f}`).sort());
    }
  });

  it('log redaction', () => {
    for (const kind of Object.keys(SECRET_FIELDS)) {
      for (const [field, shape] of secretFieldsOf(kind)) expect(REDACT_PATHS).toContain(shape === 'vars' ? `*.${field}` : '*.content');
    }
  });

  it('sealing at rest, in records and in history entries', async () => {
    const s = await sealedSqlite();
    try {
      await s.store.createProject({ name: 'p', createdAt: 1 });
      const g = planted('group', SECRET_FIELDS, BASES.group) as unknown as SecretGroup;
      await s.store.createRecord('workload', planted('workload', SECRET_FIELDS, BASES.workload) as unknown as Workload);
      await s.store.createRecord('addon', planted('addon', SECRET_FIELDS, BASES.addon) as unknown as Addon);
      await s.store.createRecord('group', g, { project: 'p', name: 'g', revision: 1, time: 1, actor: 't', action: 'CreateGroup', changedKeys: [], group: g });
      expect(readFileSync(s.file).includes(Buffer.from(VALUE))).toBe(false);
      const back = await s.store.loadProject('p');
      expect(leaks([...back!.workloads.values(), ...back!.addons.values(), ...back!.groups.values()])).toBe(true);
    } finally {
      await s.cleanup();
    }
  });
});

describe('no path names a secret field itself', () => {
  const paths = ['server/service/redact.ts', 'server/service/value-reads.ts', 'server/store/sealed-store.ts', 'server/log.ts', 'server/console/connect-mount.ts'];
  const fields = [...new Set(Object.values(SECRET_FIELDS).flatMap((t) => Object.keys(t)))];
  for (const path of paths) {
    it(path, () => {
      // Code only: comments may name the fields.
      const code = readFileSync(path, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      for (const f of fields) expect(code, `${path} names ${f}`).not.toMatch(new RegExp(`\\b${f}\\b`));
    });
  }
});
