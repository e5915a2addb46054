/** Pure parts of the console RPCs: revision diffs and group dependents. */
import { describe, expect, it } from 'vitest';
import { groupDependents } from '../../server/domain/dependents.js';
import { diffGroups } from '../../server/domain/group-diff.js';
import { prepareGroups, resolveWorkload } from '../../server/domain/resolve.js';
import type { ProjectSnapshot, SecretGroup, Workload } from '../../server/domain/types.js';

const meta = { revision: 1, createdAt: 0, updatedAt: 0, updatedBy: 't' };
const group = (name: string, over: Partial<SecretGroup> = {}): SecretGroup => ({
  ...meta,
  project: 'p',
  name,
  description: '',
  type: 'secret',
  scope: 'both',
  priority: 0,
  restrictions: { restricted: false, workloads: [], tags: [] },
  variables: {},
  files: [],
  addonLinks: [],
  ...over,
});
const workload = (name: string, over: Partial<Workload> = {}): Workload => ({ ...meta, project: 'p', name, kind: 'service', tags: [], runtimeVariables: {}, buildArguments: {}, ...over });

describe('diffGroups', () => {
  it('keys, files and settings that differ; never values', () => {
    const a = group('g', { variables: { A: '1', B: '2', C: '3' }, files: [{ path: '/x', content: new Uint8Array([1]), mode: 0o600 }, { path: '/y', content: new Uint8Array([1]), mode: 0o600 }] });
    const b = group('g', {
      priority: 20,
      restrictions: { restricted: true, workloads: ['api'], tags: [] },
      variables: { A: '1', B: 'changed', D: '4' },
      files: [{ path: '/x', content: new Uint8Array([2]), mode: 0o600 }, { path: '/z', content: new Uint8Array([1]), mode: 0o600 }],
      addonLinks: [{ addon: 'db', keys: [{ key: 'host', alias: 'DB_HOST' }] }],
    });
    const d = diffGroups(a, b);
    expect(d).toEqual({
      addedKeys: ['D'],
      removedKeys: ['C'],
      changedKeys: ['B'],
      addedFiles: ['/z'],
      removedFiles: ['/y'],
      changedFiles: ['/x'],
      settings: [
        { name: 'priority', from: '0', to: '20' },
        { name: 'restrictions', from: 'none', to: 'workloads: api; tags: -' },
        { name: 'addon_links', from: '', to: 'db (host as DB_HOST)' },
      ],
    });
    expect(JSON.stringify(d)).not.toContain('changed"');
  });

  it('a missing revision (created or deleted) is an empty group', () => {
    const g = group('g', { variables: { A: '1' } });
    expect(diffGroups(null, g).addedKeys).toEqual(['A']);
    expect(diffGroups(g, null).removedKeys).toEqual(['A']);
    expect(diffGroups(g, g)).toEqual({ addedKeys: [], removedKeys: [], changedKeys: [], addedFiles: [], removedFiles: [], changedFiles: [], settings: [] });
  });
});

describe('groupDependents', () => {
  it('the eligibility rule picks workloads; provenance splits winning and shadowed keys', () => {
    const snapshot: ProjectSnapshot = {
      project: { name: 'p', createdAt: 0 },
      workloads: new Map([
        ['api', workload('api', { tags: ['web'], runtimeVariables: { OWN: 'w' } })],
        ['job', workload('job')],
      ]),
      addons: new Map(),
      groups: new Map([
        ['low', group('low', { priority: 1, variables: { A: '1', B: '1', OWN: 'g' } })],
        ['high', group('high', { priority: 9, scope: 'runtime', restrictions: { restricted: true, workloads: [], tags: ['web'] }, variables: { B: '2' } })],
      ]),
    };
    const prepared = prepareGroups(snapshot);
    const explain = (w: string, scope: 'runtime' | 'build') => resolveWorkload('p', snapshot.workloads.get(w)!, scope, prepared, { provenance: true });
    expect(groupDependents(snapshot, 'high', ['runtime', 'build'], explain)).toEqual([
      { workload: 'api', scope: 'runtime', winningKeys: ['B'], shadowedKeys: [], winningFiles: [], shadowedFiles: [] },
    ]);
    const low = groupDependents(snapshot, 'low', ['runtime'], explain);
    expect(low).toEqual([
      { workload: 'api', scope: 'runtime', winningKeys: ['A'], shadowedKeys: ['B', 'OWN'], winningFiles: [], shadowedFiles: [] },
      { workload: 'job', scope: 'runtime', winningKeys: ['A', 'B', 'OWN'], shadowedKeys: [], winningFiles: [], shadowedFiles: [] },
    ]);
    expect(groupDependents(snapshot, 'missing', ['runtime'], explain)).toEqual([]);
  });
});
