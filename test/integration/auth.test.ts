/** Authentication on every RPC, workload identity, keys-only roles, revocation, token storage. */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessServiceService } from '../../gen/secretgroups/v1/access_service.js';
import { ProjectServiceService } from '../../gen/secretgroups/v1/project_service.js';
import { ResolverServiceService } from '../../gen/secretgroups/v1/resolver_service.js';
import { SecretGroupServiceService } from '../../gen/secretgroups/v1/secret_group_service.js';
import { GroupType, Scope } from '../../gen/secretgroups/v1/resources.js';
import { api } from '../helpers/api.js';
import { call, codeOf, startTestServer, type TestServer } from '../helpers/in-process.js';

let t: TestServer;
let a: ReturnType<typeof api>;
beforeAll(async () => {
  t = await startTestServer();
  a = api(t.admin);
  await a.createProject('p');
  await a.createWorkload({ project: 'p', name: 'api', tags: ['web'] });
  await a.createWorkload({ project: 'p', name: 'other' });
  await a.createGroup({ project: 'p', name: 'creds', type: GroupType.GROUP_TYPE_SECRET, variables: { PASSWORD: 'CANARY-PW' } });
  await a.createGroup({ project: 'p', name: 'flags', type: GroupType.GROUP_TYPE_CONFIG, variables: { FLAG: 'on' } });
});
afterAll(() => t.stop());

const token = async (r: Parameters<ReturnType<typeof api>['createToken']>[0]) => (await a.createToken(r)).token;

describe('authentication', () => {
  const services = { ProjectServiceService, SecretGroupServiceService, ResolverServiceService, AccessServiceService };
  const methods = Object.entries(services).flatMap(([svc, def]) =>
    Object.entries(def).map(([name, m]) => [`${svc}.${name}`, m] as const),
  );

  it.each(methods)('%s refuses a call without a token', async (_name, m) => {
    const client = new grpc.Client(t.server.addr, grpc.credentials.createInsecure());
    const code = await new Promise<number>((resolve) => {
      const req = m.requestSerialize(m.requestDeserialize(Buffer.alloc(0)));
      if (m.responseStream) {
        const s = client.makeServerStreamRequest(m.path, (x: Buffer) => x, (x: Buffer) => x, req);
        s.on('error', (e: grpc.ServiceError) => resolve(e.code));
        s.on('data', () => resolve(-1));
      } else {
        client.makeUnaryRequest(m.path, (x: Buffer) => x, (x: Buffer) => x, req, (e) => resolve(e ? e.code : -1));
      }
    });
    client.close();
    expect(grpc.status[code]).toBe('UNAUTHENTICATED');
  });

  it('health needs no token and reports SERVING', async () => {
    const client = new grpc.Client(t.server.addr, grpc.credentials.createInsecure());
    const status = await new Promise<number>((resolve, reject) =>
      client.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        (x: Buffer) => x,
        (x: Buffer) => x,
        Buffer.alloc(0),
        (e, res) => (e ? reject(e) : resolve(res![1]!)), // field 1 varint: status
      ),
    );
    client.close();
    expect(status).toBe(1); // SERVING
  });

  it('the admin token file is 0600 and tokens are stored only as hashes', () => {
    expect(statSync(join(t.dataDir, 'admin.token')).mode & 0o777).toBe(0o600);
    expect(statSync(join(t.dataDir, 'sg.db')).mode & 0o777).toBe(0o600);
    expect(statSync(join(t.dataDir, 'master.key')).mode & 0o777).toBe(0o600);
    expect(statSync(t.dataDir).mode & 0o777).toBe(0o700);
    const raw = readFileSync(join(t.dataDir, 'sg.db'));
    expect(raw.includes(Buffer.from(t.adminToken))).toBe(false);
  });

  it('a revoked token is refused at once', async () => {
    const created = await a.createToken({ role: 'viewer' });
    const viewer = api(t.as(created.token));
    expect(await codeOf(viewer.getGroup('p', 'flags'))).toBe('OK');
    await call(t.admin.access, 'revokeToken', { id: created.info!.id });
    expect(await codeOf(viewer.getGroup('p', 'flags'))).toBe('UNAUTHENTICATED');
  });

  it('an expired token is refused', async () => {
    const short = await token({ role: 'viewer', ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    expect(await codeOf(api(t.as(short)).getGroup('p', 'flags'))).toBe('UNAUTHENTICATED');
  });
});

describe('workload identity', () => {
  it('resolves only its own identity and only the scopes it was granted', async () => {
    const w = api(t.as(await token({ workload: { project: 'p', workload: 'api' } })));
    expect(await codeOf(w.resolve('p', 'api'))).toBe('OK');
    expect(await codeOf(w.explain('p', 'api'))).toBe('OK');
    expect(await codeOf(w.resolve('p', 'other'))).toBe('PERMISSION_DENIED');
    expect(await codeOf(w.resolve('p', 'api', Scope.SCOPE_BUILD))).toBe('PERMISSION_DENIED');
    expect(await codeOf(w.getGroup('p', 'creds'))).toBe('PERMISSION_DENIED');
    expect(await codeOf(w.createProject('x'))).toBe('PERMISSION_DENIED');
    const b = api(t.as(await token({ workload: { project: 'p', workload: 'api' }, allowBuild: true })));
    expect(await codeOf(b.resolve('p', 'api', Scope.SCOPE_BUILD))).toBe('OK');
  });

  it('claimed tags must be a subset of the registered ones', async () => {
    const w = api(t.as(await token({ workload: { project: 'p', workload: 'api' } })));
    expect(await codeOf(w.resolve('p', 'api', Scope.SCOPE_RUNTIME, ['web']))).toBe('OK');
    expect(await codeOf(w.resolve('p', 'api', Scope.SCOPE_RUNTIME, ['web', 'admin']))).toBe('PERMISSION_DENIED');
  });

  it('a workload token for an unknown workload cannot be created', async () => {
    expect(await codeOf(a.createToken({ workload: { project: 'p', workload: 'ghost' } }))).toBe('NOT_FOUND');
  });
});

describe('config-editor: writes config groups, sees only the keys of secret groups', () => {
  it('gets secret groups keys-only and config groups with values', async () => {
    const ce = api(t.as(await token({ role: 'config-editor' })));
    const secret = (await ce.getGroup('p', 'creds')).group!;
    expect(secret.valuesRedacted).toBe(true);
    expect(secret.variables).toEqual({ PASSWORD: '' });
    const config = (await ce.getGroup('p', 'flags')).group!;
    expect(config.valuesRedacted).toBe(false);
    expect(config.variables).toEqual({ FLAG: 'on' });
    expect(await codeOf(ce.setVars('p', 'flags', { FLAG: 'off' }))).toBe('OK');
    expect(await codeOf(ce.setVars('p', 'creds', { PASSWORD: 'x' }))).toBe('PERMISSION_DENIED');
    expect(await codeOf(ce.resolve('p', 'api'))).toBe('PERMISSION_DENIED');
    expect(JSON.stringify(await ce.history('p', 'creds'))).not.toContain('CANARY-PW');
  });
});
