/**
 * Workloads with the same content share one merge and one encoding: the others' bytes are the
 * first one's with the workload's name replaced. They must be exactly what encoding each
 * workload's own resolution gives.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeResolution } from '../../server/api/handlers/resolver-handlers.js';
import { overlayResolution } from '../../server/api/resolution-overlay.js';
import { renameResolution } from '../../server/api/resolution-rename.js';
import { ProjectState } from '../../server/watch/snapshots.js';
import { resolve } from '../../server/domain/resolve.js';
import type { ProjectSnapshot, Resolution, SecretGroup } from '../../server/domain/types.js';
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
    const counting = Object.assign((r: Resolution) => (encodings++, encodeResolution(r)), { rename: encodeResolution.rename, overlay: encodeResolution.overlay });
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
    // One encoding per class, whether its members have variables of their own or not.
    // Runtime: {a1, a2}, {a3}, {b1, b2, build, own}, {named}; build: {a1, a2}, {a3}, {b1, b2, own, build}, {named}.
    expect(encodings).toBe(4 + 4);
  });
});

describe('own variables laid over the groups\' part of a class', () => {
  const key = fc.constantFrom('A', 'B', 'C', 'D', 'E', 'SERVICE_NAME', 'a', '_Z');
  const vars = fc.dictionary(key, fc.string({ unit: 'grapheme', maxLength: 12 }), { maxKeys: 5 });
  const tags = fc.subarray(['web', 'eu']);
  const groupArb = fc.record({
    priority: fc.constantFrom(0, 10),
    scope: fc.constantFrom('runtime', 'build', 'both') as fc.Arbitrary<SecretGroup['scope']>,
    tags,
    workloads: fc.subarray(['w0', 'w1', 'w2', 'w3']),
    variables: vars,
    file: fc.boolean(),
  });
  const workloadArb = fc.record({ tags, runtimeVariables: vars, buildArguments: vars });

  it('every cached resolution is exactly its own encoding, conflicts, files and tags included', () => {
    fc.assert(
      fc.property(fc.constantFrom('p', ''), fc.array(groupArb, { maxLength: 5 }), fc.array(workloadArb, { minLength: 4, maxLength: 4 }), fc.shuffledSubarray([0, 1, 2, 3], { minLength: 4 }), (project, groups, members, order) => {
        const workloads = members.map((m, i) => workload(`w${i}`, { project, ...m }));
        const snapshot: ProjectSnapshot = {
          project: { name: project, createdAt: 1 },
          workloads: new Map(workloads.map((w) => [w.name, w])),
          addons: new Map(),
          groups: new Map(
            groups.map((g, i) => {
              const restricted = g.tags.length + g.workloads.length > 0;
              const files = g.file ? [{ path: `/etc/f${i % 2}`, content: new Uint8Array([i]), mode: 0o600 }] : [];
              return [`g${i}`, group(`g${i}`, { project, priority: g.priority, scope: g.scope, variables: g.variables, files, restrictions: { restricted, workloads: g.workloads, tags: g.tags } })];
            }),
          ),
        };
        const state = new ProjectState(snapshot, 1, encodeResolution);
        for (const scope of ['runtime', 'build'] as const) {
          for (const w of order.map((i) => workloads[i]!)) {
            const cached = state.resolution(w.name, scope);
            const own = resolve(snapshot, w.name, scope);
            expect(cached.etag).toBe(own.etag);
            expect(bytesOf(cached.bytes)).toEqual(bytesOf(encodeResolution(own)));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('merges and encodes once per class, from a member whose own keys no group of the class sets', () => {
    const make = (baseVars: Record<string, string>) => {
      const workloads = ['s1', 's2', 's3'].map((n) => workload(n, { runtimeVariables: { SERVICE_NAME: n } }));
      workloads.push(workload('alone', { runtimeVariables: { SERVICE_NAME: 'alone' }, tags: ['solo'] }), workload('plain'), workload('s4', { runtimeVariables: { SERVICE_NAME: 's4' } }));
      const snapshot: ProjectSnapshot = {
        project: { name: 'p', createdAt: 1 },
        workloads: new Map(workloads.map((w) => [w.name, w])),
        addons: new Map(),
        groups: new Map([
          ['base', group('base', { variables: baseVars })],
          ['solo', group('solo', { variables: { S: '1' }, restrictions: { restricted: true, workloads: [], tags: ['solo'] } })],
        ]),
      };
      let encodings = 0;
      const counting = Object.assign((r: Resolution) => (encodings++, encodeResolution(r)), { rename: encodeResolution.rename, overlay: encodeResolution.overlay });
      const state = new ProjectState(snapshot, 1, counting);
      for (const w of workloads) {
        const cached = state.resolution(w.name, 'runtime');
        expect(bytesOf(cached.bytes)).toEqual(bytesOf(encodeResolution(resolve(snapshot, w.name, 'runtime'))));
      }
      return encodings;
    };
    // s1 merged and encoded; s2, s3, plain (which then stands for the class) and s4 made from it; alone on its own.
    expect(make({ A: '1' })).toBe(2);
    // The groups set SERVICE_NAME too: dropping s1's would lose the groups' value, so each member
    // with one is resolved until plain, without, stands for the class (s4 is made from it).
    expect(make({ A: '1', SERVICE_NAME: 'group' })).toBe(5);
  });

  it('declines what it cannot keep exact: files, a tie the workload settles, keys out of order', () => {
    const base = (over: Partial<Resolution>) => encodeResolution(resolution({ etag: 'x'.repeat(27), ...over }));
    expect(overlayResolution(base({ variables: { A: '1' } }), [], 'w2', { B: '2' })).toBeDefined();
    const withFile = base({ files: [{ path: '/f', content: new Uint8Array([1]), mode: 0o600 }] });
    expect(overlayResolution(withFile, [], 'w2', { B: '2' })).toBeUndefined();
    expect(overlayResolution(withFile, [], 'w3', { B: '3' })).toBeUndefined(); // remembered, still declined
    const tie = base({ variables: { A: '1' }, conflicts: [{ key: 'A', priority: 0, groups: ['g1', 'g2'], winner: 'g1' }] });
    expect(overlayResolution(tie, [], 'w2', { A: 'own' })).toBeUndefined();
    expect(overlayResolution(tie, [], 'w2', { B: 'own' })).toBeDefined();
    // Keys an object lists first whatever their order: the encoder's order is not key order.
    expect(overlayResolution(base({ variables: { B: '1' } }), [], 'w2', { '1': 'x' })).toBeUndefined();
    expect(overlayResolution(base({ variables: { B: '1', 'É': '2' } }), [], 'w2', { A: 'x' })).toBeUndefined(); // not ASCII
    expect(overlayResolution(new Uint8Array([0x0a, 0x03, 0x0a, 0x01, 0x70]), [], 'w', {})).toBeUndefined(); // no workload field
  });
});
