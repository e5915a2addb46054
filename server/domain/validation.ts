/** Input validation. Every failure is INVALID_ARGUMENT (or RESOURCE_EXHAUSTED for sizes) naming the field. */
import { posix } from 'node:path';
import { clip, echo, invalid, tooLarge } from './errors.js';
import { LIMITS } from './limits.js';
import type { Vars, Restrictions, SecretFile } from './types.js';

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TAG_RE = /^[A-Za-z0-9]([A-Za-z0-9._:/-]{0,61}[A-Za-z0-9])?$/;

/** Project, workload, addon and group names: DNS labels. */
export function validateName(field: string, name: string): string {
  if (!NAME_RE.test(name)) {
    throw invalid(
      `${field} ${echo(name)} is not a valid name: use 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit`,
    );
  }
  return name;
}

export function validateKey(field: string, key: string): string {
  if (!KEY_RE.test(key) || key.length > LIMITS.keyLength) {
    throw invalid(
      `${field} ${echo(key)} is not a valid key: use letters, digits and '_', not starting with a digit (at most ${LIMITS.keyLength} characters)`,
    );
  }
  // A valid variable name, but it would corrupt a plain object map.
  if (key === '__proto__') throw invalid(`${field} "__proto__" is reserved`);
  return key;
}

export function validateTag(field: string, tag: string): string {
  if (!TAG_RE.test(tag)) {
    throw invalid(
      `${field} ${echo(tag)} is not a valid tag: 1-63 letters, digits, '.', '_', ':', '/' or '-'`,
    );
  }
  return tag;
}

export function validatePriority(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100) {
    throw invalid(`${field} must be an integer from 0 to 100, got ${echo(String(value))}`);
  }
  return value;
}

/** Parses a priority typed by a person ("50"); rejects "1.5", "abc", "", "1e2". */
export function parsePriority(field: string, text: string): number {
  if (!/^-?\d+$/.test(text.trim())) {
    throw invalid(`${field} must be an integer from 0 to 100, got ${echo(text)}`);
  }
  return validatePriority(field, Number(text.trim()));
}

/** A lone UTF-16 surrogate: not encodable as UTF-8 (it would silently become U+FFFD). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What makes text unusable: a NUL, a lone surrogate, or nothing (null). */
export function textFault(text: string): 'nul' | 'surrogate' | null {
  if (text.includes('\0')) return 'nul';
  return LONE_SURROGATE.test(text) ? 'surrogate' : null;
}

/**
 * Text every consumer reads back exactly: no NUL (environment variables and file names end
 * there, so agents could not apply it) and no lone surrogate (a JSON import's "\ud800").
 * The API refuses both in any string field already; this guards every other way in.
 */
export function validateText(field: string, text: string): string {
  const fault = textFault(text);
  if (fault === 'nul') throw invalid(`${field} contains a NUL character`);
  if (fault === 'surrogate') throw invalid(`${field} is not valid Unicode text (a lone surrogate)`);
  return text;
}

export function validateValue(field: string, value: string): string {
  if (typeof value !== 'string') throw invalid(`${field} must be a string`);
  validateText(field, value);
  if (Buffer.byteLength(value, 'utf8') > LIMITS.valueBytes) {
    throw tooLarge(`${field} is larger than the limit of ${LIMITS.valueBytes} bytes`);
  }
  return value;
}

/** Validates a map's keys and value sizes; the field name is used in messages. */
export function validateVars(field: string, vars: Vars): Vars {
  const keys = Object.keys(vars);
  if (keys.length > LIMITS.keysPerGroup) {
    throw tooLarge(`${field} has ${keys.length} keys, more than the limit of ${LIMITS.keysPerGroup}`);
  }
  let total = 0;
  for (const key of keys) {
    validateKey(`${field} key`, key);
    validateValue(`${field}[${clip(key)}]`, vars[key]!);
    total += key.length + Buffer.byteLength(vars[key]!);
  }
  if (total > LIMITS.groupBytes) throw tooLarge(`${field} are larger than the limit of ${LIMITS.groupBytes} bytes in all`);
  return vars;
}

export function validateTags(field: string, tags: readonly string[]): string[] {
  if (tags.length > LIMITS.tagsPerWorkload) {
    throw tooLarge(`${field} has ${tags.length} tags, more than the limit of ${LIMITS.tagsPerWorkload}`);
  }
  for (const tag of tags) validateTag(field, tag);
  return [...new Set(tags)].sort();
}

export function validateRestrictions(r: Restrictions): Restrictions {
  const workloads = [...new Set(r.workloads.map((w) => validateName('restrictions.workloads', w)))].sort();
  const tags = validateTags('restrictions.tags', r.tags);
  return { restricted: r.restricted || workloads.length > 0 || tags.length > 0, workloads, tags };
}

/** Secret file paths: absolute, already normalised, no '..' segment, no trailing slash. */
export function validateFilePath(field: string, path: string): string {
  const shown = echo(path);
  if (!path.startsWith('/')) throw invalid(`${field} ${shown} must be an absolute path`);
  if (path.length > LIMITS.pathLength) throw invalid(`${field} is longer than ${LIMITS.pathLength} characters`);
  validateText(`${field} ${shown}`, path);
  if (path.split('/').includes('..')) throw invalid(`${field} ${shown} must not contain '..'`);
  if (path === '/' || path.endsWith('/')) throw invalid(`${field} ${shown} must name a file, not a directory`);
  if (posix.normalize(path) !== path) {
    throw invalid(`${field} ${shown} is not normalised (expected ${echo(posix.normalize(path))})`);
  }
  return path;
}

export function validateFile(file: SecretFile): SecretFile {
  validateFilePath('file.path', file.path);
  if (file.content.byteLength > LIMITS.fileBytes) {
    throw tooLarge(`file ${echo(file.path)} is larger than the limit of ${LIMITS.fileBytes} bytes`);
  }
  const mode = file.mode === 0 ? 0o600 : file.mode;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw invalid(`file.mode must be permission bits between 0 and 0777, got ${file.mode}`);
  }
  return { path: file.path, content: file.content, mode };
}

