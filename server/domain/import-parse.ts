/**
 * Parsing imported variables: .env text (values parsed by the `dotenv` package) or a JSON
 * object of strings. dotenv silently skips lines it cannot read, so lines are checked here
 * first and a malformed one is refused with its line number: nothing is partially applied.
 */
import { parse as parseDotenv } from 'dotenv';
import { parse as parseJsonc, type ParseError } from 'jsonc-parser';
import { invalid, tooLarge } from './errors.js';
import { LIMITS } from './limits.js';
import { validateKey } from './validation.js';
import type { Vars } from './types.js';

const LINE_RE = /^\s*(?:export\s+)?([^\s=:#]+)\s*(=|:\s)(.*)$/;

export function parseImport(format: 'dotenv' | 'json', content: string): Vars {
  if (Buffer.byteLength(content, 'utf8') > LIMITS.importBytes) {
    throw tooLarge(`import is larger than the limit of ${LIMITS.importBytes} bytes`);
  }
  return format === 'json' ? parseJsonVars(content) : parseDotenvVars(content);
}

export function parseDotenvVars(content: string): Vars {
  const lines = content.replace(/\r\n?/g, '\n').split('\n');
  const keys: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*(#.*)?$/.test(line)) continue;
    const m = LINE_RE.exec(line);
    if (!m) throw invalid(`.env line ${i + 1}: expected KEY=VALUE`);
    const key = m[1]!;
    try {
      validateKey('key', key);
    } catch (e) {
      throw invalid(`.env line ${i + 1}: ${(e as Error).message}`);
    }
    keys.push(key);
    const rest = m[3]!.trimStart();
    const quote = rest[0];
    if (quote === '"' || quote === "'" || quote === '`') {
      // A quoted value may span lines; find the line holding its closing quote.
      const start = i;
      let body = rest.slice(1);
      while (!closes(body, quote)) {
        i++;
        if (i >= lines.length) throw invalid(`.env line ${start + 1}: quoted value of ${key} is never closed`);
        body += `\n${lines[i]}`;
      }
    }
  }
  const parsed = parseDotenv(content);
  const vars: Vars = {};
  for (const key of keys) {
    if (!Object.hasOwn(parsed, key)) throw invalid(`.env: could not read the value of ${key}`);
    vars[key] = parsed[key]!;
  }
  return vars;
}

function closes(body: string, quote: string): boolean {
  for (let j = 0; j < body.length; j++) {
    if (body[j] === '\\') j++;
    else if (body[j] === quote) return true;
  }
  return false;
}

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
  const vars: Vars = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    validateKey('JSON key', key);
    if (typeof v !== 'string') throw invalid(`JSON: the value of ${key} must be a string, got ${v === null ? 'null' : typeof v}`);
    vars[key] = v;
  }
  return vars;
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
