/**
 * Which fields of each record hold secret values — the one table that redaction (keys-only
 * views, `service/redact.ts`, and the console's answers), sealing at rest
 * (`store/sealed-store.ts`), the audit of value reads (`service/value-reads.ts`) and log
 * redaction (`log.ts`) all read. A group history entry holds a group, so its values are the
 * group's. Adding a field here is enough for every one of those paths to hide it
 * (test/unit/secret-fields.test.ts); docs/architecture.md, "Where the safeguards sit".
 */
import type { Addon, SecretFile, SecretGroup, Vars, Workload } from './types.js';

/** How a field holds values: a map of key → value, or a list of files whose `content` is the value. */
export type SecretFieldShape = 'vars' | 'fileList';

/** The records that hold secret values, by kind (the store's record kinds). */
export interface SecretRecords {
  workload: Workload;
  addon: Addon;
  group: SecretGroup;
}
export type SecretRecordKind = keyof SecretRecords;

/** Per record kind, its fields that hold secret values and how. */
export type SecretFieldTable = Readonly<Record<string, Readonly<Record<string, SecretFieldShape>>>>;

export const SECRET_FIELDS = {
  workload: { runtimeVariables: 'vars', buildArguments: 'vars' },
  addon: { connectionDetails: 'vars' },
  group: { variables: 'vars', files: 'fileList' },
} as const satisfies { readonly [K in SecretRecordKind]: { readonly [F in keyof SecretRecords[K]]?: SecretFieldShape } };

/** The field of a file that holds its value. */
export const FILE_VALUE_FIELD = 'content';

/** What to do with each secret field of a record (see mapSecrets). */
export interface SecretFieldMap {
  vars(vars: Vars, field: string): Vars;
  fileList(files: SecretFile[], field: string): SecretFile[];
}

type Loose = Record<string, unknown>;

/** The fields of a record kind that hold secret values, with their shape. */
export function secretFieldsOf(kind: string, table: SecretFieldTable = SECRET_FIELDS): [field: string, shape: SecretFieldShape][] {
  return Object.entries(table[kind] ?? {});
}

const varsOf = (r: Loose, field: string) => (r[field] ?? {}) as Vars;
const filesOf = (r: Loose, field: string) => (r[field] ?? []) as SecretFile[];

/** Whether a record holds any secret value (a key in a map, or a file). */
export function holdsSecrets(kind: string, record: object, table: SecretFieldTable = SECRET_FIELDS): boolean {
  const r = record as Loose;
  return secretFieldsOf(kind, table).some(([field, shape]) => (shape === 'vars' ? hasKey(varsOf(r, field)) : filesOf(r, field).length > 0));
}

function hasKey(v: Vars): boolean {
  for (const _ in v) return true;
  return false;
}

/** The names of a record's secret values: map keys and file paths, in table order. */
export function secretKeys(kind: string, record: object, table: SecretFieldTable = SECRET_FIELDS): string[] {
  const r = record as Loose;
  return secretFieldsOf(kind, table).flatMap(([field, shape]) =>
    shape === 'vars' ? Object.keys(varsOf(r, field)) : filesOf(r, field).map((f) => f.path),
  );
}

/** A copy of the record with each secret field replaced by what `map` makes of it. */
export function mapSecrets<R extends object>(kind: string, record: R, map: SecretFieldMap, table: SecretFieldTable = SECRET_FIELDS): R {
  const r = record as Loose;
  const out: Loose = { ...r };
  for (const [field, shape] of secretFieldsOf(kind, table)) {
    out[field] = shape === 'vars' ? map.vars(varsOf(r, field), field) : map.fileList(filesOf(r, field), field);
  }
  return out as R;
}

/**
 * A keys-only copy: every value blanked (''), every file's content emptied and its `size` set
 * to what `fileSize` says of the file (0 to hide it).
 */
export function blankSecrets<R extends object>(kind: string, record: R, fileSize: (f: SecretFile) => number, table: SecretFieldTable = SECRET_FIELDS): R {
  return mapSecrets(
    kind,
    record,
    {
      vars: (v) => Object.fromEntries(Object.keys(v).map((k) => [k, ''])),
      fileList: (fs) => fs.map((f) => ({ ...f, [FILE_VALUE_FIELD]: new Uint8Array(0), size: fileSize(f) })),
    },
    table,
  );
}

/**
 * Blanks, in place, the records a holder carries under their kind's name (`group`, `workload`,
 * `addon`: an answer message) and marks each `valuesRedacted`. Returns the kinds it blanked.
 */
export function blankRecordsIn(holder: Loose, fileSize: (f: SecretFile) => number, table: SecretFieldTable = SECRET_FIELDS): string[] {
  const blanked: string[] = [];
  for (const kind of Object.keys(table)) {
    const r = holder[kind];
    if (!r || typeof r !== 'object' || !secretFieldsOf(kind, table).some(([field]) => field in r)) continue;
    holder[kind] = { ...blankSecrets(kind, r, fileSize, table), valuesRedacted: true };
    blanked.push(kind);
  }
  return blanked;
}

/** pino redaction paths for values: each secret field one level down, and a file's value field. */
export function secretLogPaths(table: SecretFieldTable = SECRET_FIELDS): string[] {
  const fields = Object.keys(table).flatMap((kind) => secretFieldsOf(kind, table).map(([field, shape]) => (shape === 'vars' ? field : FILE_VALUE_FIELD)));
  return [...new Set(fields)].map((f) => `*.${f}`);
}
