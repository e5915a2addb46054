/**
 * The restart relay reads the audit log only when the restart signal changed: polls between
 * requests cost one meta look-up, not a query over the whole (ever-growing) log — and a request
 * recorded and signalled by another replica is still delivered, once.
 */
import { beforeEach, expect, it } from 'vitest';
import { Snapshots, type ResolutionEncoder } from '../../server/watch/snapshots.js';
import type { AuditFilter } from '../../server/store/store.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import { WatchHub, type WatchEncoder, type WatchSink } from '../../server/watch/hub.js';
import { RESTART_ACTION, RestartRelay, signalRestart } from '../../server/watch/restart-relay.js';
import { group, workload } from '../helpers/fixtures.js';

const encodeResolution: ResolutionEncoder = (r) => Buffer.from(`resolution:${r.etag}`);
const encoder: WatchEncoder = {
  unchanged: (etag) => Buffer.from(`unchanged:${etag}`),
  restart: (g) => Buffer.from(`restart:${g}`),
  heartbeat: () => Buffer.from('heartbeat'),
  delta: () => null,
};

class Sink implements WatchSink {
  written: string[] = [];
  write(bytes: Uint8Array) {
    this.written.push(Buffer.from(bytes).toString());
    return true;
  }
  onDrain() {}
  fail() {}
}

let store: SqliteStore;
let auditReads: AuditFilter[];
let relay: RestartRelay;
let sink: Sink;

beforeEach(async () => {
  store = new SqliteStore(':memory:');
  await store.init();
  await store.createProject({ name: 'p', createdAt: 1 });
  await store.createRecord('workload', workload('api'));
  await store.createRecord('group', group('g'));
  // Count the relay's reads of the audit log (the real store answers them).
  auditReads = [];
  const listAudit = store.listAudit.bind(store);
  store.listAudit = (f: AuditFilter) => {
    auditReads.push(f);
    return listAudit(f);
  };
  const snapshots = new Snapshots(store, encodeResolution);
  const hub = new WatchHub(snapshots, encoder, 0);
  relay = new RestartRelay(store, snapshots, hub);
  sink = new Sink();
  hub.join(await snapshots.get('p'), 'api', 'runtime', '', sink);
});

/** What another replica does for RestartDependents: record, then signal. */
async function requestFromOtherReplica(): Promise<void> {
  await store.appendAudit({ time: Date.now(), actor: 'admin', action: RESTART_ACTION, project: 'p', target: 'group p/g', keys: [], outcome: 'ok', detail: 'replica other' });
  await signalRestart(store);
}

it('reads the audit log once at start, then only after a restart request was signalled', async () => {
  expect(await relay.poll()).toBe(0);
  expect(auditReads).toHaveLength(1);
  for (let i = 0; i < 5; i++) expect(await relay.poll()).toBe(0);
  expect(auditReads).toHaveLength(1);

  await requestFromOtherReplica();
  expect(await relay.poll()).toBe(1);
  expect(auditReads).toHaveLength(2);
  expect(sink.written.filter((m) => m.startsWith('restart:'))).toEqual(['restart:g']);

  expect(await relay.poll()).toBe(0);
  expect(auditReads).toHaveLength(2);
  await requestFromOtherReplica();
  expect(await relay.poll()).toBe(1);
  expect(sink.written.filter((m) => m.startsWith('restart:'))).toEqual(['restart:g', 'restart:g']);
});
