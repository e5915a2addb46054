/**
 * Writes per second through the API (SetVariables RPCs, each one stored with history and
 * audit, then the project snapshot refreshed) on the embedded SQLite store and on MongoDB
 * (FerretDB's SQLite handler on this machine). Two figures per store: one writer at a time
 * (sequential), and 8 writers in flight, each on its own group (no contention retries). The
 * headline is the 8-writer figure.
 *
 * MongoDB is measured against its own database in the same run, in interleaved rounds: a plain
 * driver `updateOne` loop on the same server (8 in flight, each on its own document), sg on a
 * fresh project (a new one each round), and sg on a project with 10,000 earlier writes (the
 * same server process, so it also caught up with them through its change feed), the order
 * rotated each round and the median of each taken. Interleaving matters here: FerretDB's
 * SQLite file grows through the run and the machine is shared, so figures measured one after
 * the other drifted by ±25% between runs of the same code and set one bar by chance.
 */
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { connect } from '../../client/connection.js';
import type { GroupHistoryEntry, SecretGroup } from '../../server/domain/types.js';
import { parseMasterKey } from '../../server/security/master-key.js';
import { dbNameFromUri, DEFAULT_MONGO_DB, MongoStore } from '../../server/store/mongo-store.js';
import { SealedStore } from '../../server/store/sealed-store.js';
import { api } from './lib/api.js';
import { startMongo } from './lib/ferretdb.js';
import { startSg, type SgServer } from './lib/procs.js';
import { randomValue, seedWriteProject } from './lib/seed.js';
import { cpuMs, median, round } from './lib/util.js';

/** The `writes` members of bench-results.json. */
export interface WritesResult {
  /** SetVariables/s on SQLite, 8 writers. */
  sqlitePerSec: number;
  /** SetVariables/s on MongoDB (FerretDB), 8 writers, fresh project (= mongoFreshPerSec). */
  mongoPerSec: number | null;
  /** Plain driver updateOne/s against the same server, 8 in flight. */
  mongoDriverPerSec: number | null;
  /** mongoPerSec / mongoDriverPerSec (goal ≥ 0.25). */
  mongoRatio: number | null;
  mongoFreshPerSec: number | null;
  /** The same after 10,000 earlier writes to the project (goal: within 20% of fresh). */
  mongoAfter10kPerSec: number | null;
}

export const noWrites = (): WritesResult => ({
  sqlitePerSec: Number.NaN,
  mongoPerSec: null,
  mongoDriverPerSec: null,
  mongoRatio: null,
  mongoFreshPerSec: null,
  mongoAfter10kPerSec: null,
});

type Rates = { sequential: number; concurrent8: number };
type Fixture = { project: string; groups: string[] };

/** Runs `writers` loops of `op` for `ms`; operations per second. */
async function rate(writers: number, ms: number, op: (writer: number, n: number) => Promise<unknown>): Promise<number> {
  let n = 0;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      while (performance.now() < end) await op(w, n++);
    }),
  );
  return (n / (performance.now() - start)) * 1000;
}

async function measure(server: SgServer, ms: number, fixture?: Fixture, sequentialToo = true): Promise<Rates & { fixture: Fixture }> {
  const admin = connect({ addr: server.addr, token: server.adminToken });
  try {
    const a = api(admin);
    const fx = fixture ?? (await seedWriteProject(admin, `writes-${++seeded}`));
    const write = (w: number, n: number) => a.setVars(fx.project, fx.groups[w % fx.groups.length]!, { [`K${n % 20}`]: `v${n}-${w}` });
    await write(0, 0); // a server behind the store's log catches up here, outside the measurement
    await rate(1, Math.min(1000, ms / 2), write); // warm-up
    const sequential = sequentialToo ? await rate(1, ms, write) : Number.NaN;
    const concurrent8 = await rate(8, ms, write);
    return { sequential: round(sequential, 0), concurrent8: round(concurrent8, 0), fixture: fx };
  } finally {
    admin.close();
  }
}
let seeded = 0;

