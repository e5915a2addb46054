/**
 * How `sg` and `sg-agent` fail: one exit-status table and one error class for both, documented
 * in docs/cli.md and docs/agent.md ("Exit statuses"). A CliError is printed as one line
 * ("sg: ..." or "sg-agent: ...") and ends the command with its exit status.
 *
 * Kept free of imports so that either command can load it on its start-up path.
 */
export const EXIT = {
  ok: 0,
  /**
   * The command failed. `sg`: the server refused or failed the request (any gRPC status not
   * listed below). `sg-agent`: no first resolution (refused by the server, or unreachable
   * without a usable cached copy), an output it cannot write, a value `build-args` cannot carry.
   */
  server: 1,
  /** Bad command line or configuration: unknown flag, missing or malformed argument, unreadable local file. */
  usage: 2,
  /** `sg`: the server could not be reached (connection refused, unreachable, timed out). */
  unreachable: 3,
  /**
   * `sg-agent write` (one-shot): the file was written without the variables its format cannot
   * carry (named on stderr). The same number as `unreachable`, which `sg-agent` never exits with.
   */
  incomplete: 3,
  /**
   * The server does not accept the token. `sg`: no token, or UNAUTHENTICATED. `sg-agent`: the
   * first call refused with UNAUTHENTICATED, or (`exec`, `write --watch`) the server stopped
   * accepting the token while running and did not accept it again within --auth-grace. 77 is EX_NOPERM of sysexits.h: `sg-agent exec` passes
   * the child's own status through, so this one must be a number programs rarely exit with.
   */
  auth: 77,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
