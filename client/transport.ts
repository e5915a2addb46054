/**
 * gRPC over node:http2 for the ResolverService calls (unary and server streaming).
 *
 * The agent's start-up budget rules out grpc-js (see wire.ts); gRPC's HTTP/2 mapping for
 * uncompressed unary and server-streaming calls is small: length-prefixed frames, status in
 * trailers (or in headers for a "trailers-only" reply), `grpc-timeout` for deadlines.
 * Keepalive: an HTTP/2 PING every `keepaliveMs` while calls are active; an unanswered ping
 * destroys the session so every call on it fails with UNAVAILABLE and the caller reconnects.
 */
import * as http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { Code, RpcError } from './errors.js';

import { resolveEndpoint, type Endpoint } from './endpoint.js';
export { DEFAULT_ADDR } from './endpoint.js';
const SERVICE = '/secretgroups.v1.ResolverService/';

/** Endpoint options (an `https://` or `http://` prefix on addr is accepted) plus transport tuning. */
export interface TransportOptions extends Endpoint {
  /** TLS server name to verify, when it differs from the host in `addr`. */
  serverName?: string;
  /** Interval between keepalive pings while calls are active; default 30 s. */
  keepaliveMs?: number;
  /** How long a ping may stay unanswered; default 10 s. */
  keepaliveTimeoutMs?: number;
  /** Largest message accepted from the server; default DEFAULT_MAX_RECEIVE_BYTES. */
  maxReceiveBytes?: number;
  /**
   * Asked on every call (so on every Watch (re)connect) for the bearer token to send, instead
   * of `token`: a token that lives in a file and rotates (a Kubernetes projected token).
   */
  tokenSource?: () => string | undefined;
}

/**
 * The largest reply the agent accepts: a resolution is bounded by the server (4 MiB of
 * variables plus secret files), so anything far larger is a broken or hostile peer.
 */
export const DEFAULT_MAX_RECEIVE_BYTES = 32 * 1024 * 1024;

export interface StreamHandlers {
  onMessage(message: Uint8Array): void;
  /** Called exactly once: null when the call ended with OK. */
  onEnd(error: RpcError | null): void;
}

export interface StreamCall {
  cancel(reason?: RpcError): void;
}

export function resolveTransportOptions(opts: TransportOptions = {}): TransportOptions & { addr: string } {
  return resolveEndpoint(opts);
}

function httpStatusToCode(status: number): number {
  switch (status) {
    case 400:
      return Code.INTERNAL;
    case 401:
      return Code.UNAUTHENTICATED;
    case 403:
      return Code.PERMISSION_DENIED;
    case 404:
      return Code.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Code.UNAVAILABLE;
    default:
      return Code.UNKNOWN;
  }
}

