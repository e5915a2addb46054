/**
 * What a start has opened, as a stack of close functions: each resource pushes its close as
 * soon as it is open, and a failed start or a shutdown runs them in reverse — so whatever
 * point a start fails at, exactly what it opened is closed, in the right order.
 */

/** Why the stack unwinds: a start that failed (close fast, the start's error wins) or a shutdown (drain). */
export type Unwind = 'failed' | 'shutdown';

export class CloseStack {
  private readonly closes: ((why: Unwind) => unknown)[] = [];

  /** Registers `close` to run before everything pushed earlier. */
  push(close: (why: Unwind) => unknown): void {
    this.closes.push(close);
  }

  /**
   * Runs every close, the last pushed first, each awaited before the next; one that throws
   * does not stop the others. After a shutdown the first error is thrown; after a failed start
   * errors are dropped, since the caller throws the start's own.
   */
  async unwind(why: Unwind): Promise<void> {
    let first: { error: unknown } | undefined;
    for (let close = this.closes.pop(); close; close = this.closes.pop()) {
      try {
        await close(why);
      } catch (error) {
        first ??= { error };
      }
    }
    if (first && why === 'shutdown') throw first.error;
  }

  /** Runs `start`; when it throws, unwinds what it opened and throws its error. */
  async guard<T>(start: () => Promise<T>): Promise<T> {
    try {
      return await start();
    } catch (e) {
      await this.unwind('failed');
      throw e;
    }
  }
}
