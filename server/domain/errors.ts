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
