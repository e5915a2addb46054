/** The audit buffer: repeated reads aggregated, overflow recorded, nothing lost when the store fails. */
import { expect, it } from 'vitest';
import { Audit } from '../../server/service/audit.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import type { AuditEvent } from '../../server/store/store.js';

const read = (n: number): AuditEvent => ({ time: n, actor: 'a', action: 'GetGroup', project: 'p', target: `t${n}`, keys: ['K'], outcome: 'ok' });

async function store() {
  const s = new SqliteStore(':memory:');
  await s.init();
  return s;
}

it('aggregates identical reads of one flush interval into one record with a count', async () => {
  const s = await store();
  const audit = new Audit(s, 60_000);
  for (let i = 0; i < 5; i++) audit.recordRepeatedRead('same', () => read(1));
  audit.recordRepeatedRead('other', () => read(2));
  await audit.flush();
  const events = await s.listAudit({});
  expect(events.map((e) => [e.target, e.detail ?? null])).toEqual([
    ['t2', null],
    ['t1', '5 identical reads in this interval'],
  ]);
  await audit.close();
});

it('counts identical reads for a window after recording one, then records them once', async () => {
  const s = await store();
  let now = 1_000;
  const audit = new Audit(s, 60_000, 10_000, 10_000, () => now); // a 10 s window
  const targets = async () => (await s.listAudit({})).map((e) => [e.target, e.detail ?? null]);
  audit.recordRepeatedRead('same', () => read(1));
  await audit.flush();
  expect(await targets()).toEqual([['t1', null]]); // the first read is recorded at once
  for (let i = 2; i <= 4; i++) audit.recordRepeatedRead('same', () => read(i));
  now += 5_000;
  await audit.flush();
  expect(await targets()).toHaveLength(1); // still inside the window: counted, not written
  now += 5_000;
  await audit.flush();
  expect((await targets())[0]).toEqual(['t2', '3 identical reads in this interval']); // the first of them
  now += 10_000;
  await audit.flush(); // a window without reads: the key is forgotten
  audit.recordRepeatedRead('same', () => read(5));
  await audit.flush();
  expect((await targets())[0]).toEqual(['t5', null]);
  audit.recordRepeatedRead('same', () => read(6));
  await audit.close(); // closing records what is still counted
  expect((await targets())[0]).toEqual(['t6', null]);
});

it('records that reads were dropped when the buffer overflowed', async () => {
  const s = await store();
  const audit = new Audit(s, 60_000, 3);
  for (let i = 0; i < 5; i++) audit.recordRead(read(i));
  await audit.flush();
  const events = await s.listAudit({});
  expect(events).toHaveLength(4);
  expect(events[0]).toMatchObject({ action: 'AuditOverflow', outcome: 'error', detail: '2 read record(s) dropped: the audit buffer was full' });
  await audit.close();
});

it('keeps unwritten reads for the next flush when the store fails', async () => {
  const s = await store();
  const audit = new Audit(s, 60_000);
  const append = s.appendAudit.bind(s);
  let fail = true;
  s.appendAudit = async (e) => (fail ? Promise.reject(new Error('down')) : append(e));
  audit.recordRead(read(1));
  await audit.flush();
  fail = false;
  await audit.flush();
  expect((await s.listAudit({})).map((e) => e.target)).toEqual(['t1']);
  await audit.close();
});
