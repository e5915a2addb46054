/**
 * Shared pieces of command definitions: the connection flag every client command takes,
 * `--json`, `--expected-revision`, printing, and reading a local file or stdin.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseRevision } from './args.js';
import { usage } from './errors.js';
import { json, stdout, type Out } from './output.js';

export const ADDR_HELP = 'server address host:port (default: $SG_ADDR, else 127.0.0.1:50051)';

/** Adds the connection flags; the token always comes from SG_TOKEN so it never shows in `ps`. */
export function withAddr(cmd: Command): Command {
  return cmd
    .option('--addr <host:port>', ADDR_HELP)
    .option('--ca <file>', 'CA bundle (PEM) to verify the server; enables TLS (default: $SG_CA)')
    .option('--cert <file>', 'client certificate (PEM) for mTLS, with --key (default: $SG_CERT)')
    .option('--key <file>', 'client private key (PEM) for mTLS (default: $SG_KEY)');
}

/**
 * The one rule for values (docs/architecture.md, "Values in client output"): --json is the machine form and carries every value the
 * token may read (null where it may see keys only); human output masks secrets unless
 * --show-values, which --json accepts and ignores so scripts that pass it keep working.
 */
export const JSON_VALUES = '--json always carries every value the token may read';

/** --show-values on a command whose table prints no values. */
export const NO_TABLE_VALUES = `no effect: the table prints no values and ${JSON_VALUES} (accepted for scripts)`;

export function withJson(cmd: Command, what = 'the result'): Command {
  return cmd.option('--json', `print ${what} as one JSON object instead of a table`);
}

export function withExpectedRevision(cmd: Command): Command {
  return cmd.option(
    '--expected-revision <n>',
    'refuse the change (ABORTED) unless the current revision is N; 0 or absent skips the check',
  );
}

export const expectedRevision = (opts: { expectedRevision?: string }) => parseRevision('--expected-revision', opts.expectedRevision);

/** Prints JSON when asked, else the human rendering. */
export function emit(opts: { json?: boolean }, value: () => unknown, human: () => string, out: Out = stdout): void {
  out.write(opts.json ? json(value()) : human());
}

/** Reads a local file, or stdin for "-". Errors name the file only, never its content. */
export async function readInput(file: string, flag: string): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    return Buffer.concat(chunks);
  }
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? 'unreadable');
    throw usage(`${flag}: cannot read ${file}: ${why}`);
  }
}

/** Adds --yes to a destructive command. */
export function withYes(cmd: Command): Command {
  return cmd.option('-y, --yes', 'do not ask for confirmation (asked only when stdin is a terminal)');
}

/**
 * Destructive commands ask on a terminal: the operator types the name of what goes away.
 * Scripts (stdin not a terminal) and --yes proceed without asking, so existing scripts keep
 * working; the prompt goes to stderr, keeping stdout for the command's own output.
 */
export async function confirmOnTerminal(opts: { yes?: boolean }, what: string, name: string, affects = ''): Promise<void> {
  if (opts.yes || !process.stdin.isTTY) return;
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`This deletes ${what}. ${affects}Type ${name} to confirm (or give --yes): `);
    if (answer.trim() !== name) throw usage(`not confirmed: nothing deleted (type ${name} exactly, or pass --yes)`);
  } finally {
    rl.close();
  }
}

/** Server warnings (the change was made) as "sg: warning: ..." lines on stderr. */
export function warn(warnings: readonly string[] | undefined): void {
  for (const w of warnings ?? []) process.stderr.write(`sg: warning: ${w}\n`);
}
