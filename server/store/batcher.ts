/**
 * Batching of independent writes while others are in flight: an item goes out at once (with
 * those added in the same task) when fewer than `maxInFlight` calls are running (a lone
 * caller waits no longer than before);
 * items that arrive meanwhile go together in the next call. On a store where every call is
 * a round trip through a serialising server (FerretDB's SQLite handler), eight concurrent
 * callers then cost two or three calls, not eight. An item that has waited STALL_MS goes
 * out anyway: calls stuck on a store that went away (the driver waits for its server-selection
 * timeout) must not make the items behind them wait twice as long.
 */
const STALL_MS = 50;

export class Batcher<T> {
  private waiting: { item: T; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private running = 0;
  /** A drain is due at the next microtask. */
  private starting = false;
  private stall: NodeJS.Timeout | undefined;

  /**
   * `write` stores a batch and returns, per item, null (stored) or the error for that item;
   * a throw fails the whole batch.
   */
  constructor(
    private readonly write: (items: T[]) => Promise<(unknown | null)[]>,
    private readonly maxBatch = 256,
    private readonly maxInFlight = 2,
  ) {}

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.running < this.maxInFlight) {
        // After the current task's other adds: items added in one go (a flush of buffered
        // records) leave in one call instead of a first one alone and the rest after it.
        if (!this.starting) {
          this.starting = true;
          queueMicrotask(() => {
            this.starting = false;
            if (this.waiting.length && this.running < this.maxInFlight) void this.drain();
          });
        }
      } else this.stall ??= setTimeout(() => {
        // One timer for everything waiting: whatever still waits after STALL_MS goes out now.
        this.stall = undefined;
        if (this.waiting.length) void this.drain();
      }, STALL_MS).unref();
    });
  }

  private async drain(): Promise<void> {
    this.running++;
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
      this.running--;
    }
  }
}
