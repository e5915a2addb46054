/** Prometheus metrics at --metrics-addr: every family is named sg_* and moves with real traffic. */
import { createServer } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { api } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/in-process.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

let t: TestServer;
let metricsAddr: string;
beforeAll(async () => {
  metricsAddr = `127.0.0.1:${await freePort()}`;
  t = await startTestServer({ metricsAddr });
});
afterAll(() => t.stop());

const scrape = async () => (await fetch(`http://${metricsAddr}/metrics`)).text();
const sample = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);

it('exposes RPC counts and latency, watchers, push latency, cache, store latency and auth failures', async () => {
  const a = api(t.admin);
  await a.createProject('m');
  await a.createWorkload({ project: 'm', name: 'api' });
  await a.createGroup({ project: 'm', name: 'g', variables: { A: '1' } });
  await a.resolve('m', 'api');
  await a.resolve('m', 'api');
  await api(t.as('sg_wrong')).resolve('m', 'api').catch(() => undefined);
  const stream = t.admin.resolver.watch({ project: 'm', workload: 'api', scope: 1, etag: '', tags: [], deltas: false });
  stream.on('error', () => undefined);
  let received = 0;
  stream.on('data', () => received++);
  const until = async (n: number) => {
    for (let i = 0; i < 100 && received < n; i++) await new Promise((r) => setTimeout(r, 50));
  };
  await until(1);
  await a.setVars('m', 'g', { A: '2' });
  await until(2);
  expect(received).toBe(2);

  const text = await scrape();
  const families = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
  expect(families.every((f) => f.startsWith('sg_'))).toBe(true);
  expect(sample(text, /^sg_rpc_requests_total\{method="Resolve",code="OK"\} (\d+)/m)).toBe(2);
  expect(sample(text, /^sg_rpc_requests_total\{method="Resolve",code="UNAUTHENTICATED"\} (\d+)/m)).toBe(1);
  expect(sample(text, /^sg_rpc_duration_seconds_count\{method="Resolve"\} (\d+)/m)).toBe(3);
  expect(sample(text, /^sg_watchers (\d+)/m)).toBe(1);
  expect(sample(text, /^sg_push_latency_seconds_count (\d+)/m)).toBeGreaterThanOrEqual(1);
  expect(sample(text, /^sg_resolution_cache_total\{result="hit"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
  expect(sample(text, /^sg_store_operation_seconds_count\{operation="updateRecord",outcome="ok"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
  expect(sample(text, /^sg_auth_failures_total (\d+)/m)).toBe(1);
  expect(text).not.toMatch(/sg_wrong/);
  stream.cancel();
  expect((await fetch(`http://${metricsAddr}/other`)).status).toBe(404);
});
