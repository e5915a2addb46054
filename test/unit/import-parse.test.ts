/** Importing variables from .env text (read by the `dotenv` package) or a JSON object of strings. */
import { parse as parseDotenv } from 'dotenv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError, type ErrorCode } from '../../server/domain/errors.js';
import { parseImport, parseImportDetailed } from '../../server/domain/import-parse.js';
import { LIMITS } from '../../server/domain/limits.js';
import type { Vars } from '../../server/domain/types.js';

const CANARY = 'CANARY-imp0rt-never-echo-7781';

function refusal(format: 'dotenv' | 'json', text: string, code: ErrorCode = 'INVALID_ARGUMENT'): string {
  try {
    parseImport(format, text);
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).code).toBe(code);
    return (e as DomainError).message;
  }
  throw new Error(`expected ${code}, the ${format} import was accepted`);
}

describe('dotenv', () => {
  it.each<[string, string, Vars]>([
    ['KEY=VALUE lines', 'A=1\nB=two', { A: '1', B: 'two' }],
    ['double quotes are removed and keep spaces and #', 'A="two words # not a comment"', { A: 'two words # not a comment' }],
    ['single quotes are literal', "A='single $x \\n'", { A: 'single $x \\n' }],
    ['backquotes are removed', 'A=`back`', { A: 'back' }],
    ['a double-quoted \\n becomes a newline', 'A="line1\\nline2"', { A: 'line1\nline2' }],
    ['a quoted value may span lines', 'A="first\nsecond\nthird"\nB=after', { A: 'first\nsecond\nthird', B: 'after' }],
    ['a single-quoted value may span lines', "A='x\ny'", { A: 'x\ny' }],
    ['comment lines and blank lines are skipped', '# heading\n\n  # indented\nA=1\n\n', { A: '1' }],
    ['a trailing comment on an unquoted value is dropped', 'A=plain # trailing', { A: 'plain' }],
    ['export prefix is accepted', 'export A=1\nexport   B="2"', { A: '1', B: '2' }],
    ['an empty value is an empty string', 'A=\nB=""', { A: '', B: '' }],
    ['spaces around = and the value are trimmed', 'A = spaced  ', { A: 'spaced' }],
    ['KEY: VALUE (YAML style) is accepted', 'A: yaml', { A: 'yaml' }],
    ['CRLF line endings', 'A=1\r\nB=2\r\n', { A: '1', B: '2' }],
    // dotenv's dialect, as documented in docs/cli.md ("The .env dialect").
    ['an unquoted # starts a comment, even glued to the value', 'HASHNOSPACE=abc#def', { HASHNOSPACE: 'abc' }],
    ['a double-quoted \\" keeps its backslash', 'Q="double \\"esc\\""', { Q: 'double \\"esc\\"' }],
    ['single quotes keep double quotes verbatim', `Q='double "esc"'`, { Q: 'double "esc"' }],
    ['unquoted values are trimmed', 'T=  spaced  ', { T: 'spaced' }],
    ['export is ignored', 'export X=1', { X: '1' }],
    ['templates are kept raw', 'URL=http://${HOST}', { URL: 'http://${HOST}' }],
    ['an = inside the value is kept', 'A=x=y', { A: 'x=y' }],
    ['an empty file imports nothing', '', {}],
    ['a single-quoted value ending in a backslash closes on its line', "A='C:\\'\nB='x'", { A: 'C:\\', B: 'x' }],
    [
      'a double-quoted value ending in a backslash keeps the following keys',
      'DIR="C:\\temp\\"\nB="x"\nC=3',
      { DIR: 'C:\\temp\\', B: 'x', C: '3' },
    ],
    ['an escaped quote inside a multi-line value does not close it', 'A="say \\"\nhi\\""\nB=1', { A: 'say \\"\nhi\\"', B: '1' }],
    ['a comment after the closing quote of a multi-line value', 'A="x\ny" # note\nB=2', { A: 'x\ny', B: '2' }],
  ])('%s', (_rule, text, expected) => {
    expect(parseImport('dotenv', text)).toEqual(expected);
    // The `dotenv` package is the reference: an accepted import reads exactly what it reads.
    expect(parseImport('dotenv', text)).toEqual({ ...parseDotenv(text) });
  });

  it.each<[string, string, number]>([
    ['a line without =', 'A=1\nJUST_A_WORD\nC=3', 2],
    ['a key with a space', 'A=1\n\nBAD KEY=1', 3],
    ['a line that is only a value', '# c\n=value', 2],
  ])('a malformed line is refused, naming its line number: %s', (_rule, text, line) => {
    const message = refusal('dotenv', text);
    expect(message).toContain(`line ${line}`);
  });

  it.each<[string, string, number, string]>([
    ['starting with a digit', 'A=1\n1ABC=2', 2, '1ABC'],
    ['with a dash', '\nMY-KEY=1', 2, 'MY-KEY'],
    ['with a dot', 'A=1\nB=2\nC.D=3', 3, 'C.D'],
    ['__proto__', '__proto__=x', 1, '__proto__'],
  ])('a bad key is refused, naming its line and the key: %s', (_rule, text, line, key) => {
    const message = refusal('dotenv', text);
    expect(message).toContain(`line ${line}`);
    expect(message).toContain(key);
  });

  it.each<[string, string, number]>([
    ['double quote', 'A=1\nB="open\nC=3', 2],
    ['single quote', "A='open", 1],
    ['backquote', 'X=1\nY=2\nA=`open\nmore', 3],
    ['a later line holding a quote does not close it', "A='x\nB='y'", 1],
  ])('an unterminated quote is refused, naming the line where the value starts: %s', (_rule, text, line) => {
    const message = refusal('dotenv', text);
    expect(message).toContain(`line ${line}`);
    expect(message).toContain('never closed');
  });

  it('a JSON key given twice is refused, naming both lines (nested objects aside)', () => {
    expect(refusal('json', '{\n "A": "1",\n "B": "2",\n "A": "3"\n}')).toBe('JSON line 4: A is already set on line 2; give each key once');
  });

  it('a key given twice is refused, naming both lines', () => {
    expect(refusal('dotenv', 'A=1\nB=2\n\nA=3')).toBe('.env line 4: A is already set on line 1; give each key once');
  });

  it('says a key cannot contain spaces, naming the line and never echoing the value', () => {
    expect(refusal('dotenv', `A=1\nMY KEY=${CANARY}`)).toBe('.env line 2: a key cannot contain spaces; expected KEY=VALUE');
    expect(refusal('dotenv', `export MY KEY="${CANARY} x"`)).toBe('.env line 1: a key cannot contain spaces; expected KEY=VALUE');
    expect(refusal('dotenv', 'A=1\nthis is not a pair')).toBe('.env line 2: expected KEY=VALUE');
  });

  it('warns, naming line and key, when a value was cut at an unquoted "#", and only then', () => {
    const { vars, warnings } = parseImportDetailed('dotenv', 'A=abc#def\nB=x # a comment\nC="q#r"\nD=#all\nE=ok');
    expect(vars).toEqual({ A: 'abc', B: 'x', C: 'q#r', D: '', E: 'ok' });
    expect(warnings).toEqual([
      '.env line 1: the value of A was cut at an unquoted "#" (dotenv reads the rest as a comment; quote the value to keep it)',
      '.env line 4: the value of D was cut at an unquoted "#" (dotenv reads the rest as a comment; quote the value to keep it)',
    ]);
  });

  it('nothing is partially applied: one bad line refuses the whole import', () => {
    expect(() => parseImport('dotenv', 'GOOD=1\nBAD KEY=2\nALSO_GOOD=3')).toThrowError(DomainError);
  });

  it('never drops a key: an accepted import reads exactly the keys and values dotenv reads', () => {
    const line = fc
      .record({
        exp: fc.boolean(),
        key: fc.constantFrom('A', 'B', 'C', 'D'),
        eq: fc.constantFrom('=', ' = ', ': '),
        value: fc.array(fc.constantFrom('"', "'", '`', '\\', '#', ' ', 'x', '\\n', '$'), { maxLength: 7 }),
      })
      .map((l) => `${l.exp ? 'export ' : ''}${l.key}${l.eq}${l.value.join('')}`);
    const fragment = fc.oneof({ weight: 5, arbitrary: line }, fc.constantFrom('', '# comment', 'x"', "y'", '  '));
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 6 }), (fragments) => {
        const text = fragments.join('\n');
        let vars: Vars;
        try {
          vars = parseImport('dotenv', text);
        } catch (e) {
          expect(e).toBeInstanceOf(DomainError);
          expect((e as DomainError).code).toBe('INVALID_ARGUMENT');
          expect((e as DomainError).message).toMatch(/line \d+/);
          return;
        }
        expect(vars).toEqual({ ...parseDotenv(text) });
      }),
      { numRuns: 1000 },
    );
  });

  it('a refusal never echoes a value', () => {
    expect(refusal('dotenv', `A=1\nB="${CANARY}`)).not.toContain(CANARY);
    expect(refusal('dotenv', `NOT A KEY=${CANARY}`)).not.toContain(CANARY);
  });
});

