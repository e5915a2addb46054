/** The offset lists the resolution readers reuse between messages (server/api/offset-list.ts). */
import { expect, it } from 'vitest';
import { OffsetList } from '../../server/api/offset-list.js';

it('keeps every offset pushed, past its first buffer, and starts empty again after clear()', () => {
  const list = new OffsetList();
  for (let i = 0; i < 1000; i++) list.push(i * 3);
  expect(list.length).toBe(1000);
  expect(list.get(0)).toBe(0);
  expect(list.get(999)).toBe(2997);
  expect(list.last()).toBe(2997);
  list.clear();
  expect(list.length).toBe(0);
  list.push(7);
  expect([list.length, list.get(0), list.last()]).toEqual([1, 7, 7]);
});

it('after a message with very many offsets, clear() gives its buffer back and the list still works', () => {
  const list = new OffsetList();
  for (let i = 0; i < 200_000; i++) list.push(i);
  expect(list.get(199_999)).toBe(199_999);
  const bytes = (l: OffsetList) => (l as unknown as { offsets: Int32Array }).offsets.byteLength;
  expect(bytes(list)).toBeGreaterThanOrEqual(200_000 * 4);
  list.clear();
  expect(bytes(list)).toBeLessThan(64 * 1024 * 4);
  for (let i = 0; i < 10; i++) list.push(i + 1);
  expect(list.last()).toBe(10);
});
