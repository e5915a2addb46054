import { describe, expect, it } from 'vitest';
import { Batcher } from '../../server/store/batcher.js';

/** A store call that completes when told to. */
function controlled() {
  const calls: { items: number[]; done: (errors?: (unknown | null)[]) => void; fail: (e: unknown) => void }[] = [];
  const write = (items: number[]) =>
    new Promise<(unknown | null)[]>((resolve, reject) => {
      calls.push({ items, done: (errors) => resolve(errors ?? items.map(() => null)), fail: reject });
    });
  return { calls, write };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('Batcher', () => {
  it('sends a lone item at once and groups the items that arrive while calls are in flight', async () => {
    const { calls, write } = controlled();
    const b = new Batcher<number>(write, 256, 1);
    const first = b.add(1);
    await Promise.resolve();
    expect(calls.map((c) => c.items)).toEqual([[1]]);
    const rest = [b.add(2), b.add(3), b.add(4)];
    await settle();
    expect(calls).toHaveLength(1);
    calls[0]!.done();
    await first;
    await settle();
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    calls[1]!.done();
    await Promise.all(rest);
  });

  it('sends the items added in one go in one call', async () => {
    const { calls, write } = controlled();
    const b = new Batcher<number>(write, 256, 1);
    const all = [1, 2, 3].map((i) => b.add(i));
    await Promise.resolve();
    expect(calls.map((c) => c.items)).toEqual([[1, 2, 3]]);
    calls[0]!.done();
    await Promise.all(all);
  });

  it('fails only the items the store refused, or the whole batch when the call fails', async () => {
    const { calls, write } = controlled();
    const b = new Batcher<number>(write, 256, 1);
    const blocker = b.add(0);
    await Promise.resolve();
    const [x, y] = [b.add(1), b.add(2)];
    calls[0]!.done();
    await blocker;
    await settle();
    calls[1]!.done([null, new Error('refused')]);
    await expect(x).resolves.toBeUndefined();
    await expect(y).rejects.toThrow('refused');
    const z = b.add(3);
    await Promise.resolve();
    calls[2]!.fail(new Error('down'));
    await expect(z).rejects.toThrow('down');
  });

  it('does not hold an item behind a stuck call for longer than a moment', async () => {
    const { calls, write } = controlled();
    const b = new Batcher<number>(write, 256, 1);
    void b.add(1).catch(() => undefined); // never completes during this test
    await Promise.resolve();
    const late = b.add(2);
    await new Promise((r) => setTimeout(r, 120));
    expect(calls.map((c) => c.items)).toEqual([[1], [2]]);
    calls[1]!.done();
    await late;
    calls[0]!.fail(new Error('gave up'));
  });
});
