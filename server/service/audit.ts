/**
 * Audit records: keys, never values. A mutation's record is written before the mutation
 * reports success (if it cannot be written the call fails); reads of secret values on the
 * hot path (Resolve, Watch) are buffered and flushed in the background so that they never
 * wait on the store. Repeated identical reads (a service resolving the same identity many
 * times a second) become one record with a count: the first read is written at the next flush,
 * then identical reads are counted for REPEAT_WINDOW_MS before the next record, so the audit
 * log and its cost grow with distinct reads, not with request rate (each record carries the
 * resolution's key list, ~1,000 keys for a large workload).
 *
 * Time: a record carries the time of the first read it counts (when that read happened, not
 * when the record was stored, which is up to REPEAT_WINDOW_MS later); its count covers the
 * identical reads from then until it was stored. Records therefore reach the store out of
 * time order, and Store.listAudit orders by time, not by insertion.
 */
import type { AuditEvent, Store } from '../store/store.js';

/**
 * How long identical reads are counted after one of them was recorded. A record carries the
 * resolution's key list (~1,000 keys, ~20 kB, for a large workload), so 500 workloads polling
 * Resolve add 500 such records per window: with a 10 s window that was still a third of the
 * server's CPU per Resolve (JSON, SQLite insert, GC) and ~1 MB/s of audit log. Per minute, a
 * read pattern costs at most one record per identity and minute; the first read of a new
 * identity, token or content is still recorded at the next flush (500 ms).
 */
export const REPEAT_WINDOW_MS = 60_000;

interface Repeated {
  /** Builds the record of the first read not yet recorded. */
  event: () => AuditEvent;
  /** Reads not yet recorded. */
  count: number;
  /** No record for this key before this time (0: at the next flush). */
  quietUntil: number;
}

export class Audit {
  private buffer: AuditEvent[] = [];
  /** Identical reads: key -> the first unrecorded read's event, how many, and when to record. */
  private readonly repeated = new Map<string, Repeated>();
  private timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  /** Reads not recorded because the buffer was full; the next flush records how many. */
  private dropped = 0;

  constructor(
    private readonly store: Store,
    flushMs = 500,
    private readonly maxBuffered = 10_000,
    private readonly repeatWindowMs = REPEAT_WINDOW_MS,
    private readonly now: () => number = Date.now,
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
    if (hit) {
      if (hit.count++ === 0) hit.event = event;
    } else if (this.repeated.size < this.maxBuffered) this.repeated.set(key, { event, count: 1, quietUntil: 0 });
    else this.recordRead(event()); // too many distinct reads to count: one record each (bounded)
  }

  /** Writes what is buffered; `all` also records repeated reads still inside their window. */
  flush(all = false): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const now = this.now();
      for (const [key, r] of this.repeated) {
        if (!all && now < r.quietUntil) continue;
        if (r.count === 0) {
          this.repeated.delete(key); // no read during its window: forget it
          continue;
        }
        const e = r.event();
        this.buffer.push(r.count > 1 ? { ...e, detail: `${r.count} identical reads in this interval` } : e);
        r.count = 0;
        r.quietUntil = now + this.repeatWindowMs;
      }
      if (this.dropped) {
        // The log says itself that it is incomplete rather than losing reads silently.
        this.buffer.push({ time: Date.now(), actor: 'server', action: 'AuditOverflow', project: '', target: '', keys: [], outcome: 'error', detail: `${this.dropped} read record(s) dropped: the audit buffer was full` });
        this.dropped = 0;
      }
      const batch = this.buffer;
      this.buffer = [];
      // All at once, not one after another: a store that batches concurrent appends (MongoDB)
      // then writes a flush in a few inserts instead of one round trip per record.
      const results = await Promise.allSettled(batch.map((e) => this.store.appendAudit(e)));
      const failed = batch.filter((_, i) => results[i]!.status === 'rejected');
      // Store unavailable: keep what was not written for the next flush (bounded).
      if (failed.length) this.buffer = [...failed, ...this.buffer].slice(0, this.maxBuffered);
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush(true);
  }
}

/**
 * Runs a store write after recording it. If the record cannot be written the write never
 * happens; if the write then fails, a follow-up record with outcome "error" says so.
 */
export function auditedWrite<T>(
  audit: Audit,
  event: Omit<AuditEvent, 'time' | 'outcome'>,
  now: () => number,
  write: () => Promise<T>,
): Promise<T> {
  return auditedStoreWrite(audit, event, now, async (record) => {
    await audit.record(record);
    return write();
  });
}

/**
 * auditedWrite for a store write that takes its audit record (Store.createRecord, updateRecord,
 * deleteRecord): the store stores the record before it tries the write, as auditedWrite does,
 * but may batch it with other writes' (on MongoDB it goes in with the group commit instead of
 * a round trip of its own before it).
 */
export async function auditedStoreWrite<T>(
  audit: Audit,
  event: Omit<AuditEvent, 'time' | 'outcome'>,
  now: () => number,
  write: (record: AuditEvent) => Promise<T>,
): Promise<T> {
  try {
    return await write({ ...event, time: now(), outcome: 'ok' });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    audit.recordRead({ ...event, time: now(), outcome: 'error', detail: typeof code === 'string' ? code : 'failed' });
    throw e;
  }
}
