/** V8 memory mode of `sg serve`: which flags are set when, with a recorded setter. */
import { describe, expect, it } from 'vitest';
import { getHeapSpaceStatistics } from 'node:v8';
import { lowMemoryCollection, MEMORY_MODE_FLAGS, SERVER_V8_FLAGS, SPEED_MODE_FLAGS, V8Tuner, v8TuningFrom } from '../../server/app/v8-tuning.js';

function tuner(tuning: 'auto' | 'memory' | 'off') {
  const flags: string[] = [];
  let collections = 0;
  const clock = { now: 1_000_000 };
  const t = new V8Tuner(tuning, (f) => flags.push(f), 1_000, () => void collections++, () => clock.now);
  return { t, flags, clock, collections: () => collections };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('V8Tuner', () => {
  it('auto: memory mode from 1,000 open streams with one full collection, off again below 500', async () => {
    const { t, flags, clock, collections } = tuner('auto');
    t.start();
    expect(flags).toEqual([...SERVER_V8_FLAGS]);
    flags.length = 0;
    for (let n = 1; n < 1_000; n++) t.streams(n);
    expect(t.memoryMode).toBe(false);
    t.streams(1_000);
    expect(t.memoryMode).toBe(true);
    expect(flags).toEqual([...MEMORY_MODE_FLAGS]);
    await settle();
    expect(collections()).toBe(1);
    // Hysteresis: streams coming and going around the threshold do not flip the mode.
    for (const n of [999, 1_000, 700, 1_200, 500]) t.streams(n);
    expect(flags).toEqual([...MEMORY_MODE_FLAGS]);
    t.streams(499);
    expect(t.memoryMode).toBe(false);
    expect(flags).toEqual([...MEMORY_MODE_FLAGS, ...SPEED_MODE_FLAGS]);
    // Back within a minute: memory mode again, but no second full collection yet.
    clock.now += 30_000;
    t.streams(1_000);
    await settle();
    expect(t.memoryMode).toBe(true);
    expect(collections()).toBe(1);
    t.streams(400);
    clock.now += 30_000;
    t.streams(1_000);
    await settle();
    expect(collections()).toBe(2);
  });

  it('memory: on from the start whatever the streams; off: nothing set', async () => {
    const m = tuner('memory');
    m.t.start();
    m.t.streams(0);
    await settle();
    expect(m.flags).toEqual([...SERVER_V8_FLAGS, ...MEMORY_MODE_FLAGS]);
    expect(m.t.memoryMode).toBe(true);
    expect(m.collections()).toBe(0);
    const o = tuner('off');
    o.t.start();
    o.t.streams(5_000);
    expect(o.flags).toEqual([]);
  });

  it("memory mode's collection gives back what the young generation grew to", async () => {
    const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;
    // Objects that survive scavenges make V8 grow the young generation (up to 16 MB semi-spaces).
    let kept: { i: number }[] | null = [];
    for (let i = 0; i < 1_000_000; i++) kept.push({ i });
    const grown = young();
    kept = null;
    await new Promise<void>((done) => lowMemoryCollection(done));
    expect(grown).toBeGreaterThan(8 * 2 ** 20);
    expect(young()).toBeLessThanOrEqual(2 * 2 ** 20);
  });

  it('reads SG_V8_TUNING and refuses unknown values', () => {
    expect(v8TuningFrom({})).toBe('auto');
    expect(v8TuningFrom({ SG_V8_TUNING: 'Memory' })).toBe('memory');
    expect(v8TuningFrom({ SG_V8_TUNING: 'off' })).toBe('off');
    expect(() => v8TuningFrom({ SG_V8_TUNING: 'fast' })).toThrow(/auto, memory or off/);
  });
});
