/**
 * The one wrapper every RPC handler goes through: request id, authentication (with
 * brute-force throttling per peer), error mapping, and a log line without any payload.
 */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { DomainError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import type { Authenticator } from '../security/authenticator.js';
import { ReviewUnavailable } from '../security/k8s/review-errors.js';
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
    // A Kubernetes token that could not be reviewed: audited, but not a guess (no throttle).
    if (e instanceof ReviewUnavailable) ctx.unauthenticated?.(peer, method, e.message);
    throw e;
  }
}

/**
 * Drops a long-lived call's request metadata once it is authenticated: a Watch stream would
 * otherwise keep its headers, the bearer token among them, for its whole life (~300 bytes
 * per stream, 1.5 MB with 5,000 watchers).
 */
export function forgetMetadata(call: AnyCall): void {
  for (const key of Object.keys(call.metadata.getMap())) call.metadata.remove(key);
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

/** What a subscribing server stream's handler does with its call (see serverStream). */
export interface StreamCall {
  /** Whether the call has ended: cancelled or closed by the client, or ended here. */
  readonly ended: boolean;
  /** Ends the subscription: at once, or as soon as it is made. */
  end(): void;
  /** Fails the call: its status is logged (and audited when refused, see serverStream), the subscription ended, the status sent. */
  fail(err: unknown): void;
}

/**
 * Wraps a server stream that subscribes (Watch, WatchProject): a request id, authentication
 * and the well-formed check, then `subscribe`, whose unsubscribe runs once the call has ended,
 * whichever comes first. With `auditRefused`, a refused call (PERMISSION_DENIED, or
 * RESOURCE_EXHAUSTED with its reason) is audited as unary calls are.
 */
export function serverStream<Req, Res>(
  ctx: ApiContext,
  method: string,
  subscribe: (p: Principal, call: grpc.ServerWritableStream<Req, Res>, stream: StreamCall) => Promise<() => void>,
  opts: { auditRefused?: boolean } = {},
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const requestId = newRequestId();
    const started = process.hrtime.bigint();
    let unsubscribe: (() => void) | undefined;
    let principal: Principal | undefined;
    let ended = false;
    const stream: StreamCall = {
      get ended() {
        return ended;
      },
      end: () => {
        ended = true;
        unsubscribe?.();
      },
      fail: (err) => {
        const status = toServiceError(err, requestId);
        if (principal && opts.auditRefused) {
          if (status.code === grpc.status.PERMISSION_DENIED) ctx.denied?.(principal, method, call.request);
          if (status.code === grpc.status.RESOURCE_EXHAUSTED) ctx.denied?.(principal, method, call.request, status.details);
        }
        finish(ctx, method, requestId, started, status.code!, err);
        stream.end();
        call.emit('error', status);
      },
    };
    call.on('cancelled', stream.end);
    call.on('close', stream.end);
    authenticateCall(ctx, call as AnyCall, method)
      .then((p) => {
        principal = p;
        requireWellFormed(call.request);
        forgetMetadata(call as AnyCall);
        return subscribe(p, call, stream);
      })
      .then(
        (unsub) => {
          unsubscribe = unsub;
          if (ended) unsub(); // ended while subscribing
          else finish(ctx, method, requestId, started, grpc.status.OK);
        },
        stream.fail,
      );
  };
}

/**
 * A unary handler with a synchronous hot path: when the caller's token was seen within the
 * token cache's lifetime and `fast` can answer from memory (it returns undefined when it
 * cannot), the call is answered in the same turn, with no promise, await or timer on the way.
 * Everything else — and every failure of `fast` — takes the ordinary `unary` path, so the
 * checks, errors, audit and logs are the same.
 */
export function unaryFast<Req, Res>(
  ctx: ApiContext,
  method: string,
  fast: (p: Principal, req: Req) => Res | undefined,
  slow: (p: Principal, req: Req) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  const ordinary = unary(ctx, method, slow);
  return (call, callback) => {
    const timed = ctx.observe !== undefined || ctx.log.isLevelEnabled('debug');
    const started = timed ? process.hrtime.bigint() : 0n;
    const header = call.metadata.get('authorization')[0];
    const p = typeof header === 'string' ? ctx.auth.cached(header) : undefined;
    if (p && !isMalformed(call.request) && ctx.throttle.lockedFor(peerHost(call.getPeer())) <= 0) {
      let res: Res | undefined;
      try {
        res = fast(p, call.request);
      } catch {
        res = undefined; // the ordinary path raises it again, with its audit and log
      }
      if (res !== undefined) {
        if (timed) finish(ctx, method, newRequestId(), started, grpc.status.OK);
        callback(null, res);
        return;
      }
    }
    ordinary(call, callback);
  };
}

function isMalformed(request: unknown): boolean {
  return request === MALFORMED_REQUEST || request === BAD_TEXT_REQUEST.utf8 || request === BAD_TEXT_REQUEST.nul;
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
