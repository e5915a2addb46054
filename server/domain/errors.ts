/**
 * One error type for the whole server, with a closed set of codes: those the project's one
 * status table (client/status-codes.ts) marks as a domain code. Messages name fields and keys,
 * never values.
 */
import type { ErrorCode } from '../../client/status-codes.js';

export { ERROR_CODES, type ErrorCode } from '../../client/status-codes.js';

/** Marks a DomainError, whichever copy of this module made it (see Symbol.hasInstance below). */
const DOMAIN_ERROR = Symbol.for('secret-groups.DomainError');

export class DomainError extends Error {
  /**
   * `instanceof DomainError` by mark rather than by prototype: the `sg` bundle
   * (scripts/bundle-bins.mjs) carries its own copy of this module, while `sg serve`, `sg migrate`
   * and `sg admin` throw from the server's. Subclasses keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== DomainError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && DOMAIN_ERROR in value;
  }

  readonly [DOMAIN_ERROR] = true;

  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (message: string) => new DomainError('INVALID_ARGUMENT', message);
export const notFound = (what: string) => new DomainError('NOT_FOUND', `${what} not found`);
export const alreadyExists = (what: string) => new DomainError('ALREADY_EXISTS', `${what} already exists`);
export const stale = (what: string, expected: number, current: number) =>
  new DomainError(
    'ABORTED',
    `${what} is at revision ${current}, not the expected revision ${expected}; re-read it and retry`,
  );
export const denied = (message: string) => new DomainError('PERMISSION_DENIED', message);
export const tooLarge = (message: string) => new DomainError('RESOURCE_EXHAUSTED', message);
export const precondition = (message: string) => new DomainError('FAILED_PRECONDITION', message);

/** How many characters of a caller's input a message may repeat. */
export const ECHO_CHARS = 64;
/** How many items of a caller's list a message may repeat. */
export const ECHO_ITEMS = 5;

/**
 * The one way a message repeats a caller's input: at most ECHO_CHARS characters, quoted with
 * control characters escaped. Only for names, keys, tags and paths, never for a value.
 */
export function echo(text: string): string {
  return JSON.stringify(clip(text));
}

/** The cut echo() makes, unquoted: for keys, which are validated to hold no odd character. */
export function clip(text: string): string {
  return text.length > ECHO_CHARS ? `${text.slice(0, ECHO_CHARS)}…` : text;
}

/**
 * A list of inputs for a message: the first ECHO_ITEMS, each echoed (or only clipped, for
 * names and keys already validated), and how many more.
 */
export function echoList(items: readonly string[], quoted = true): string {
  const shown = items.slice(0, ECHO_ITEMS).map(quoted ? echo : clip).join(', ');
  return items.length > ECHO_ITEMS ? `${shown} and ${items.length - ECHO_ITEMS} more` : shown;
}
