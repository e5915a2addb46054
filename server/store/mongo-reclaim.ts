/**
 * Reclaiming a project's change log: the payload of changes that no reader needs any more —
 * superseded by a later change of their record and not in their group's kept history — is
 * removed collection by collection, not document by document. On FerretDB 1.x every update or
 * delete by _id reads the whole collection (mongo-log.ts, CHANGES_PER_COLLECTION): stripping
 * each pruned change at commit, as earlier versions did, cost more FerretDB time than the rest
 * of a write together (docs/performance.md, "MongoDB writes").
 *
 * A change collection is reclaimed once every number in it is taken, at or before the newest
 * checkpoint (which new instances start from), and its last change is older than the grace.
 * The changes no reader needs are removed — the whole collection dropped when it holds none
 * that is needed, else one delete — and a tombstone inserted for each of their numbers, which
 * readers skip and which keeps the number taken. Needed are: every head of the reclaiming state
 * (deleted records' too), every change in a group's kept history, every head the checkpoint
 * lists. Changes leave that set and never come back, so a state that is up to date decides
 * for every state behind it: whatever they meet instead of a reclaimed change was superseded
 * by a change they read later, before they answer.
 *
 * The grace covers the moment between removal and tombstones, when a number is free: every
 * state that is fresh (confirmed within FRESH_MS, mongo-sync.ts) is past the collection, and a
 * state that is not is brought up to date from the newest checkpoint, not change by change — so
 * no reader meets the gap, and no writer claims a number in it. A pass stopped in that moment
 * leaves the gap to the next pass, which writes the tombstones. Until a collection is
 * reclaimed its pruned changes keep their payload; Owed bounds those bytes by stripping them,
 * as earlier versions did at each commit, past OWED_BYTES. Docs: docs/storage.md, "Reclaiming
 * the log".
 */
import type { Collection } from 'mongodb';
import { onlyDuplicates } from './mongo-errors.js';
import { changeId, checkpointId, pointerId, CHANGES_PER_COLLECTION, type ChangeDoc, type CheckpointDoc, type ProjectLog } from './mongo-log.js';
import type { LogCollections, ProjectLogs } from './mongo-sync.js';
import { LIMITS } from '../domain/limits.js';
import { SCHEMA_VERSION } from './codec.js';

/** How old a collection's last change must be before the collection is reclaimed. */
export const RECLAIM_GRACE_MS = 30_000;
/**
 * How long a state may go unconfirmed and still be advanced change by change (ProjectLogs).
 * Servers confirm the states they hold at every poll of the change feed (250 ms). The margin
 * to the grace covers clocks that disagree between instances and a process paused between its
 * check and its read or insert.
 */
export const FRESH_MS = 5_000;

/** The pointer as reclaiming extends it: collections before `swept` have been reclaimed. */
type PointerDoc = CheckpointDoc & { swept?: number };

/** What one pass did: collections reclaimed whole (dropped), changes reclaimed in all. */
export interface ReclaimResult {
  collections: number;
  changes: number;
}

export class Reclaimer {
  /** Per log (uid), the pass under way: one at a time per log in this instance. */
  private readonly running = new Map<string, Promise<unknown>>();
  /**
   * Per log, the collections reclaimed while they held changes still needed, with those
   * changes' numbers as of the last pass. A new instance finds them again with one query each.
   */
  private readonly pinned = new Map<string, Map<number, Set<number>>>();
  /** Per log, the first collection a pass found too young, and the time of its last change (it never changes). */
  private readonly young = new Map<string, { g: number; time: number }>();

  constructor(
    private readonly c: LogCollections,
    private readonly logs: ProjectLogs,
    private readonly graceMs: number,
    /** Told which numbers a pass reclaimed (GroupCommit no longer owes their strip). */
    private readonly reclaimed: (uid: string, first: number, last: number) => void = () => undefined,
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
    const done: ReclaimResult = { collections: 0, changes: 0 };
    if (log.closed) return done; // a deleted project's log is dropped whole, after its own grace
    const pointer = (await this.c.checkpoints.findOne({ _id: pointerId(log.uid) })) as PointerDoc | null;
    if (!pointer) return done;
    const checkpoint = await this.c.checkpoints.findOne({ _id: checkpointId(log.uid, pointer.n) });
    const needed = checkpoint && (await this.needed(log, checkpoint));
    const swept = pointer.swept ?? 0;
    // Behind what an earlier pass reclaimed (another instance's): what it kept is unknown here.
    if (!needed || swept * CHANGES_PER_COLLECTION > needed.n + 1) return done;
    const pinned = await this.pinnedOf(log, swept, needed.numbers, done);
    // Collections reclaimed earlier around changes then needed: reclaim those no longer needed.
    for (const [g, was] of pinned) {
      const gone = [...was].filter((n) => !needed.numbers.has(n));
      if (!gone.length) continue;
      await this.reclaimIn(log, g, needed.numbers, done, gone);
      const still = [...was].filter((n) => needed.numbers.has(n));
      if (still.length) pinned.set(g, new Set(still));
      else pinned.delete(g);
    }
    const bound = Math.min(pointer.n, needed.n);
    for (let g = swept; (g + 1) * CHANGES_PER_COLLECTION - 1 <= bound; g++) {
      const last = (g + 1) * CHANGES_PER_COLLECTION - 1;
      const known = this.young.get(log.uid);
      if (known?.g === g && known.time > now - this.graceMs) break; // no look-up until it is old enough
      const end = await this.collection(log.uid, g).findOne({ _id: changeId(log.uid, last) }, { projection: { time: 1, reclaimed: 1 } });
      if (end && !end.reclaimed && end.time > now - this.graceMs) {
        if (this.young.size >= 10_000 && !this.young.has(log.uid)) this.young.clear(); // bounded, as pinned
        this.young.set(log.uid, { g, time: end.time });
        break;
      }
      // Its last change a tombstone: reclaimed already, by another instance whose pass did not
      // get as far as the pointer.
      if (!end?.reclaimed) {
        const keep = await this.reclaimIn(log, g, needed.numbers, done);
        if (keep.size) pinned.set(g, keep);
      }
      await this.c.checkpoints.updateOne({ _id: pointerId(log.uid) }, { $max: { swept: g + 1 } });
    }
    return done;
  }

