/**
 * The server ended the watch because it no longer accepts the token (revoked, expired, its
 * workload deleted, its role changed). The outputs stay as they are and are not updated; the
 * agent says so once, retries slowly, and gives up after --auth-grace (exit 77) unless
 * --wait-on-auth-error.
 */
import { CliError, EXIT } from '../../client/exit-codes.js';
import { codeName, type RpcError } from '../../client/errors.js';
import type { Identity } from '../../client/wire.js';
import type { AgentLog } from '../log.js';
import { describe, formatAge } from './wording.js';

/** Retries with a refused token: slow, so a dead token neither spins nor trips the server's throttle. */
const AUTH_RETRY_MS = [5_000, 10_000, 20_000, 30_000, 60_000];

export interface AuthGraceOptions {
  id: Identity;
  graceMs: number;
  /** Never give up (--wait-on-auth-error). */
  waitForever: boolean;
  log: Pick<AgentLog, 'debug'>;
  /** Another attempt with the (possibly reloaded) token. */
  retry(): void;
  /** The token stayed refused past the grace: a CliError with EXIT.auth. */
  giveUp(err: CliError): void;
}

export class AuthGrace {
  /** Set while the server refuses the token: since when, retries, the give-up timer. */
  private lost: { since: number; attempt: number; deadline?: NodeJS.Timeout; retry?: NodeJS.Timeout } | undefined;
  private closed = false;

  constructor(private readonly opts: AuthGraceOptions) {}

  get refusing(): boolean {
    return this.lost !== undefined;
  }

  /** The server refused the token (again): say so the first time, schedule the next attempt. */
  refused(e: RpcError): void {
    const { opts } = this;
    if (this.closed) return;
    if (!this.lost) {
      this.lost = { since: Date.now(), attempt: 0 };
      const then = opts.waitForever
        ? 'waiting until it is accepted again (--wait-on-auth-error)'
        : `exiting in ${formatAge(opts.graceMs)} unless it is accepted again (--auth-grace)`;
      process.stderr.write(
        `sg-agent: the server no longer accepts the token for ${describe(opts.id)}: ${e.details || 'refused'} (${codeName(e.code)}); outputs are no longer updated; ${then}\n`,
      );
      opts.log.debug('token refused mid-watch', { code: codeName(e.code) });
      if (!opts.waitForever) {
        this.lost.deadline = setTimeout(() => {
          opts.giveUp(
            new CliError(`giving up: the token for ${describe(opts.id)} was not accepted again within ${formatAge(opts.graceMs)} (${codeName(e.code)})`, EXIT.auth),
          );
        }, opts.graceMs);
      }
    }
    const lost = this.lost;
    const delay = AUTH_RETRY_MS[Math.min(lost.attempt, AUTH_RETRY_MS.length - 1)]!;
    lost.attempt++;
    // Jitter: agents whose token was revoked together do not come back together.
    lost.retry = setTimeout(
      () => {
        if (!this.closed) opts.retry();
      },
      Math.round(delay * (0.75 + Math.random() * 0.5)),
    );
  }

  /** The server answered again: the outputs follow it again. */
  restored(): void {
    if (!this.lost) return;
    clearTimeout(this.lost.deadline);
    this.lost = undefined;
    process.stderr.write(`sg-agent: the token is accepted again; outputs are updated again\n`);
  }

  close(): void {
    this.closed = true;
    if (this.lost) {
      clearTimeout(this.lost.deadline);
      clearTimeout(this.lost.retry);
    }
  }
}
