/**
 * Workloads with the same content share one merge and one encoding: the others' bytes are the
 * first one's with the workload's name replaced. They must be exactly what encoding each
 * workload's own resolution gives.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeResolution } from '../../server/api/handlers/resolver-handlers.js';
import { renameResolution } from '../../server/api/resolution-rename.js';
import { resolve } from '../../server/domain/resolve.js';
import type { Resolution } from '../../server/domain/types.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';
import { Snapshots } from '../../server/watch/snapshots.js';
import { group, workload } from '../helpers/fixtures.js';

const bytesOf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

function resolution(over: Partial<Resolution>): Resolution {
  return {
    project: 'p', workload: 'w', scope: 'runtime', variables: {}, files: [], etag: 'e', conflicts: [],
    provenance: [], fileProvenance: [], contributingGroups: [], eligibleGroups: [], ...over,
  };
}

describe('renameResolution', () => {
  it('gives the bytes of the same resolution encoded for the other workload', () => {
    const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 300 });
    fc.assert(
      fc.property(name, name, name, fc.dictionary(fc.stringMatching(/^[A-Z][A-Z0-9_]{0,8}$/), fc.string({ maxLength: 200 }), { maxKeys: 20 }), (project, from, to, variables) => {
        const r = resolution({ project, workload: from, variables, etag: 'x'.repeat(27) });
        const renamed = renameResolution(encodeResolution(r), to);
        expect(bytesOf(renamed!)).toEqual(bytesOf(encodeResolution({ ...r, workload: to })));
        // The kept frame too: its prefix says the new length.
        const frame = (renamed as unknown as { frame: Buffer }).frame;
        expect(frame.readUInt32BE(1)).toBe(renamed!.byteLength);
        expect(frame.subarray(5)).toEqual(bytesOf(renamed!));
      }),
    );
  });

  it('declines bytes laid out otherwise', () => {
    expect(renameResolution(new Uint8Array([0x12, 0x01, 0x41]), 'w')).toBeUndefined();
    expect(renameResolution(new Uint8Array([0x0a, 0x05, 0x0a, 0x01, 0x70]), 'w')).toBeUndefined(); // length past the end
    expect(renameResolution(new Uint8Array([0x0a, 0x03, 0x0a, 0x01, 0x70]), 'w')).toBeUndefined(); // no workload field
  });
});

describe('resolutions shared by workloads with the same content', () => {
  it('every cached resolution is exactly its own encoding, shared or not', async () => {
    const store = new SqliteStore(':memory:');
    await store.init();
    await store.createProject({ name: 'p', createdAt: 1 });
    const workloads = [
      workload('a1', { tags: ['web'] }),
      workload('a2', { tags: ['web'] }),
      workload('a3', { tags: ['web', 'eu'] }), // a tag group reaches it too
      workload('b1'),
      workload('b2'),
      workload('own', { runtimeVariables: { OWN: 'o' } }), // its own variables: never shared
      workload('named'), // named by a restricted group
      workload('build', { buildArguments: { ARG: '1' } }),
    ];
    for (const w of workloads) await store.createRecord('workload', w);
    await store.createRecord('group', group('base', { variables: { A: '1', B: '2' } }));
    await store.createRecord('group', group('web', { priority: 10, variables: { A: 'web' }, restrictions: { restricted: true, workloads: [], tags: ['web'] } }));
    await store.createRecord('group', group('eu', { priority: 20, variables: { REGION: 'eu' }, restrictions: { restricted: true, workloads: [], tags: ['eu'] } }));
    await store.createRecord('group', group('named', { variables: { N: 'n' }, restrictions: { restricted: true, workloads: ['named'], tags: [] } }));
    await store.createRecord('group', group('build-only', { scope: 'build', variables: { BUILD: 'b' } }));
    let encodings = 0;
    const counting = Object.assign((r: Resolution) => (encodings++, encodeResolution(r)), { rename: encodeResolution.rename });
    const snapshots = new Snapshots(store, counting);
    const state = await snapshots.get('p');
    for (const scope of ['runtime', 'build'] as const) {
      for (const w of workloads) {
        const cached = state.resolution(w.name, scope);
        const own = resolve(state.snapshot, w.name, scope);
        expect(cached.etag).toBe(own.etag);
        expect(bytesOf(cached.bytes)).toEqual(bytesOf(encodeResolution(own)));
      }
    }
    // Runtime: {a1, a2}, {a3}, {b1, b2, build}, {own}, {named}; build: {a1, a2}, {a3}, {b1, b2, own}, {named}, {build}.
    expect(encodings).toBe(5 + 5);
  });
});