  /**
   * Reclaims what collection g holds that is not needed: drops the collection when it holds
   * nothing needed, else deletes those changes (one command), then inserts a tombstone for
   * each number removed. Returns the numbers in g still needed. Reads nothing: what is needed
   * is known, and a number not needed is removed and tombstoned whatever it held (a tombstone
   * of an earlier pass, too: the same document again) — all of them, or with `only`, those
   * (a collection reclaimed before, whose other numbers hold tombstones already).
   */
  private async reclaimIn(log: ProjectLog, g: number, needed: ReadonlySet<number>, done: ReclaimResult, only?: readonly number[]): Promise<Set<number>> {
    const coll = this.collection(log.uid, g);
    const first = Math.max(1, g * CHANGES_PER_COLLECTION); // numbers start at 1
    const last = (g + 1) * CHANGES_PER_COLLECTION - 1;
    const keep = new Set([...needed].filter((n) => n >= first && n <= last));
    const all = Array.from({ length: last - first + 1 }, (_, i) => first + i).filter((n) => !keep.has(n));
    // A dropped collection needs every tombstone again.
    const gone = keep.size === 0 ? all : (only ?? all);
    if (keep.size === 0) {
      await coll.drop();
      done.collections++;
    } else {
      await coll.deleteMany({ _id: { $in: gone.map((n) => changeId(log.uid, n)) } });
    }
    await insertTombstones(coll, gone.map((n) => tombstone(log, n)));
    done.changes += (only ?? gone).length;
    this.reclaimed(log.uid, first, last);
    return keep;
  }

  /**
   * The numbers of the changes a reader may still need, and the state's n they hold for. Null
   * while the state is mid-way (a head pruned: it must advance first).
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
   * The collections before `swept` reclaimed around changes still needed, as this instance
   * knows them; on its first pass over the log, the ones that hold a change needed now (what
   * else they hold is reclaimed again: it costs a command, and nothing is left behind).
   */
  private async pinnedOf(log: ProjectLog, swept: number, needed: ReadonlySet<number>, done: ReclaimResult): Promise<Map<number, Set<number>>> {
    let pinned = this.pinned.get(log.uid);
    if (pinned) return pinned;
    pinned = new Map();
    const holding = new Set([...needed].map((n) => Math.floor(n / CHANGES_PER_COLLECTION)).filter((g) => g < swept));
    for (const g of [...holding].sort((x, y) => x - y)) pinned.set(g, await this.reclaimIn(log, g, needed, done));
    if (this.pinned.size >= 10_000) this.pinned.clear(); // bounded: deleted projects leave theirs
    this.pinned.set(log.uid, pinned);
    return pinned;
  }

  private collection(uid: string, g: number): Collection<ChangeDoc> {
    return this.logs.changesOf(uid, g * CHANGES_PER_COLLECTION);
  }
}

/**
 * The most bytes of pruned history, per project and store instance, that wait for their
 * collection's reclaiming with their payload: past it, the commit that goes over strips the
 * excess (see Owed.add), as earlier versions stripped after each commit. Four groups' history
 * budgets.
 */
export const OWED_BYTES = 4 * LIMITS.historyBytes;
/** Statements per strip command (FerretDB v1.24.2 did not answer one of 126 within 15 s; 32 took 50 ms). */
const STRIP_CHUNK = 32;

/**
 * Pruned changes whose payload is still stored, per log, as this instance pruned them: bounded
 * by OWED_BYTES, forgiven as passes reclaim their collections.
 */
export class Owed {
  private readonly owed = new Map<string, OwedChanges>();