describe('JSON', () => {
  it('an object of strings is accepted, values kept verbatim', () => {
    expect(parseImport('json', '{"A": "1", "B": "", "C": "multi\\nline ${X} ü"}')).toEqual({
      A: '1',
      B: '',
      C: 'multi\nline ${X} ü',
    });
  });

  it('an empty object imports nothing', () => {
    expect(parseImport('json', '{}')).toEqual({});
  });

  it.each([
    ['an array', '["A", "B"]'],
    ['a string', '"A=1"'],
    ['a number', '42'],
    ['null', 'null'],
    ['true', 'true'],
  ])('not an object is refused: %s', (_rule, text) => {
    expect(refusal('json', text)).toContain('object');
  });

  it.each([
    ['a number', '{"A": "1", "PORT": 5432}', 'PORT', 'number'],
    ['a boolean', '{"DEBUG": true}', 'DEBUG', 'boolean'],
    ['null', '{"A": null}', 'A', 'null'],
    ['an object', '{"A": {"nested": "x"}}', 'A', 'object'],
    ['an array', '{"A": ["x"]}', 'A', 'object'],
  ])('a non-string value is refused, naming the key and the type: %s', (_rule, text, key, type) => {
    const message = refusal('json', text);
    expect(message).toContain(key);
    expect(message).toContain(type);
  });

  it.each([
    ['with a space', '{"BAD KEY": "1"}', 'BAD KEY'],
    ['starting with a digit', '{"1ABC": "1"}', '1ABC'],
    ['empty', '{"": "1"}', '""'],
    ['__proto__', '{"__proto__": "x"}', '__proto__'],
  ])('a bad key is refused, naming it: %s', (_rule, text, key) => {
    expect(refusal('json', text)).toContain(key);
  });

  it.each<[string, string, number]>([
    ['an unexpected token', '{\n  "A": "1",\n  "B": x\n}', 3],
    ['a trailing comma', '{\n  "A": "1",\n}', 3],
    ['a missing comma', '{\n"A": "1"\n\n"B": "2"\n}', 4],
    ['an unterminated object', '{\n"A": "1"', 2],
    ['single quotes', "{\n\n'A': '1'}", 3],
    ['a comment', '{\n// no comments\n"A": "1"}', 2],
    ['text after the object', '{"A": "1"}\nextra', 2],
    ['an unexpected token on line 1', '{"A": }', 1],
    ['empty input', '', 1],
  ])('a syntax error is refused, naming its line: %s', (_rule, text, line) => {
    const message = refusal('json', text);
    expect(message).toContain(`line ${line}`);
  });

  it('a syntax error never echoes the input (V8 messages quote it)', () => {
    const message = refusal('json', `{"A": "${CANARY}", "B": oops}`);
    expect(message).not.toContain(CANARY);
  });
});

describe('size', () => {
  it.each(['dotenv', 'json'] as const)('a %s import larger than the limit is RESOURCE_EXHAUSTED', (format) => {
    const text = `A="${'x'.repeat(LIMITS.importBytes)}"`;
    refusal(format, text, 'RESOURCE_EXHAUSTED');
  });
});
