/**
 * The generated grpc-js clients of every service, exported as `secret-groups/grpc` for internal
 * services (and used by the tests): address, TLS or plaintext, and the bearer token on every
 * call. Reads SG_ADDR and SG_TOKEN by default. `sg` and `sg-agent` do not load it: they speak
 * gRPC over `node:http2` (transport.ts), which starts faster.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { AccessServiceClient } from '../gen/secretgroups/v1/access_service.js';
import { ProjectServiceClient } from '../gen/secretgroups/v1/project_service.js';
import { ResolverServiceClient } from '../gen/secretgroups/v1/resolver_service.js';
import { SecretGroupServiceClient } from '../gen/secretgroups/v1/secret_group_service.js';
import { resolveEndpoint, type Endpoint } from './endpoint.js';

export { DEFAULT_ADDR } from './endpoint.js';

export interface ConnectionOptions extends Endpoint {
  /** Extra channel options (keepalive and so on). */
  channelOptions?: grpc.ChannelOptions;
}

export interface Clients {
  addr: string;
  projects: ProjectServiceClient;
  groups: SecretGroupServiceClient;
  resolver: ResolverServiceClient;
  access: AccessServiceClient;
  close(): void;
}

export function resolveConnectionOptions(opts: ConnectionOptions = {}): ConnectionOptions & { addr: string } {
  return resolveEndpoint(opts);
}

/** Channel credentials with the bearer token attached to every call. */
export function credentialsFor(opts: ConnectionOptions): grpc.ChannelCredentials {
  const o = resolveConnectionOptions(opts);
  const tls = Boolean(o.ca || o.cert);
  const channel = tls
    ? grpc.credentials.createSsl(
        o.ca ? readFileSync(o.ca) : null,
        o.key ? readFileSync(o.key) : null,
        o.cert ? readFileSync(o.cert) : null,
      )
    : grpc.credentials.createInsecure();
  if (!o.token) return channel;
  const token = o.token;
  const callCreds = grpc.credentials.createFromMetadataGenerator((_params, cb) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    cb(null, md);
  });
  // grpc-js refuses call credentials on an insecure channel; attach the header by
  // interceptor there instead (loopback plaintext is allowed by the server).
  return tls ? grpc.credentials.combineChannelCredentials(channel, callCreds) : channel;
}

/** Adds the bearer header on plaintext channels, where call credentials are not allowed. */
export function authInterceptor(token: string | undefined): grpc.Interceptor[] {
  if (!token) return [];
  return [
    (options, nextCall) =>
      new grpc.InterceptingCall(nextCall(options), {
        start(metadata, listener, next) {
          if (!metadata.get('authorization').length) metadata.set('authorization', `Bearer ${token}`);
          next(metadata, listener);
        },
      }),
  ];
}

export function connect(opts: ConnectionOptions = {}): Clients {
  const o = resolveConnectionOptions(opts);
  const creds = credentialsFor(o);
  const tls = Boolean(o.ca || o.cert);
  const options: grpc.ClientOptions = {
    // A resolution may hold up to 4 MiB of keys and values (server LIMITS.resolutionBytes),
    // more once encoded; grpc-js accepts only 4 MiB by default. The agent's transport takes 32.
    'grpc.max_receive_message_length': 32 * 1024 * 1024,
    ...o.channelOptions,
    interceptors: tls ? [] : authInterceptor(o.token),
  };
  // One channel shared by the four service stubs.
  const projects = new ProjectServiceClient(o.addr, creds, options);
  const channelOverride = projects.getChannel();
  const shared = { ...options, channelOverride } as grpc.ClientOptions;
  const groups = new SecretGroupServiceClient(o.addr, creds, shared);
  const resolver = new ResolverServiceClient(o.addr, creds, shared);
  const access = new AccessServiceClient(o.addr, creds, shared);
  return {
    addr: o.addr,
    projects,
    groups,
    resolver,
    access,
    close() {
      projects.close();
    },
  };
}

/** Promise form of a unary client method: `await unary(c.groups, 'getGroup', req)`. */
export function unary<C extends grpc.Client, M extends keyof C & string, Req, Res>(
  client: C,
  method: M,
  request: Req,
  options: { deadlineMs?: number } = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as unknown as (
      req: Req,
      md: grpc.Metadata,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res: Res) => void,
    ) => void;
    const deadline = new Date(Date.now() + (options.deadlineMs ?? 30_000));
    fn.call(client, request, new grpc.Metadata(), { deadline }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}
