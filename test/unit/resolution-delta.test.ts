/** Watch deltas: the server's encoder (from encoded resolutions) and the client's apply agree. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyDelta } from '../../client/index.js';
import { decodeResolveResponse, decodeWatchResponse } from '../../client/wire.js';
import { ResolveResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import type { Resolution } from '../../gen/secretgroups/v1/resources.js';
import { encodeFramed } from '../../server/api/framed-bytes.js';
import { encodeDelta } from '../../server/api/resolution-delta.js';
import type { CachedResolution } from '../../server/watch/snapshots.js';

function cached(r: Resolution): CachedResolution {
  return { project: r.project, workload: r.workload, scope: 'runtime', etag: r.etag, bytes: encodeFramed((w) => ResolveResponse.encode({ resolution: r }, w)) };
}

/** Variables sorted by key, as the server resolves them. */
function sorted(vars: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(vars).sort()) out[k] = vars[k]!;
  return out;
}

const key = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,11}$/);
const value = fc.string({ unit: 'grapheme', maxLength: 40 });
const vars = fc.dictionary(key, value, { maxKeys: 40 }).map(sorted);
const file = { path: '/etc/app/tls.pem', content: Buffer.from('certificate'), mode: 0o600, size: 11 };
const conflict = { key: 'PORT', priority: 10, groups: ['a', 'b'], winner: 'a' };

function resolution(variables: Record<string, string>, etag: string, extra: Partial<Resolution> = {}): Resolution {
  return { project: 'shop', workload: 'api', scope: 1, variables, files: [], etag, conflicts: [], ...extra };
}

describe('Watch deltas', () => {
  it('applied to the resolution it is from, a delta gives the next resolution exactly', () => {
    fc.assert(
      fc.property(vars, fc.array(fc.tuple(key, fc.option(value, { nil: undefined })), { maxLength: 6 }), (before, edits) => {
        const after = { ...before };
        for (const [k, v] of edits) {
          if (v === undefined) delete after[k];
          else after[k] = v;
        }
        const from = resolution(before, 'e1', { files: [file], conflicts: [conflict] });
        const to = resolution(sorted(after), 'e2', { files: [file], conflicts: [conflict] });
        const bytes = encodeDelta(cached(from), cached(to));
        if (!bytes) {
          // Only when a delta would not be smaller than the whole message.
          expect(edits.length).toBeGreaterThan(0);
          return;
        }
        const message = decodeWatchResponse(bytes);
        expect(message.delta?.baseEtag).toBe('e1');
        expect(message.delta?.etag).toBe('e2');
        const applied = applyDelta(decodeResolveResponse(cached(from).bytes), message.delta!);
        expect(applied).toEqual(decodeResolveResponse(cached(to).bytes));
        expect(Object.keys(applied!.variables)).toEqual(Object.keys(to.variables));
      }),
    );
  });

  it('carries only what changed', () => {
    const many = sorted(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`KEY_${i}`, 'v'.repeat(40)])));
    const from = cached(resolution(many, 'e1'));
    const to = cached(resolution(sorted({ ...many, KEY_3: 'changed', NEW: 'n' }), 'e2'));
    const bytes = encodeDelta(from, to);
    expect(decodeWatchResponse(bytes!).delta).toEqual({ baseEtag: 'e1', etag: 'e2', set: { KEY_3: 'changed', NEW: 'n' }, removed: [] });
    expect(bytes!.byteLength).toBeLessThan(to.bytes.byteLength / 10);
    const { KEY_0: _gone, ...rest } = many;
    expect(decodeWatchResponse(encodeDelta(from, cached(resolution(rest, 'e3')))!).delta).toEqual({ baseEtag: 'e1', etag: 'e3', set: {}, removed: ['KEY_0'] });
  });

  it('is none when files or conflicts changed: those come whole', () => {
    const v = sorted(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`KEY_${i}`, 'v'.repeat(40)])));
    const base = cached(resolution(v, 'e1', { files: [file] }));
    expect(encodeDelta(base, cached(resolution({ ...v, KEY_1: 'x' }, 'e2', { files: [{ ...file, content: Buffer.from('other') }] })))).toBeNull();
    expect(encodeDelta(base, cached(resolution(v, 'e2', { files: [] })))).toBeNull();
    expect(encodeDelta(base, cached(resolution(v, 'e2', { files: [file], conflicts: [conflict] })))).toBeNull();
    expect(encodeDelta(base, cached(resolution({ ...v, KEY_1: 'x' }, 'e2', { files: [file] })))).not.toBeNull();
  });

  it('is exact when the keys are not in sorted order (matched by key, not by position)', () => {
    const pad = 'v'.repeat(40);
    const from = resolution({ ZED: pad, ALPHA: pad, MID: '1', GONE: pad }, 'e1');
    const to = resolution({ NEW: 'n', ZED: pad, MID: '2', ALPHA: pad }, 'e2');
    const bytes = encodeDelta(cached(from), cached(to));
    expect(decodeWatchResponse(bytes!).delta).toEqual({ baseEtag: 'e1', etag: 'e2', set: { NEW: 'n', MID: '2' }, removed: ['GONE'] });
    expect(applyDelta(from, decodeWatchResponse(bytes!).delta!)!.variables).toEqual(to.variables);
  });

  it('is none, not a throw, for bytes it cannot read (the whole message goes out)', () => {
    const good = cached(resolution({ A: '1' }, 'e1'));
    const truncated = { ...good, bytes: good.bytes.subarray(0, good.bytes.byteLength - 3) };
    expect(encodeDelta(good, truncated)).toBeNull();
    expect(encodeDelta(truncated, good)).toBeNull();
  });

  it('reads past fields it does not know, of every wire type, and sends the whole message for a group', () => {
    const v = sorted(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`KEY_${i}`, 'v'.repeat(40)])));
    // Unknown fields after the resolution: a varint, a 64-bit and a 32-bit value, or a group (wire type 3).
    const withUnknown = (r: Resolution, group = false): CachedResolution => {
      const w = ResolveResponse.encode({ resolution: r }).uint32((9 << 3) | 0).uint32(300).uint32((10 << 3) | 1).fixed64(1n).uint32((11 << 3) | 5).fixed32(7);
      if (group) w.uint32((12 << 3) | 3).uint32((12 << 3) | 4);
      return { ...cached(r), bytes: w.finish() };
    };
    const from = withUnknown(resolution(v, 'e1'));
    const bytes = encodeDelta(from, withUnknown(resolution({ ...v, KEY_2: 'x' }, 'e2')));
    expect(decodeWatchResponse(bytes!).delta).toEqual({ baseEtag: 'e1', etag: 'e2', set: { KEY_2: 'x' }, removed: [] });
    expect(encodeDelta(from, withUnknown(resolution({ ...v, KEY_2: 'x' }, 'e2'), true))).toBeNull();
  });

  it('the client refuses a delta that is not from the resolution it holds', () => {
    const held = resolution({ A: '1' }, 'e1');
    expect(applyDelta(held, { baseEtag: 'e0', etag: 'e2', set: { A: '2' }, removed: [] })).toBeUndefined();
  });
});
