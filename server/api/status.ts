/**
 * What a failed call answers, whatever the protocol: a DomainError's code (the codes and their
 * reasons are client/status-codes.ts, the project's one table), a store failure as UNAVAILABLE,
 * anything else as INTERNAL with a generic message.
 */
import { Code } from '../../client/status-codes.js';
import { DomainError } from '../domain/errors.js';

/**
 * A call's failure as sent: a status code and a message safe to show (never a value). Not an
 * Error (no stack is captured): grpc-js takes it as a call's status as it is, and the console's
 * mount turns it into the Connect library's error.
 */
export class StatusError {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {}
}

/** Errors from a store that did not answer (network, server selection, a locked database). */
export function isUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  return (
    /^Mongo(Network|ServerSelection|NotConnected|Topology|PoolCleared)|MongoNetworkTimeout/.test(e.name) ||
    (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY)/.test(code)) ||
    /ECONNREFUSED|ECONNRESET|connection .* closed/i.test(e.message)
  );
}

/**
 * The longest status message sent. Messages echo at most short pieces of input (echo() in
 * domain/errors.ts); this is the backstop: a status message travels in an HTTP/2 trailer, and
 * past 16 KiB of headers a C-core client (Python grpcio) reports RESOURCE_EXHAUSTED instead of
 * the real code.
 */
export const MAX_STATUS_MESSAGE = 1024;

/**
 * A status safe to send: DomainError messages are written to never hold values; any other
 * error is reduced to a generic message (the details go to the log, by request id).
 */
export function toStatus(e: unknown, requestId: string): StatusError {
  if (e instanceof StatusError) return e;
  if (e instanceof DomainError) return new StatusError(Code[e.code], boundMessage(e.message));
  if (isUnavailable(e)) return new StatusError(Code.UNAVAILABLE, `store unavailable; retry later (request ${requestId})`);
  return new StatusError(Code.INTERNAL, `internal error (request ${requestId})`);
}

export function boundMessage(message: string): string {
  return message.length > MAX_STATUS_MESSAGE ? `${message.slice(0, MAX_STATUS_MESSAGE - 1)}…` : message;
}
