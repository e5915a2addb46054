/**
 * The one wrapper every RPC handler goes through, whatever the protocol: request id,
 * authentication (with brute-force throttling per peer), the malformed-request refusal, error
 * mapping with bounded messages, audit of refusals, metrics, and a log line without any
 * payload. `unary` and `serverStream` build protocol-independent handlers; grpc-adapter.ts
 * mounts them on grpc-js, the web console's connect-mount.ts serves them to the browser.
 */
import { randomBytes } from 'node:crypto';
import { Code, codeName } from '../../client/status-codes.js';
import { DomainError, type ErrorCode } from '../domain/errors.js';
import type { Logger } from '../log.js';
import type { Authenticator } from '../security/authenticator.js';
import { ReviewUnavailable } from '../security/k8s/review-errors.js';
import type { AuthThrottle } from '../security/auth-throttle.js';
import type { Principal } from '../security/principal.js';
import { StatusError, toStatus } from './status.js';

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

/** What a call carries besides its request, whatever the protocol that brought it. */
export interface CallContext {
  /** The authorization header as sent ("Bearer sg_…"), undefined when absent or forgotten. */
  readonly authorization: string | undefined;
  /** The caller's address as the brute-force throttle counts it (see peerHost). */
  readonly peer: string;
  /**
   * Drops the call's request headers, the bearer token among them, once it is authenticated: a
   * Watch stream would otherwise keep them for its whole life (~300 bytes per stream, 1.5 MB
   * with 5,000 watchers).
   */
  forget(): void;
}

/** How a unary handler answers: a status, or null and the response. */
export type Done<Res> = (err: StatusError | null, res?: Res) => void;

export interface UnaryHandler<Req, Res> {
  readonly kind: 'unary';
  readonly method: string;
  run(call: CallContext, req: Req, done: Done<Res>): void;
  /**
   * The synchronous hot path (see unaryFast): an answer from memory in the same turn, or
   * undefined when run() must take the call. Takes the call's parts as they are, so an adapter
   * builds no context object for it.
   */
  readonly fast?: (authorization: string | undefined, peer: string, req: Req) => Res | undefined;
}

/** What a protocol gives a server stream to write to. */
export interface StreamOut<Res> {
  /** One message; false when the transport's buffer is full (then onDrain's function runs). `written` runs once the transport took it. */
  write(message: Res, written?: () => void): boolean;
  onDrain(fn: () => void): void;
  /** Ends the stream normally. */
  end(): void;
  /** Ends the stream with this status. */
  error(status: StatusError): void;
  /**
   * `sub.stop()` runs when the call ends from the caller's side (cancelled, disconnected) or is
   * closed. An object rather than a function: a Watch stream then holds no closure for it.
   */
  onClose(sub: Stoppable): void;
}

/** What StreamOut.onClose stops. */
export interface Stoppable {
  stop(): void;
}

export interface ServerStreamHandler<Req, Res> {
  readonly kind: 'serverStream';
  readonly method: string;
  run(call: CallContext, req: Req, out: StreamOut<Res>): void;
}

