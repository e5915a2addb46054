/**
 * Reclaiming a project's change log: the payload of changes that no reader needs any more —
 * superseded by a later change of their record and not in their group's kept history — goes
 * with its whole change collection, dropped, instead of by an update of each document. On
 * FerretDB 1.x an update by _id reads the whole collection (mongo-log.ts,
 * CHANGES_PER_COLLECTION) and cost more FerretDB time than the rest of a write together
 * (docs/performance.md, "MongoDB writes"); a drop costs one command per 128 changes.
 *
 * A collection is dropped only when all of these hold, which is what makes it safe without
 * transactions (docs/storage.md, "Reclaiming the log"):
 * - every number in it is taken and at or before the newest checkpoint the pass read, so a
 *   new instance, which starts at a checkpoint at least as new, never reads it;
 * - none of its changes is a head of the reclaiming state or listed by that checkpoint, or in
 *   the kept history of a group: changes leave those and never come back;
 * - its last change is older than the grace: every state that is fresh (confirmed within
 *   FRESH_MS, mongo-sync.ts) is past it, and a state that is not is brought up to date from
 *   the newest checkpoint, never change by change — so no reader reaches for a change in it,
 *   and no writer claims a number in it (the insert would create the collection again).
 * A collection that holds a change still needed is kept, and its other changes are stripped
 * instead (their payload set to null and `pruned` set, as earlier versions did after each
 * commit); the ones still needed are followed in memory and stripped, or the collection
 * dropped, once they are not.
 */
import type { Collection } from 'mongodb';
import { changeId, checkpointId, pointerId, CHANGES_PER_COLLECTION, type ChangeDoc, type CheckpointDoc, type ProjectLog } from './mongo-log.js';
import type { LogCollections, ProjectLogs } from './mongo-sync.js';

/** How old a collection's last change must be before the collection is reclaimed. */
export const RECLAIM_GRACE_MS = 5 * 60_000;
/**
 * How long a state may go unconfirmed and still be advanced change by change (ProjectLogs).
 * The margin to the grace covers clocks that disagree between instances and a process paused
 * between its check and its read or insert.
 */
export const FRESH_MS = 30_000;

/**
 * Statements per strip command. FerretDB v1.24.2 did not answer one update command of 126
 * statements within 15 s (32: 50 ms, 64: 65 ms).
 */
const STRIP_CHUNK = 32;

/** The pointer as reclaiming extends it: collections before `swept` have been reclaimed. */
type PointerDoc = CheckpointDoc & { swept?: number };

/** What one pass did: collections dropped, changes stripped. */
export interface ReclaimResult {
  dropped: number;
  stripped: number;
}

export class Reclaimer {
  /** Per log (uid), the pass under way: one at a time per log in this instance. */
  private readonly running = new Map<string, Promise<unknown>>();
  /**
   * Per log, the collections kept because they held changes still needed, with those changes'
   * numbers as of the last pass. A new instance finds them again with one query each.
   */
  private readonly pinned = new Map<string, Map<number, Set<number>>>();
  /** Per log, the time of the last change of the first collection a pass found too young (it never changes). */
  private readonly young = new Map<string, { g: number; time: number }>();

  constructor(
    private readonly c: LogCollections,
    private readonly logs: ProjectLogs,
    private readonly graceMs: number,
  ) {}

  /** Starts a pass over the log unless one runs; its failure only leaves work to the next. */
  start(log: ProjectLog): void {
    if (!this.running.has(log.uid)) this.reclaim(log).catch(() => undefined);
  }

  /** One pass over a log, with `log` up to date or nearly, after the one under way if any. */
  reclaim(log: ProjectLog, now = Date.now()): Promise<ReclaimResult> {
    const pass = (this.running.get(log.uid) ?? Promise.resolve()).catch(() => undefined).then(() => this.pass(log, now));
    const settled = pass.catch(() => undefined);
    this.running.set(log.uid, settled);
    void settled.then(() => {
      if (this.running.get(log.uid) === settled) this.running.delete(log.uid);
    });
    return pass;
  }

