/**
 * The console's Connect mount answers exactly what gRPC answers for the same principal: RBAC
 * cells sampled from the authorization matrix, each called once over gRPC and once over the
 * console with a session of the same token; same outcome, same message, same response.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as accessPb from '../../gen/secretgroups/v1/access_service.js';
import * as projectPb from '../../gen/secretgroups/v1/project_service.js';
import * as resolverPb from '../../gen/secretgroups/v1/resolver_service.js';
import * as groupPb from '../../gen/secretgroups/v1/secret_group_service.js';
import { GroupType } from '../../gen/secretgroups/v1/resources.js';
import type { Clients } from '../../client/connection.js';
import { api } from '../helpers/api.js';
import { call, startTestServer, type TestServer } from '../helpers/in-process.js';
import { MATRIX, ROLES, type RoleName } from '../security/authz-matrix.js';
import { ConsoleClient, envelopes, openStream } from './http.js';

let t: TestServer;
const grpcAs = {} as Record<RoleName, Clients>;
const consoleAs = {} as Record<RoleName, ConsoleClient>;

beforeAll(async () => {
  t = await startTestServer({ consoleAddr: '127.0.0.1:0' });
  const admin = api(t.admin);
  await admin.createProject('p');
  await admin.createWorkload({ project: 'p', name: 'api', runtimeVariables: { OWN: 'own-value' } });
  await admin.createAddon({ project: 'p', name: 'db', type: 'postgresql', connectionDetails: { password: 'addon-secret' } });
  for (const type of [GroupType.GROUP_TYPE_SECRET, GroupType.GROUP_TYPE_CONFIG]) {
    const name = type === GroupType.GROUP_TYPE_SECRET ? 'secret' : 'config';
    await admin.createGroup({ project: 'p', name, type, variables: { K: `${name}-value`, T: 'two' } });
    await admin.setVars('p', name, { K: `${name}-value-2` });
  }
  for (const role of ROLES) {
    const made =
      role === 'workload'
        ? await admin.createToken({ name: 'same-workload', workload: { project: 'p', workload: 'api' } })
        : await admin.createToken({ name: `same-${role}`, role });
    grpcAs[role] = t.as(made.token);
    consoleAs[role] = new ConsoleClient(t.server.consoleUrl!);
    expect((await consoleAs[role].signIn(made.token)).status).toBe(200);
  }
});
afterAll(() => t?.stop());

interface Sample {
  service: 'ProjectService' | 'SecretGroupService' | 'ResolverService' | 'AccessService';
  rpc: string;
  /** The request for a group of this type (secret or config). */
  request: (type: 'secret' | 'config') => object;
  /** Reads: responses must be identical. Writes: outcomes must be. */
  read: boolean;
}

const SAMPLES: Sample[] = [
  { service: 'SecretGroupService', rpc: 'GetGroup', read: true, request: (type) => ({ project: 'p', name: type }) },
  { service: 'SecretGroupService', rpc: 'ListGroupHistory', read: true, request: (type) => ({ project: 'p', name: type }) },
  { service: 'SecretGroupService', rpc: 'DiffGroupRevisions', read: true, request: (type) => ({ project: 'p', name: type, fromRevision: 1 }) },
  { service: 'SecretGroupService', rpc: 'ListGroupDependents', read: true, request: (type) => ({ project: 'p', name: type }) },
  { service: 'SecretGroupService', rpc: 'PreviewChange', read: true, request: (type) => ({ setVariables: { project: 'p', name: type, variables: { K: 'guess' } } }) },
  { service: 'SecretGroupService', rpc: 'SetVariables', read: false, request: (type) => ({ project: 'p', name: type, variables: { W: 'written' } }) },
  { service: 'ProjectService', rpc: 'GetWorkload', read: true, request: () => ({ project: 'p', name: 'api' }) },
  { service: 'ProjectService', rpc: 'ListAddons', read: true, request: () => ({ project: 'p' }) },
  { service: 'ProjectService', rpc: 'CreateWorkload', read: false, request: () => ({ project: 'p', name: `w${Math.random().toString(36).slice(2, 8)}` }) },
  { service: 'ResolverService', rpc: 'Resolve', read: true, request: () => ({ project: 'p', workload: 'api' }) },
  { service: 'ResolverService', rpc: 'Explain', read: true, request: () => ({ project: 'p', workload: 'api' }) },
  { service: 'AccessService', rpc: 'ListTokens', read: true, request: () => ({}) },
  { service: 'AccessService', rpc: 'ListRoles', read: true, request: () => ({}) },
];

const PB: Record<Sample['service'], Record<string, unknown>> = { AccessService: accessPb, ProjectService: projectPb, ResolverService: resolverPb, SecretGroupService: groupPb };
type Codec = { fromPartial(o: object): unknown; toJSON(m: unknown): unknown; fromJSON(o: unknown): unknown };
const codec = (s: Sample, suffix: 'Request' | 'Response') => PB[s.service][`${s.rpc}${suffix}`] as Codec;
const clientOf = (c: Clients, s: Sample) => ({ AccessService: c.access, ProjectService: c.projects, ResolverService: c.resolver, SecretGroupService: c.groups })[s.service];

