/**
 * The call objects grpc-js would hand a handler, built for a browser request: the request
 * message, metadata carrying the session's token as `authorization: Bearer …`, getPeer() =
 * the browser's address (so the brute-force throttle counts console attempts per address),
 * and for server streams write/drain/cancel/close/error events. The handlers cannot tell
 * them from grpc-js calls, which is the point: authentication, throttle, RBAC, validation,
 * audit and limits are the gRPC ones.
 */
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import * as grpc from '@grpc/grpc-js';

export interface Caller {
  token: string;
  /** The browser's IP address. */
  address: string;
}

function metadataFor(caller: Caller): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${caller.token}`);
  return md;
}

/** grpc-js's peer format ("ipv4:1.2.3.4:5" / "ipv6:[::1]:5"), which peerHost parses. */
const peerOf = (address: string) => (isIPv6(address) ? `ipv6:[${address}]:0` : `ipv4:${address}:0`);

/** Runs a unary handler; resolves with its answer or its status error. */
export function invokeUnary(
  handler: grpc.UntypedHandleCall,
  request: unknown,
  caller: Caller,
): Promise<{ ok: true; value: unknown } | { ok: false; code: number; message: string }> {
  return new Promise((resolve) => {
    const call = Object.assign(new EventEmitter(), {
      request,
      metadata: metadataFor(caller),
      cancelled: false,
      getPeer: () => peerOf(caller.address),
      getDeadline: () => Infinity,
      getPath: () => '',
      sendMetadata: () => undefined,
    });
    (handler as grpc.handleUnaryCall<unknown, unknown>)(call as unknown as grpc.ServerUnaryCall<unknown, unknown>, (err, value) => {
      if (err) {
        const e = err as Partial<grpc.StatusObject> & { message?: string };
        resolve({ ok: false, code: e.code ?? grpc.status.UNKNOWN, message: e.details ?? e.message ?? '' });
      } else resolve({ ok: true, value });
    });
  });
}

export interface StreamSink {
  /** One message; false when the consumer's buffer is full (then 'drain' follows). */
  message(value: unknown): boolean;
  /** The stream ended with an error status. */
  error(code: number, message: string): void;
  /** The handler ended the stream normally. */
  end(): void;
}

/** A server-streaming call; cancel() is what a browser disconnecting becomes. */
export class SyntheticStream extends EventEmitter {
  cancelled = false;
  private done = false;
  readonly metadata: grpc.Metadata;

  constructor(
    readonly request: unknown,
    private readonly caller: Caller,
    private readonly sink: StreamSink,
  ) {
    super();
    this.metadata = metadataFor(caller);
    // Handlers report a failed stream by emitting 'error' with a status, as on grpc-js.
    this.on('error', (status: Partial<grpc.StatusObject>) => {
      if (this.done) return;
      this.done = true;
      this.sink.error(status.code ?? grpc.status.UNKNOWN, status.details ?? '');
    });
  }

  getPeer(): string {
    return peerOf(this.caller.address);
  }
  getDeadline(): number {
    return Infinity;
  }
  getPath(): string {
    return '';
  }
  sendMetadata(): void {}

  write(value: unknown): boolean {
    if (this.done) return false;
    return this.sink.message(value);
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.sink.end();
    this.emit('finish');
  }

  /** As on a grpc-js stream: ends it, with an error status when one is given. */
  destroy(err?: Partial<grpc.StatusObject>): void {
    if (err) this.emit('error', err);
    else this.end();
  }

  /** Ends the stream from outside the handler (the session ended): error to the consumer, cancel to the handler. */
  abort(code: number, message: string): void {
    if (!this.done) {
      this.done = true;
      this.sink.error(code, message);
    }
    this.cancel();
  }

  /** The consumer went away. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.done = true;
    this.emit('cancelled');
    this.emit('close');
  }
}