function decodeGrpcMessage(v: unknown): string {
  if (typeof v !== 'string') return '';
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

export class Http2Transport {
  readonly addr: string;
  private readonly authority: string;
  private readonly tls: boolean;
  private readonly opts: TransportOptions & { addr: string };
  private session: http2.ClientHttp2Session | undefined;
  private active = 0;
  private pingTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: TransportOptions = {}) {
    this.opts = resolveTransportOptions(opts);
    let addr = this.opts.addr;
    let scheme: string | undefined;
    const m = /^(https?):\/\/(.*)$/.exec(addr);
    if (m) {
      scheme = m[1];
      addr = m[2]!;
    }
    this.addr = addr;
    this.tls = scheme === 'https' || Boolean(this.opts.ca || this.opts.cert);
    this.authority = `${this.tls ? 'https' : 'http'}://${addr}`;
  }

  /** The bearer token calls carry (from the options or SG_TOKEN), if any. */
  get token(): string | undefined {
    return this.opts.tokenSource?.() ?? this.opts.token;
  }

  private getSession(): http2.ClientHttp2Session {
    if (this.closed) throw new RpcError(Code.CANCELLED, 'client closed');
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const o = this.opts;
    const session = this.tls
      ? http2.connect(this.authority, {
          ca: o.ca ? readFileSync(o.ca) : undefined,
          cert: o.cert ? readFileSync(o.cert) : undefined,
          key: o.key ? readFileSync(o.key) : undefined,
          servername: o.serverName,
        })
      : http2.connect(this.authority);
    // A failed session fails its streams; without a listener the error would crash the process.
    session.on('error', () => undefined);
    session.on('goaway', () => {
      if (this.session === session) this.session = undefined;
    });
    session.on('close', () => {
      if (this.session === session) this.session = undefined;
    });
    this.session = session;
    this.updateRef();
    return session;
  }

  private updateRef(): void {
    const s = this.session;
    if (!s || s.destroyed) return;
    // Idle sessions must not keep a library user's process alive.
    if (this.active > 0) s.ref();
    else s.unref();
    if (this.active > 0 && !this.pingTimer) {
      const every = this.opts.keepaliveMs ?? 30_000;
      this.pingTimer = setInterval(() => this.keepalive(), every);
      this.pingTimer.unref();
    } else if (this.active === 0 && this.pingTimer) {
      clearInterval(this.pingTimer);
      this.pingTimer = undefined;
    }
  }

  private keepalive(): void {
    const s = this.session;
    if (!s || s.destroyed || s.connecting) return;
    const timeout = setTimeout(() => s.destroy(new Error('keepalive ping timed out')), this.opts.keepaliveTimeoutMs ?? 10_000);
    timeout.unref();
    try {
      s.ping((err) => {
        clearTimeout(timeout);
        if (err) s.destroy(err);
      });
    } catch {
      clearTimeout(timeout);
    }
  }

  /**
   * A server-streaming (or unary) call; `deadlineMs` sets grpc-timeout and a local timer.
   * `method`: a ResolverService method name, or a full path "/package.Service/Method".
   */
  stream(method: string, body: Uint8Array, handlers: StreamHandlers, deadlineMs?: number): StreamCall {
    let ended = false;
    let req: http2.ClientHttp2Stream | undefined;
    let deadline: NodeJS.Timeout | undefined;
    // The server ended the call (trailers or a trailers-only reply): the stream closes by
    // itself. Resetting it anyway (RST_STREAM CANCEL after every call) trips HTTP/2 rapid-reset
    // protection, which then closes the whole connection.
    let serverEnded = false;
    const finish = (err: RpcError | null) => {
      if (ended) return;
      ended = true;
      if (deadline) clearTimeout(deadline);
      this.active--;
      this.updateRef();
      if (req && !req.closed && !serverEnded) req.close(http2.constants.NGHTTP2_CANCEL);
      handlers.onEnd(err);
    };
    this.active++;
    let session: http2.ClientHttp2Session;
    try {
      session = this.getSession();
    } catch (e) {
      queueMicrotask(() => finish(e instanceof RpcError ? e : new RpcError(Code.UNAVAILABLE, String(e))));
      return { cancel: () => undefined };
    }
    this.updateRef();
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      // A method name is a ResolverService method; a full path ("/pkg.Service/Method") is any.
      ':path': method.startsWith('/') ? method : SERVICE + method,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'sg-agent-client/1',
    };
    const token = this.opts.tokenSource?.() ?? this.opts.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (deadlineMs !== undefined) {
      headers['grpc-timeout'] = `${Math.max(1, Math.ceil(deadlineMs))}m`;
      deadline = setTimeout(() => finish(new RpcError(Code.DEADLINE_EXCEEDED, `no reply within ${deadlineMs} ms`)), deadlineMs);
    }
    try {
      req = session.request(headers, { endStream: false });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      queueMicrotask(() => finish(new RpcError(Code.UNAVAILABLE, msg)));
      return { cancel: () => undefined };
    }
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt8(0, 0);
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    req.end(frame);

    const maxReceive = this.opts.maxReceiveBytes ?? DEFAULT_MAX_RECEIVE_BYTES;
    const frames = new FrameReader();
    let httpStatus = 0;
    req.on('response', (h) => {
      httpStatus = Number(h[':status'] ?? 0);
      if (h['grpc-status'] !== undefined) {
        // Trailers-only reply: the status arrives with the headers.
        serverEnded = true;
        const code = Number(h['grpc-status']);
        finish(code === Code.OK ? null : new RpcError(code, decodeGrpcMessage(h['grpc-message'])));
      } else if (httpStatus !== 200) {
        finish(new RpcError(httpStatusToCode(httpStatus), `HTTP status ${httpStatus}`));
      }
    });
    req.on('data', (chunk: Buffer) => {
      if (ended) return;
      frames.push(chunk);
      for (;;) {
        const header = frames.peekHeader();
        if (!header) break;
        if (header.length > maxReceive) {
          finish(new RpcError(Code.RESOURCE_EXHAUSTED, `the server sent a message of ${header.length} bytes, more than the ${maxReceive} this client accepts`));
          return;
        }
        const msg = frames.take(header.length);
        if (!msg) break;
        if (header.compressed) {
          finish(new RpcError(Code.INTERNAL, 'compressed message received but none was negotiated'));
          return;
        }
        try {
          handlers.onMessage(msg);
        } catch (e) {
          finish(new RpcError(Code.INTERNAL, `malformed message: ${e instanceof Error ? e.message : String(e)}`));
          return;
        }
        if (ended) return;
      }
    });
    req.on('trailers', (t) => {
      serverEnded = true;
      const code = Number(t['grpc-status'] ?? Code.UNKNOWN);
      finish(code === Code.OK ? null : new RpcError(code, decodeGrpcMessage(t['grpc-message'])));
    });
    req.on('error', (e: Error) => finish(new RpcError(Code.UNAVAILABLE, e.message)));
    req.on('close', () => finish(new RpcError(Code.UNAVAILABLE, 'connection closed before the call completed')));
    return { cancel: (reason) => finish(reason ?? new RpcError(Code.CANCELLED, 'cancelled by the client')) };
  }

  /** A unary call: exactly one reply message or an RpcError. */
  unary(method: string, body: Uint8Array, deadlineMs: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      let reply: Uint8Array | undefined;
      this.stream(
        method,
        body,
        {
          onMessage: (m) => {
            reply = Buffer.from(m);
          },
          onEnd: (err) => {
            if (err) reject(err);
            else if (!reply) reject(new RpcError(Code.INTERNAL, 'no reply message'));
            else resolve(reply);
          },
        },
        deadlineMs,
      );
    });
  }

  close(): void {
    this.closed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.session?.close();
    this.session = undefined;
  }
}

