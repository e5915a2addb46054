/**
 * What one SetVariables costs on MongoDB, counted on the wire (a proxy between the server and
 * FerretDB records every command): a fixed, small number of commands, every query a point
 * look-up by _id (the only query FerretDB answers from an index) apart from the list of
 * projects, and the same commands after hundreds of earlier writes — so the write rate cannot
 * depend on the project's history.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
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
    t = await startTestServer({ storeUri: `${wire.uri}${uniqueDbName('sgtrips')}`, masterKeyFile, pollMs: 3_600_000 });
  });
  afterAll(async () => {
    await t?.stop();
    await wire?.close();
    await mongo?.dispose();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  /** The commands of one SetVariables, checkpoint writes left out (one write in 100 adds two). */
  async function oneWrite(n: number): Promise<string[]> {
    const a = api(t.admin);
    wire.reset();
    await a.setVars('p', 'g', { K: `v${n}` });
    return wire.commands.filter((c) => c.collection !== 'checkpoints').map(show);
  }

  it('is a fixed set of _id look-ups and two inserts, before and after 250 earlier writes', async () => {
    const a = api(t.admin);
    await a.createProject('p');
    await a.createWorkload({ project: 'p', name: 'w' });
    await a.createGroup({ project: 'p', name: 'g', variables: { K: 'v0' } });
    await a.setVars('p', 'g', { K: 'warm' });

    const fresh = await oneWrite(1);
    process.stderr.write(`one SetVariables on MongoDB: ${fresh.length} commands: ${fresh.join('; ')}\n`);
    expect(fresh.filter((c) => c.startsWith('insert')).sort()).toEqual(['insert audit', 'insert changes']);
    for (const c of fresh.filter((x) => x.startsWith('find'))) {
      // Point look-ups only; the one exception lists the (few) projects for the change feed.
      expect(c === 'find projects {}' || c.endsWith(' {_id}'), c).toBe(true);
    }
    expect(fresh.some((c) => c.startsWith('aggregate') || c.startsWith('update') || c.startsWith('delete'))).toBe(false);
    expect(fresh.length).toBeLessThanOrEqual(10);

    for (let i = 0; i < 250; i++) await a.setVars('p', 'g', { K: `h${i}` });
    expect(await oneWrite(2)).toEqual(fresh);
  }, 120_000);
});
