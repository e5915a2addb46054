import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dotenv from 'dotenv';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError, formatDockerArgs, formatDotenv, formatJson, formatShell, renderDotenv, suggestFormats } from '../../client/formats.js';

/** Values that break naive writers: every one must survive every format. */
export const NASTY: Record<string, string> = {
  SPACES: '  leading and trailing  ',
  NEWLINES: 'line1\nline2\n\nline4\n',
  CRLF: 'a\r\nb\rc',
  SINGLE: "it's",
  DOUBLE: 'say "hi"',
  BACKTICK: 'run `id`',
  DOLLAR: '$HOME ${HOME} $(id) $$',
  HASH: 'a # not a comment',
  HASH_START: '#hash',
  EQUALS: 'a=b==c',
  UNICODE: 'päßwörd ✓ 日本語 😀',
  BACKSLASH: 'C:\\path\\n\\r\\',
  MIXED_QUOTES: `it's "double" and \`tick\``,
  EMPTY: '',
  JSONISH: '{"a": [1, 2]}',
  SEMI: 'a; rm -rf / && echo',
  STAR: '* ? [a-z]',
  PEM: '-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n',
  QUOTED_LOOKING: "'quoted'",
  TAB: '\tindented\t',
};

const dir = mkdtempSync(join(tmpdir(), 'sg-formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Sources a file with `shell` (sh is POSIX dash here) and prints every variable NUL-separated. */
function sourceWith(shell: 'bash' | 'sh', text: string, keys: string[]): Record<string, string> {
  const f = join(dir, `vars-${Math.random()}.sh`);
  writeFileSync(f, text);
  // set -a is how the docs tell build steps to load a dotenv file.
  const script = `set -eu; set -a; . "$1"; shift; for k in "$@"; do eval "v=\\"\\\${$k}\\""; printf '%s\\0%s\\0' "$k" "$v"; done`;
  const r = spawnSync(shell, ['-c', script, shell, f, ...keys], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  expect(r.status, r.stderr).toBe(0);
  const parts = r.stdout.split('\0');
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length; i += 2) out[parts[i]!] = parts[i + 1]!;
  return out;
}
const sourceWithBash = (text: string, keys: string[]) => sourceWith('bash', text, keys);

/** What sh, bash and the dotenv library each read from one dotenv file. */
function readersOf(text: string, keys: string[]) {
  return { sh: sourceWith('sh', text, keys), bash: sourceWith('bash', text, keys), dotenv: dotenv.parse(text) };
}

/** NASTY values that both sh and dotenv can read from one quoting. */
const DOTENV_SAFE = Object.fromEntries(
  Object.entries(NASTY).filter(([k]) => !['CRLF', 'MIXED_QUOTES'].includes(k)),
);

describe('dotenv format', () => {
  it('reads back exactly the same with sh, bash and the dotenv parser', () => {
    const text = formatDotenv(DOTENV_SAFE);
    const keys = Object.keys(DOTENV_SAFE);
    expect(readersOf(text, keys)).toEqual({ sh: DOTENV_SAFE, bash: DOTENV_SAFE, dotenv: DOTENV_SAFE });
  });

  it('writes single quotes, or double quotes for a quote with nothing sh would expand', () => {
    expect(formatDotenv({ A: 'plain', B: "it's", C: 'x\ny', D: '$(id) `id`' })).toBe(`A='plain'\nB="it's"\nC='x\ny'\nD='$(id) \`id\`'\n`);
  });

  it('never runs anything inside a value when sourced with sh (set -a && . FILE)', () => {
    const marker = join(dir, 'pwned-dotenv');
    const vars = { A: `$(touch ${marker})`, B: `\`touch ${marker}\``, C: `x; touch ${marker}`, D: `"; touch ${marker}; "` };
    const text = formatDotenv(vars);
    expect(readersOf(text, Object.keys(vars))).toEqual({ sh: vars, bash: vars, dotenv: vars });
    expect(spawnSync('test', ['-e', marker]).status).not.toBe(0);
  });

  it('refuses, naming the key and never the value, what no shared quoting carries', () => {
    for (const k of ['CRLF', 'MIXED_QUOTES']) {
      const v = NASTY[k]!;
      expect(() => formatDotenv({ [k]: v })).toThrow(FormatError);
      try {
        formatDotenv({ [k]: v });
      } catch (e) {
        expect((e as Error).message).toContain(k);
        expect((e as Error).message).not.toContain(v);
        expect((e as FormatError).key).toBe(k);
      }
    }
  });

  it('renderDotenv writes every other variable and lists, by key, those it left out', () => {
    const vars = { A: 'plain', MIXED_QUOTES: NASTY.MIXED_QUOTES!, CRLF: NASTY.CRLF!, Z: "it's" };
    const { text, unwritable } = renderDotenv(vars);
    expect(unwritable.map((u) => u.key)).toEqual(['CRLF', 'MIXED_QUOTES']);
    for (const u of unwritable) expect(u.reason).not.toContain(vars[u.key as keyof typeof vars]);
    expect(readersOf(text, ['A', 'Z'])).toEqual({ sh: { A: 'plain', Z: "it's" }, bash: { A: 'plain', Z: "it's" }, dotenv: { A: 'plain', Z: "it's" } });
  });

  it('suggests only the given command formats that carry the value', () => {
    const vars = { K: NASTY.MIXED_QUOTES! };
    expect(suggestFormats(['dotenv', 'json', 'shell'], 'dotenv', vars, ['K'])).toBe('; use --format json or shell');
    expect(suggestFormats(['docker', 'json', 'dotenv'], 'dotenv', vars, ['K'])).toBe('; use --format docker or json');
    expect(suggestFormats(['table', 'json', 'dotenv', 'shell'], 'dotenv', vars, ['K'])).toBe('; use --format json or shell');
    expect(suggestFormats(['docker', 'json', 'dotenv'], 'docker', { K: 'a\0b' }, ['K'])).toBe('; use --format json');
  });

  it('either reads back identically in sh, bash and dotenv, or refuses naming the key (never a wrong file)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('A', 'B_1', 'c'), fc.string({ unit: fc.constantFrom('a', ' ', '\n', '\r', "'", '"', '`', '#', '\\', 'n', '$', '=', 'é', '(', ';') }), { maxKeys: 3 }), (vars) => {
        let text: string;
        try {
          text = formatDotenv(vars);
        } catch (e) {
          expect(e).toBeInstanceOf(FormatError);
          expect(Object.values(vars).some((v) => (e as Error).message.includes(v) && v.length > 3)).toBe(false);
          return;
        }
        const keys = Object.keys(vars);
        expect(readersOf(text, keys)).toEqual({ sh: vars, bash: vars, dotenv: vars });
      }),
      { numRuns: 60 },
    );
  });

  it('refuses names dotenv cannot carry', () => {
    expect(() => formatDotenv({ 'BAD NAME': 'x' })).toThrow(FormatError);
  });
});

describe('shell format', () => {
  it('is safe to source in bash and reproduces every value exactly', () => {
    expect(sourceWithBash(formatShell(NASTY), Object.keys(NASTY))).toEqual(NASTY);
  });

  it('never executes anything inside a value', () => {
    const marker = join(dir, 'pwned');
    const vars = { A: `$(touch ${marker})`, B: `'; touch ${marker}; '`, C: `\`touch ${marker}\`` };
    expect(sourceWithBash(formatShell(vars), Object.keys(vars))).toEqual(vars);
    expect(spawnSync('test', ['-e', marker]).status).not.toBe(0);
  });

  it('round-trips arbitrary strings', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 30 }).filter((s) => !s.includes('\0')), { minLength: 1, maxLength: 20 }), (values) => {
        const vars = Object.fromEntries(values.map((v, i) => [`V${i}`, v]));
        expect(sourceWithBash(formatShell(vars), Object.keys(vars))).toEqual(vars);
      }),
      { numRuns: 8 },
    );
  });

  it('refuses names that are not shell identifiers', () => {
    expect(() => formatShell({ 'A-B': 'x' })).toThrow(/not a valid shell name/);
  });
});

describe('json format', () => {
  it('is one object of strings, sorted', () => {
    const text = formatJson({ B: '2', A: 'x\n"y"' });
    expect(JSON.parse(text)).toEqual({ A: 'x\n"y"', B: '2' });
    expect(Object.keys(JSON.parse(text))).toEqual(['A', 'B']);
  });
});

describe('docker build-args format', () => {
  it('reads into a bash array with mapfile -d "" and reproduces every value', () => {
    const f = join(dir, 'args');
    writeFileSync(f, formatDockerArgs(NASTY));
    const r = spawnSync('bash', ['-c', `mapfile -d '' -t args < "$1"; printf '%s\\0' "\${args[@]}"`, 'bash', f], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const args = r.stdout.split('\0').slice(0, -1);
    const back: Record<string, string> = {};
    for (let i = 0; i < args.length; i += 2) {
      expect(args[i]).toBe('--build-arg');
      const kv = args[i + 1]!;
      back[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
    }
    expect(back).toEqual(NASTY);
  });

  it('refuses a NUL byte, which no argument can carry', () => {
    expect(() => formatDockerArgs({ A: 'x\0y' })).toThrow(FormatError);
  });
});
