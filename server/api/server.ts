/** Assembles the gRPC server: the four services, health and reflection (loaded at first use). */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { AccessServiceService } from '../../gen/secretgroups/v1/access_service.js';
import { ProjectServiceService } from '../../gen/secretgroups/v1/project_service.js';
import { ResolverServiceService } from '../../gen/secretgroups/v1/resolver_service.js';
import { SecretGroupServiceService } from '../../gen/secretgroups/v1/secret_group_service.js';
import { LIMITS } from '../domain/limits.js';
import type { AccessService } from '../service/access.js';
import type { GroupsService } from '../service/groups.js';
import type { ProjectsService } from '../service/projects.js';
import type { ResolverService } from '../service/resolver.js';
import { BAD_TEXT_REQUEST, MALFORMED_REQUEST, type ApiContext, type Handler } from './call.js';
import { installFramedPassthrough } from './framed-bytes.js';
import { serveStreamsOnHttp2, type StreamRoute } from './h2-streams.js';
import { grpcImplementation } from './grpc-adapter.js';
import { BadText, StrictReader } from './strict-reader.js';
import { accessHandlers } from './handlers/access-handlers.js';
import { groupHandlers } from './handlers/group-handlers.js';
import { groupInsightHandlers, projectWatchHandlers, type InsightServices } from './handlers/insight-handlers.js';
import { projectHandlers } from './handlers/project-handlers.js';
import { resolverHandlers } from './handlers/resolver-handlers.js';
import { Health } from './health.js';
import { addLazyReflection } from './reflection.js';

/** proto/ at the repository (or image) root: the nearest ancestor holding it (from dist/ or from source). */
export const PROTO_DIR = findProtoDir(dirname(fileURLToPath(import.meta.url)));

function findProtoDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'proto/secretgroups/v1'))) return join(dir, 'proto');
    if (dirname(dir) === dir) throw new Error('proto/secretgroups/v1 not found above the server code');
  }
}

export const SERVICE_NAMES = [
  'secretgroups.v1.ProjectService',
  'secretgroups.v1.SecretGroupService',
  'secretgroups.v1.ResolverService',
  'secretgroups.v1.AccessService',
];

export interface Services extends InsightServices {
  projects: ProjectsService;
  groups: GroupsService;
  resolver: ResolverService;
  access: AccessService;
}

/**
 * Undecodable request bytes become a marker instead of grpc-js's INTERNAL "Error
 * deserializing request"; the call wrapper answers INVALID_ARGUMENT for it. Strings are decoded
 * strictly (see StrictReader): invalid UTF-8 or a NUL in any string field is refused the same
 * way, with its own message, instead of being silently replaced or stored.
 */
function tolerantDeserializers<T extends grpc.ServiceDefinition>(def: T): T {
  const out = { ...def };
  for (const m of Object.keys(def) as (keyof T)[]) {
    const method = def[m]!;
    const decode = method.requestDeserialize;
    out[m] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          // The generated decode(input) uses `input` as its reader when it is one.
          return decode(new StrictReader(bytes) as unknown as Buffer);
        } catch (e) {
          return e instanceof BadText ? BAD_TEXT_REQUEST[e.reason] : MALFORMED_REQUEST;
        }
      },
    } as T[keyof T];
  }
  return out;
}

/** Lets handlers answer with bytes encoded once (Resolve, Watch) instead of a message. */
function passthroughSerializers<T extends grpc.ServiceDefinition>(def: T, methods: (keyof T)[]): T {
  const out = { ...def };
  for (const m of methods) {
    const method = def[m]!;
    const encode = method.responseSerialize;
    out[m] = {
      ...method,
      responseSerialize: (value: unknown) => (value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : encode(value)),
    } as T[keyof T];
  }
  return out;
}

/**
 * The grpc-js method definitions of the four services as served: tolerant request decoding,
 * and Resolve/Watch answers that may be bytes encoded once. The web console's mount decodes
 * and encodes with these very functions, so a handler sees what a gRPC call gives it.
 */
export const SERVICE_DEFINITIONS = {
  projects: tolerantDeserializers(ProjectServiceService),
  groups: tolerantDeserializers(SecretGroupServiceService),
  resolver: tolerantDeserializers(passthroughSerializers(ResolverServiceService, ['resolve', 'watch'])),
  access: tolerantDeserializers(AccessServiceService),
};

