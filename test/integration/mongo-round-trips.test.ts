/**
 * What one SetVariables costs on MongoDB, counted on the wire (a proxy between the server and
 * FerretDB records every command): a fixed, small number of commands, every query a point
 * look-up by _id (the only query FerretDB answers from an index) apart from the list of
 * projects, and the same commands after hundreds of earlier writes, past the history budget
 * (what it prunes is reclaimed with its change collection, not updated write by write) — so
 * the write rate cannot depend on the project's history — and the audit records of the calls'
 * answers written in batches.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { GroupType } from '../../gen/secretgroups/v1/resources.js';
import { LIMITS } from '../../server/domain/limits.js';
import { VALUES_IN_ANSWER } from '../../server/service/value-reads.js';
import { generateMasterKey, writeMasterKeyFile } from '../../server/security/master-key.js';
import { api } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/in-process.js';
import { describeWithMongo, startMongo, uniqueDbName, type MongoServer } from '../helpers/mongodb.js';
import { startWireCounter, type WireCommand, type WireCounter } from '../helpers/mongo-wire.js';

/** A command as a short string: `find changes {_id}`, `insert audit`. */
const show = (c: WireCommand) => `${c.name} ${c.collection.startsWith('changes_') ? 'changes' : c.collection}${c.filter ? ` {${Object.keys(c.filter).join(',')}}` : ''}`;

