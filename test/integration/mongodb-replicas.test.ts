/**
 * Scale-out on MongoDB (FerretDB here): two real `sg serve` replicas on one store. A write
 * through one replica reaches Resolve on the other, and an `sg-agent --watch` connected to the
 * other; killing a replica leaves the other serving; a store outage answers writes with
 * UNAVAILABLE while Resolve keeps working from memory, without taking the servers down, and
 * they recover on their own. Requires `npm run build`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { connect } from '../../client/connection.js';
import { RevokeTokenRequest } from '../../gen/secretgroups/v1/access_service.js';
import { DeleteWorkloadRequest } from '../../gen/secretgroups/v1/project_service.js';
import { WatchRequest, type WatchResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import { Scope } from '../../gen/secretgroups/v1/resources.js';
import { generateMasterKey } from '../../server/security/master-key.js';
import { api } from '../helpers/api.js';
import { call } from '../helpers/in-process.js';
import { describeWithMongo, startMongo, uniqueDbName, type MongoServer } from '../helpers/mongodb.js';
import { sg, SG_AGENT, startServerProcess, type ServerProcess } from '../helpers/server-process.js';

/** Waits until `probe` returns true, polling; fails with the last observation after `ms`. */
async function eventually(what: string, ms: number, probe: () => Promise<boolean | string>): Promise<number> {
  const start = Date.now();
  let last: boolean | string = false;
  while (Date.now() - start < ms) {
    last = await probe();
    if (last === true) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not within ${ms} ms (last: ${String(last)})`);
}

async function resolvedVars(server: ServerProcess, project: string, workload: string): Promise<Record<string, string> | null> {
  const r = await sg(server, ['resolve', project, workload, '--json']);
  if (r.code !== 0) return null;
  return (JSON.parse(r.stdout) as { variables: Record<string, string> }).variables;
}

async function ok(server: ServerProcess, args: string[]): Promise<string> {
  const r = await sg(server, args);
  if (r.code !== 0) throw new Error(`sg ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

describeWithMongo('MongoDB replicas', () => {
  let mongo: MongoServer;
  let a: ServerProcess;
  let b: ServerProcess;
  beforeAll(async () => {
    mongo = await startMongo();
  });
  afterAll(async () => {
    await mongo?.dispose();
  });
  beforeEach(async () => {
    const store = `${mongo.uri}${uniqueDbName('sgreplicas')}`;
    // Every replica sharing a store needs the same master key.
    const env = { SG_MASTER_KEY: generateMasterKey().encoded };
    a = await startServerProcess({ args: ['--store', store], env });
    // Same data directory: the second replica finds the admin token the first one bootstrapped.
    b = await startServerProcess({ args: ['--store', store], env, dataDir: a.dataDir });
  });
  afterEach(async () => {
    await b?.stop();
    await a?.cleanup();
  });

  it('a write through one replica reaches Resolve on the other promptly; losing one leaves the other serving', async () => {
    await ok(a, ['project', 'create', 'shop']);
    await ok(a, ['workload', 'create', 'shop', 'api', '--tag', 'web']);
    await ok(a, ['group', 'create', 'shop', 'common', '--priority', '10']);
    await ok(a, ['group', 'set', 'shop', 'common', 'DB_URL=postgres://db/shop', 'MODE=a']);
    await eventually('first write visible on replica b', 5_000, async () => (await resolvedVars(b, 'shop', 'api'))?.MODE === 'a');

    // Once b holds the project, a later write through a must reach it through the change feed.
    const started = Date.now();
    await ok(a, ['group', 'set', 'shop', 'common', 'MODE=b']);
    await eventually('update visible on replica b', 5_000, async () => (await resolvedVars(b, 'shop', 'api'))?.MODE === 'b');
    // The CLI call itself costs a few hundred ms; the feed polls every 250 ms.
    expect(Date.now() - started).toBeLessThan(3_000);

    // And the other way round.
    await ok(b, ['group', 'set', 'shop', 'common', 'FROM_B=1']);
    await eventually('write through b visible on a', 5_000, async () => (await resolvedVars(a, 'shop', 'api'))?.FROM_B === '1');

    await a.kill();
    await ok(b, ['group', 'set', 'shop', 'common', 'AFTER=1']);
    expect(await resolvedVars(b, 'shop', 'api')).toEqual({ DB_URL: 'postgres://db/shop', MODE: 'b', FROM_B: '1', AFTER: '1' });
  });

  it('an agent watching through replica b gets a write made through replica a; killing a leaves b serving it', async () => {
    await ok(a, ['project', 'create', 'shop']);
    await ok(a, ['workload', 'create', 'shop', 'api']);
    await ok(a, ['group', 'create', 'shop', 'common']);
    await ok(a, ['group', 'set', 'shop', 'common', 'MODE=agentval-1']);
    const token = (await ok(a, ['token', 'create', '--workload', 'shop/api', '--name', 'agent'])).trim();

    const dir = mkdtempSync(join(tmpdir(), 'sg-replica-agent-'));
    const out = join(dir, 'env.json');
    const agent = spawn(
      process.execPath,
      [SG_AGENT, 'write', '--project', 'shop', '--workload', 'api', '--out', out, '--format', 'json', '--watch', '--files-root', dir, '--log-level', 'warn'],
      { env: { ...process.env, SG_ADDR: b.addr, SG_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let agentLog = '';
    agent.stdout!.on('data', (c: Buffer) => (agentLog += c.toString()));
    agent.stderr!.on('data', (c: Buffer) => (agentLog += c.toString()));
    const written = (): Record<string, string> | null => {
      try {
        return JSON.parse(readFileSync(out, 'utf8')) as Record<string, string>;
      } catch {
        return null;
      }
    };
    try {
      await eventually('the agent wrote its first file', 10_000, async () => written()?.MODE === 'agentval-1' || agentLog.trim());

      const started = Date.now();
      await ok(a, ['group', 'set', 'shop', 'common', 'MODE=agentval-2']);
      await eventually('a write through a reached the agent on b', 5_000, async () => written()?.MODE === 'agentval-2' || JSON.stringify(written()));
      // Change feed poll (250 ms) + push + atomic file write, after a CLI call of a few hundred ms.
      expect(Date.now() - started).toBeLessThan(3_000);

      await a.kill();
      await ok(b, ['group', 'set', 'shop', 'common', 'MODE=agentval-3']);
      await eventually('b keeps serving the agent without a', 5_000, async () => written()?.MODE === 'agentval-3' || JSON.stringify(written()));
      expect(agent.exitCode).toBeNull();
      // The agent logs never carry values.
      expect(agentLog).not.toContain('agentval-');
    } finally {
      agent.kill('SIGTERM');
      await new Promise((r) => (agent.exitCode !== null || agent.signalCode !== null ? r(null) : agent.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a revocation through replica a ends the token\'s stream on replica b within 1 s; the value rotated after it never reaches b\'s stream', async () => {
    const admin = connect({ addr: a.addr, token: a.adminToken });
    const adminApi = api(admin);
    await adminApi.createProject('rev');
    await adminApi.createWorkload({ project: 'rev', name: 'api' });
    await adminApi.createWorkload({ project: 'rev', name: 'tmp' });
    await adminApi.createGroup({ project: 'rev', name: 'g', variables: { KEY: 'old' } });
    const created = await adminApi.createToken({ name: 'rev-agent', workload: { project: 'rev', workload: 'api' } });
    const tmpToken = (await adminApi.createToken({ name: 'tmp-agent', workload: { project: 'rev', workload: 'tmp' } })).token;
    const onB = (token: string, workload: string) => {
      const c = connect({ addr: b.addr, token });
      const values: string[] = [];
      let code = 'OPEN';
      let endedAt = 0;
      const stream = c.resolver.watch(WatchRequest.fromPartial({ project: 'rev', workload, scope: Scope.SCOPE_RUNTIME }));
      stream.on('data', (m: WatchResponse) => m.resolution && values.push(JSON.stringify(m.resolution.variables)));
      stream.on('error', (e: grpc.ServiceError) => {
        code = grpc.status[e.code]!;
        endedAt = Date.now();
      });
      return { c, values, code: () => code, endedAt: () => endedAt };
    };
    const w = onB(created.token, 'api');
    const tmp = onB(tmpToken, 'tmp');
    try {
      await eventually('the stream on b is open', 5_000, async () => w.values.length > 0 && tmp.values.length > 0);
      const started = Date.now();
      await call(admin.access, 'revokeToken', RevokeTokenRequest.fromPartial({ id: created.info!.id }));
      // Revoke, then rotate: the rotated value must never reach the revoked token's stream.
      await adminApi.setVars('rev', 'g', { KEY: 'rotated' });
      await eventually('the stream on b ended', 3_000, async () => w.code() !== 'OPEN');
      expect(w.code()).toBe('UNAUTHENTICATED');
      expect(w.endedAt() - started).toBeLessThan(1_000);
      expect(w.values).toEqual([JSON.stringify({ KEY: 'old' })]);

      // Deleted and re-created through a: the old token's stream on b ends, and never sees the new workload.
      await eventually('b has the rotation', 5_000, async () => tmp.values.length === 2);
      const deleted = Date.now();
      await call(admin.projects, 'deleteWorkload', DeleteWorkloadRequest.fromPartial({ project: 'rev', name: 'tmp' }));
      await adminApi.createWorkload({ project: 'rev', name: 'tmp', runtimeVariables: { NEW: 'incarnation' } });
      await eventually('the tmp stream on b ended', 3_000, async () => tmp.code() !== 'OPEN');
      expect(tmp.code()).toBe('UNAUTHENTICATED');
      expect(tmp.endedAt() - deleted).toBeLessThan(1_500);
      expect(tmp.values.join()).not.toContain('incarnation');
    } finally {
      w.c.close();
      tmp.c.close();
      admin.close();
    }
  });

  it('concurrent writers through both replicas: no lost update, both replicas converge on the store', async () => {
    await ok(a, ['project', 'create', 'race']);
    await ok(a, ['workload', 'create', 'race', 'job', '--kind', 'job']);
    await ok(a, ['group', 'create', 'race', 'g']);
    // Different keys through different replicas at once: the server retries its own
    // read-modify-write on ABORTED, so every key must survive.
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => ok(i % 2 ? b : a, ['group', 'set', 'race', 'g', `K${i}=${i}`])),
    );
    const want = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`K${i}`, String(i)]));
    for (const s of [a, b]) {
      await eventually('replica converged', 5_000, async () => JSON.stringify(await resolvedVars(s, 'race', 'job')) === JSON.stringify(want));
    }
  });

  it('with the store down RPCs answer UNAVAILABLE, the servers stay up, and they recover on their own', async (ctx) => {
    if (!mongo.controllable) ctx.skip();
    await ok(a, ['project', 'create', 'ops']);
    await ok(a, ['workload', 'create', 'ops', 'w']);
    await ok(a, ['group', 'create', 'ops', 'g']);
    await ok(a, ['group', 'set', 'ops', 'g', 'K=1']);
    await eventually('b sees the group', 5_000, async () => (await resolvedVars(b, 'ops', 'w'))?.K === '1');

    await mongo.stop();
    try {
      const down = await sg(a, ['group', 'set', 'ops', 'g', 'K=2']);
      expect(down.code).not.toBe(0);
      expect(down.stderr).toMatch(/UNAVAILABLE/);
      expect(down.stderr).not.toMatch(/mongodb:\/\//);
      // Resolve is served from memory: b holds the project, and the admin token was seen
      // within the outage grace window, so it still answers (after the store lookup times out).
      const resolve = await sg(b, ['resolve', 'ops', 'w', '--json']);
      expect(resolve.code, resolve.stderr).toBe(0);
      expect((JSON.parse(resolve.stdout) as { variables: Record<string, string> }).variables).toEqual({ K: '1' });
      expect(a.proc.exitCode).toBeNull();
      expect(b.proc.exitCode).toBeNull();
    } finally {
      await mongo.start();
    }

    await eventually('writes work again', 20_000, async () => {
      const r = await sg(a, ['group', 'set', 'ops', 'g', 'K=3']);
      return r.code === 0 || r.stderr.trim();
    });
    // b only polls: a poll that was waiting for the store when it came back ends at the
    // driver's server-selection timeout (5 s) before the next one sees the write. Bounded
    // generously: on a loaded CI machine 5 s in all was once not enough.
    await eventually('b sees the write after the outage', 20_000, async () => (await resolvedVars(b, 'ops', 'w'))?.K === '3');
  }, 90_000);
});