/** The driver's own rate on the same server: updateOne by _id, one document per writer. */
async function driverRates(uri: string, ms: number, sequentialToo = true): Promise<Rates> {
  const client = new MongoClient(uri);
  try {
    const coll = client.db(`sgbench_driver_${process.pid}`).collection<{ _id: string; v: number }>('docs');
    await coll.deleteMany({});
    await coll.insertMany(Array.from({ length: 8 }, (_, i) => ({ _id: `d${i}`, v: 0 })));
    const write = (w: number, n: number) => coll.updateOne({ _id: `d${w}` }, { $set: { v: n } });
    await rate(1, Math.min(1000, ms / 2), write);
    const sequential = sequentialToo ? await rate(1, ms, write) : Number.NaN;
    const concurrent8 = await rate(8, ms, write);
    await client.db(`sgbench_driver_${process.pid}`).dropDatabase();
    return { sequential: round(sequential, 0), concurrent8: round(concurrent8, 0) };
  } finally {
    await client.close();
  }
}

/**
 * 10,000 earlier writes to the project, written below the server in bulk: one group with a
 * 10,000-revision history (each revision changes one of 20 variables, as the measured writes
 * do; sealed with the server's master key) appended to the project's change log through the
 * store's import — the same change documents 10,000 SetVariables would leave — plus the
 * 10,000 audit records they would have written.
 */
async function addEarlierWrites(uri: string, masterKey: string, project: string, count: number): Promise<number> {
  const started = performance.now();
  const store = new SealedStore(new MongoStore(uri), parseMasterKey(masterKey, 'bench'));
  await store.init();
  try {
    const variables: Record<string, string> = {};
    for (let k = 0; k < 20; k++) variables[`K${k}`] = randomValue(Math.random, 32);
    const now = Date.now() - count;
    const entries: GroupHistoryEntry[] = [];
    let g: SecretGroup | null = null;
    for (let r = 1; r <= count; r++) {
      if (r > 1) variables[`K${r % 20}`] = `v${r}`;
      g = {
        project,
        name: 'earlier',
        description: '',
        type: 'secret',
        scope: 'both',
        priority: 0,
        restrictions: { restricted: false, workloads: [], tags: [] },
        variables: { ...variables },
        files: [],
        addonLinks: [],
        revision: r,
        createdAt: now,
        updatedAt: now + r,
        updatedBy: 'bench',
      };
      entries.push({ project, name: 'earlier', revision: r, time: now + r, actor: 'bench', action: r === 1 ? 'CreateGroup' : 'SetVariables', changedKeys: [`K${r % 20}`], group: g });
    }
    await store.importRecord('group', project, 'earlier', g, entries);
    const client = new MongoClient(uri);
    try {
      const audit = client.db(dbNameFromUri(uri) ?? DEFAULT_MONGO_DB).collection('audit');
      for (let i = 0; i < count; i += 1000) {
        await audit.insertMany(
          entries.slice(i, i + 1000).map((e) => ({
            time: e.time,
            actor: 'bench',
            action: e.action,
            project,
            target: `group ${project}/earlier`,
            keys: e.changedKeys,
            outcome: 'ok',
            schemaVersion: 1,
          })),
        );
      }
    } finally {
      await client.close();
    }
  } finally {
    await store.close();
  }
  return Math.round(performance.now() - started);
}

