/**
 * Audit records: keys, never values. A mutation's record is written before the mutation
 * reports success (if it cannot be written the call fails); reads of secret values on the
 * hot path (Resolve, Watch) are buffered and flushed in the background so that they never
 * wait on the store. Repeated identical reads within one flush window (a service resolving
 * the same identity many times a second) become one record with a count, so the audit log
 * and its cost grow with distinct reads, not with request rate.
 */
import type { AuditEvent, Store } from '../store/store.js';

export class Audit {
  private buffer: AuditEvent[] = [];
  /** Identical reads of this window: key -> the first event and how many there were. */
  private readonly repeated = new Map<string, { event: () => AuditEvent; count: number }>();
  private timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  /** Reads not recorded because the buffer was full; the next flush records how many. */
  private dropped = 0;

  constructor(
    private readonly store: Store,
    flushMs = 500,
    private readonly maxBuffered = 10_000,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  /** Awaited: throws if the store cannot take it. */
  async record(event: AuditEvent): Promise<void> {
    await this.store.appendAudit(event);
  }

  /** Buffered: for reads on the hot path. */
  recordRead(event: AuditEvent): void {
    if (this.buffer.length >= this.maxBuffered) {
      this.dropped++;
      return;
    }
    this.buffer.push(event);
  }

  /**
   * A read that is often repeated: `key` identifies it (actor, action, target, content), and
   * `event` builds the record only once per window (the key list can be long).
   */
  recordRepeatedRead(key: string, event: () => AuditEvent): void {
    const hit = this.repeated.get(key);
    if (hit) hit.count++;
    else if (this.repeated.size < this.maxBuffered) this.repeated.set(key, { event, count: 1 });
    else this.dropped++;
  }

  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      for (const { event, count } of this.repeated.values()) {
        const e = event();
        this.buffer.push(count > 1 ? { ...e, detail: `${count} identical reads in this interval` } : e);
      }
      this.repeated.clear();
      if (this.dropped) {
        // The log says itself that it is incomplete rather than losing reads silently.
        this.buffer.push({ time: Date.now(), actor: 'server', action: 'AuditOverflow', project: '', target: '', keys: [], outcome: 'error', detail: `${this.dropped} read record(s) dropped: the audit buffer was full` });
        this.dropped = 0;
      }
      const batch = this.buffer;
      this.buffer = [];
      for (let i = 0; i < batch.length; i++) {
        try {
          await this.store.appendAudit(batch[i]!);
        } catch {
          // Store unavailable: keep what is left for the next flush (bounded).
          this.buffer = [...batch.slice(i), ...this.buffer].slice(0, this.maxBuffered);
          return;
        }
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

/**
 * Runs a store write after recording it. If the record cannot be written the write never
 * happens; if the write then fails, a follow-up record with outcome "error" says so.
 */
export async function auditedWrite<T>(
  audit: Audit,
  event: Omit<AuditEvent, 'time' | 'outcome'>,
  now: () => number,
  write: () => Promise<T>,
): Promise<T> {
  await audit.record({ ...event, time: now(), outcome: 'ok' });
  try {
    return await write();
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    audit.recordRead({ ...event, time: now(), outcome: 'error', detail: typeof code === 'string' ? code : 'failed' });
    throw e;
  }
}
