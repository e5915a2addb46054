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