describeWithMongo('MongoDB round trips of one SetVariables', () => {
  let mongo: MongoServer;
  let wire: WireCounter;
  let t: TestServer;
  let keyDir: string;
  beforeAll(async () => {
    mongo = await startMongo();
    wire = await startWireCounter(mongo.uri);
    keyDir = mkdtempSync(join(tmpdir(), 'sg-trips-key-'));
    const masterKeyFile = join(keyDir, 'master.key');
    writeMasterKeyFile(masterKeyFile, generateMasterKey().encoded);
    // No background polling during the count: only the request's own commands reach the wire.
    // The group commit waits up to 50 ms (not 3) for the writers of the group before it: the
    // last test sees that wait whatever the machine's load (see there).
    t = await startTestServer({ storeUri: `${wire.uri}${uniqueDbName('sgtrips')}`, masterKeyFile, pollMs: 3_600_000, mongoStore: { lingerMaxMs: 50 } });
  });
  afterAll(async () => {
    await t?.stop();
    await wire?.close();
    await mongo?.dispose();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  /**
   * The commands of one SetVariables, checkpoint writes left out (one write in 100 adds two),
   * and so are token look-ups: authentication, at most one per token each TOKEN_CACHE_MS
   * whatever the call, which a slow write on a loaded machine may or may not straddle; and so
   * is a flush of the audit buffer that falls in the call (its read records are counted below).
   */
  async function oneWrite(n: number): Promise<string[]> {
    const a = api(t.admin);
    wire.reset();
    await a.setVars('p', 'g', { K: `v${n}` });
    return wire.commands.filter((c) => c.collection !== 'checkpoints' && c.collection !== 'tokens' && !flushOfReads(c)).map(show);
  }

  /** Whether the last oneWrite wrote a checkpoint (and so started a reclaiming pass of the log). */
  const wroteCheckpoint = () => wire.commands.some((c) => c.name === 'insert' && c.collection === 'checkpoints');

  /** The audit buffer's flush of earlier calls' read records (every 500 ms), not this call's work. */
  const flushOfReads = (c: WireCommand) => c.name === 'insert' && c.collection === 'audit' && (c.inserted ?? []).every((d) => d.detail === VALUES_IN_ANSWER);

  it('is two inserts, before and after 250 earlier writes', async () => {
    const a = api(t.admin);
    await a.createProject('p');
    await a.createWorkload({ project: 'p', name: 'w' });
    await a.createGroup({ project: 'p', name: 'g', variables: { K: 'v0' } });
    await a.setVars('p', 'g', { K: 'warm' });

    const fresh = await oneWrite(1);
    process.stderr.write(`one SetVariables on MongoDB: ${fresh.length} commands: ${fresh.join('; ')}\n`);
    // The audit record and the change (the commit). No look-up of the project: a deletion
    // closes the log first, so the insert itself would fail. Planned against the snapshot, so
    // no read of the group; the snapshot is patched with the version the commit returned, so
    // no read of the change feed.
    expect([...fresh].sort()).toEqual(['insert audit', 'insert changes']);

    for (let i = 0; i < 250; i++) await a.setVars('p', 'g', { K: `h${i}` });
    // Past the history budget's 200 revisions each write prunes the oldest kept one. What it
    // prunes is reclaimed with its whole change collection after a grace (docs/storage.md,
    // "Reclaiming the log"), by a pass that starts after a checkpoint: the writes themselves
    // cost the same two commands as before.
    expect(LIMITS.historyRevisions).toBeLessThan(250);
    let counted = 0;
    for (let i = 0; i < 12; i++) {
      const c = await oneWrite(2 + i);
      if (wroteCheckpoint()) {
        await sleep(500); // its reclaiming pass (a few look-ups, nothing to reclaim yet) ends
        continue;
      }
      expect([...c].sort()).toEqual([...fresh].sort());
      counted++;
    }
    expect(counted).toBeGreaterThanOrEqual(11);
  }, 120_000);

  it('pins the commands of sequential SetVariables, the audit of their answers included', async () => {
    const a = api(t.admin);
    await a.createGroup({ project: 'p', name: 's', type: GroupType.GROUP_TYPE_SECRET, variables: { K: 'v0' } });
    await a.setVars('p', 's', { K: 'warm' });
    await sleep(1_200); // the audit buffer of earlier calls is flushed (every 500 ms)
    wire.reset();
    const writes = 20;
    for (let i = 0; i < writes; i++) await a.setVars('p', 's', { K: `s${i}` });
    // Each answer shows the secret group's values, so each call also leaves a read record,
    // buffered and written by the next flush: all of them together, not one insert each.
    await sleep(1_200);
    const commands = wire.commands.filter((c) => c.collection !== 'checkpoints' && c.collection !== 'tokens');
    const audits = commands.filter((c) => c.name === 'insert' && c.collection === 'audit');
    const audited = audits.reduce((n, c) => n + (c.documents ?? 0), 0);
    process.stderr.write(`${writes} sequential SetVariables: ${commands.length} commands (${audits.length} audit inserts of ${audited} records)\n`);
    expect(audited).toBe(2 * writes);
    // Per write: audit record and change; the read records of a flush in one more insert
    // (flushes every 500 ms: a handful during these writes).
    expect(audits.length).toBeLessThanOrEqual(writes + 6);
    expect(commands.length).toBeLessThanOrEqual(2 * writes + 6);
    for (const c of commands) expect(['insert audit', 'insert changes']).toContain(show(c));
  }, 120_000);

  it('commits concurrent writes of a project together: 16 SetVariables in fewer inserts, none lost', async () => {
    const a = api(t.admin);
    const groups = Array.from({ length: 8 }, (_, i) => `c${i}`);
    for (const name of groups) await a.createGroup({ project: 'p', name, variables: { K: '0' } });
    wire.reset();
    // Replies held 40 ms, as from a busier database: the calls then meet in the queues even
    // when a loaded machine gets them out one by one (in CI, with undelayed replies of ~2 ms,
    // each audit record once went out alone).
    wire.delayReplies(40);
    // Two writes per group at once: the second of a pair is refused inside its group commit
    // (same revision as the first) and retried, as if the writes had been committed one by one.
    await Promise.all(groups.flatMap((name) => [a.setVars('p', name, { A: name }), a.setVars('p', name, { B: name })]));
    const inserts = wire.commands.filter((c) => c.name === 'insert');
    wire.delayReplies(0);
    const changes = inserts.filter((c) => c.collection.startsWith('changes_'));
    const audits = inserts.filter((c) => c.collection === 'audit');
    const records = (cs: WireCommand[]) => cs.reduce((n, c) => n + (c.documents ?? 0), 0);
    process.stderr.write(`16 concurrent SetVariables: ${changes.length} change inserts of ${records(changes)} changes, ${audits.length} audit inserts of ${records(audits)} records\n`);
    // Every change is committed once, in fewer inserts than changes.
    expect(records(changes)).toBe(16);
    expect(changes.length).toBeLessThan(16);
    // A retried write leaves three records (its attempt, the attempt's failure, the retry):
    // concurrent records share inserts.
    expect(records(audits)).toBeGreaterThanOrEqual(16);
    expect(audits.length).toBeLessThan(records(audits));
    for (const name of groups) {
      const g = await a.getGroup('p', name);
      expect(g.group!.revision).toBe(3);
      expect(g.group!.variables).toEqual({ K: '0', A: name, B: name });
    }
  }, 120_000);

  it('lets 8 writers that write again once answered share group commits: a group waits for the writers of the one before', async () => {
    const a = api(t.admin);
    await a.createProject('lp');
    const groups = Array.from({ length: 8 }, (_, i) => `l${i}`);
    for (const name of groups) await a.createGroup({ project: 'lp', name, variables: { K: '0' } });
    // Replies held 40 ms: without the wait, the writers split into two cohorts that alternate
    // (one committing while the other is on its way back). The wait is at most half the last
    // commit's time and the server's lingerMaxMs (50 ms here, 3 ms in production, where the
    // bench measures the rates): ~40 ms, which a writer's round trip fits in even on a loaded
    // machine (with 3 ms and 5 ms replies, a busy CI once saw 4.2 changes per insert).
    wire.delayReplies(40);
    const loop = async (name: string, from: number) => {
      for (let i = from; i < from + 12; i++) await a.setVars('lp', name, { K: `${i}` });
    };
    await Promise.all(groups.map((name) => loop(name, 0))); // the groups' sizes settle
    wire.reset();
    await Promise.all(groups.map((name) => loop(name, 12)));
    wire.delayReplies(0);
    const changes = wire.commands.filter((c) => c.name === 'insert' && c.collection.startsWith('changes_'));
    const committed = changes.reduce((n, c) => n + (c.documents ?? 0), 0);
    process.stderr.write(`8 writers, 12 SetVariables each: ${changes.length} change inserts (${(committed / changes.length).toFixed(1)} changes each)\n`);
    expect(committed).toBe(8 * 12);
    // Two alternating cohorts of 4 commit ~4 changes each; one cohort of 8, up to 8.
    expect(committed / changes.length).toBeGreaterThanOrEqual(5);
    for (const name of groups) expect((await a.getGroup('lp', name)).group!.variables).toEqual({ K: '23' });
  }, 120_000);
});
