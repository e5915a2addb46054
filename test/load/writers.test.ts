/**
 * No lost update under contention: 8 writers × 200 read-modify-write updates of one group,
 * each with expected_revision (retrying on ABORTED / FAILED_PRECONDITION). The final group
 * holds every acknowledged write, its revision counts exactly the acknowledged writes, and
 * the history has one entry per revision. Correctness only; nothing here is timed.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LIMITS } from '../../server/domain/limits.js';
import { api } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/in-process.js';

const WRITERS = 8;
const UPDATES = 200;

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t?.stop());

it(`keeps every acknowledged write of ${WRITERS} concurrent writers × ${UPDATES} read-modify-write updates`, { timeout: 240_000 }, async () => {
  const a = api(t.admin);
  await a.createProject('load');
  await a.createWorkload({ project: 'load', name: 'api' });
  const created = await a.createGroup({ project: 'load', name: 'counter', variables: { COUNTER: '0' } });
  const initialRevision = created.group!.revision;
  // One connection per writer, like independent clients.
  const clients = Array.from({ length: WRITERS }, () => t.as(t.adminToken));
  let acknowledged = 0;
  let conflicts = 0;
  const revisionsSeen = new Set<number>();

  await Promise.all(
    clients.map(async (c, w) => {
      const mine = api(c);
      for (let i = 1; i <= UPDATES; i++) {
        for (;;) {
          const g = (await mine.getGroup('load', 'counter')).group!;
          const counter = Number(g.variables.COUNTER);
          try {
            const res = await mine.setVars('load', 'counter', { COUNTER: String(counter + 1), [`W${w}`]: String(i) }, g.revision);
            acknowledged++;
            // Every acknowledged write got a revision of its own.
            expect(revisionsSeen.has(res.group!.revision)).toBe(false);
            revisionsSeen.add(res.group!.revision);
            break;
          } catch (e) {
            const code = (e as grpc.ServiceError).code;
            if (code !== grpc.status.ABORTED && code !== grpc.status.FAILED_PRECONDITION) throw e;
            conflicts++;
          }
        }
      }
    }),
  );

  const final = (await a.getGroup('load', 'counter')).group!;
  expect(acknowledged).toBe(WRITERS * UPDATES);
  expect(final.variables.COUNTER).toBe(String(WRITERS * UPDATES));
  for (let w = 0; w < WRITERS; w++) expect(final.variables[`W${w}`]).toBe(String(UPDATES));
  expect(final.revision).toBe(initialRevision + WRITERS * UPDATES);
  // History keeps the newest LIMITS.historyRevisions revisions (the budget), paged from the
  // newest: every kept revision is there once, none missing, up to the final one.
  const page = await a.history('load', 'counter');
  const history = page.revisions.map((r) => r.revision);
  expect(history).toEqual(Array.from({ length: history.length }, (_, i) => final.revision - history.length + 1 + i));
  expect(page.oldestKeptRevision).toBe(final.revision - LIMITS.historyRevisions + 1);
  // The resolution a workload sees is the final state too.
  expect((await a.resolve('load', 'api')).resolution!.variables.COUNTER).toBe(String(WRITERS * UPDATES));
  // Contention really happened (otherwise this test proves little).
  expect(conflicts).toBeGreaterThan(0);
});
