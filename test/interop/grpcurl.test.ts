/**
 * Interoperability with gRPC implementations other than grpc-js: grpcurl (Go, grpc-go and
 * protobuf-go) through server reflection only — no local .proto files — and
 * grpc-health-probe, the probe Kubernetes deployments use. Against the real `sg serve`.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sg, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { describeWithTools, runTool, type ToolResult } from './go-tools.js';

const SERVICES = [
  'secretgroups.v1.AccessService',
  'secretgroups.v1.ProjectService',
  'secretgroups.v1.ResolverService',
  'secretgroups.v1.SecretGroupService',
  'grpc.health.v1.Health',
];

const show = (args: string[], r: ToolResult) => `${args.join(' ')} -> exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

describeWithTools('grpcurl through reflection', ['grpcurl'], (bins) => {
  let server: ServerProcess;
  let workloadToken: string;

  /** grpcurl -plaintext [-H authorization] [-d JSON] ADDR ARGS… */
  const grpcurl = (args: string[], opts: { token?: string; data?: unknown; extra?: string[] } = {}) => {
    const full = ['-plaintext', ...(opts.extra ?? [])];
    if (opts.token !== undefined) full.push('-H', `authorization: Bearer ${opts.token}`);
    if (opts.data !== undefined) full.push('-d', JSON.stringify(opts.data));
    full.push(server.addr, ...args);
    return runTool(bins.grpcurl, full).then((r) => ({ ...r, shown: show(['grpcurl', ...full], r) }));
  };

  const sgOk = async (args: string[]) => {
    const r = await sg(server, args);
    expect(r.code, `sg ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    server = await startServerProcess();
    // The seed's example, through the real CLI.
    await sgOk(['project', 'create', 'shop']);
    await sgOk(['workload', 'create', 'shop', 'api', '--kind', 'service', '--tag', 'web', '--var', 'PORT=8080']);
    await sgOk(['workload', 'create', 'shop', 'worker', '--kind', 'job']);
    await sgOk(['group', 'create', 'shop', 'a', '--priority', '50']);
    await sgOk(['group', 'set', 'shop', 'a', 'KEY_1=from-a-1', 'KEY_2=from-a-2']);
    await sgOk(['group', 'create', 'shop', 'b', '--priority', '20']);
    await sgOk(['group', 'set', 'shop', 'b', 'KEY_1=from-b-1', 'KEY_2=from-b-2', 'KEY_3=from-b-3']);
    await sgOk(['group', 'create', 'shop', 'web-only', '--priority', '10', '--tag', 'web']);
    await sgOk(['group', 'set', 'shop', 'web-only', 'CDN_URL=https://cdn.example.test/${KEY}', 'KEY=assets']);
    workloadToken = (await sgOk(['token', 'create', '--workload', 'shop/api'])).trim();
  });

  afterAll(async () => {
    await server?.cleanup();
  });

  it('list shows the four secretgroups services and health', async () => {
    const r = await grpcurl(['list']);
    expect(r.code, r.shown).toBe(0);
    const listed = r.stdout.trim().split('\n');
    for (const s of SERVICES) expect(listed, r.shown).toContain(s);
  });

  it('describe resolves every service, including messages with map fields', async () => {
    for (const s of SERVICES) {
      const r = await grpcurl(['describe', s]);
      expect(r.code, r.shown).toBe(0);
      expect(r.stdout, r.shown).toContain(`${s} is a service`);
    }
    const r = await grpcurl(['describe', 'secretgroups.v1.Resolution']);
    expect(r.code, r.shown).toBe(0);
    expect(r.stdout, r.shown).toMatch(/map<string, string> variables = 4;/);
  });

  it('grpc.health.v1.Health/Check is SERVING without a token', async () => {
    const overall = await grpcurl(['grpc.health.v1.Health/Check']);
    expect(overall.code, overall.shown).toBe(0);
    expect(JSON.parse(overall.stdout), overall.shown).toEqual({ status: 'SERVING' });
    const one = await grpcurl(['grpc.health.v1.Health/Check'], { data: { service: 'secretgroups.v1.ResolverService' } });
    expect(one.code, one.shown).toBe(0);
    expect(JSON.parse(one.stdout), one.shown).toEqual({ status: 'SERVING' });
  });

  it('Resolve with a workload token returns the merged variables', async () => {
    const r = await grpcurl(['secretgroups.v1.ResolverService/Resolve'], {
      token: workloadToken,
      data: { project: 'shop', workload: 'api' },
    });
    expect(r.code, r.shown).toBe(0);
    const res = JSON.parse(r.stdout) as { resolution: { variables: Record<string, string>; etag: string; scope: string } };
    expect(res.resolution.variables).toEqual({
      KEY_1: 'from-a-1',
      KEY_2: 'from-a-2',
      KEY_3: 'from-b-3',
      KEY: 'assets',
      CDN_URL: 'https://cdn.example.test/assets',
      PORT: '8080',
    });
    expect(res.resolution.scope).toBe('SCOPE_RUNTIME');
    expect(res.resolution.etag).not.toBe('');
  });

  it('the tag-restricted group does not reach an untagged workload (admin token)', async () => {
    const r = await grpcurl(['secretgroups.v1.ResolverService/Resolve'], {
      token: server.adminToken,
      data: { project: 'shop', workload: 'worker', scope: 'SCOPE_RUNTIME' },
    });
    expect(r.code, r.shown).toBe(0);
    expect(JSON.parse(r.stdout).resolution.variables).toEqual({ KEY_1: 'from-a-1', KEY_2: 'from-a-2', KEY_3: 'from-b-3' });
  });

  it('Explain returns provenance without values', async () => {
    const r = await grpcurl(['secretgroups.v1.ResolverService/Explain'], {
      token: server.adminToken,
      data: { project: 'shop', workload: 'api' },
    });
    expect(r.code, r.shown).toBe(0);
    const ex = JSON.parse(r.stdout) as { variables: Array<{ key: string; winner: { group?: string } }> };
    const winners = Object.fromEntries(ex.variables.map((p) => [p.key, p.winner.group ?? '']));
    expect(winners).toMatchObject({ KEY_1: 'a', KEY_2: 'a', KEY_3: 'b' });
    expect(r.stdout).not.toContain('from-a-1');
  });

  it('Watch (server streaming) sends the current resolution first', async () => {
    const resolved = await grpcurl(['secretgroups.v1.ResolverService/Resolve'], { token: workloadToken, data: { project: 'shop', workload: 'api' } });
    const etag = (JSON.parse(resolved.stdout) as { resolution: { etag: string } }).resolution.etag;
    // The stream never ends by itself: grpcurl's deadline ends it (DeadlineExceeded) after the
    // snapshot has been printed.
    const r = await grpcurl(['secretgroups.v1.ResolverService/Watch'], {
      token: workloadToken,
      data: { project: 'shop', workload: 'api' },
      extra: ['-max-time', '2'],
    });
    expect(r.stderr, r.shown).toMatch(/DeadlineExceeded/);
    const first = JSON.parse(r.stdout.slice(0, r.stdout.indexOf('\n}\n') + 2)) as { resolution?: { etag: string } };
    expect(first.resolution?.etag, r.shown).toBe(etag);
  });

  it('a call without a token is Unauthenticated', async () => {
    const r = await grpcurl(['secretgroups.v1.ResolverService/Resolve'], { data: { project: 'shop', workload: 'api' } });
    expect(r.code, r.shown).not.toBe(0);
    expect(r.stderr, r.shown).toMatch(/Code: Unauthenticated/);
    expect(r.stdout).toBe('');
  });

  it('a wrong token is Unauthenticated, another workload is PermissionDenied', async () => {
    const wrong = await grpcurl(['secretgroups.v1.ResolverService/Resolve'], { token: 'sg_not-a-real-token', data: { project: 'shop', workload: 'api' } });
    expect(wrong.stderr, wrong.shown).toMatch(/Code: Unauthenticated/);
    const other = await grpcurl(['secretgroups.v1.ResolverService/Resolve'], { token: workloadToken, data: { project: 'shop', workload: 'worker' } });
    expect(other.stderr, other.shown).toMatch(/Code: PermissionDenied/);
    expect(other.stdout).toBe('');
  });
});

describeWithTools('grpc-health-probe', ['grpc-health-probe'], (bins) => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServerProcess();
  });

  afterAll(async () => {
    await server?.cleanup();
  });

  const probe = (args: string[]) => runTool(bins['grpc-health-probe'], ['-addr', server.addr, '-connect-timeout', '5s', '-rpc-timeout', '5s', ...args]);

  it('reports the server SERVING (exit 0)', async () => {
    const r = await probe([]);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/status: SERVING/);
  });

  it('reports each secretgroups service SERVING', async () => {
    for (const s of SERVICES.filter((n) => n.startsWith('secretgroups.'))) {
      const r = await probe(['-service', s]);
      expect(r.code, `${s}: ${r.stdout}${r.stderr}`).toBe(0);
    }
  });

  it('fails for a service the server does not have', async () => {
    const r = await probe(['-service', 'secretgroups.v1.NoSuchService']);
    expect(r.code).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/NotFound|not found|NOT_FOUND/i);
  });

  it('fails once the server is stopped', async () => {
    await server.stop();
    const r = await runTool(bins['grpc-health-probe'], ['-addr', server.addr, '-connect-timeout', '1s', '-rpc-timeout', '1s']);
    expect(r.code).not.toBe(0);
  });
});
