/** The one mapping from DomainError codes (and store failures) to gRPC status. */
import * as grpc from '@grpc/grpc-js';
import { DomainError, type ErrorCode } from '../domain/errors.js';

export const GRPC_CODES: Record<ErrorCode, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  ABORTED: grpc.status.ABORTED,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  INTERNAL: grpc.status.INTERNAL,
};

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
export function toServiceError(e: unknown, requestId: string): Partial<grpc.StatusObject> {
  if (e instanceof DomainError) return { code: GRPC_CODES[e.code], details: boundMessage(e.message) };
  if (isUnavailable(e)) return { code: grpc.status.UNAVAILABLE, details: `store unavailable; retry later (request ${requestId})` };
  return { code: grpc.status.INTERNAL, details: `internal error (request ${requestId})` };
}

export function boundMessage(message: string): string {
  return message.length > MAX_STATUS_MESSAGE ? `${message.slice(0, MAX_STATUS_MESSAGE - 1)}…` : message;
}
