/**
 * Batching of independent writes while one is in flight: the first item goes out at once
 * (a lone caller waits no longer than before), items that arrive meanwhile go together in
 * the next call. On a store where every call is a round trip through a serialising server
 * (FerretDB's SQLite handler), eight concurrent callers then cost about two calls, not eight.
 */
export class Batcher<T> {
  private waiting: { item: T; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  /**
   * `write` stores a batch and returns, per item, null (stored) or the error for that item;
   * a throw fails the whole batch.
   */
  constructor(
    private readonly write: (items: T[]) => Promise<(unknown | null)[]>,
    private readonly maxBatch = 256,
  ) {}

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length) {
        const batch = this.waiting.splice(0, this.maxBatch);
        try {
          const errors = await this.write(batch.map((b) => b.item));
          batch.forEach((b, i) => (errors[i] ? b.reject(errors[i]) : b.resolve()));
        } catch (e) {
          for (const b of batch) b.reject(e);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
