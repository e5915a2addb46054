/**
 * Restart events across replicas. RestartDependents delivers to this replica's subscribers at
 * once and is recorded in the audit log (append-only, one record per request, never lost to a
 * concurrent write); other replicas poll the log for such records and deliver them to their
 * own subscribers. The record carries the origin replica's id so it is not delivered twice.
 *
 * Reading the audit log for them is a query by action and time, which MongoDB-protocol
 * servers without a usable index (FerretDB) answer by reading the whole log — a cost that
 * grows with every write ever audited. So after recording a request the origin also sets a
 * meta value to a fresh random token, and replicas read the log only when that value has
 * changed (one look-up by key per poll otherwise). A fresh token per request keeps this safe
 * even where concurrent updates can overwrite each other: any value written after a replica's
 * read differs from what it read, so a request recorded after that read is never skipped.
 */
import { randomBytes } from 'node:crypto';
import { isEligible } from '../domain/resolve.js';
import type { Snapshots } from './snapshots.js';
import type { AuditEvent, Store } from '../store/store.js';
import type { WatchHub } from './hub.js';

export const RESTART_ACTION = 'RestartDependents';
/** Meta key whose value changes after every restart request is recorded. */
export const RESTART_SIGNAL = 'restart-requests';

/** Call after recording a restart request: tells the other replicas to read the audit log. */
export async function signalRestart(store: Store): Promise<void> {
  await store.setMeta(RESTART_SIGNAL, randomBytes(12).toString('base64url'));
}
/** Records older than this when first seen are not replayed (clock skew allowance). */
const SKEW_MS = 10_000;

/**
 * The workloads whose runtime resolution includes the group (the group reaches them), from
 * this replica's snapshot. The eligibility rule alone decides: nothing is resolved or encoded.
 */
export async function dependentsOf(snapshots: Snapshots, project: string, group: string): Promise<string[]> {
  const { snapshot } = await snapshots.get(project);
  const g = snapshot.groups.get(group);
  if (!g) return [];
  return [...snapshot.workloads.values()].filter((w) => isEligible(g, w, 'runtime')).map((w) => w.name).sort();
}

export class RestartRelay {
  readonly replicaId = randomBytes(6).toString('hex');
  private readonly seen = new Map<string, number>();
  private since: number;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** The signal value as of the last read of the log; undefined before the first. */
  private signal: string | null | undefined;

  constructor(
    private readonly store: Store,
    private readonly snapshots: Snapshots,
    private readonly hub: WatchHub,
    now: () => number = Date.now,
  ) {
    this.since = now();
  }

  /** The audit detail that marks a restart request as sent by this replica. */
  get origin(): string {
    return `replica ${this.replicaId}`;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One poll; exposed for tests. */
  async poll(): Promise<number> {
    if (this.polling) return 0;
    this.polling = true;
    let delivered = 0;
    try {
      const signal = await this.store.getMeta(RESTART_SIGNAL);
      if (this.signal !== undefined && signal === this.signal) return 0;
      const events = await this.store.listAudit({ action: RESTART_ACTION, since: this.since - SKEW_MS, limit: 1000 });
      for (const e of events.reverse()) delivered += await this.relay(e);
      // Forget ids that fell out of the window.
      const horizon = this.since - 2 * SKEW_MS;
      for (const [id, time] of this.seen) if (time < horizon) this.seen.delete(id);
      this.since = Math.max(this.since, ...events.map((e) => e.time));
      this.signal = signal; // read before the log, so nothing recorded after that read is skipped
    } catch {
      // Store unavailable: the next poll catches up (the window covers the gap).
    } finally {
      this.polling = false;
    }
    return delivered;
  }

  private async relay(e: AuditEvent): Promise<number> {
    if (!e.id || this.seen.has(e.id)) return 0;
    this.seen.set(e.id, e.time);
    if (e.outcome !== 'ok' || e.detail === this.origin || !e.detail?.startsWith('replica ')) return 0;
    const group = /^group [^/]+\/(.+)$/.exec(e.target)?.[1];
    if (!group || !this.snapshots.peek(e.project)) return 0; // no subscribers without a loaded project
    const workloads = await dependentsOf(this.snapshots, e.project, group).catch(() => []);
    return this.hub.restart(e.project, new Set(workloads), group, e.actor);
  }
}
