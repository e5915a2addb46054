/** The spinner for long CLI calls: drawn only on a terminal, cleared when done. */
import { describe, expect, it } from 'vitest';
import { progress } from '../../cli/output.js';

function fakeStream(isTTY: boolean) {
  const written: string[] = [];
  return { stream: { isTTY, write: (t: string) => written.push(t) } as unknown as NodeJS.WriteStream, written };
}

describe('progress', () => {
  it('draws the label on a terminal and clears the line when done', async () => {
    const { stream, written } = fakeStream(true);
    const done = progress('importing 10 KiB into p/g', stream);
    await new Promise((r) => setTimeout(r, 250));
    done();
    expect(written.length).toBeGreaterThanOrEqual(3);
    expect(written[0]).toMatch(/^\r\| importing 10 KiB into p\/g \(0\.0 s\)$/);
    expect(written.at(-1)).toBe('\r\x1b[K');
    const count = written.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(written).toHaveLength(count); // stopped
  });

  it('writes nothing when stderr is not a terminal (scripts, pipes, tests)', () => {
    const { stream, written } = fakeStream(false);
    progress('x', stream)();
    expect(written).toEqual([]);
  });
});