/** The handler of every RPC, built once and protocol-independent: grpc-js and the web console mount the same ones. */
export function serviceHandlers(ctx: ApiContext, services: Services) {
  return {
    projects: { ...projectHandlers(ctx, services.projects), ...projectWatchHandlers(ctx, services) },
    groups: { ...groupHandlers(ctx, services.groups), ...groupInsightHandlers(ctx, services) },
    resolver: resolverHandlers(ctx, services.resolver),
    access: accessHandlers(ctx, services.access),
  };
}
export type ServiceHandlers = ReturnType<typeof serviceHandlers>;
/**
 * Connections without any call are closed after this long (GOAWAY; clients reconnect when they
 * next call). It bounds how long an unauthenticated or abandoned connection holds memory: a
 * connection only stays up while it carries calls, and every call is authenticated.
 */
export const DEFAULT_MAX_CONNECTION_IDLE_MS = 5 * 60_000;

/**
 * The largest Watch, WatchProject or Resolve request taken on node:http2. The largest valid one
 * is ~5 kB (names, an etag, 64 claimed tags); the 8 MiB of LIMITS.requestBytes is for imports. A request
 * is read before its caller is authenticated, so this bounds what an unauthenticated stream can
 * make the server hold: 64 KiB rather than 8 MiB, times the 10,000 streams a connection may open.
 */
export const STREAM_REQUEST_BYTES = 64 * 1024;

export function createGrpcServer(
  ctx: ApiContext,
  services: Services,
  handlers: ServiceHandlers = serviceHandlers(ctx, services),
  opts: { maxConnectionIdleMs?: number } = {},
): { server: grpc.Server; health: Health; streamsOnHttp2: boolean } {
  installFramedPassthrough();
  const server = new grpc.Server({
    'grpc.max_connection_idle_ms': opts.maxConnectionIdleMs ?? DEFAULT_MAX_CONNECTION_IDLE_MS,
    'grpc.max_receive_message_length': LIMITS.requestBytes,
    'grpc.max_send_message_length': LIMITS.responseBytes,
    // Watch streams are long-lived: ping idle connections so dead peers are noticed.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    'grpc.max_concurrent_streams': 10_000,
    // Nothing reads channelz (no admin service is exposed), and its per-call trackers cost
    // closures on every Watch stream and work on every Resolve.
    'grpc.enable_channelz': 0,
  });
  for (const key of ['projects', 'groups', 'resolver', 'access'] as const) {
    server.addService(SERVICE_DEFINITIONS[key], grpcImplementation(handlers[key] as Record<string, Handler>));
  }
  // Watch and WatchProject on node:http2 directly (h2-streams.ts); grpc-js serves them when the hook is missing.
  const streamsOnHttp2 = serveStreamsOnHttp2(server, streamRoutes(handlers), { maxRequestBytes: STREAM_REQUEST_BYTES, maxResponseBytes: LIMITS.responseBytes });

  const health = new Health(Object.fromEntries(['', ...SERVICE_NAMES].map((s) => [s, 'NOT_SERVING' as const])));
  health.addToServer(server);
  addLazyReflection(server, PROTO_DIR);
  return { server, health, streamsOnHttp2 };
}

/**
 * The methods h2-streams.ts serves, by gRPC path: our server-streaming methods, and the unary
 * ones with a hot path (Resolve: the call every agent, build and service makes).
 */
export function streamRoutes(handlers: ServiceHandlers): Map<string, StreamRoute> {
  const routes = new Map<string, StreamRoute>();
  for (const key of ['projects', 'groups', 'resolver', 'access'] as const) {
    const definition = SERVICE_DEFINITIONS[key] as grpc.ServiceDefinition;
    const implementation = handlers[key] as Record<string, Handler>;
    for (const [name, method] of Object.entries(definition)) {
      const handler = implementation[name];
      if (method.requestStream || !handler) continue;
      const served = method.responseStream ? handler.kind === 'serverStream' : handler.kind === 'unary' && handler.fast !== undefined;
      if (!served) continue;
      routes.set(method.path, { handler, decode: method.requestDeserialize, encode: method.responseSerialize });
    }
  }
  return routes;
}