  constructor(
    private readonly logs: ProjectLogs,
    private readonly limit = OWED_BYTES,
  ) {}

  /**
   * Records what a commit pruned (change number, stored bytes); over the limit, strips the
   * highest numbers until the rest fit. Only the excess: stripping everything at once held
   * the project's next commits for tens of seconds (~1.5 ms of FerretDB per strip, ~20,000 of
   * them at 64 MiB). The highest: the lowest lie in the oldest collections, the next a pass
   * reclaims anyway.
   */
  async add(uid: string, pruned: readonly (readonly [n: number, bytes: number])[]): Promise<void> {
    if (!pruned.length) return;
    let o = this.owed.get(uid);
    if (!o) {
      if (this.owed.size >= 10_000) this.owed.clear(); // bounded: deleted projects leave theirs (their payload goes with the log)
      this.owed.set(uid, (o = { bytes: 0, sizes: new Map(), numbers: [] }));
    }
    for (const [n, bytes] of pruned) {
      if (o.sizes.has(n)) continue;
      o.sizes.set(n, bytes);
      o.bytes += bytes;
      o.numbers.splice(firstAtOrAbove(o.numbers, n), 0, n); // at the end, mostly
    }
    const take: number[] = [];
    for (let over = o.bytes - this.limit, i = o.numbers.length - 1; over > 0 && i >= 0; i--) {
      take.push(o.numbers[i]!);
      over -= o.sizes.get(o.numbers[i]!)!;
    }
    if (!take.length) return;
    // Not forgotten when the strip fails: the next commit that adds tries again.
    await this.strip(uid, take);
    for (const n of take) o.bytes -= o.sizes.get(n) ?? 0; // a pass may have forgiven some meanwhile
    for (const n of take) o.sizes.delete(n);
    o.numbers = o.numbers.filter((n) => o.sizes.has(n));
  }

  /** A pass reclaimed first..last: nothing there is owed any more. */
  forgive(uid: string, first: number, last: number): void {
    const o = this.owed.get(uid);
    if (!o) return;
    const from = firstAtOrAbove(o.numbers, first);
    const to = firstAtOrAbove(o.numbers, last + 1);
    for (const n of o.numbers.splice(from, to - from)) {
      o.bytes -= o.sizes.get(n)!;
      o.sizes.delete(n);
    }
  }

  /** Bytes owed for a log (tests and docs). */
  bytes(uid: string): number {
    return this.owed.get(uid)?.bytes ?? 0;
  }

  /**
   * Strips changes (idempotent: an unconditional $set by _id, what a tombstone holds too),
   * per change collection, STRIP_CHUNK statements per command.
   */
  private async strip(uid: string, ns: readonly number[]): Promise<void> {
    const byCollection = new Map<number, number[]>();
    for (const n of ns) {
      const g = Math.floor(n / CHANGES_PER_COLLECTION);
      byCollection.set(g, [...(byCollection.get(g) ?? []), n]);
    }
    const $set = { data: null, history: null, kept: null, pruned: true };
    for (const group of byCollection.values()) {
      for (let i = 0; i < group.length; i += STRIP_CHUNK) {
        await this.logs.changesOf(uid, group[0]!).bulkWrite(
          group.slice(i, i + STRIP_CHUNK).map((n) => ({ updateOne: { filter: { _id: changeId(uid, n) }, update: { $set } } })),
          { ordered: false },
        );
      }
    }
  }
}

/** Inserts tombstones; one already there (another instance's pass) is fine. */
async function insertTombstones(coll: Collection<ChangeDoc>, docs: ChangeDoc[]): Promise<void> {
  if (!docs.length) return;
  try {
    await coll.insertMany(docs, { ordered: false });
  } catch (e) {
    if (!onlyDuplicates(e)) throw e;
  }
}

/**
 * What a reclaimed number holds instead of its change: no payload, no record — readers skip it
 * (ProjectLog.apply); earlier versions record a deleted workload with no name, listed nowhere
 * (as closingChange). A number stays taken, so a writer behind cannot claim it.
 */
function tombstone(log: ProjectLog, n: number): ChangeDoc {
  const at = { _id: changeId(log.uid, n), uid: log.uid, project: log.project, n };
  return { ...at, kind: 'workload', name: '', revision: 0, deleted: true, data: null, history: null, reclaimed: true, time: Date.now(), schemaVersion: SCHEMA_VERSION };
}

/** The change numbers of the heads a checkpoint lists. */
function checkpointHeads(checkpoint: CheckpointDoc): number[] {
  return (JSON.parse(checkpoint.heads ?? '[]') as [unknown, unknown, number][]).map((e) => e[2]);
}

/** One log's owed changes: their stored sizes, and their numbers in ascending order. */
interface OwedChanges {
  bytes: number;
  sizes: Map<number, number>;
  numbers: number[];
}

/** Index of the first element of an ascending array that is ≥ n (binary search). */
function firstAtOrAbove(sorted: readonly number[], n: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < n) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
