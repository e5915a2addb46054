/**
 * The browser mount of the API: the protocol-independent handlers (server/api/call.ts) served
 * by the Connect library (@connectrpc/connect, the Connect protocol with JSON) — no second API.
 * Between the library's message and the handler the request goes through bytes and the very
 * grpc-js method (de)serializers the gRPC server uses (tolerant, strict about text), and the
 * answer back through the method's serializer, so a handler sees exactly what a gRPC call gives
 * it and the browser gets what gRPC would send, held to the same size limit. Two differences,
 * both for the browser's sake: the caller is the console session's token and the browser's
 * address, and answers other than the keys_only reads carry records keys-only (redactRecords).
 */
import type * as http from 'node:http';
import { fromBinary, toBinary, toJson, type DescMethod, type DescService, type JsonValue, type Message } from '@bufbuild/protobuf';
import { ConnectError, createConnectRouter, createContextKey, createContextValues, type HandlerContext } from '@connectrpc/connect';
import type { UniversalHandler } from '@connectrpc/connect/protocol';
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from '@connectrpc/connect-node';
import type * as grpc from '@grpc/grpc-js';
import { Code } from '../../client/status-codes.js';
import type { CallContext, Handler, ServerStreamHandler, Stoppable, StreamOut, UnaryHandler } from '../api/call.js';
import { SERVICE_DEFINITIONS, type ServiceHandlers } from '../api/server.js';
import { StatusError } from '../api/status.js';
import { LIMITS } from '../domain/limits.js';
import { blankRecordsIn } from '../domain/secret-fields.js';
import { consoleServices } from './descriptors.js';

/** Who calls, as the console's HTTP side established it for one request. */
export interface ConsoleCaller {
  /** "Bearer <the session's token>". */
  authorization: string;
  /** The browser's address as the brute-force throttle counts it. */
  peer: string;
  /** A unary call's final code (the console ends the session on UNAUTHENTICATED). */
  settled(code: number): void;
  /** Runs `fn` when the session ends; returns its unregistration. */
  onSessionEnd(fn: () => void): () => void;
}
export const CALLER = createContextKey<ConsoleCaller | undefined>(undefined);

/**
 * The reads that take `keys_only`: the caller chooses, and a read of values is audited. Every
 * other RPC that answers a group, workload or addon (the mutations: CreateGroup, SetVariables,
 * UpdateWorkload, …) answers the browser with keys only: the page needs the new revision and
 * metadata, and values would otherwise reach it without an audited read.
 */
const VALUE_READS = new Set(['GetGroup', 'ListGroups', 'ListGroupHistory', 'GetWorkload', 'ListWorkloads', 'GetAddon', 'ListAddons']);

/** Blanks the values of a response's `group`, `workload` or `addon`, as keys-only views do (domain/secret-fields.ts). */
export function redactRecords(message: Record<string, unknown>): void {
  blankRecordsIn(message, (f) => f.size || f.content.byteLength);
}

/** An answer larger than the gRPC server would send (LIMITS.responseBytes): refused the same way. */
export function tooLarge(bytes: number): ConnectError {
  return new ConnectError(`the answer (${bytes} bytes) exceeds the ${LIMITS.responseBytes}-byte message limit; ask for less (a smaller page)`, Code.RESOURCE_EXHAUSTED);
}

type GrpcMethod = grpc.MethodDefinition<unknown, unknown>;

