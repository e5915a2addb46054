/**
 * The one wrapper every RPC handler goes through: request id, authentication (with
 * brute-force throttling per peer), error mapping, and a log line without any payload.
 */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { DomainError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import type { Authenticator } from '../security/authenticator.js';
import { AuthThrottle, peerHost } from '../security/auth-throttle.js';
import type { Principal } from '../security/principal.js';
import { toServiceError } from './status.js';

export interface ApiContext {
  auth: Authenticator;
  throttle: AuthThrottle;
  log: Logger;
  /** Called when an authenticated caller is refused (audit of denied attempts). */
  denied?: (p: Principal, method: string, request: unknown, detail?: string) => void;
  /** Called when a presented token is refused (audit of failed authentications, by peer host). */
  unauthenticated?: (peer: string, method: string, reason: string) => void;
  /** Observes each finished call (metrics). */
  observe?: (method: string, code: string, seconds: number) => void;
  /** Counts failed authentications (metrics). */
  authFailed?: () => void;
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

export async function authenticateCall(ctx: ApiContext, call: AnyCall, method: string): Promise<Principal> {
  const peer = peerHost(call.getPeer());
  const wait = ctx.throttle.lockedFor(peer);
  if (wait > 0) {
    ctx.unauthenticated?.(peer, method, 'refused: too many failed authentications from this address');
    throw new DomainError('RESOURCE_EXHAUSTED', `too many failed authentications from this address; retry in ${Math.ceil(wait / 1000)} s`);
  }
  const header = call.metadata.get('authorization')[0];
  try {
    // A success does not clear the peer's failures: otherwise an attacker holding any valid
    // token (a low-privilege one will do) could interleave it with guesses and never be locked.
    return await ctx.auth.authenticate(typeof header === 'string' ? header : undefined);
  } catch (e) {
    // Only a presented-but-wrong token is a guess; a missing header is not brute force.
    if (e instanceof DomainError && e.code === 'UNAUTHENTICATED') {
      ctx.authFailed?.();
      if (header !== undefined) {
        ctx.throttle.failure(peer);
        ctx.unauthenticated?.(peer, method, e.message);
      }
    }
    throw e;
  }
}

// A random per-process prefix and a counter: unique in the logs of a fleet, and no
// cryptographic random draw per call on the Resolve hot path (the id is not a secret).
const REQUEST_ID_PREFIX = randomBytes(3).toString('hex');
let requestSeq = 0;
export const newRequestId = () => `${REQUEST_ID_PREFIX}${(requestSeq++ % 0x1000000).toString(16).padStart(6, '0')}`;

/** What a request that could not be decoded becomes (see tolerantDeserializers). */
export const MALFORMED_REQUEST = Object.freeze({ malformed: true });

/** What a request with invalid UTF-8 or a NUL in a string field becomes (see StrictReader). */
export const BAD_TEXT_REQUEST = Object.freeze({
  utf8: Object.freeze({ malformed: true, reason: 'utf8' }),
  nul: Object.freeze({ malformed: true, reason: 'nul' }),
});

/** Throws INVALID_ARGUMENT for an undecodable request. */
export function requireWellFormed(request: unknown): void {
  if (request === MALFORMED_REQUEST) throw new DomainError('INVALID_ARGUMENT', 'malformed request message: not valid protobuf for this method');
  if (request === BAD_TEXT_REQUEST.utf8) {
    throw new DomainError('INVALID_ARGUMENT', 'a text field of the request is not valid UTF-8 (binary data belongs in file content)');
  }
  if (request === BAD_TEXT_REQUEST.nul) {
    throw new DomainError('INVALID_ARGUMENT', 'a text field of the request contains a NUL character (binary data belongs in file content)');
  }
}

/** Wraps a unary handler: `fn` gets the authenticated principal and the request. */
export function unary<Req, Res>(
  ctx: ApiContext,
  method: string,
  fn: (p: Principal, req: Req) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const requestId = newRequestId();
    const started = process.hrtime.bigint();
    let principal: Principal | undefined;
    authenticateCall(ctx, call as AnyCall, method)
      .then((p) => {
        principal = p;
        requireWellFormed(call.request);
        return fn(p, call.request);
      })
      .then(
        (res) => {
          finish(ctx, method, requestId, started, grpc.status.OK);
          callback(null, res);
        },
        (err: unknown) => {
          const status = toServiceError(err, requestId);
          if (principal && status.code === grpc.status.PERMISSION_DENIED) ctx.denied?.(principal, method, call.request);
          finish(ctx, method, requestId, started, status.code!, err);
          callback(status);
        },
      );
  };
}

export function finish(ctx: ApiContext, method: string, requestId: string, started: bigint, code: grpc.status, err?: unknown): void {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  ctx.observe?.(method, grpc.status[code] ?? String(code), seconds);
  if (code === grpc.status.OK) {
    if (ctx.log.isLevelEnabled('debug')) ctx.log.debug({ method, requestId, code: grpc.status[code], ms: seconds * 1000 }, 'rpc');
    return;
  }
  const internal = !(err instanceof DomainError);
  // Domain messages hold names and keys only; other errors are logged by class and code.
  const detail = err instanceof DomainError ? err.message : err instanceof Error ? `${err.name}: ${(err as { code?: string }).code ?? ''}` : 'unknown';
  ctx.log[internal ? 'error' : 'info']({ method, requestId, code: grpc.status[code], ms: seconds * 1000, detail }, 'rpc failed');
}
