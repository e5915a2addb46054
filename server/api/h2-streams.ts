/**
 * The server-streaming RPCs of our services (Watch, WatchProject) and the unary ones with a hot
 * path (Resolve) served on node:http2 directly, under grpc-js's own listener: the same
 * protocol-independent handlers (call.ts), the same request decoding and response encoding
 * (SERVICE_DEFINITIONS), the gRPC wire format without grpc-js's per-call machinery.
 *
 * Why: a Watch stream lives for hours and thousands are open at once. Through grpc-js each one
 * held ~11 kB (its call, interceptor chain, two Writable streams, metadata, decoder) against
 * ~7 kB for the HTTP/2 stream alone, and each message went through two Writables and a copy
 * before reaching HTTP/2 (docs/performance.md, "Watch streams on node:http2"). Resolve is the
 * call every agent, build and service makes: through grpc-js that machinery cost more server
 * CPU per call than answering it from memory (docs/performance.md, "Resolve on node:http2").
 *
 * The hook is grpc-js's Server._streamHandler (1.14; not public API), replaced on our server
 * instance only, before it binds: a request for one of these methods in the plain form — gRPC
 * content type, identity encoding, no deadline, no interceptors, channelz off — is taken here;
 * everything else (other methods, compressed requests, deadlines, unsupported content types)
 * goes to grpc-js as before. Without the hook (another grpc-js), every call goes to grpc-js.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Http2Session, Http2Stream, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { Code } from '../../client/status-codes.js';
import { peerHost } from '../security/auth-throttle.js';
import type { CallContext, ServerStreamHandler, Stoppable, StreamOut, UnaryHandler } from './call.js';
import { FramedBytes, frameOf, PREFIX } from './framed-bytes.js';
import { adoptSessionStreams } from './session-streams.js';
import { StatusError } from './status.js';

/**
 * One method served here: its handler and the service definition's (de)serializers. A unary
 * method is served here only with a hot path (UnaryHandler.fast: Resolve), the rest by grpc-js.
 */
export interface StreamRoute {
  handler: ServerStreamHandler<unknown, unknown> | UnaryHandler<unknown, unknown>;
  decode(bytes: Buffer): unknown;
  encode(value: unknown): Buffer;
}

export interface StreamLimits {
  /** The largest request message accepted: read before authentication (server.ts: STREAM_REQUEST_BYTES). */
  maxRequestBytes: number;
  /** The largest response message sent (as grpc.max_send_message_length). */
  maxResponseBytes: number;
}

