/**
 * The key-value editor's model: rows as typed, and the change they amount to (keys to set and
 * keys to unset). Plain functions, so the editor's rules are readable in one place.
 */
import { parse, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { keyProblem } from '../format.js';

export interface Row {
  id: number;
  /** The key as stored; undefined for a new row. */
  orig?: string;
  key: string;
  value: string;
  /** The value is on screen (config group, revealed, or typed): saving may send it. */
  known: boolean;
  /** The user typed into the value. */
  edited: boolean;
  removed: boolean;
}

let nextId = 1;
export const newRow = (key = '', value = ''): Row => ({ id: nextId++, key, value, known: true, edited: true, removed: false });

/** Rows for a group's variables; masked groups start with values unknown. */
export function rowsOf(variables: Record<string, string>, masked: boolean): Row[] {
  return Object.keys(variables)
    .sort()
    .map((k) => ({ id: nextId++, orig: k, key: k, value: masked ? '' : variables[k]!, known: !masked, edited: false, removed: false }));
}

export interface Change {
  set: Record<string, string>;
  unset: string[];
}

/** Per row id, what is wrong with its key (invalid, duplicate, a rename without a value). */
export function problems(rows: Row[]): Map<number, string> {
  const out = new Map<number, string>();
  const seen = new Map<string, number>();
  for (const r of rows) {
    if (r.removed) continue;
    if (r.orig === undefined && r.key === '' && r.value === '') continue; // an untouched blank row
    const p = keyProblem(r.key);
    if (p) out.set(r.id, p);
    else if (seen.has(r.key)) out.set(r.id, `"${r.key}" appears twice.`);
    else if (r.orig !== undefined && r.key !== r.orig && !r.known) out.set(r.id, 'Reveal or type the value to rename this key.');
    seen.set(r.key, r.id);
  }
  return out;
}

export function changeOf(rows: Row[]): Change {
  const set: Record<string, string> = {};
  const unset: string[] = [];
  for (const r of rows) {
    if (r.removed) {
      if (r.orig !== undefined) unset.push(r.orig);
      continue;
    }
    if (r.orig === undefined) {
      if (r.key !== '' || r.value !== '') set[r.key] = r.value;
      continue;
    }
    if (r.key !== r.orig) {
      unset.push(r.orig);
      set[r.key] = r.value;
    } else if (r.edited) set[r.key] = r.value;
  }
  // A key removed in one row and re-added in another is a set, not an unset.
  return { set, unset: unset.filter((k) => !(k in set)) };
}

/** The rows as they are once saved: removed rows gone, every row now stored under its key. */
export function settled(rows: Row[]): Row[] {
  return rows.filter((r) => !r.removed && !(r.orig === undefined && r.key === '' && r.value === '')).map((r) => ({ ...r, orig: r.key, edited: false }));
}

export const isEmpty = (c: Change) => Object.keys(c.set).length === 0 && c.unset.length === 0;

/** A JSON object of strings -> rows: keys absent from it are removed when their value was shown. */
export function applyJson(rows: Row[], obj: Record<string, string>): Row[] {
  const out: Row[] = [];
  const byKey = new Map(rows.filter((r) => !r.removed).map((r) => [r.key, r]));
  for (const r of rows) {
    if (r.removed) {
      out.push(r);
      continue;
    }
    if (r.key in obj) {
      const v = obj[r.key]!;
      out.push(r.known && r.value === v ? r : { ...r, value: v, known: true, edited: true });
    } else if (r.known) out.push({ ...r, removed: r.orig !== undefined });
    else out.push(r);
  }
  for (const [k, v] of Object.entries(obj)) if (!byKey.has(k)) out.push(newRow(k, v));
  return out.filter((r) => !(r.removed && r.orig === undefined));
}

/**
 * Parses JSON text, naming the line and column of the first syntax error (the same parser as
 * the server's import, and unlike JSON.parse, messages never quote the input).
 */
export function parseJson(text: string): unknown {
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const e = errors[0];
  if (e) {
    const before = text.slice(0, e.offset).split('\n');
    throw new Error(`Invalid JSON at line ${before.length}, column ${before[before.length - 1]!.length + 1}: ${printParseErrorCode(e.error)}`);
  }
  return value;
}