const cases = SAMPLES.flatMap((s) => {
  const rows = MATRIX.filter((r) => r.service === s.service && r.rpc === s.rpc);
  return rows.flatMap((row) => ROLES.map((role) => [`${s.rpc}${row.type === '-' ? '' : ` (${row.type})`} as ${role}: ${row.cells[role]}`, s, row.type === 'config' ? 'config' : 'secret', role, row.cells[role]] as const));
});

describe('the console answers as gRPC does', () => {
  it.each(cases)('%s', async (_title, s, type, role, cell) => {
    const req = codec(s, 'Request').fromPartial(s.request(type));
    const method = `${s.rpc[0]!.toLowerCase()}${s.rpc.slice(1)}`;
    const viaGrpc = await call(clientOf(grpcAs[role], s) as grpc.Client, method, req).then(
      (res) => ({ code: 'ok', json: codec(s, 'Response').toJSON(res) as unknown, message: '' }),
      (e: grpc.ServiceError) => ({ code: grpc.status[e.code]!.toLowerCase(), json: undefined, message: e.details }),
    );
    // Writes get their own request (a second CreateWorkload of the same name would differ).
    const second = s.read ? req : codec(s, 'Request').fromPartial(s.request(type));
    const res = await consoleAs[role].rpc(`${s.service}/${s.rpc}`, codec(s, 'Request').toJSON(second));
    const viaConsole = res.status === 200 ? { code: 'ok', json: res.json, message: '' } : { code: res.json.code, json: undefined, message: res.json.message };
    expect(viaConsole.code).toBe(viaGrpc.code);
    expect(viaConsole.message).toBe(viaGrpc.message);
    expect(viaGrpc.code).toBe(cell === 'deny' ? 'permission_denied' : 'ok');
    if (s.read && viaGrpc.code === 'ok') {
      // Timestamps and versions are the same records read twice; tokens' lastUsed etc. do not exist.
      // Proto3 JSON writes int64 as strings (ts-proto's toJSON as numbers): compared as messages.
      const response = codec(s, 'Response');
      expect(response.toJSON(response.fromJSON(viaConsole.json))).toEqual(viaGrpc.json);
    }
  });
});

describe('server streams answer as over gRPC', () => {
  /** The first message (as proto3 JSON) or the status of a gRPC server stream. */
  const firstOverGrpc = (c: Clients, rpc: 'watch' | 'watchProject', req: object) =>
    new Promise<{ code: string; json?: unknown; message: string }>((resolve) => {
      const client = (rpc === 'watch' ? c.resolver : c.projects) as unknown as Record<string, (r: object) => grpc.ClientReadableStream<unknown>>;
      const type = rpc === 'watch' ? resolverPb.WatchResponse : projectPb.WatchProjectResponse;
      const stream = client[rpc]!.call(rpc === 'watch' ? c.resolver : c.projects, (rpc === 'watch' ? resolverPb.WatchRequest : projectPb.WatchProjectRequest).fromPartial(req));
      stream.once('data', (m) => {
        resolve({ code: 'ok', json: (type as Codec).toJSON(m), message: '' });
        stream.cancel();
      });
      stream.once('error', (e: grpc.ServiceError) => resolve({ code: grpc.status[e.code]!.toLowerCase(), message: e.details }));
    });
  const firstOverConsole = async (role: RoleName, method: string, req: object, type: Codec) => {
    const abort = new AbortController();
    const res = await openStream(consoleAs[role], method, req, AbortSignal.any([abort.signal, AbortSignal.timeout(10_000)]));
    const first = (await envelopes(res).next()).value!;
    abort.abort();
    if (first.end) return { code: first.end.error?.code ?? 'ok', message: first.end.error?.message ?? '' };
    return { code: 'ok', json: type.toJSON(type.fromJSON(first.message)), message: '' };
  };

  it.each(ROLES)('Watch as %s: same first message, or same refusal', async (role) => {
    const req = { project: 'p', workload: 'api', scope: 'SCOPE_RUNTIME' };
    const viaGrpc = await firstOverGrpc(grpcAs[role], 'watch', { ...req, scope: 1 });
    const viaConsole = await firstOverConsole(role, 'ResolverService/Watch', req, resolverPb.WatchResponse as unknown as Codec);
    expect(viaConsole).toEqual(viaGrpc);
  });

  it.each(ROLES)('WatchProject as %s: same first message, or same refusal', async (role) => {
    const viaGrpc = await firstOverGrpc(grpcAs[role], 'watchProject', { project: 'p' });
    const viaConsole = await firstOverConsole(role, 'ProjectService/WatchProject', { project: 'p' }, projectPb.WatchProjectResponse as unknown as Codec);
    expect(viaConsole).toEqual(viaGrpc);
  });
});
