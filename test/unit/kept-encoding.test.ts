/** The compact form of a MongoDB change's kept history (server/store/mongo-log.ts). */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { decodeKept, encodeKept, type KeptRevision } from '../../server/store/mongo-log.js';

it('reads back every kept history it writes, and the earlier JSON form', () => {
  const entry = fc.tuple(fc.nat(1_000_000), fc.nat(10_000_000), fc.nat(50_000_000), fc.constantFrom(0 as const, 1 as const));
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 250 }), (list) => {
      expect(decodeKept(encodeKept(list))).toEqual(list);
    }),
  );
  const list: KeptRevision[] = [[7, 12, 2850, 1], [8, 20, 2790, 1], [9, 28, 40, 0]];
  expect(decodeKept(JSON.stringify(list))).toEqual(list);
  expect(decodeKept('[]')).toEqual([]);
  // About 8 characters an entry for the usual history: consecutive revisions of similar size.
  const usual = Array.from({ length: 200 }, (_, i): KeptRevision => [100 + i, 1_000 + 8 * i, 2_850 + (i % 3), 1]);
  expect(encodeKept(usual).length).toBeLessThan(10 * 200);
  expect(encodeKept(usual).length).toBeLessThan(JSON.stringify(usual).length / 2);
});
