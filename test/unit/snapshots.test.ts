/** In-memory snapshots: patched after a local write when that was the only change, else reloaded. */
import { beforeEach, expect, it } from 'vitest';
import { Snapshots } from '../../server/watch/snapshots.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import { group, workload } from '../helpers/fixtures.js';

let store: SqliteStore;
let snapshots: Snapshots;
let loads = 0;
beforeEach(async () => {
  store = new SqliteStore(':memory:');
  await store.init();
  await store.createProject({ name: 'p', createdAt: 1 });
  await store.createRecord('workload', workload('api'));
  await store.createRecord('group', group('g', { variables: { A: '1' } }));
  const load = store.loadProject.bind(store);
  loads = 0;
  store.loadProject = async (name) => {
    loads++;
    return load(name);
  };
  snapshots = new Snapshots(store, () => new Uint8Array());
});

it('patches the snapshot after a local write without reloading the project', async () => {
  await snapshots.get('p');
  expect(loads).toBe(1);
  const g2 = group('g', { revision: 2, variables: { A: '2' } });
  await store.updateRecord('group', g2);
  await snapshots.applyLocal('p', 'group', 'g', g2);
  expect(loads).toBe(1);
  const state = await snapshots.get('p');
  expect(state.snapshot.groups.get('g')!.variables).toEqual({ A: '2' });
  expect(state.version).toBe((await store.projectVersions()).get('p'));
  await store.deleteRecord('group', 'p', 'g', 2);
  await snapshots.applyLocal('p', 'group', 'g', null);
  expect((await snapshots.get('p')).snapshot.groups.has('g')).toBe(false);
  expect(loads).toBe(1);
});

it('reloads instead when another writer committed too, so nothing is missed', async () => {
  await snapshots.get('p');
  const g2 = group('g', { revision: 2, variables: { A: '2' } });
  await store.updateRecord('group', g2);
  await store.createRecord('workload', workload('other')); // a concurrent writer elsewhere
  await snapshots.applyLocal('p', 'group', 'g', g2);
  expect(loads).toBe(2);
  const state = await snapshots.get('p');
  expect([...state.snapshot.workloads.keys()].sort()).toEqual(['api', 'other']);
  expect(state.snapshot.groups.get('g')!.variables).toEqual({ A: '2' });
});
