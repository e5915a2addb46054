/**
 * Printing primitives: borderless column tables for people (easy to read and to grep) and
 * pretty JSON for scripts. Everything goes to stdout through `Out` so that commands can be
 * tested without a process.
 */
import { createRequire } from 'node:module';
import type TableClass from 'cli-table3';

export interface Out {
  write(text: string): void;
}

export const stdout: Out = { write: (text) => void process.stdout.write(text) };

/** What a secret value looks like in human output unless --show-values is given. */
export const MASK = '********';
/** A value the server withheld (the caller may see keys only). */
export const HIDDEN = '(hidden)';

const PLAIN_CHARS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

type Cell = string | number | boolean;

/** A column table with a header row; no colours, no borders, no trailing spaces. */
export function table(head: string[], rows: Cell[][]): string {
  return render(head, rows.map((row) => row.map((c) => String(c))));
}

/** "Field  value" lines for one object. */
export function fields(pairs: Array<[string, Cell]>): string {
  return render(undefined, pairs.map(([k, v]) => [k, String(v)]));
}

/** Printable ASCII on one line: display width is the length. */
const PLAIN = /^[\x20-\x7e]*$/;

/**
 * cli-table3 measures display width (wide and combining characters, emoji) and splits
 * multi-line cells; loading it is ~10 ms of a CLI start. Tables whose cells are all
 * printable ASCII of equal row length (nearly all of them) are laid out here, identically
 * (test/cli/output.test.ts compares both on random tables); anything else goes to cli-table3.
 */
function render(head: string[] | undefined, rows: string[][]): string {
  const all = head ? [head, ...rows] : rows;
  const columns = all[0]?.length ?? 0;
  if (all.length && all.every((r) => r.length === columns && r.every((c) => PLAIN.test(c)))) return plainColumns(all);
  return cliTable3(head, rows);
}

function plainColumns(rows: string[][]): string {
  // cli-table3 gives an all-empty column a width of 1.
  const widths = rows[0]!.map((_, i) => Math.max(1, ...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').replace(/\s+$/, '')).join('\n') + '\n';
}

/** The layout by cli-table3 (loaded only when needed). */
export function cliTable3(head: string[] | undefined, rows: string[][]): string {
  const Table = createRequire(import.meta.url)('cli-table3') as typeof TableClass;
  const t = new Table({
    ...(head ? { head } : {}),
    chars: PLAIN_CHARS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
  });
  for (const row of rows) t.push(row);
  return trimLines(t.toString()) + '\n';
}

function trimLines(text: string): string {
  return text
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .join('\n');
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** Milliseconds since the epoch to ISO 8601; 0 (unset) to null. */
export function isoTime(ms: number): string | null {
  return ms > 0 ? new Date(ms).toISOString() : null;
}

/** Human time: ISO without milliseconds, or "-". */
export function humanTime(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}

export function list(items: readonly string[]): string {
  return items.length ? items.join(', ') : '-';
}

/** Sorted entries of a map, so output is stable. */
export function sortedEntries(map: Record<string, string>): Array<[string, string]> {
  return Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A variable's value for human output: shown, masked, or marked hidden when the server
 * withheld it.
 */
export function shownValue(value: string, opts: { redacted: boolean; mask: boolean }): string {
  if (opts.redacted) return HIDDEN;
  if (opts.mask) return MASK;
  return value;
}

/**
 * A spinner on stderr while a long call runs (large imports), only when stderr is a terminal:
 * scripts and pipes see nothing. Returns the function that clears it.
 */
export function progress(label: string, stream: NodeJS.WriteStream = process.stderr): () => void {
  if (!stream.isTTY) return () => undefined;
  const frames = ['|', '/', '-', '\\'];
  let i = 0;
  const started = Date.now();
  const draw = () => stream.write(`\r${frames[i++ % frames.length]} ${label} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  draw();
  const timer = setInterval(draw, 100);
  return () => {
    clearInterval(timer);
    stream.write('\r\x1b[K');
  };
}