export async function benchWrites(quick: boolean, log: (s: string) => void): Promise<WritesResult & { details: Record<string, unknown> }> {
  const ms = quick ? 3_000 : 8_000;
  const earlier = 10_000;
  const details: Record<string, unknown> = { durationMsPerMode: ms, headline: '8 writers in flight, one group each' };
  const out = noWrites();
  const sqliteServer = await startSg();
  try {
    const { fixture: _f, ...sqlite } = await measure(sqliteServer, ms);
    details.sqlite = sqlite;
    out.sqlitePerSec = sqlite.concurrent8;
    log(`  sqlite: ${sqlite.sequential}/s sequential, ${sqlite.concurrent8}/s with 8 writers`);
  } finally {
    await sqliteServer.cleanup();
  }
  try {
    const mongo = await startMongo();
    try {
      const uri = `${mongo.uri}sgbench_${process.pid}_${Date.now().toString(36)}`;
      const masterKey = randomBytes(32).toString('base64');
      const server = await startSg({ args: ['--store', uri], env: { SG_MASTER_KEY: masterKey } });
      try {
        // Sequential figures once, for the record; the headline is 8 in flight.
        const driverSeq = await driverRates(mongo.uri, ms);
        const freshSeq = await measure(server, ms);
        const old = (await measure(server, Math.min(1000, ms), undefined, false)).fixture;
        const seedMs = await addEarlierWrites(uri, masterKey, old.project, earlier);
        log(`  mongodb: driver updateOne ${driverSeq.sequential}/s sequential; sg ${freshSeq.sequential}/s sequential (fresh project)`);
        log(`  added ${earlier.toLocaleString('en')} earlier writes to project ${old.project} in ${seedMs} ms`);
        const rounds = 3;
        const driverR: number[] = [];
        const freshR: number[] = [];
        const afterR: number[] = [];
        // CPU per sg write (µs) of sg and of FerretDB, which share the servers' CPU.
        const cpu: { sg: number[]; ferret: number[] } = { sg: [], ferret: [] };
        const counted = async (fn: () => Promise<number>) => {
          const [s0, f0] = [cpuMs(server.pid), mongo.pid ? cpuMs(mongo.pid) : 0];
          const perSec = await fn();
          const writes = Math.max(1, (perSec * ms) / 1000);
          cpu.sg.push(Math.round(((cpuMs(server.pid) - s0) * 1000) / writes));
          if (mongo.pid) cpu.ferret.push(Math.round(((cpuMs(mongo.pid) - f0) * 1000) / writes));
          return perSec;
        };
        const steps = [
          async () => driverR.push((await driverRates(mongo.uri, ms, false)).concurrent8),
          async () => freshR.push(await counted(async () => (await measure(server, ms, undefined, false)).concurrent8)),
          async () => afterR.push(await counted(async () => (await measure(server, ms, old, false)).concurrent8)),
        ];
        for (let r = 0; r < rounds; r++) {
          for (let k = 0; k < steps.length; k++) await steps[(r + k) % steps.length]!();
          log(`  round ${r + 1}/${rounds}, 8 in flight: driver ${driverR[r]}/s, sg fresh project ${freshR[r]}/s, sg after ${earlier.toLocaleString('en')} earlier writes ${afterR[r]}/s`);
        }
        log(`  CPU per sg write (includes warm-up and seeding): sg ${cpu.sg.join(', ')} µs; FerretDB ${cpu.ferret.join(', ')} µs`);
        const [driver, fresh, after] = [median(driverR), median(freshR), median(afterR)];
        out.mongoDriverPerSec = driver;
        out.mongoFreshPerSec = out.mongoPerSec = fresh;
        out.mongoAfter10kPerSec = after;
        out.mongoRatio = driver > 0 ? round(fresh / driver, 2) : null;
        details.mongodb = {
          server: process.env.SG_TEST_MONGODB_URI ? 'SG_TEST_MONGODB_URI' : 'FerretDB v1 (SQLite handler)',
          sequential: { driverUpdateOne: driverSeq.sequential, sgFresh: freshSeq.sequential },
          rounds: { driverUpdateOne: driverR, fresh: freshR, after10k: afterR, order: 'rotated each round' },
          cpuUsPerWrite: cpu,
          after10k: { earlierWrites: earlier, seededInMs: seedMs, seededBy: 'store import of a 10,000-revision group history + 10,000 audit records' },
          ratioSequential: driverSeq.sequential > 0 ? round(freshSeq.sequential / driverSeq.sequential, 2) : null,
          after10kOverFresh: fresh > 0 ? round(after / fresh, 2) : null,
        };
        log(`  medians: ratio to the driver ${out.mongoRatio} (8 in flight); after 10k / fresh ${(details.mongodb as { after10kOverFresh: number }).after10kOverFresh}`);
      } finally {
        await server.cleanup();
      }
    } finally {
      await mongo.stop();
    }
  } catch (e) {
    details.mongodbUnavailable = (e as Error).message;
    log(`  mongodb: unavailable (${(e as Error).message})`);
  }
  return { ...out, details };
}
