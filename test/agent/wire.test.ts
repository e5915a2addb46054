import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExplainRequest, ExplainResponse, ResolveRequest, ResolveResponse, WatchRequest, WatchResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import { Resolution } from '../../gen/secretgroups/v1/resources.js';
import {
  decodeExplainResponse,
  decodeResolution,
  decodeResolveResponse,
  decodeWatchResponse,
  encodeExplainRequest,
  encodeResolution,
  encodeResolveRequest,
  encodeWatchRequest,
} from '../../client/wire.js';

const name = fc.string({ minLength: 0, maxLength: 12 });
const value = fc.string({ unit: 'grapheme', maxLength: 40 });
const file = fc.record({
  path: fc.string({ minLength: 1, maxLength: 20 }).map((s) => `/${s}`),
  content: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  mode: fc.integer({ min: 0, max: 0o7777 }),
  size: fc.nat(1_000_000),
});
const conflict = fc.record({ key: name, priority: fc.integer({ min: 0, max: 100 }), groups: fc.array(name, { maxLength: 3 }), winner: name });
const resolution = fc.record({
  project: name,
  workload: name,
  scope: fc.constantFrom(0, 1, 2, 3),
  variables: fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), value, { maxKeys: 8 }),
  files: fc.array(file, { maxLength: 3 }),
  etag: name,
  conflicts: fc.array(conflict, { maxLength: 2 }),
});
const source = fc.record({ kind: name, group: name, priority: fc.integer({ min: -5, max: 100 }), addon: name });

describe('hand-written wire codec agrees with the generated ts-proto codec', () => {
  it('decodes every WatchResponse variant the generated encoder produces', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          resolution.map((r) => ({ resolution: r })),
          fc.record({ restart: fc.record({ group: name, requestedBy: name, timeMs: fc.nat(2 ** 45) }) }),
          fc.record({ heartbeat: fc.record({ timeMs: fc.nat(2 ** 45) }) }),
          fc.record({ unchanged: fc.record({ etag: name }) }),
          fc.record({
            delta: fc.record({
              baseEtag: name,
              etag: name,
              set: fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), value, { maxKeys: 8 }),
              removed: fc.array(fc.string({ minLength: 1, maxLength: 10 }), { maxLength: 4 }),
            }),
          }),
        ),
        (msg) => {
          const bytes = WatchResponse.encode(WatchResponse.fromPartial(msg)).finish();
          expect(decodeWatchResponse(bytes)).toEqual(WatchResponse.decode(bytes));
        },
      ),
    );
  });

  it('decodes ResolveResponse and ExplainResponse', () => {
    fc.assert(
      fc.property(resolution, (r) => {
        const bytes = ResolveResponse.encode({ resolution: r }).finish();
        expect(decodeResolveResponse(bytes)).toEqual(ResolveResponse.decode(bytes).resolution);
      }),
    );
    const prov = fc.record({ key: name, winner: fc.option(source, { nil: undefined }), shadowed: fc.array(source, { maxLength: 3 }), conflict: fc.boolean() });
    fc.assert(
      fc.property(fc.record({ etag: name, variables: fc.array(prov, { maxLength: 3 }), files: fc.array(prov, { maxLength: 2 }), conflicts: fc.array(conflict, { maxLength: 2 }) }), (e) => {
        const bytes = ExplainResponse.encode(ExplainResponse.fromPartial(e)).finish();
        expect(decodeExplainResponse(bytes)).toEqual(ExplainResponse.decode(bytes));
      }),
    );
  });

  it('encodes requests that the generated decoder reads back', () => {
    fc.assert(
      fc.property(name, name, fc.constantFrom(0, 1, 2), name, fc.array(name, { maxLength: 3 }), fc.boolean(), (project, workload, scope, etag, tags, deltas) => {
        expect(WatchRequest.decode(encodeWatchRequest({ project, workload, scope, etag, tags, deltas }))).toEqual({ project, workload, scope, etag, tags, deltas });
        expect(ResolveRequest.decode(encodeResolveRequest({ project, workload, scope, tags }))).toEqual({ project, workload, scope, tags });
        expect(ExplainRequest.decode(encodeExplainRequest({ project, workload, scope }))).toEqual({ project, workload, scope });
      }),
    );
  });

  it('encodes a Resolution (for the disk cache) that both decoders read back', () => {
    fc.assert(
      fc.property(resolution, (r) => {
        const bytes = encodeResolution(r);
        const generated = Resolution.decode(bytes);
        expect(generated).toEqual(Resolution.fromPartial(r));
        expect(decodeResolution(bytes)).toEqual(generated);
      }),
    );
  });

  it('skips fields it does not know', () => {
    const bytes = Buffer.concat([Buffer.from(WatchResponse.encode({ unchanged: { etag: 'e1' } }).finish()), Buffer.from([0xa8, 0x06, 0x01])]);
    expect(decodeWatchResponse(bytes)).toEqual({ unchanged: { etag: 'e1' } });
  });
});
