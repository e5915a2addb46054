/**
 * Output formats for variables. Each one survives any value (quotes, newlines, `$`, `#`, `=`,
 * unicode) or refuses with an error that names the key, never a wrong file.
 */
import { createRequire } from 'node:module';

export type Variables = Record<string, string>;
export type FileFormat = 'dotenv' | 'json' | 'shell';
export type BuildArgsFormat = 'docker' | 'json' | 'dotenv';

export class FormatError extends Error {
  override name = 'FormatError';
}

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function sortedKeys(vars: Variables): string[] {
  return Object.keys(vars).sort();
}

function noNul(key: string, value: string, format: string): void {
  if (value.includes('\0')) throw new FormatError(`variable ${key} contains a NUL byte, which ${format} cannot carry`);
}

export function formatJson(vars: Variables): string {
  const sorted: Variables = {};
  for (const k of sortedKeys(vars)) sorted[k] = vars[k]!;
  return `${JSON.stringify(sorted, null, 2)}\n`;
}

/** POSIX shell: `export KEY='value'`, with `'` spelled `'\''`; nothing inside is ever expanded. */
export function formatShell(vars: Variables): string {
  let out = '';
  for (const k of sortedKeys(vars)) {
    if (!SHELL_NAME.test(k)) throw new FormatError(`variable ${k} is not a valid shell name`);
    const v = vars[k]!;
    noNul(k, v, 'a shell variable');
    out += `export ${k}='${v.replaceAll("'", `'\\''`)}'\n`;
  }
  return out;
}

type DotenvParse = (src: string) => Record<string, string>;
let parseDotenv: DotenvParse | undefined;

/** Characters that POSIX sh still interprets inside double quotes. */
const SH_DOUBLE_QUOTE_SPECIAL = /["$`\\]/;

/**
 * Quotings that POSIX sh and the dotenv parser both read back as exactly `v`, safest first.
 * Unquoted and backtick forms are never used: `sh` would split or execute them when the file is
 * sourced (`set -a && . FILE`). CR is left out: dotenv turns every CR into LF.
 */
function dotenvCandidates(v: string): string[] {
  if (v.includes('\r')) return [];
  const c: string[] = [];
  // Single quotes: nothing inside is special to sh, and dotenv takes them literally.
  if (!v.includes("'")) c.push(`'${v}'`);
  // Double quotes hold a `'` when nothing inside is special to sh (and so no `\n` for dotenv).
  if (!SH_DOUBLE_QUOTE_SPECIAL.test(v)) c.push(`"${v}"`);
  return c;
}

/**
 * dotenv format that is also safe to source with POSIX sh: each value gets the first quoting
 * that sh reads literally and that the `dotenv` parser reads back to exactly that value. A value
 * no such quoting can carry (a `'` together with one of `"`, `$`, backtick or backslash; a CR;
 * or a trailing backslash) is refused, naming the key: use --format shell or json for it.
 */
export function formatDotenv(vars: Variables): string {
  parseDotenv ??= (createRequire(import.meta.url)('dotenv') as { parse: DotenvParse }).parse;
  let out = '';
  for (const k of sortedKeys(vars)) {
    if (!SHELL_NAME.test(k)) throw new FormatError(`variable ${k} is not a valid dotenv name`);
    const v = vars[k]!;
    noNul(k, v, 'dotenv');
    const line = dotenvCandidates(v)
      .map((enc) => `${k}=${enc}`)
      .find((l) => parseDotenv!(`${l}\n`)[k] === v);
    if (line === undefined) {
      throw new FormatError(`variable ${k} cannot be written in dotenv format so that both sh and dotenv read it unchanged; use --format shell or json`);
    }
    out += `${line}\n`;
  }
  // Belt and braces: the whole file must parse back to exactly the input.
  const back = parseDotenv(out);
  for (const k of Object.keys(vars)) {
    if (back[k] !== vars[k]) throw new FormatError(`variable ${k} does not survive the dotenv format; use --format shell or json`);
  }
  return out;
}

/**
 * Arguments for `docker build`, NUL-separated: `--build-arg` `KEY=VALUE` pairs. Read them into
 * an argument array (`xargs -0`, or bash `mapfile -d ''`) so no value is ever word-split.
 */
export function formatDockerArgs(vars: Variables): string {
  let out = '';
  for (const k of sortedKeys(vars)) {
    const v = vars[k]!;
    noNul(k, v, 'a command-line argument');
    out += `--build-arg\0${k}=${v}\0`;
  }
  return out;
}

export function formatFile(format: FileFormat, vars: Variables): string {
  switch (format) {
    case 'dotenv':
      return formatDotenv(vars);
    case 'json':
      return formatJson(vars);
    case 'shell':
      return formatShell(vars);
  }
}

export function formatBuildArgs(format: BuildArgsFormat, vars: Variables): string {
  switch (format) {
    case 'docker':
      return formatDockerArgs(vars);
    case 'json':
      return formatJson(vars);
    case 'dotenv':
      return formatDotenv(vars);
  }
}
