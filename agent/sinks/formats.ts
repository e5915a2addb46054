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

/** Quoting candidates, most readable and most widely understood first. */
function dotenvCandidates(v: string): string[] {
  const c: string[] = [];
  // Single quotes are literal in dotenv (and in docker compose, python-dotenv): only `'` and CR,
  // which dotenv turns into LF, cannot appear.
  if (!v.includes("'") && !v.includes('\r')) c.push(`'${v}'`);
  // Double quotes: dotenv turns the two-character sequences \n and \r into LF and CR.
  if (!v.includes('"') && !/\\[nr]/.test(v)) c.push(`"${v.replaceAll('\n', '\\n').replaceAll('\r', '\\r')}"`);
  if (!v.includes('`') && !v.includes('\r')) c.push(`\`${v}\``);
  if (!/[#\r\n]/.test(v) && v === v.trim()) c.push(v);
  return c;
}

/**
 * dotenv format, checked value by value against the `dotenv` parser itself: each value gets the
 * first quoting that parses back to exactly that value. A value that no dotenv quoting can carry
 * (it would need all three quote characters plus a line break, for instance) is refused.
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
    if (line === undefined) throw new FormatError(`variable ${k} cannot be written in dotenv format without changing it; use --format json or shell`);
    out += `${line}\n`;
  }
  // Belt and braces: the whole file must parse back to exactly the input.
  const back = parseDotenv(out);
  for (const k of Object.keys(vars)) {
    if (back[k] !== vars[k]) throw new FormatError(`variable ${k} does not survive the dotenv format; use --format json or shell`);
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
