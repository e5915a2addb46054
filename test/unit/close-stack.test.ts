import { describe, expect, it } from 'vitest';
import { CloseStack } from '../../server/app/close-stack.js';

describe('CloseStack', () => {
  it('a failed start closes what it opened, last first, and throws its own error', async () => {
    const stack = new CloseStack();
    const closed: string[] = [];
    const start = stack.guard(async () => {
      stack.push(() => closed.push('store'));
      stack.push(async () => {
        closed.push('audit');
        throw new Error('audit close failed');
      });
      stack.push((why) => closed.push(`server (${why})`));
      throw new Error('bind failed');
    });
    await expect(start).rejects.toThrow('bind failed');
    expect(closed).toEqual(['server (failed)', 'audit', 'store']);
  });

  it('a shutdown runs every close in reverse and throws the first error', async () => {
    const stack = new CloseStack();
    const closed: string[] = [];
    stack.push(() => closed.push('store'));
    stack.push(() => {
      closed.push('console');
      throw new Error('console close failed');
    });
    stack.push((why) => closed.push(`health (${why})`));
    await expect(stack.unwind('shutdown')).rejects.toThrow('console close failed');
    expect(closed).toEqual(['health (shutdown)', 'console', 'store']);
    // Each close runs once.
    await stack.unwind('shutdown');
    expect(closed).toHaveLength(3);
  });
});
