/**
 * How `sg` fails: one line on stderr, nothing on stdout, and an exit status a script can act
 * on. Messages come from the gRPC status details (the server never puts values in them) or
 * from local parsing, which names arguments and keys but never echoes a value.
 */
import { Code as status, codeName } from '../client/status-codes.js';
import { DomainError } from '../server/domain/errors.js';
import { CliError, EXIT } from '../client/exit-codes.js';

/** A failed call as the CLI's transport reports it (RpcError; grpc-js's ServiceError fits too). */
export interface ServiceError extends Error {
  code: number;
  details: string;
}

/** Exit statuses and the error class, shared with `sg-agent`; documented in docs/cli.md and `sg --help`. */
export { CliError, EXIT } from '../client/exit-codes.js';

/** A failed RPC, tagged with the server address so that the error line can name it. */
export class CallFailed extends Error {
  constructor(
    readonly error: unknown,
    readonly addr: string,
  ) {
    super('call failed');
    this.name = 'CallFailed';
  }
}

export const usage = (message: string) => new CliError(message, EXIT.usage);

/** A `status` number to its name, e.g. 5 -> NOT_FOUND. */
export function statusName(code: number): string {
  const name = codeName(code);
  return name.startsWith('CODE_') ? `STATUS_${code}` : name;
}

export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number' && typeof (err as Partial<ServiceError>).details === 'string';
}

/** Flattens to one line so that a multi-line cause never spills into a second stderr line. */
export function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ').trim();
}

/**
 * Maps anything thrown by a command to the line printed after "sg: " and the exit status.
 * `addr` names the server in connection failures.
 */
export function describeError(err: unknown, addr?: string): { message: string; exitCode: number } {
  if (err instanceof CallFailed) return describeError(err.error, err.addr);
  if (err instanceof CliError) return { message: oneLine(err.message), exitCode: err.exitCode };
  // Local validation reused from the domain (priority, scope...): a usage error.
  if (err instanceof DomainError) return { message: oneLine(err.message), exitCode: EXIT.usage };
  if (isServiceError(err)) return describeServiceError(err, addr);
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      return { message: oneLine(err.message), exitCode: EXIT.usage };
    }
    return { message: oneLine(err.message), exitCode: EXIT.server };
  }
  return { message: oneLine(String(err)), exitCode: EXIT.server };
}

function describeServiceError(err: ServiceError, addr?: string): { message: string; exitCode: number } {
  const details = oneLine(err.details || err.message || '');
  const where = addr ?? 'the server';
  switch (err.code) {
    case status.UNAVAILABLE: {
      // Connection failures arrive as UNAVAILABLE with the socket error in details.
      const refused = /ECONNREFUSED|No connection established|ENOTFOUND|EHOSTUNREACH|ECONNRESET|getaddrinfo|Failed to connect/i.test(details);
      if (refused) {
        return {
          message: `cannot connect to the server at ${where} (${shortCause(details)}); is \`sg serve\` running there? Set SG_ADDR or --addr`,
          exitCode: EXIT.unreachable,
        };
      }
      return { message: `UNAVAILABLE: ${details}`, exitCode: EXIT.unreachable };
    }
    case status.DEADLINE_EXCEEDED:
      return { message: `DEADLINE_EXCEEDED: the server at ${where} did not answer in time`, exitCode: EXIT.unreachable };
    case status.UNAUTHENTICATED:
      return { message: `UNAUTHENTICATED: ${details} (check SG_TOKEN)`, exitCode: EXIT.auth };
    default:
      return { message: `${statusName(err.code)}: ${details}`, exitCode: EXIT.server };
  }
}

function shortCause(details: string): string {
  const m = /(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET)/.exec(details);
  if (m?.[1] === 'ECONNREFUSED') return 'connection refused';
  if (m?.[1] === 'ENOTFOUND') return 'host not found';
  if (m?.[1] === 'EHOSTUNREACH') return 'host unreachable';
  if (m?.[1] === 'ECONNRESET') return 'connection reset';
  return details;
}
