/**
 * Someone with write access to the raw database flips bytes or moves ciphertexts around.
 * Every such change must surface as a clear DomainError naming where it happened — never as a
 * wrong value — and the error must not carry any value.
 */
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GroupHistoryEntry, SecretGroup } from '../../server/domain/types.js';
import { addon, group, workload } from '../helpers/fixtures.js';
import { domainErrorOf, sealedSqlite, type SealedSqlite } from './helpers.js';

type Doc = Record<string, any>;

function hist(g: SecretGroup): GroupHistoryEntry {
  return { project: g.project, name: g.name, revision: g.revision, time: 1, actor: 't', action: 'Set', changedKeys: [], group: g };
}

/** Flips one bit of the ciphertext in an `sg1:<id>:<base64>` string. */
function flipString(sealed: string, at = 14): string {
  const [v, id, body] = sealed.split(':') as [string, string, string];
  const bytes = Buffer.from(body, 'base64');
  bytes[at % bytes.length]! ^= 0x01;
  return `${v}:${id}:${bytes.toString('base64')}`;
}

describe('tampered and swapped ciphertexts', () => {
  let env: SealedSqlite;
  let db: Database.Database;

  const readDoc = (kind: string, project: string, name: string): Doc =>
    JSON.parse((db.prepare('SELECT data FROM records WHERE kind = ? AND project = ? AND name = ?').get(kind, project, name) as { data: string }).data);
  const writeDoc = (kind: string, project: string, name: string, doc: Doc) =>
    db.prepare('UPDATE records SET data = ? WHERE kind = ? AND project = ? AND name = ?').run(JSON.stringify(doc), kind, project, name);
  const readHist = (project: string, name: string, revision: number): Doc =>
    JSON.parse((db.prepare('SELECT data FROM group_history WHERE project = ? AND name = ? AND revision = ?').get(project, name, revision) as { data: string }).data);
  const writeHist = (project: string, name: string, revision: number, doc: Doc) =>
    db.prepare('UPDATE group_history SET data = ? WHERE project = ? AND name = ? AND revision = ?').run(JSON.stringify(doc), project, name, revision);

  beforeEach(async () => {
    env = await sealedSqlite();
    const s = env.store;
    for (const p of ['p', 'q']) {
      await s.createProject({ name: p, createdAt: 1 });
      await s.createRecord('workload', workload('w', { project: p, runtimeVariables: { K: 'run-value' }, buildArguments: { K: 'build-value' } }));
      await s.createRecord('addon', addon('db', { project: p, connectionDetails: { password: 'addon-value', host: 'h' } }));
      const g1 = group('g', {
        project: p,
        variables: { A: 'value-a', B: 'value-b' },
        files: [
          { path: '/f1', content: Buffer.from('file-one'), mode: 0o600 },
          { path: '/f2', content: Buffer.from('file-two'), mode: 0o600 },
        ],
      });
      await s.createRecord('group', g1, hist(g1));
      const g2 = { ...g1, revision: 2, variables: { A: 'value-a2', B: 'value-b2' } };
      await s.updateRecord('group', g2, hist(g2));
      await s.createRecord('group', group('h', { project: p, variables: { A: 'other-group-a' } }));
    }
    db = new Database(env.file);
  });

  afterEach(async () => {
    db.close();
    await env.cleanup();
  });

  /** Reads through a fresh SealedStore too, so no cache can hide what is on disk. */
  async function expectRefused(read: () => Promise<unknown>, message: RegExp): Promise<void> {
    const e = await domainErrorOf(read());
    expect(e.message).toMatch(message);
    expect(e.message).not.toMatch(/value-|addon-value|run-value|build-value|file-one|file-two/);
  }

  it('a flipped byte in a variable value is a clear authentication error, on every read path', async () => {
    const doc = readDoc('group', 'p', 'g');
    doc.variables.A = flipString(doc.variables.A);
    writeDoc('group', 'p', 'g', doc);
    const msg = /ciphertext for group p\/g variables key A failed authentication \(tampered or swapped\)/;
    await expectRefused(() => env.store.getRecord('group', 'p', 'g'), msg);
    await expectRefused(() => env.store.listRecords('group', 'p'), msg);
    await expectRefused(() => env.store.loadProject('p'), msg);
    expect((await domainErrorOf(env.store.getRecord('group', 'p', 'g'))).code).toBe('INTERNAL');
    // Untouched records are unaffected.
    expect((await env.store.getRecord('group', 'p', 'h'))!.variables).toEqual({ A: 'other-group-a' });
  });

  it('values opened by an earlier load are checked again once their ciphertext changes', async () => {
    // The first load fills the opened-value cache of the project.
    expect((await env.store.loadProject('p'))!.groups.get('g')!.variables).toEqual({ A: 'value-a2', B: 'value-b2' });
    const g = readDoc('group', 'p', 'g');
    [g.variables.A, g.variables.B] = [g.variables.B, g.variables.A];
    writeDoc('group', 'p', 'g', g);
    await expectRefused(() => env.store.loadProject('p'), /group p\/g variables key A failed authentication/);
    await expectRefused(() => env.store.getRecord('group', 'p', 'g'), /group p\/g variables key A failed authentication/);
    g.variables.A = flipString(g.variables.B);
    writeDoc('group', 'p', 'g', g);
    await expectRefused(() => env.store.listRecords('group', 'p'), /group p\/g variables key A failed authentication/);
  });

  it('flipping any byte of nonce, ciphertext or tag is detected', async () => {
    const original = readDoc('addon', 'p', 'db');
    const len = Buffer.from(original.connectionDetails.password.split(':')[2], 'base64').length;
    for (let at = 0; at < len; at++) {
      const doc = structuredClone(original);
      doc.connectionDetails.password = flipString(doc.connectionDetails.password, at);
      writeDoc('addon', 'p', 'db', doc);
      await expectRefused(() => env.store.getRecord('addon', 'p', 'db'), /addon p\/db connectionDetails key password failed authentication/);
    }
  });

  it('a flipped byte in file content, a build argument or a history entry is detected', async () => {
    const g = readDoc('group', 'p', 'g');
    const content = Buffer.from(g.files[0].content, 'base64');
    content[content.length - 1]! ^= 0x80;
    g.files[0].content = content.toString('base64');
    writeDoc('group', 'p', 'g', g);
    await expectRefused(() => env.store.getRecord('group', 'p', 'g'), /group p\/g file \/f1 failed authentication/);

    const w = readDoc('workload', 'p', 'w');
    w.buildArguments.K = flipString(w.buildArguments.K);
    writeDoc('workload', 'p', 'w', w);
    await expectRefused(() => env.store.getRecord('workload', 'p', 'w'), /workload p\/w buildArguments key K failed authentication/);

    const h = readHist('p', 'g', 1);
    h.group.variables.B = flipString(h.group.variables.B);
    writeHist('p', 'g', 1, h);
    await expectRefused(() => env.store.listGroupHistory('p', 'g'), /history of group p\/g revision 1 variables key B failed authentication/);
  });

  it('a truncated or unsealed value is reported as not a sealed value', async () => {
    const g = readDoc('group', 'p', 'g');
    g.variables.A = 'plaintext-smuggled-in';
    g.variables.B = g.variables.B.slice(0, 20);
    writeDoc('group', 'p', 'g', g);
    await expectRefused(() => env.store.getRecord('group', 'p', 'g'), /group p\/g variables key A is not a valid sg1 sealed value/);
  });

  it('swapping two keys of one record fails', async () => {
    const g = readDoc('group', 'p', 'g');
    [g.variables.A, g.variables.B] = [g.variables.B, g.variables.A];
    writeDoc('group', 'p', 'g', g);
    await expectRefused(() => env.store.getRecord('group', 'p', 'g'), /group p\/g variables key A failed authentication \(tampered or swapped\)/);
  });

  it('swapping two files of one group fails', async () => {
    const g = readDoc('group', 'p', 'g');
    [g.files[0].content, g.files[1].content] = [g.files[1].content, g.files[0].content];
    writeDoc('group', 'p', 'g', g);
    await expectRefused(() => env.store.getRecord('group', 'p', 'g'), /group p\/g file \/f1 failed authentication/);
  });

  it('copying a ciphertext to the same key of another record fails', async () => {
    const g = readDoc('group', 'p', 'g');
    const h = readDoc('group', 'p', 'h');
    h.variables.A = g.variables.A;
    writeDoc('group', 'p', 'h', h);
    await expectRefused(() => env.store.getRecord('group', 'p', 'h'), /group p\/h variables key A failed authentication/);
  });

  it('moving a value between fields of one record fails (runtime variable into build argument)', async () => {
    const w = readDoc('workload', 'p', 'w');
    w.buildArguments.K = w.runtimeVariables.K;
    writeDoc('workload', 'p', 'w', w);
    await expectRefused(() => env.store.getRecord('workload', 'p', 'w'), /workload p\/w buildArguments key K failed authentication/);
  });

  it('rolling one value back to an older copy of the same record fails', async () => {
    const old = readDoc('group', 'p', 'h');
    await env.store.updateRecord('group', group('h', { project: 'p', revision: 2, variables: { A: 'newer-value-a' } }));
    const current = readDoc('group', 'p', 'h');
    current.variables.A = old.variables.A;
    writeDoc('group', 'p', 'h', current);
    await expectRefused(() => env.store.getRecord('group', 'p', 'h'), /group p\/h variables key A failed authentication/);
  });

  it('rolling a value back to an older revision from history fails', async () => {
    const h1 = readHist('p', 'g', 1);
    const g = readDoc('group', 'p', 'g');
    g.variables.A = h1.group.variables.A;
    writeDoc('group', 'p', 'g', g);
    await expectRefused(() => env.store.getRecord('group', 'p', 'g'), /group p\/g variables key A failed authentication/);
    // And between history revisions.
    const h2 = readHist('p', 'g', 2);
    h1.group.variables.B = h2.group.variables.B;
    writeHist('p', 'g', 1, h1);
    await expectRefused(() => env.store.listGroupHistory('p', 'g'), /history of group p\/g revision 1 variables key B failed authentication/);
  });

  it('a history entry sealed once with its record opens only as that revision of that group', async () => {
    // The entry of revision 2 holds the values of the record written with it, sealed once.
    const h2 = readHist('p', 'g', 2);
    expect(h2.sealedAt).toBe('record');
    expect(h2.group.variables).toEqual(readDoc('group', 'p', 'g').variables);
    expect((await env.store.listGroupHistory('p', 'g')).map((e) => e.group!.variables)).toEqual([
      { A: 'value-a', B: 'value-b' },
      { A: 'value-a2', B: 'value-b2' },
    ]);
    // Without its mark, or with the mark on an older entry holding newer values, nothing opens.
    const unmarked = { ...h2, sealedAt: undefined };
    writeHist('p', 'g', 2, unmarked);
    await expectRefused(() => env.store.getGroupRevision('p', 'g', 2), /history of group p\/g revision 2 variables key A failed authentication/);
    writeHist('p', 'g', 2, h2);
    const h1 = readHist('p', 'g', 1);
    h1.group.variables.B = h2.group.variables.B;
    writeHist('p', 'g', 1, h1);
    await expectRefused(() => env.store.getGroupRevision('p', 'g', 1), /history of group p\/g revision 1 variables key B failed authentication/);
    // Nor does the record's place accept another group's entry: g's values in h's record fail.
    const h = readDoc('group', 'p', 'h');
    h.variables.A = h2.group.variables.A;
    writeDoc('group', 'p', 'h', h);
    await expectRefused(() => env.store.getRecord('group', 'p', 'h'), /group p\/h variables key A failed authentication/);
  });

  it('a ciphertext moved to another project names the foreign data key', async () => {
    const fromQ = readDoc('group', 'q', 'g');
    const g = readDoc('group', 'p', 'g');
    g.variables.A = fromQ.variables.A;
    writeDoc('group', 'p', 'g', g);
    await expectRefused(() => env.store.getRecord('group', 'p', 'g'), /group p\/g variables key A was sealed under data key \S+, not this project's data key/);
  });

  it('a whole record copied to another project or name fails', async () => {
    db.prepare("UPDATE records SET data = (SELECT data FROM records WHERE project = 'q' AND kind = 'addon' AND name = 'db') WHERE project = 'p' AND kind = 'addon' AND name = 'db'").run();
    await expectRefused(() => env.store.getRecord('addon', 'p', 'db'), /stored addon p\/db is labelled q\/db \(tampered or moved\)/);
    await expectRefused(() => env.store.loadProject('p'), /stored addon p\/db is labelled q\/db/);
    db.prepare("UPDATE records SET data = (SELECT data FROM records WHERE project = 'p' AND kind = 'group' AND name = 'g') WHERE project = 'p' AND kind = 'group' AND name = 'h'").run();
    await expectRefused(() => env.store.getRecord('group', 'p', 'h'), /stored group p\/h is labelled p\/g/);
    // Relabelling the copy as well still fails: its ciphertexts are bound to the original.
    const h = readDoc('group', 'p', 'h');
    h.name = 'h';
    writeDoc('group', 'p', 'h', h);
    await expectRefused(() => env.store.getRecord('group', 'p', 'h'), /group p\/h variables key A failed authentication/);
    const a = readDoc('addon', 'p', 'db');
    a.project = 'p';
    writeDoc('addon', 'p', 'db', a);
    await expectRefused(() => env.store.getRecord('addon', 'p', 'db'), /addon p\/db connectionDetails key \w+ was sealed under data key/);
  });

  it("a wrapped data key copied to another project's meta entry fails", async () => {
    db.prepare("UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'datakey:q') WHERE key = 'datakey:p'").run();
    const fresh = await env.reopen(env.key);
    await expectRefused(() => fresh.getRecord('group', 'p', 'g'), /the wrapped data key of project p failed authentication \(tampered or swapped\)/);
    await expectRefused(() => fresh.verifyMasterKey(), /cannot open the data keys of 1 project\(s\): p;/);
  });

  it('a tampered wrapped data key fails', async () => {
    const entry = JSON.parse((db.prepare("SELECT value FROM meta WHERE key = 'datakey:p'").get() as { value: string }).value);
    const w = Buffer.from(entry.wrapped, 'base64');
    w[20]! ^= 0x01;
    entry.wrapped = w.toString('base64');
    db.prepare("UPDATE meta SET value = ? WHERE key = 'datakey:p'").run(JSON.stringify(entry));
    const fresh = await env.reopen(env.key);
    await expectRefused(() => fresh.loadProject('p'), /the wrapped data key of project p failed authentication/);
    // Other projects keep working.
    expect((await fresh.getRecord('group', 'q', 'h'))!.variables).toEqual({ A: 'other-group-a' });
  });
});