/** The browser's message for a handler's answer (a message, or bytes it encoded itself). */
export function answerOf(method: DescMethod, grpcMethod: GrpcMethod, value: unknown, keysOnly: boolean): Message {
  let bytes: Uint8Array = value instanceof Uint8Array ? value : grpcMethod.responseSerialize(value);
  if (bytes.byteLength > LIMITS.responseBytes) throw tooLarge(bytes.byteLength);
  if (keysOnly) {
    const message = grpcMethod.responseDeserialize(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as Record<string, unknown>;
    redactRecords(message);
    bytes = grpcMethod.responseSerialize(message);
  }
  return fromBinary(method.output, bytes);
}

const connectError = (s: StatusError) => new ConnectError(s.details, s.code);

class ConsoleCall implements CallContext {
  authorization: string | undefined;
  readonly peer: string;
  constructor(caller: ConsoleCaller) {
    this.authorization = caller.authorization;
    this.peer = caller.peer;
  }
  forget(): void {
    this.authorization = undefined;
  }
}

function callerOf(ctx: HandlerContext): ConsoleCaller {
  const caller = ctx.values.get(CALLER);
  if (!caller) throw new ConnectError('no console session', Code.UNAUTHENTICATED);
  return caller;
}

function requestOf(method: DescMethod, grpcMethod: GrpcMethod, input: Message): unknown {
  const bytes = toBinary(method.input, input);
  return grpcMethod.requestDeserialize(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

function unaryImpl(method: DescMethod, grpcMethod: GrpcMethod, h: UnaryHandler<unknown, unknown>, keysOnly: boolean) {
  return async (input: Message, ctx: HandlerContext): Promise<Message> => {
    const caller = callerOf(ctx);
    const request = requestOf(method, grpcMethod, input);
    const value = await new Promise<unknown>((resolve, reject) => h.run(new ConsoleCall(caller), request, (err, res) => (err ? reject(err) : resolve(res))))
      .catch((err: StatusError) => {
        caller.settled(err.code);
        throw connectError(err);
      });
    caller.settled(Code.OK);
    return answerOf(method, grpcMethod, value, keysOnly);
  };
}

/** Messages a stream may hold for a browser that reads slowly before write() answers false. */
const HIGH_WATER = 4;

/**
 * Streams whose last message is sent again after STREAM_KEEPALIVE_MS without one, so a proxy
 * does not cut an idle stream and a browser gone without closing is noticed by a failed write
 * (the Connect protocol has no keep-alive message of its own). WatchProject's message is the
 * project's version, which repeated means "no change"; Watch needs none: it sends heartbeats
 * (every 15 s unless the server is started otherwise).
 */
const REPEAT_WHEN_IDLE = new Set(['WatchProject']);
export const STREAM_KEEPALIVE_MS = 25_000;

/** A server stream's messages as the async iterable the Connect library writes out. */
class QueuedStream implements StreamOut<unknown> {
  private readonly items: { message: unknown; written?: () => void }[] = [];
  /** undefined while open; null once ended normally; the status once failed. */
  private outcome: StatusError | null | undefined;
  private wake: (() => void) | undefined;
  private full = false;
  private readonly drains: (() => void)[] = [];
  private readonly closes: Stoppable[] = [];
  private closed = false;
  private last: unknown;
  private wroteSinceTick = false;
  private keepAlive: NodeJS.Timeout | undefined;

  /** Sends the last message again after `ms` without one (see REPEAT_WHEN_IDLE). */
  repeatWhenIdle(ms: number): void {
    this.keepAlive = setInterval(() => {
      if (!this.wroteSinceTick && this.last !== undefined && this.outcome === undefined && this.items.length === 0) this.write(this.last);
      this.wroteSinceTick = false;
    }, ms);
    this.keepAlive.unref();
  }

  write(message: unknown, written?: () => void): boolean {
    this.last = message;
    this.wroteSinceTick = true;
    this.items.push({ message, written });
    this.wake?.();
    if (this.items.length < HIGH_WATER) return true;
    this.full = true;
    return false;
  }
  onDrain(fn: () => void): void {
    this.drains.push(fn);
  }
  end(): void {
    if (this.outcome === undefined) this.outcome = null;
    this.wake?.();
  }
  error(status: StatusError): void {
    if (this.outcome === undefined) this.outcome = status;
    this.wake?.();
  }
  onClose(sub: Stoppable): void {
    this.closes.push(sub);
  }
  /** The call is over on this side (done, failed, the browser gone): the handler's subscription ends. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    // Messages never to be sent: their writers (the hub's fan-out window) need not wait on them.
    for (const item of this.items.splice(0)) item.written?.();
    if (this.outcome === undefined) this.outcome = null;
    this.wake?.();
    for (const sub of this.closes.splice(0)) sub.stop();
  }

  async *messages(convert: (value: unknown) => Message): AsyncGenerator<Message> {
    try {
      for (;;) {
        const item = this.items.shift();
        if (item) {
          if (this.full && this.items.length < HIGH_WATER) {
            this.full = false;
            for (const fn of this.drains.splice(0)) fn();
          }
          yield convert(item.message);
          item.written?.();
          continue;
        }
        if (this.outcome === null) return;
        if (this.outcome) throw connectError(this.outcome);
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      this.close();
    }
  }
}

function streamImpl(method: DescMethod, grpcMethod: GrpcMethod, h: ServerStreamHandler<unknown, unknown>, keepAliveMs: number) {
  return (input: Message, ctx: HandlerContext): AsyncIterable<Message> => {
    const caller = callerOf(ctx);
    const request = requestOf(method, grpcMethod, input);
    const out = new QueuedStream();
    const unregister = caller.onSessionEnd(() => out.error(new StatusError(Code.UNAUTHENTICATED, 'the session ended: sign in again')));
    out.onClose({ stop: unregister });
    ctx.signal.addEventListener('abort', () => out.close(), { once: true });
    if (REPEAT_WHEN_IDLE.has(method.name)) out.repeatWhenIdle(keepAliveMs);
    h.run(new ConsoleCall(caller), request, out);
    return out.messages((value) => answerOf(method, grpcMethod, value, false));
  };
}

/**
 * The Connect handlers of every RPC of the four services, by request path
 * ("/secretgroups.v1.ProjectService/ListProjects"). Client streaming is not offered (no such
 * RPC exists).
 */
export function connectHandlers(
  handlers: ServiceHandlers,
  services: Record<keyof ServiceHandlers, DescService> = consoleServices(),
  keepAliveMs = STREAM_KEEPALIVE_MS,
): Map<string, UniversalHandler> {
  const router = createConnectRouter({
    connect: true,
    grpc: false,
    grpcWeb: false,
    // Unknown fields are skipped, as the gRPC decoder skips them.
    jsonOptions: { ignoreUnknownFields: true },
    readMaxBytes: LIMITS.requestBytes,
    acceptCompression: [],
  });
  for (const key of Object.keys(services) as (keyof ServiceHandlers)[]) {
    const impl = handlers[key] as Record<string, Handler>;
    const defs = SERVICE_DEFINITIONS[key] as unknown as Record<string, GrpcMethod>;
    for (const method of services[key].methods) {
      const h = impl[method.localName];
      const grpcMethod = defs[method.localName];
      if (!h || !grpcMethod) throw new Error(`no handler for ${method.parent.typeName}/${method.name}`);
      if (h.kind === 'unary' && method.methodKind === 'unary') {
        router.rpc(method, unaryImpl(method, grpcMethod, h, !VALUE_READS.has(method.name)) as never);
      } else if (h.kind === 'serverStream' && method.methodKind === 'server_streaming') {
        router.rpc(method, streamImpl(method, grpcMethod, h, keepAliveMs) as never);
      } else {
        throw new Error(`${method.parent.typeName}/${method.name}: the handler's kind does not match the method`);
      }
    }
  }
  return new Map(router.handlers.map((h) => [h.requestPath, h]));
}

/**
 * Runs a unary RPC whose request has no fields set (WhoAmI, ListRoles for the session
 * endpoints) as `caller`, outside the Connect library; rejects with the StatusError.
 */
export async function invokeEmpty(
  handlers: ServiceHandlers,
  services: Record<keyof ServiceHandlers, DescService>,
  service: keyof ServiceHandlers,
  localName: string,
  caller: ConsoleCaller,
): Promise<[DescMethod, Message]> {
  const method = services[service].methods.find((m) => m.localName === localName);
  const h = (handlers[service] as Record<string, Handler>)[localName];
  const grpcMethod = (SERVICE_DEFINITIONS[service] as unknown as Record<string, GrpcMethod>)[localName];
  if (!method || !grpcMethod || h?.kind !== 'unary') throw new Error(`no unary RPC ${service}.${localName}`);
  const request = grpcMethod.requestDeserialize(Buffer.alloc(0));
  const value = await new Promise<unknown>((resolve, reject) => h.run(new ConsoleCall(caller), request, (err, res) => (err ? reject(err) : resolve(res))));
  return [method, answerOf(method, grpcMethod, value, true)];
}

/** What the console's HTTP side uses of the mount (loaded at the first API request, see console-server.ts). */
export interface Mount {
  /** Whether `path` ("/secretgroups.v1.ProjectService/ListProjects") is an RPC. */
  has(path: string): boolean;
  /**
   * Serves one RPC through the Connect library as `caller`: `json` is a unary call's body
   * (already parsed, strictly), `body` a streaming call's enveloped bytes.
   */
  serve(req: http.IncomingMessage, res: http.ServerResponse, path: string, caller: ConsoleCaller, request: { json: JsonValue } | { body: Buffer }): Promise<void>;
  /** A unary RPC without request fields as `caller`, answered as proto3 JSON; rejects with the StatusError. */
  callJson(service: keyof ServiceHandlers, localName: string, caller: ConsoleCaller): Promise<JsonValue>;
}

export function createMount(handlers: ServiceHandlers, keepAliveMs = STREAM_KEEPALIVE_MS): Mount {
  const services = consoleServices();
  const rpcs = connectHandlers(handlers, services, keepAliveMs);
  return {
    has: (path) => rpcs.has(path),
    async serve(req, res, path, caller, request) {
      const handler = rpcs.get(path)!;
      const universal = universalRequestFromNodeRequest(req, res, 'json' in request ? request.json : undefined, createContextValues().set(CALLER, caller));
      if ('body' in request) {
        const bytes = new Uint8Array(request.body.buffer, request.body.byteOffset, request.body.byteLength);
        universal.body = (async function* () {
          yield bytes;
        })();
      }
      await universalResponseToNodeResponse(await handler(universal), res);
    },
    async callJson(service, localName, caller) {
      const [method, answer] = await invokeEmpty(handlers, services, service, localName, caller);
      return toJson(method.output, answer);
    },
  };
}
