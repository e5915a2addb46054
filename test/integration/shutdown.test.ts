/**
 * Graceful shutdown of the real `sg serve` process: SIGTERM ends Watch streams with
 * UNAVAILABLE (agents reconnect elsewhere), exits 0, and the data is intact after a restart.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type Clients } from '../../client/connection.js';
import { WatchRequest, type WatchResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import { Scope } from '../../gen/secretgroups/v1/resources.js';
import { api } from '../helpers/api.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

let s: ServerProcess;
let c: Clients;
beforeAll(async () => {
  s = await startServerProcess();
  c = connect({ addr: s.addr, token: s.adminToken });
  const a = api(c);
  await a.createProject('p');
  await a.createWorkload({ project: 'p', name: 'api' });
  await a.createGroup({ project: 'p', name: 'g', variables: { A: '1' } });
});
afterAll(async () => {
  c.close();
  await s.cleanup();
});

it('SIGTERM ends Watch streams with UNAVAILABLE, exits 0, and keeps every acknowledged write', async () => {
  const received: WatchResponse[] = [];
  const stream = c.resolver.watch(WatchRequest.fromPartial({ project: 'p', workload: 'api', scope: Scope.SCOPE_RUNTIME }));
  const ended = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
  stream.on('data', (m: WatchResponse) => received.push(m));
  while (received.length === 0) await new Promise((r) => setTimeout(r, 20));

  // Writes in flight when the signal arrives either complete or fail cleanly; none is half-done.
  const a = api(c);
  const writes = Array.from({ length: 20 }, (_, i) => a.setVars('p', 'g', { [`K${i}`]: String(i) }).then(() => i, () => -1));
  await new Promise((r) => setTimeout(r, 5));
  const exited = new Promise<number | null>((resolve) => s.proc.once('exit', (code) => resolve(code)));
  s.proc.kill('SIGTERM');
  const err = await ended;
  expect(err.code).toBe(grpc.status.UNAVAILABLE);
  expect(await exited).toBe(0);
  const acknowledged = (await Promise.all(writes)).filter((i) => i >= 0);

  await s.restart();
  c.close();
  c = connect({ addr: s.addr, token: s.adminToken });
  const vars = (await api(c).getGroup('p', 'g')).group!.variables;
  for (const i of acknowledged) expect(vars[`K${i}`]).toBe(String(i));
});
