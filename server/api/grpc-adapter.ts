/**
 * Mounts the protocol-independent handlers (call.ts) on grpc-js: the call's metadata and peer
 * become its CallContext, the writable stream its StreamOut, a StatusError its gRPC status.
 * The Resolve hot path (a handler's `fast`) reads the call's parts directly: no context object,
 * promise or closure more than the bare grpc-js handler.
 */
import type * as grpc from '@grpc/grpc-js';
import { peerHost } from '../security/auth-throttle.js';
import type { CallContext, Handler, ServerStreamHandler, Stoppable, StreamOut, UnaryHandler } from './call.js';
import type { StatusError } from './status.js';

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/** Drops a call's request metadata, the bearer token among it (see CallContext.forget). */
export function forgetMetadata(call: AnyCall): void {
  for (const key of Object.keys(call.metadata.getMap())) call.metadata.remove(key);
}

function authorizationOf(call: AnyCall): string | undefined {
  const header = call.metadata.get('authorization')[0];
  return typeof header === 'string' ? header : undefined;
}

class GrpcCall implements CallContext {
  constructor(private readonly call: AnyCall) {}
  get authorization(): string | undefined {
    return authorizationOf(this.call);
  }
  get peer(): string {
    return peerHost(this.call.getPeer());
  }
  forget(): void {
    forgetMetadata(this.call);
  }
}

class GrpcStreamOut implements StreamOut<unknown> {
  constructor(private readonly call: grpc.ServerWritableStream<unknown, unknown>) {}
  write(message: unknown, written?: () => void): boolean {
    // The callback runs once grpc-js has handed the frame to HTTP/2 (the hub's fan-out window);
    // passed as it is: the hub shares one per window, so no closure per write here either.
    return this.call.write(message, written);
  }
  onDrain(fn: () => void): void {
    this.call.once('drain', fn);
  }
  end(): void {
    this.call.end();
  }
  error(status: StatusError): void {
    this.call.emit('error', status);
  }
  onClose(sub: Stoppable): void {
    const stop = () => sub.stop();
    this.call.on('cancelled', stop);
    this.call.on('close', stop);
  }
}

function grpcStream(h: ServerStreamHandler<unknown, unknown>): grpc.handleServerStreamingCall<unknown, unknown> {
  return (call) => h.run(new GrpcCall(call), call.request, new GrpcStreamOut(call));
}

function grpcUnary(h: UnaryHandler<unknown, unknown>): grpc.handleUnaryCall<unknown, unknown> {
  const fast = h.fast;
  return (call, callback) => {
    if (fast) {
      const res = fast(authorizationOf(call), peerHost(call.getPeer()), call.request);
      if (res !== undefined) {
        callback(null, res);
        return;
      }
    }
    // A StatusError has the code and details grpc-js sends.
    h.run(new GrpcCall(call), call.request, (err, res) => (err ? callback(err as grpc.ServerErrorResponse) : callback(null, res)));
  };
}

export function toGrpcHandler(h: Handler): grpc.UntypedHandleCall {
  return h.kind === 'serverStream' ? grpcStream(h) : grpcUnary(h);
}

/** A service's handlers as grpc-js registers them. */
export function grpcImplementation(handlers: Record<string, Handler>): grpc.UntypedServiceImplementation {
  return Object.fromEntries(Object.entries(handlers).map(([name, h]) => [name, toGrpcHandler(h)]));
}

type NoIndex<T> = { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };

/**
 * The protocol-independent handlers of a ts-proto grpc-js service interface (the generated
 * `…ServiceServer`): the same method names, each a UnaryHandler or ServerStreamHandler of the
 * same request and response types.
 */
export type HandlersOf<S> = {
  [K in keyof NoIndex<S>]: S[K] extends grpc.handleServerStreamingCall<infer Q, infer R>
    ? ServerStreamHandler<Q, R>
    : S[K] extends grpc.handleUnaryCall<infer Q, infer R>
      ? UnaryHandler<Q, R>
      : never;
};
