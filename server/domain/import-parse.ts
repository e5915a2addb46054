/**
 * Parsing imported variables: .env text (values parsed by the `dotenv` package) or a JSON
 * object of strings. dotenv silently skips lines it cannot read, so lines are checked here
 * first and a malformed one is refused with its line number: nothing is partially applied.
 */
import { parse as dotenvParse } from 'dotenv';
import { parse as parseJsonc, visit as visitJson, type ParseError } from 'jsonc-parser';
import { clip, invalid, tooLarge } from './errors.js';
import { LIMITS } from './limits.js';
import { validateKey, validateText } from './validation.js';
import type { Vars } from './types.js';

const LINE_RE = /^\s*(?:export\s+)?([^\s=:#]+)\s*(=|:\s)(.*)$/;

export function parseImport(format: 'dotenv' | 'json', content: string): Vars {
  return parseImportDetailed(format, content).vars;
}

/** The variables and the warnings about bytes the format drops (a value cut at `#`). */
export function parseImportDetailed(format: 'dotenv' | 'json', content: string): { vars: Vars; warnings: string[] } {
  if (Buffer.byteLength(content, 'utf8') > LIMITS.importBytes) {
    throw tooLarge(`import is larger than the limit of ${LIMITS.importBytes} bytes`);
  }
  validateText('import', content);
  return format === 'json' ? { vars: parseJsonVars(content), warnings: [] } : parseDotenv(content);
}

export function parseDotenvVars(content: string): Vars {
  return parseDotenv(content).vars;
}

/**
 * dotenv's dialect, checked line by line: a malformed line or a key given twice is refused
 * naming the line(s); a `#` glued to an unquoted value (`K=abc#def`) starts a comment in
 * dotenv, so the value is cut there: that is reported as a warning naming the line and key.
 */
function parseDotenv(content: string): { vars: Vars; warnings: string[] } {
  const text = content.replace(/\r\n?/g, '\n');
  const lines = text.split('\n');
  const lineStart: number[] = [];
  for (let i = 0, at = 0; i < lines.length; at += lines[i]!.length + 1, i++) lineStart.push(at);
  const keys: string[] = [];
  const firstLine = new Map<string, number>();
  const warnings: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*(#.*)?$/.test(line)) continue;
    const m = LINE_RE.exec(line);
    if (!m) {
      // `MY KEY=2`: dotenv would skip the line; say why it is refused, without echoing the line (it may hold a value).
      const spaced = /^\s*(?:export\s+)?[^=#]*\S\s+\S[^=]*=/.test(line);
      throw invalid(`.env line ${i + 1}: ${spaced ? 'a key cannot contain spaces; ' : ''}expected KEY=VALUE`);
    }
    const key = m[1]!;
    try {
      validateKey('key', key);
    } catch (e) {
      throw invalid(`.env line ${i + 1}: ${(e as Error).message}`);
    }
    const seen = firstLine.get(key);
    if (seen !== undefined) throw invalid(`.env line ${i + 1}: ${clip(key)} is already set on line ${seen}; give each key once`);
    firstLine.set(key, i + 1);
    keys.push(key);
    const rest = m[3]!.trimStart();
    const quote = rest[0];
    const hash = rest.indexOf('#');
    if (quote !== '"' && quote !== "'" && quote !== '`' && hash >= 0 && (hash === 0 || !/\s/.test(rest[hash - 1]!))) {
      warnings.push(`.env line ${i + 1}: the value of ${key} was cut at an unquoted "#" (dotenv reads the rest as a comment; quote the value to keep it)`);
    }
    if (quote === '"' || quote === "'" || quote === '`') {
      // A quoted value may span lines. Find its closing quote exactly as dotenv does, so that
      // both agree on where the next key starts (a value ending in a backslash, like 'C:\',
      // must not swallow the following lines and silently drop their keys).
      const pattern = QUOTED[quote]!;
      pattern.lastIndex = lineStart[i]! + line.length - rest.length;
      const closed = pattern.exec(text);
      if (closed) {
        const end = pattern.lastIndex - 1;
        while (i + 1 < lines.length && lineStart[i + 1]! <= end) i++;
      } else if (!rest.slice(1).includes(quote)) {
        throw invalid(`.env line ${i + 1}: quoted value of ${clip(key)} is never closed`);
      }
      // Otherwise text follows the closing quote on this line: dotenv reads the line as is.
    }
  }
  const parsed = dotenvParse(content);
  const vars: Vars = {};
  for (const key of keys) {
    if (!Object.hasOwn(parsed, key)) throw invalid(`.env: could not read the value of ${clip(key)}`);
    vars[key] = parsed[key]!;
  }
  return { vars, warnings };
}

/**
 * dotenv's own quoted-value patterns (its LINE expression), anchored at the opening quote: the
 * farthest closing quote followed only by blanks and an optional comment up to a line end.
 */
const QUOTED: Record<string, RegExp> = {
  "'": /'(?:\\'|[^'])*'(?=\s*(?:#.*)?$)/my,
  '"': /"(?:\\"|[^"])*"(?=\s*(?:#.*)?$)/my,
  '`': /`(?:\\`|[^`])*`(?=\s*(?:#.*)?$)/my,
};

export function parseJsonVars(content: string): Vars {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch {
    throw invalid(`JSON ${jsonErrorPlace(content)}: not valid JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('JSON: expected an object mapping each key to a string value');
  }
  refuseDuplicateJsonKeys(content);
  const vars: Vars = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    validateKey('JSON key', key);
    if (typeof v !== 'string') throw invalid(`JSON: the value of ${clip(key)} must be a string, got ${v === null ? 'null' : typeof v}`);
    vars[key] = v;
  }
  return vars;
}

/** JSON.parse keeps the last of two equal keys silently; refuse that, naming both lines. */
function refuseDuplicateJsonKeys(content: string): void {
  const seen = new Map<string, number>();
  let depth = 0;
  let duplicate: string | undefined;
  visitJson(content, {
    onObjectBegin: () => void depth++,
    onObjectEnd: () => void depth--,
    onObjectProperty: (key, _offset, _length, line) => {
      if (depth !== 1 || duplicate) return;
      const first = seen.get(key);
      if (first !== undefined) duplicate = `JSON line ${line + 1}: ${clip(key)} is already set on line ${first}; give each key once`;
      else seen.set(key, line + 1);
    },
  });
  if (duplicate) throw invalid(duplicate);
}

/**
 * "line N" of the first syntax error. V8's messages may quote the input (a value), so the
 * place is found with jsonc-parser's error offsets instead, and V8's text is never shown.
 */
function jsonErrorPlace(content: string): string {
  const errors: ParseError[] = [];
  parseJsonc(content, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const offset = errors[0]?.offset;
  if (offset === undefined) return 'input';
  return `line ${content.slice(0, offset).split('\n').length}`;
}
