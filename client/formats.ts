/**
 * Output formats for variables. Each one survives any value (quotes, newlines, `$`, `#`, `=`,
 * unicode) or leaves the variable out, naming the key (never the value), never a wrong file.
 * The `format…` functions refuse the whole set at the first such variable; `renderFile` writes
 * the rest and lists the variables it left out, so one value that a format cannot carry does
 * not stop every later change (a rotated secret) from reaching `write --watch`.
 */
import { createRequire } from 'node:module';

export type Variables = Record<string, string>;
export type FileFormat = 'dotenv' | 'json' | 'shell';
export type BuildArgsFormat = 'docker' | 'json' | 'dotenv';

export class FormatError extends Error {
  override name = 'FormatError';
  constructor(
    message: string,
    /** The variable refused, when one is (for suggesting a format that carries it). */
    readonly key?: string,
  ) {
    super(message);
  }
}

/** A variable a format cannot carry: its key and why, never its value. */
export interface Unwritable {
  key: string;
  reason: string;
}

export interface Rendered {
  text: string;
  /** Left out of `text`, by key. */
  unwritable: Unwritable[];
}

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function sortedKeys(vars: Variables): string[] {
  return Object.keys(vars).sort();
}

export function formatJson(vars: Variables): string {
  const sorted: Variables = {};
  for (const k of sortedKeys(vars)) sorted[k] = vars[k]!;
  return `${JSON.stringify(sorted, null, 2)}\n`;
}

/** POSIX shell: `export KEY='value'`, with `'` spelled `'\''`; nothing inside is ever expanded. */
export function renderShell(vars: Variables): Rendered {
  let text = '';
  const unwritable: Unwritable[] = [];
  for (const k of sortedKeys(vars)) {
    const v = vars[k]!;
    if (!SHELL_NAME.test(k)) unwritable.push({ key: k, reason: 'is not a valid shell name' });
    else if (v.includes('\0')) unwritable.push({ key: k, reason: 'contains a NUL byte, which a shell variable cannot carry' });
    else text += `export ${k}='${v.replaceAll("'", `'\\''`)}'\n`;
  }
  return { text, unwritable };
}

export function formatShell(vars: Variables): string {
  return refuseUnwritable(renderShell(vars));
}

/** The text, or a FormatError naming the first variable left out (callers add what to use instead). */
function refuseUnwritable({ text, unwritable }: Rendered): string {
  const first = unwritable[0];
  if (first) throw new FormatError(`variable ${first.key} ${first.reason}`, first.key);
  return text;
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
 * or a trailing backslash) is left out, naming the key.
 */
export function renderDotenv(vars: Variables): Rendered {
  parseDotenv ??= (createRequire(import.meta.url)('dotenv') as { parse: DotenvParse }).parse;
  let text = '';
  const unwritable: Unwritable[] = [];
  for (const k of sortedKeys(vars)) {
    const v = vars[k]!;
    if (!SHELL_NAME.test(k)) {
      unwritable.push({ key: k, reason: 'is not a valid dotenv name' });
      continue;
    }
    if (v.includes('\0')) {
      unwritable.push({ key: k, reason: 'contains a NUL byte, which dotenv cannot carry' });
      continue;
    }
    const line = dotenvCandidates(v)
      .map((enc) => `${k}=${enc}`)
      .find((l) => parseDotenv!(`${l}\n`)[k] === v);
    if (line === undefined) unwritable.push({ key: k, reason: 'cannot be written in dotenv format so that both sh and dotenv read it unchanged' });
    else text += `${line}\n`;
  }
  // Belt and braces: the whole file must parse back to exactly the variables written.
  const back = parseDotenv(text);
  const left = new Set(unwritable.map((u) => u.key));
  for (const k of Object.keys(vars)) {
    if (!left.has(k) && back[k] !== vars[k]) throw new FormatError(`variable ${k} does not survive the dotenv format`);
  }
  return { text, unwritable };
}

export function formatDotenv(vars: Variables): string {
  return refuseUnwritable(renderDotenv(vars));
}

/**
 * Arguments for `docker build`, NUL-separated: `--build-arg` `KEY=VALUE` pairs. Read them into
 * an argument array (`xargs -0`, or bash `mapfile -d ''`) so no value is ever word-split.
 */
export function renderDockerArgs(vars: Variables): Rendered {
  let text = '';
  const unwritable: Unwritable[] = [];
  for (const k of sortedKeys(vars)) {
    const v = vars[k]!;
    if (v.includes('\0')) unwritable.push({ key: k, reason: 'contains a NUL byte, which a command-line argument cannot carry' });
    else text += `--build-arg\0${k}=${v}\0`;
  }
  return { text, unwritable };
}

export function formatDockerArgs(vars: Variables): string {
  return refuseUnwritable(renderDockerArgs(vars));
}

const RENDERERS: Record<FileFormat | BuildArgsFormat, (vars: Variables) => Rendered> = {
  dotenv: renderDotenv,
  json: (vars) => ({ text: formatJson(vars), unwritable: [] }),
  shell: renderShell,
  docker: renderDockerArgs,
};

/** The file for `write`: what the format carries, and the variables it left out. */
export function renderFile(format: FileFormat, vars: Variables): Rendered {
  return RENDERERS[format](vars);
}

/** The whole set in a file format, or a FormatError naming the first variable it cannot carry. */
export function formatFile(format: FileFormat, vars: Variables): string {
  return refuseUnwritable(RENDERERS[format](vars));
}

export function formatBuildArgs(format: BuildArgsFormat, vars: Variables): string {
  return refuseUnwritable(RENDERERS[format](vars));
}

/**
 * Which of `formats` (a command's own `--format` choices) carry every variable named in `keys`:
 * what to suggest instead, so a message never names a format the command does not have.
 */
export function formatsCarrying(formats: readonly string[], vars: Variables, keys: readonly string[]): string[] {
  const subset: Variables = {};
  for (const k of keys) if (k in vars) subset[k] = vars[k]!;
  return formats.filter((f) => f in RENDERERS && RENDERERS[f as FileFormat | BuildArgsFormat](subset).unwritable.length === 0);
}

/** ` use --format a or b` for a message, or nothing when no other format carries them. */
export function suggestFormats(formats: readonly string[], current: string, vars: Variables, keys: readonly string[]): string {
  const others = formatsCarrying(formats, vars, keys).filter((f) => f !== current);
  return others.length ? `; use --format ${others.join(' or ')}` : '';
}