export type Handler = UnaryHandler<any, any> | ServerStreamHandler<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export async function authenticateCall(ctx: ApiContext, call: CallContext, method: string): Promise<Principal> {
  const peer = call.peer;
  const wait = ctx.throttle.lockedFor(peer);
  if (wait > 0) {
    ctx.unauthenticated?.(peer, method, 'refused: too many failed authentications from this address');
    throw new DomainError('RESOURCE_EXHAUSTED', `too many failed authentications from this address; retry in ${Math.ceil(wait / 1000)} s`);
  }
  const header = call.authorization;
  try {
    // A success does not clear the peer's failures: otherwise an attacker holding any valid
    // token (a low-privilege one will do) could interleave it with guesses and never be locked.
    return await ctx.auth.authenticate(header);
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

/** A unary handler: `fn` gets the authenticated principal and the request. */
export function unary<Req, Res>(ctx: ApiContext, method: string, fn: (p: Principal, req: Req) => Promise<Res>): UnaryHandler<Req, Res> {
  return {
    kind: 'unary',
    method,
    run(call, req, done) {
      const requestId = newRequestId();
      const started = process.hrtime.bigint();
      let principal: Principal | undefined;
      authenticateCall(ctx, call, method)
        .then((p) => {
          principal = p;
          requireWellFormed(req);
          return fn(p, req);
        })
        .then(
          (res) => {
            finish(ctx, method, requestId, started, Code.OK);
            done(null, res);
          },
          (err: unknown) => {
            const status = toStatus(err, requestId);
            if (principal && status.code === Code.PERMISSION_DENIED) ctx.denied?.(principal, method, req);
            finish(ctx, method, requestId, started, status.code, err);
            done(status);
          },
        );
    },
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
): UnaryHandler<Req, Res> {
  return {
    ...unary(ctx, method, slow),
    fast(authorization, peer, req) {
      const timed = ctx.observe !== undefined || ctx.log.isLevelEnabled('debug');
      const started = timed ? process.hrtime.bigint() : 0n;
      const p = authorization !== undefined ? ctx.auth.cached(authorization) : undefined;
      if (!p || isMalformed(req) || ctx.throttle.lockedFor(peer) > 0) return undefined;
      let res: Res | undefined;
      try {
        res = fast(p, req);
      } catch {
        return undefined; // the ordinary path raises it again, with its audit and log
      }
      if (res !== undefined && timed) finish(ctx, method, newRequestId(), started, Code.OK);
      return res;
    },
  };
}

function isMalformed(request: unknown): boolean {
  return request === MALFORMED_REQUEST || request === BAD_TEXT_REQUEST.utf8 || request === BAD_TEXT_REQUEST.nul;
}

/** What a subscribing server stream's handler does with its call (see serverStream). */
export interface StreamCall<Res> {
  /** Whether the call has ended: cancelled or closed by the client, or ended here. */
  readonly ended: boolean;
  /** One message; after the end nothing is sent (and `written` runs at once). */
  write(message: Res, written?: () => void): boolean;
  onDrain(fn: () => void): void;
  /** Ends the call normally: the subscription (at once, or as soon as it is made), then the stream. */
  end(): void;
  /** Fails the call: its status is logged (and audited when refused, see serverStream), the subscription ended, the status sent. */
  fail(err: unknown): void;
  /** Ends the subscription and sends this status, without a log line of its own (the stream guard's verdict on a running stream). */
  close(code: ErrorCode, message: string): void;
}

/** What ends a subscription: a function, or an object with close() (no closure per stream). */
export type Unsubscribe = (() => void) | { close(): void };
type Subscribe<Req, Res> = (p: Principal, req: Req, stream: StreamCall<Res>) => Promise<Unsubscribe>;

/** One subscribing call; a class, so 5,000 Watch streams share its methods instead of holding closures each. */
class Subscription<Req, Res> implements StreamCall<Res>, Stoppable {
  ended = false;
  principal: Principal | undefined;
  unsubscribe: Unsubscribe | undefined;
  readonly started = process.hrtime.bigint();
  /** Made when first needed (a failure, a debug log): most streams never need one. */
  private id: string | undefined;

  constructor(
    private readonly ctx: ApiContext,
    private readonly method: string,
    /** For the audit of a refusal; dropped once subscribed (a stream may live for hours). */
    private req: Req | undefined,
    private readonly out: StreamOut<Res>,
    private readonly auditRefused: boolean,
  ) {}

  get requestId(): string {
    return (this.id ??= newRequestId());
  }

  /** Ends the subscription (at once, or as soon as it is made); the stream is left as it is. */
  stop(): void {
    this.ended = true;
    const u = this.unsubscribe;
    if (typeof u === 'function') u();
    else u?.close();
  }

  write(message: Res, written?: () => void): boolean {
    if (this.ended) {
      written?.();
      return true;
    }
    return this.out.write(message, written);
  }

  onDrain(fn: () => void): void {
    this.out.onDrain(fn);
  }

  end(): void {
    this.stop();
    this.out.end();
  }

  fail(err: unknown): void {
    const status = toStatus(err, this.requestId);
    if (this.principal && this.auditRefused) {
      if (status.code === Code.PERMISSION_DENIED) this.ctx.denied?.(this.principal, this.method, this.req);
      if (status.code === Code.RESOURCE_EXHAUSTED) this.ctx.denied?.(this.principal, this.method, this.req, status.details);
    }
    finish(this.ctx, this.method, this.requestId, this.started, status.code, err);
    this.stop();
    this.out.error(status);
  }

  close(code: ErrorCode, message: string): void {
    this.stop();
    this.out.error(new StatusError(Code[code], message));
  }

  subscribed(unsub: Unsubscribe): void {
    this.unsubscribe = unsub;
    this.req = undefined;
    if (this.ended) this.stop(); // ended while subscribing
    else finish(this.ctx, this.method, () => this.requestId, this.started, Code.OK);
  }
}

/**
 * A server stream that subscribes (Watch, WatchProject): a request id, authentication and the
 * well-formed check, the call's credentials dropped, then `subscribe`, whose unsubscribe runs
 * once the call has ended, whichever comes first. With `auditRefused`, a refused call
 * (PERMISSION_DENIED, or RESOURCE_EXHAUSTED with its reason) is audited as unary calls are.
 */
export function serverStream<Req, Res>(
  ctx: ApiContext,
  method: string,
  subscribe: Subscribe<Req, Res>,
  opts: { auditRefused?: boolean } = {},
): ServerStreamHandler<Req, Res> {
  const auditRefused = Boolean(opts.auditRefused);
  return {
    kind: 'serverStream',
    method,
    run(call, req, out) {
      const s = new Subscription(ctx, method, req, out, auditRefused);
      out.onClose(s);
      authenticateCall(ctx, call, method)
        .then((p) => {
          s.principal = p;
          requireWellFormed(req);
          call.forget();
          return subscribe(p, req, s);
        })
        .then(
          (unsub) => s.subscribed(unsub),
          (e: unknown) => s.fail(e),
        );
    },
  };
}

/** `id` may be a function: the request id is then made only when a line is logged. */
export function finish(ctx: ApiContext, method: string, id: string | (() => string), started: bigint, code: number, err?: unknown): void {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const name = codeName(code);
  ctx.observe?.(method, name, seconds);
  if (code === Code.OK) {
    if (ctx.log.isLevelEnabled('debug')) ctx.log.debug({ method, requestId: typeof id === 'string' ? id : id(), code: name, ms: seconds * 1000 }, 'rpc');
    return;
  }
  const internal = !(err instanceof DomainError);
  // Domain messages hold names and keys only; other errors are logged by class and code.
  const detail = err instanceof DomainError ? err.message : err instanceof Error ? `${err.name}: ${(err as { code?: string }).code ?? ''}` : 'unknown';
  ctx.log[internal ? 'error' : 'info']({ method, requestId: typeof id === 'string' ? id : id(), code: name, ms: seconds * 1000, detail }, 'rpc failed');
}
