/**
 * One error type for the whole server, with a closed set of codes. The API layer maps each
 * code to a gRPC status in one place (server/api/status.ts). Messages name fields and keys,
 * never values.
 */
export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'ABORTED',
  'FAILED_PRECONDITION',
  'PERMISSION_DENIED',
  'UNAUTHENTICATED',
  'RESOURCE_EXHAUSTED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class DomainError extends Error {
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
  return JSON.stringify(text.length > ECHO_CHARS ? `${text.slice(0, ECHO_CHARS)}…` : text);
}

/** A list of inputs for a message: the first ECHO_ITEMS, each echoed, and how many more. */
export function echoList(items: readonly string[]): string {
  const shown = items.slice(0, ECHO_ITEMS).map(echo).join(', ');
  return items.length > ECHO_ITEMS ? `${shown} and ${items.length - ECHO_ITEMS} more` : shown;
}