  private async pass(log: ProjectLog, now: number): Promise<ReclaimResult> {
    const done: ReclaimResult = { dropped: 0, stripped: 0 };
    if (log.closed) return done; // a deleted project's log is dropped whole, after its own grace
    const pointer = (await this.c.checkpoints.findOne({ _id: pointerId(log.uid) })) as PointerDoc | null;
    if (!pointer) return done;
    const checkpoint = await this.c.checkpoints.findOne({ _id: checkpointId(log.uid, pointer.n) });
    const needed = checkpoint && (await this.needed(log, checkpoint));
    // Behind what an earlier pass reclaimed (another instance's): what it kept is unknown here.
    if (!needed || (pointer.swept ?? 0) * CHANGES_PER_COLLECTION > needed.n + 1) return done;
    const pinned = await this.pinnedOf(log.uid, pointer.swept ?? 0, needed.numbers, done);
    // Collections kept earlier: strip what is no longer needed, drop those that need nothing.
    for (const [g, was] of pinned) {
      const still = new Set([...was].filter((n) => needed.numbers.has(n)));
      if (still.size === was.size) continue;
      if (still.size === 0) {
        await this.collection(log.uid, g).drop();
        pinned.delete(g);
        done.dropped++;
      } else {
        done.stripped += await this.strip(log.uid, g, [...was].filter((n) => !still.has(n)));
        pinned.set(g, still);
      }
    }
    const bound = Math.min(pointer.n, needed.n);
    for (let g = pointer.swept ?? 0; (g + 1) * CHANGES_PER_COLLECTION - 1 <= bound; g++) {
      const first = g * CHANGES_PER_COLLECTION;
      const last = first + CHANGES_PER_COLLECTION - 1;
      const known = this.young.get(log.uid);
      if (known?.g === g && known.time > now - this.graceMs) break; // no look-up until it is old enough
      const end = await this.collection(log.uid, g).findOne({ _id: changeId(log.uid, last) }, { projection: { time: 1 } });
      if (end && end.time > now - this.graceMs) {
        if (this.young.size >= 10_000 && !this.young.has(log.uid)) this.young.clear(); // bounded, as pinned
        this.young.set(log.uid, { g, time: end.time });
        break;
      }
      // Without its last change the collection was reclaimed already (by another instance).
      if (end) {
        const keep = new Set([...needed.numbers].filter((n) => n >= first && n <= last));
        if (keep.size === 0) {
          await this.collection(log.uid, g).drop();
          done.dropped++;
        } else {
          const unneeded = await this.unstripped(log.uid, g, keep);
          done.stripped += await this.strip(log.uid, g, unneeded);
          pinned.set(g, keep);
        }
      }
      await this.c.checkpoints.updateOne({ _id: pointerId(log.uid) }, { $max: { swept: g + 1 } });
    }
    return done;
  }

  /**
   * The numbers of the changes a reader may still need — every head (deleted records' too),
   * every change in a group's kept history, every head the checkpoint lists — and the state's
   * n they hold for. Null while the state is mid-way (a head pruned: it must advance first).
   */
  private async needed(log: ProjectLog, checkpoint: CheckpointDoc): Promise<{ numbers: Set<number>; n: number } | null> {
    const groups = log.allHeads().filter((h) => h.kind === 'group');
    const kept = await Promise.all(groups.map((h) => this.logs.keptOf(log, h.name)));
    if (kept.some((k) => k === null)) return null;
    // Taken at one moment, after the awaits: a head or kept list read then holds for log.n then.
    const heads = log.allHeads();
    if (heads.some((h) => h.pruned || (h.kind === 'group' && !h.kept))) return null;
    const numbers = new Set<number>();
    for (const h of heads) {
      numbers.add(h.n);
      for (const [, n] of h.kept ?? []) numbers.add(n);
    }
    for (const n of checkpointHeads(checkpoint)) numbers.add(n);
    return { numbers, n: log.n };
  }

  /**
   * The collections before `swept` kept for changes still needed, as this instance knows
   * them; on its first pass over the log, found again (one query per collection; a dropped
   * one answers nothing) and their unneeded changes stripped.
   */
  private async pinnedOf(uid: string, swept: number, needed: ReadonlySet<number>, done: ReclaimResult): Promise<Map<number, Set<number>>> {
    let pinned = this.pinned.get(uid);
    if (pinned) return pinned;
    pinned = new Map();
    for (let g = 0; g < swept; g++) {
      const docs = await this.collection(uid, g).find({ pruned: { $ne: true } }, { projection: { n: 1 } }).toArray();
      if (!docs.length) continue;
      const keep = new Set(docs.map((d) => d.n).filter((n) => needed.has(n)));
      done.stripped += await this.strip(uid, g, docs.map((d) => d.n).filter((n) => !keep.has(n)));
      if (keep.size) pinned.set(g, keep);
    }
    if (this.pinned.size >= 10_000) this.pinned.clear(); // bounded: deleted projects leave theirs
    this.pinned.set(uid, pinned);
    return pinned;
  }

  /** The changes of collection g not stripped yet and not in `keep`. */
  private async unstripped(uid: string, g: number, keep: ReadonlySet<number>): Promise<number[]> {
    const docs = await this.collection(uid, g).find({ pruned: { $ne: true } }, { projection: { n: 1 } }).toArray();
    return docs.map((d) => d.n).filter((n) => !keep.has(n));
  }

  /**
   * Strips changes of collection g (idempotent: an unconditional $set by _id), STRIP_CHUNK
   * statements per command. Returns how many.
   */
  private async strip(uid: string, g: number, ns: readonly number[]): Promise<number> {
    const $set = { data: null, history: null, kept: null, pruned: true };
    for (let i = 0; i < ns.length; i += STRIP_CHUNK) {
      await this.collection(uid, g).bulkWrite(
        ns.slice(i, i + STRIP_CHUNK).map((n) => ({ updateOne: { filter: { _id: changeId(uid, n) }, update: { $set } } })),
        { ordered: false },
      );
    }
    return ns.length;
  }

  private collection(uid: string, g: number): Collection<ChangeDoc> {
    return this.logs.changesOf(uid, g * CHANGES_PER_COLLECTION);
  }
}

/** The change numbers of the heads a checkpoint lists. */
function checkpointHeads(checkpoint: CheckpointDoc): number[] {
  return (JSON.parse(checkpoint.heads ?? '[]') as [unknown, unknown, number][]).map((e) => e[2]);
}
