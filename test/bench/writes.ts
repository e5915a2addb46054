/**
 * Writes per second through the API (SetVariables RPCs, each one stored with history and
 * audit, then the project snapshot refreshed) on the embedded SQLite store and on MongoDB
 * (FerretDB's SQLite handler on this machine). Two figures per store: one writer at a time
 * (sequential), and 8 writers in flight, each on its own group (no contention retries). The
 * headline is the 8-writer figure.
 */
import { randomBytes } from 'node:crypto';
import { connect } from '../../agent/client/connection.js';
import { api } from './lib/api.js';
import { startMongo } from './lib/ferretdb.js';
import { startSg, type SgServer } from './lib/procs.js';
import { seedWriteProject } from './lib/seed.js';
import { round } from './lib/util.js';

async function measure(server: SgServer, ms: number): Promise<{ sequential: number; concurrent8: number }> {
  const admin = connect({ addr: server.addr, token: server.adminToken });
  try {
    const a = api(admin);
    const fx = await seedWriteProject(admin);
    const loop = async (writers: number, duration: number) => {
      let n = 0;
      const start = performance.now();
      const end = start + duration;
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          while (performance.now() < end) {
            await a.setVars(fx.project, fx.groups[w % fx.groups.length]!, { [`K${n % 20}`]: `v${n}-${w}` });
            n++;
          }
        }),
      );
      return (n / (performance.now() - start)) * 1000;
    };
    await loop(1, Math.min(1000, ms / 2)); // warm-up
    const sequential = await loop(1, ms);
    const concurrent8 = await loop(8, ms);
    return { sequential: round(sequential, 0), concurrent8: round(concurrent8, 0) };
  } finally {
    admin.close();
  }
}

export async function benchWrites(quick: boolean, log: (s: string) => void) {
  const ms = quick ? 3_000 : 8_000;
  const details: Record<string, unknown> = { durationMsPerMode: ms, headline: '8 writers in flight, one group each' };
  const sqliteServer = await startSg();
  let sqlite: { sequential: number; concurrent8: number };
  try {
    sqlite = await measure(sqliteServer, ms);
  } finally {
    await sqliteServer.cleanup();
  }
  details.sqlite = sqlite;
  log(`  sqlite: ${sqlite.sequential}/s sequential, ${sqlite.concurrent8}/s with 8 writers`);
  let mongoPerSec: number | null = null;
  try {
    const mongo = await startMongo();
    try {
      const db = `sgbench_${process.pid}_${Date.now().toString(36)}`;
      const server = await startSg({ args: ['--store', `${mongo.uri}${db}`], env: { SG_MASTER_KEY: randomBytes(32).toString('base64') } });
      try {
        const m = await measure(server, ms);
        details.mongodb = { ...m, server: process.env.SG_TEST_MONGODB_URI ? 'SG_TEST_MONGODB_URI' : 'FerretDB v1 (SQLite handler)' };
        mongoPerSec = m.concurrent8;
        log(`  mongodb (FerretDB): ${m.sequential}/s sequential, ${m.concurrent8}/s with 8 writers`);
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
  return { sqlitePerSec: sqlite.concurrent8, mongoPerSec, details };
}
