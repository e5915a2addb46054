/**
 * Printing primitives: borderless column tables for people (easy to read and to grep) and
 * pretty JSON for scripts. Everything goes to stdout through `Out` so that commands can be
 * tested without a process.
 */
import Table from 'cli-table3';

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
  const t = new Table({
    head,
    chars: PLAIN_CHARS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
  });
  for (const row of rows) t.push(row.map((c) => String(c)));
  return trimLines(t.toString()) + '\n';
}

/** "Field  value" lines for one object. */
export function fields(pairs: Array<[string, Cell]>): string {
  const t = new Table({
    chars: PLAIN_CHARS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
  });
  for (const [k, v] of pairs) t.push([k, String(v)]);
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
