/**
 * The console's API surface, derived from the generated service definitions: one route per
 * RPC of the four services (`/rpc/secretgroups.v1.<Service>/<Method>`), each pointing at the
 * handler grpc-js runs for that RPC. JSON is read and written with the browser-generated
 * messages (gen/light); the bytes in between go through the gRPC method definition's own
 * (de)serializers, so a handler sees exactly the request object a gRPC call would give it.
 */
import type * as grpc from '@grpc/grpc-js';
import { AccessServiceService } from '../../gen/secretgroups/v1/access_service.js';
import { ProjectServiceService } from '../../gen/secretgroups/v1/project_service.js';
import { ResolverServiceService } from '../../gen/secretgroups/v1/resolver_service.js';
import { SecretGroupServiceService } from '../../gen/secretgroups/v1/secret_group_service.js';
import { AccessServiceDefinition } from '../../gen/light/secretgroups/v1/access_service.js';
import { ProjectServiceDefinition } from '../../gen/light/secretgroups/v1/project_service.js';
import { ResolverServiceDefinition } from '../../gen/light/secretgroups/v1/resolver_service.js';
import { SecretGroupServiceDefinition } from '../../gen/light/secretgroups/v1/secret_group_service.js';
import type { ServiceHandlers } from '../api/server.js';
import { LIMITS } from '../domain/limits.js';
import { blankRecordsIn } from '../domain/secret-fields.js';

/** What ts-proto generates for every message (the subset used here). */
export interface MessageType {
  fromJSON(object: unknown): unknown;
  toJSON(message: never): unknown;
  encode(message: never): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
}

export interface Route {
  /** "secretgroups.v1.SecretGroupService/GetGroup" */
  name: string;
  requestType: MessageType;
  responseType: MessageType;
  serverStreaming: boolean;
  /** The grpc-js method definition: its deserializer builds the handler's request. */
  grpcMethod: grpc.MethodDefinition<unknown, unknown>;
  /** The very handler registered with grpc-js. */
  handler: grpc.UntypedHandleCall;
  /** Answer the group, workload or addon in the response with keys only (see redactRecords). */
  keysOnlyRecords: boolean;
}

/**
 * The reads that take `keys_only`: the caller chooses, and a read of values is audited. Every
 * other RPC that answers a group, workload or addon (the mutations: CreateGroup, SetVariables,
 * UpdateWorkload, …) answers the browser with keys only: the page needs the new revision and
 * metadata, and values would otherwise reach it without an audited read.
 */
const VALUE_READS = new Set(['GetGroup', 'ListGroups', 'ListGroupHistory', 'GetWorkload', 'ListWorkloads', 'GetAddon', 'ListAddons']);

interface WebMethod {
  name: string;
  requestType: MessageType;
  responseType: MessageType;
  requestStream: boolean;
  responseStream: boolean;
}
interface WebService {
  fullName: string;
  methods: Record<string, WebMethod>;
}

export function buildRoutes(handlers: ServiceHandlers): Map<string, Route> {
  const services: [WebService, grpc.ServiceDefinition, Record<string, grpc.UntypedHandleCall>][] = [
    [ProjectServiceDefinition as unknown as WebService, ProjectServiceService, handlers.projects as never],
    [SecretGroupServiceDefinition as unknown as WebService, SecretGroupServiceService, handlers.groups as never],
    [ResolverServiceDefinition as unknown as WebService, ResolverServiceService, handlers.resolver as never],
    [AccessServiceDefinition as unknown as WebService, AccessServiceService, handlers.access as never],
  ];
  const routes = new Map<string, Route>();
  for (const [web, grpcDef, impl] of services) {
    for (const [key, m] of Object.entries(web.methods)) {
      const grpcMethod = grpcDef[key] as grpc.MethodDefinition<unknown, unknown> | undefined;
      const handler = impl[key];
      // Client streaming is not offered to browsers (no such RPC exists today).
      if (!grpcMethod || !handler || m.requestStream) continue;
      routes.set(`${web.fullName}/${m.name}`, {
        name: `${web.fullName}/${m.name}`,
        requestType: m.requestType,
        responseType: m.responseType,
        serverStreaming: m.responseStream,
        grpcMethod,
        handler,
        keysOnlyRecords: !VALUE_READS.has(m.name),
      });
    }
  }
  return routes;
}

/** proto3 JSON (already parsed) -> the request object a gRPC handler receives. */
export function requestFromJson(route: Route, body: unknown): unknown {
  const web = route.requestType.fromJSON(body);
  const bytes = route.requestType.encode(web as never).finish();
  return route.grpcMethod.requestDeserialize(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** An answer larger than the gRPC server would send (LIMITS.responseBytes): refused the same way. */
export class ResponseTooLarge extends Error {
  constructor(readonly bytes: number) {
    super(`the answer (${bytes} bytes) exceeds the ${LIMITS.responseBytes}-byte message limit; ask for less (a smaller page)`);
  }
}

/**
 * A handler's answer (a message, or bytes it encoded itself) -> proto3 JSON. Refuses
 * (ResponseTooLarge) a message over the gRPC server's max send size, as gRPC would.
 */
export function responseToJson(route: Route, value: unknown): unknown {
  const bytes = value instanceof Uint8Array ? value : route.grpcMethod.responseSerialize(value);
  if (bytes.byteLength > LIMITS.responseBytes) throw new ResponseTooLarge(bytes.byteLength);
  const message = route.responseType.decode(bytes) as Record<string, unknown>;
  if (route.keysOnlyRecords) redactRecords(message);
  return route.responseType.toJSON(message as never);
}

/** Blanks the values of a response's `group`, `workload` or `addon`, as keys-only views do (domain/secret-fields.ts). */
export function redactRecords(message: Record<string, unknown>): void {
  blankRecordsIn(message, (f) => f.size || f.content.byteLength);
}