/**
 * Reassembles length-prefixed gRPC frames from HTTP/2 data chunks. Chunks are kept in a list
 * and copied once, when a whole message is there: appending each chunk to one growing buffer
 * copies a large message over and over (quadratic in its size).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The next frame's header, once its 5 bytes have arrived. */
  peekHeader(): { compressed: boolean; length: number } | undefined {
    if (this.size < 5) return undefined;
    const head = this.bytes(5, false);
    return { compressed: head[0] !== 0, length: head.readUInt32BE(1) };
  }

  /** The next frame's message (header consumed), once all of it has arrived. */
  take(length: number): Buffer | undefined {
    if (this.size < 5 + length) return undefined;
    this.bytes(5, true);
    return this.bytes(length, true);
  }

  /** The first n buffered bytes, consumed or not; copies only when they span chunks. */
  private bytes(n: number, consume: boolean): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (n === 0) out = Buffer.alloc(0);
    else if (first && first.length >= n) out = first.subarray(0, n);
    else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      for (const c of this.chunks) {
        const part = Math.min(c.length, n - off);
        c.copy(out, off, 0, part);
        off += part;
        if (off === n) break;
      }
    }
    if (consume) {
      let left = n;
      while (left > 0) {
        const c = this.chunks[0]!;
        if (c.length <= left) {
          this.chunks.shift();
          left -= c.length;
        } else {
          this.chunks[0] = c.subarray(left);
          left = 0;
        }
      }
      this.size -= n;
    }
    return out;
  }
}
