/**
 * The one error model of the project: every status code a call can end with, and for each its
 * Connect protocol name and HTTP status (the web console speaks Connect), whether the server's
 * DomainError may carry it, and whether a later attempt may succeed (transient). The server,
 * the shared client, the CLI, the agent and the console's browser UI all read this table;
 * nothing else declares a code (test/unit/status-codes.test.ts checks that every code maps).
 *
 * It lives in client/ because client/ is the one room every other room may import (the server
 * already imports the client's transport), and it imports nothing: the browser bundle and the
 * `sg` start pay only for this file.
 */

/** gRPC status codes, by name (the numbers are the wire's, and the Connect library's). */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type CodeName = keyof typeof Code;

interface Reason {
  /** The Connect protocol's name of the code (its error JSON's "code"). */
  readonly connect: string;
  /** The HTTP status a Connect unary error answers with. */
  readonly http: number;
  /** A DomainError of the server may carry this code. */
  readonly domain: boolean;
  /** Worth retrying: the server is down, restarting, overloaded, or the attempt raced another. */
  readonly transient: boolean;
}

/** The reason table. */
export const STATUS = {
  OK: { connect: 'ok', http: 200, domain: false, transient: false },
  CANCELLED: { connect: 'canceled', http: 499, domain: false, transient: true },
  UNKNOWN: { connect: 'unknown', http: 500, domain: false, transient: true },
  INVALID_ARGUMENT: { connect: 'invalid_argument', http: 400, domain: true, transient: false },
  DEADLINE_EXCEEDED: { connect: 'deadline_exceeded', http: 504, domain: false, transient: true },
  NOT_FOUND: { connect: 'not_found', http: 404, domain: true, transient: false },
  ALREADY_EXISTS: { connect: 'already_exists', http: 409, domain: true, transient: false },
  PERMISSION_DENIED: { connect: 'permission_denied', http: 403, domain: true, transient: false },
  RESOURCE_EXHAUSTED: { connect: 'resource_exhausted', http: 429, domain: true, transient: true },
  FAILED_PRECONDITION: { connect: 'failed_precondition', http: 400, domain: true, transient: false },
  ABORTED: { connect: 'aborted', http: 409, domain: true, transient: true },
  OUT_OF_RANGE: { connect: 'out_of_range', http: 400, domain: false, transient: false },
  UNIMPLEMENTED: { connect: 'unimplemented', http: 501, domain: false, transient: false },
  INTERNAL: { connect: 'internal', http: 500, domain: true, transient: true },
  UNAVAILABLE: { connect: 'unavailable', http: 503, domain: true, transient: true },
  DATA_LOSS: { connect: 'data_loss', http: 500, domain: false, transient: false },
  UNAUTHENTICATED: { connect: 'unauthenticated', http: 401, domain: true, transient: false },
} as const satisfies { readonly [K in CodeName]: Reason };

/** The codes a DomainError may carry. */
export type ErrorCode = { [K in CodeName]: (typeof STATUS)[K]['domain'] extends true ? K : never }[CodeName];
export const ERROR_CODES = (Object.keys(STATUS) as CodeName[]).filter((k): k is ErrorCode => STATUS[k].domain);

const NAMES = Object.keys(Code) as CodeName[];

/** The name of a numeric code; unknown numbers as CODE_<n>. */
export function codeName(code: number): CodeName | `CODE_${number}` {
  return NAMES[code] ?? `CODE_${code}`;
}

/** The reason row of a numeric code (UNKNOWN's for a number outside the table). */
export function reasonOf(code: number): Reason {
  return STATUS[NAMES[code] ?? 'UNKNOWN'];
}

/** The numeric code of a Connect name ("permission_denied"), UNKNOWN for any other string. */
export function codeOfConnectName(name: string): number {
  const i = NAMES.findIndex((n) => STATUS[n].connect === name);
  return i < 0 ? Code.UNKNOWN : i;
}

/**
 * The code an HTTP status stands for when an answer carries no Connect error body (a proxy's
 * page): the first code of the table with that status, UNKNOWN for any other.
 */
export function codeOfHttpStatus(status: number): number {
  const i = NAMES.findIndex((n) => n !== 'OK' && STATUS[n].http === status);
  return i < 0 ? Code.UNKNOWN : i;
}

export function isTransientCode(code: number): boolean {
  const name = NAMES[code];
  return name !== undefined && STATUS[name].transient;
}