type StreamHandlerFn = (this: ServerInternals, extraInterceptors: unknown[], stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;
interface ServerInternals {
  _streamHandler?: StreamHandlerFn;
  onStreamOpened?: (stream: Http2Stream) => void;
  interceptors?: unknown[];
  channelzEnabled?: boolean;
}

const noop = () => undefined;

/** The response headers grpc-js sends (server-interceptors.js), so clients see no difference. */
const RESPONSE_HEADERS = {
  ':status': 200,
  'content-type': 'application/grpc+proto',
  'grpc-accept-encoding': 'identity,deflate,gzip',
  'grpc-encoding': 'identity',
};

/**
 * Node keeps its own copy of a stream's response headers (`stream.sentHeaders`: a dictionary-
 * mode object of ~0.5 kB, with the date) for as long as the stream lives, and only that getter
 * reads it (Node 20). For thousands of Watch streams open for hours that is ~2.5 MB per 5,000,
 * so once sent it is replaced by one shared, frozen copy of these headers.
 */
const SENT_HEADERS: Readonly<Record<string, string | number>> = Object.freeze({ ...RESPONSE_HEADERS });
/** Node's private key of that copy, found on the first stream that responded (null: not found, left alone). */
let sentHeadersKey: symbol | null | undefined;

export function shareSentHeaders(stream: Http2Stream): void {
  sentHeadersKey ??= Object.getOwnPropertySymbols(stream).find((k) => k.description === 'sent-headers') ?? null;
  if (sentHeadersKey) (stream as unknown as Record<symbol, unknown>)[sentHeadersKey] = SENT_HEADERS;
}

/** Whether the request is in the form served here; anything else is left to grpc-js. */
function plain(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  const encoding = headers['grpc-encoding'];
  return (
    typeof type === 'string' &&
    type.startsWith('application/grpc') &&
    (encoding === undefined || encoding === 'identity') &&
    headers['grpc-timeout'] === undefined
  );
}

/**
 * Serves `routes` (by gRPC path) on `server`'s HTTP/2 streams. Call before the server binds
 * (grpc-js takes its stream listener when it binds). Returns whether the hook is in place.
 */
export function serveStreamsOnHttp2(server: grpc.Server, routes: ReadonlyMap<string, StreamRoute>, limits: StreamLimits): boolean {
  const s = server as unknown as ServerInternals;
  const original = s._streamHandler;
  // With channelz on, grpc-js listens with its _channelzHandler (per-call trackers): left as it is.
  if (typeof original !== 'function' || typeof s.onStreamOpened !== 'function' || s.channelzEnabled !== false) return false;
  s._streamHandler = function (extraInterceptors, stream, headers) {
    // Every stream of the session, ours or grpc-js's, is listed in Node's table: see session-streams.ts.
    adoptSessionStreams(stream.session);
    const route = routes.get(headers[':path'] as string);
    if (!route || !plain(headers) || extraInterceptors.length > 0 || (this.interceptors?.length ?? 0) > 0) {
      original.call(this, extraInterceptors, stream, headers);
      return;
    }
    // As grpc-js does: an error is followed by 'close', which ends the call.
    stream.on('error', noop);
    // The connection is not idle while this call is open (grpc.max_connection_idle_ms).
    this.onStreamOpened!(stream);
    const auth = headers.authorization;
    new H2StreamCall(stream, route, limits, typeof auth === 'string' ? auth : undefined).start();
  };
  return true;
}

/** grpc-js's form of a status message in a trailer. */
const statusMessage = (details: string) => encodeURI(details);

/** The call of a stream, for the listeners below (shared by every stream: no closures per call). */
const CALL = Symbol('secret-groups.h2-call');
/** A connection's peer as the throttle counts it: worked out once per connection, not per call. */
const PEER = Symbol('secret-groups.h2-peer');
type PeerSession = Http2Session & { [PEER]?: string };
type CallStream = ServerHttp2Stream & { [CALL]?: H2StreamCall };

function onData(this: CallStream, chunk: Buffer): void {
  this[CALL]?.data(chunk);
}

function onEnd(this: CallStream): void {
  this[CALL]?.ended();
}

function onClose(this: CallStream): void {
  this[CALL]?.closed();
}

/** One server-streaming call on its HTTP/2 stream: the handler's CallContext and StreamOut. */
class H2StreamCall implements CallContext, StreamOut<unknown> {
  private headersSent = false;
  private finished = false;
  private received = false;
  /** Chunks that came before the request's prefix was complete (a few bytes). */
  private head: Buffer[] | undefined;
  private headBytes = 0;
  /**
   * The request, prefix included, allocated once its length is known and filled chunk by chunk:
   * a request may come in DATA frames of a byte each, before authentication, and neither
   * joining on every chunk (quadratic copying) nor holding every chunk (an object per byte)
   * is bounded by the request's size.
   */
  private message: Buffer | undefined;
  private filled = 0;
  /** What onClose stops when the stream closes. */
  private closing: Stoppable | undefined;

  constructor(
    private readonly stream: CallStream,
    private readonly route: StreamRoute,
    private readonly limits: StreamLimits,
    private auth: string | undefined,
  ) {}

  get authorization(): string | undefined {
    return this.auth;
  }

  get peer(): string {
    const session = this.stream.session as PeerSession | undefined;
    if (session?.[PEER] !== undefined) return session[PEER];
    const socket = session?.socket;
    const address = socket?.remoteAddress ?? 'unknown';
    const peer = peerHost(socket?.remotePort ? `${address}:${socket.remotePort}` : address);
    if (session && socket?.remoteAddress) session[PEER] = peer;
    return peer;
  }

  forget(): void {
    this.auth = undefined;
  }

  start(): void {
    this.stream[CALL] = this;
    this.stream.on('data', onData);
    this.stream.on('end', onEnd); // emitted once: no wrapper as `once` would add
  }

  /** Collects the request message; a second one is refused as grpc-js refuses it. */
  data(chunk: Buffer): void {
    if (this.finished || chunk.length === 0) return;
    if (this.received) return this.secondMessage();
    if (!this.message) {
      // Made only when the prefix comes in pieces, and let go of once it is whole.
      if (this.headBytes > 0 || chunk.length < PREFIX) {
        (this.head ??= []).push(chunk);
        this.headBytes += chunk.length;
        if (this.headBytes < PREFIX) return;
        chunk = Buffer.concat(this.head, this.headBytes);
        this.head = undefined;
      }
      const length = chunk.readUInt32BE(1);
      if (chunk[0] !== 0) return this.finish(Code.INTERNAL, 'Compressed message without a grpc-encoding');
      if (length > this.limits.maxRequestBytes) {
        return this.finish(Code.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${this.limits.maxRequestBytes})`);
      }
      this.message = Buffer.allocUnsafe(PREFIX + length);
    }
    const message = this.message;
    if (this.filled + chunk.length > message.length) return this.secondMessage();
    chunk.copy(message, this.filled);
    this.filled += chunk.length;
    if (this.filled < message.length) return;
    // The request is decoded (strings copied) and not kept.
    this.received = true;
    this.message = undefined;
    const handler = this.route.handler;
    // Only a call without its message heeds the end of the request: a listener less on each
    // long-lived stream (a unary call ends at once, and keeps it).
    if (handler.kind !== 'unary') this.stream.off('end', onEnd);
    const request = this.route.decode(message.subarray(PREFIX));
    // A unary call is answered as soon as its one message is in, not held until the client
    // half-closes (as grpc-js holds it): nothing unauthenticated waits here. A client's second
    // message then meets a finished call, and is read and dropped.
    if (handler.kind === 'unary') this.answer(handler, request);
    else handler.run(this, request, this);
  }

  private secondMessage(): void {
    this.finish(Code.UNIMPLEMENTED, `Received a second request message for server streaming method ${this.route.handler.method}`);
  }

  ended(): void {
    if (!this.received && !this.finished) this.finish(Code.UNIMPLEMENTED, `No message received for server streaming method ${this.route.handler.method}`);
  }

  /** A unary call: the hot path's answer in this turn (written at its end), else the ordinary path's. */
  private answer(handler: UnaryHandler<unknown, unknown>, request: unknown): void {
    const res = handler.fast?.(this.auth, this.peer, request);
    if (res !== undefined) return H2StreamCall.replyAtEndOfTurn(this, res);
    handler.run(this, request, (err, r) => (err ? this.error(err) : this.reply(r)));
  }

  /**
   * Hot-path answers are written together once the turn's socket reads are done. Node sends a
   * session's pending frames at the end of each read it processes, so an answer written inside
   * the read that brought its request took a socket write of its own (1.15 writes per Resolve
   * call in the bench, against 0.35 for grpc-js, which answers a few steps later); answers
   * written together share them. The answer itself is already worked out: only its write waits.
   */
  private static readonly queued: { call: H2StreamCall; message: unknown }[] = [];

  private static replyAtEndOfTurn(call: H2StreamCall, message: unknown): void {
    const queued = H2StreamCall.queued;
    if (queued.push({ call, message }) === 1) setImmediate(H2StreamCall.flush);
  }

  private static flush(this: void): void {
    for (const { call, message } of H2StreamCall.queued.splice(0)) call.reply(message);
  }

  /** The one response message of a unary call, then its OK status (as grpc-js words it). */
  private reply(message: unknown): void {
    const stream = this.stream;
    if (this.finished || stream.destroyed || stream.closed) return;
    const frame = this.frame(message);
    if (!frame) return;
    // Not sendHeaders(): sharing Node's copy of the headers pays only on long-lived streams.
    this.headersSent = true;
    stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    stream.write(frame);
    this.finish(Code.OK, 'OK');
  }

  write(message: unknown, written?: () => void): boolean {
    const stream = this.stream;
    if (this.finished || stream.destroyed || stream.closed) {
      written?.();
      return true;
    }
    const frame = this.frame(message);
    if (!frame) {
      written?.();
      return true;
    }
    this.sendHeaders();
    // `written` takes no argument; an error also closes the stream, and 'close' ends the call.
    return stream.write(frame, written);
  }

  /**
   * The message as one gRPC frame (a kept frame as it is). When it cannot be encoded or is over
   * the response limit, the call ends (INTERNAL, RESOURCE_EXHAUSTED) and there is none.
   */
  private frame(message: unknown): Buffer | undefined {
    let frame: Buffer;
    try {
      frame = message instanceof FramedBytes ? message.frame : frameOf(this.route.encode(message));
    } catch {
      // grpc-js's words, without the encoder's message (it could quote a value).
      this.finish(Code.INTERNAL, 'Error serializing response');
      return undefined;
    }
    if (frame.length - PREFIX <= this.limits.maxResponseBytes) return frame;
    this.finish(Code.RESOURCE_EXHAUSTED, `Sent message larger than max (${frame.length} vs. ${this.limits.maxResponseBytes})`);
    return undefined;
  }

  onDrain(fn: () => void): void {
    this.stream.once('drain', fn);
  }

  end(): void {
    // grpc-js ends a server stream with this status message too.
    this.finish(Code.OK, 'OK');
  }

  error(status: StatusError): void {
    this.finish(status.code, status.details);
  }

  /** One per call. 'close' is emitted once: `on` saves the wrapper `once` would add per stream. */
  onClose(sub: Stoppable): void {
    if (this.closing) throw new Error('onClose is called once per call');
    this.closing = sub;
    this.stream.on('close', onClose);
  }

  closed(): void {
    this.closing?.stop();
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    shareSentHeaders(this.stream);
  }

  /** The call's status: in trailers after the messages, or alone (a trailers-only response). */
  private finish(code: number, details: string): void {
    if (this.finished) return;
    this.finished = true;
    const stream = this.stream;
    stream.off('data', onData);
    stream.resume(); // the rest of the request, if any, is read and dropped
    if (stream.destroyed || stream.closed) return;
    const trailers = { 'grpc-status': String(code), 'grpc-message': statusMessage(details) };
    if (this.headersSent) {
      stream.once('wantTrailers', () => stream.sendTrailers(trailers));
      stream.end();
    } else {
      this.headersSent = true;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto', ...trailers }, { endStream: true });
    }
  }
}
