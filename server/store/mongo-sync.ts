/**
 * The MongoDB store's reading side: the state of the projects one store instance has read
 * (`ProjectLog`, the heads sealed as stored), brought up to date by replaying the change log
 * with look-ups by _id, restored from the newest checkpoint, and the change feed's numbers.
 * `mongo-store.ts` explains the log; docs/storage.md, "Change log", in full.
 */
import type { Collection, Db } from 'mongodb';
import { DomainError } from '../domain/errors.js';
import type { GroupHistoryEntry } from '../domain/types.js';
import { historyKind } from './store.js';
import {
  changeCollection,
  changeHistory,
  changeHistoryBytes,
  changeId,
  checkpointId,
  decodeKept,
  pointerId,
  CHANGES_PER_COLLECTION,
  Coalesced,
  ProjectLog,
  type ChangeDoc,
  type CheckpointDoc,
  type KeptRevision,
} from './mongo-log.js';

/** A project document: the project's current incarnation (its uid names its change log). */
export interface ProjectDoc {
  _id: string;
  uid: string;
  createdAt: number;
  /** Project.executionKeys; absent when none. */
  executionKeys?: string[];
  schemaVersion: number;
}

/** Look-ups by _id sent at once (advancing through many changes, loading a checkpoint). */
const LOOKUP_BATCH = 32;
/** Advances a reader or writer makes past pruned heads before it gives up (UNAVAILABLE). */
export const STALE_RETRIES = 8;
export const stillChanging = (project: string) => new DomainError('UNAVAILABLE', `project ${project} kept changing while it was read; retry`);

/** The collections of one database that the change log lives in. */
export interface LogCollections {
  readonly db: Db;
  readonly projects: Collection<ProjectDoc>;
  readonly checkpoints: Collection<CheckpointDoc>;
}

/** The collection that holds change n of a project incarnation. */
export function changesOf(db: Db, uid: string, n: number): Collection<ChangeDoc> {
  return db.collection(changeCollection(uid, n));
}

export class ProjectLogs {
  /** State of the projects this instance has read (current incarnation only). */
  private readonly logs = new Map<string, ProjectLog>();
  /** Last change numbers of projects read only through the change feed (confirmedAt as ProjectLog's). */
  private readonly tips = new Map<string, { uid: string; n: number; confirmedAt: number }>();
  /** Per project state: look-ups that concurrent callers share (see Coalesced). */
  private readonly sharing = new WeakMap<ProjectLog, { advance: Coalesced<void>; refresh: Coalesced<boolean> }>();
  /** The change feed, shared by concurrent callers. */
  private readonly versions = new Coalesced(() => this.readVersions());
  /** Per project: the tail of its queue of commits and loads. */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly c: LogCollections,
    /**
     * How long a state stays usable without being confirmed (ProjectLog.confirmedAt) before it
     * is brought up to date from the newest checkpoint instead of change by change. Below the
     * reclaim grace (mongo-reclaim.ts), so a state that is fresh never reaches for a change
     * in a reclaimed collection.
     */
    private readonly freshMs: number,
  ) {}

  /** Whether a state was confirmed lately enough to be advanced change by change (see freshMs). */
  fresh(log: ProjectLog): boolean {
    return performance.now() - log.confirmedAt <= this.freshMs;
  }

  /** Every state held (reclaiming goes through them). */
  held(): ProjectLog[] {
    return [...this.logs.values()];
  }

  /** The state held of a project, as it is (not brought up to date). */
  cached(project: string): ProjectLog | undefined {
    return this.logs.get(project);
  }

  changesOf(uid: string, n: number): Collection<ChangeDoc> {
    return changesOf(this.c.db, uid, n);
  }

  /** The change feed: 1 + the last change number of every project. */
  projectVersions(): Promise<Map<string, number>> {
    return this.versions.run();
  }

  private async readVersions(): Promise<Map<string, number>> {
    const projects = await this.c.projects.find({}, { projection: { _id: 1, uid: 1 } }).sort({ _id: 1 }).toArray();
    const names = new Set(projects.map((p) => p._id));
    for (const name of [...this.logs.keys(), ...this.tips.keys()]) if (!names.has(name)) this.forget(name);
    const tips = await Promise.all(projects.map((p) => this.tip(p._id, p.uid)));
    return new Map(projects.map((p, i) => [p._id, 1 + tips[i]!]));
  }

  /** The group's kept history, from an up-to-date state; null without the project. */
  async keptHistory(project: string, name: string): Promise<(KeptRevision[] & { uid: string }) | null> {
    const log = await this.readable(project);
    if (!log) return null;
    for (let attempt = 0; ; attempt++) {
      const kept = await this.keptOf(log, name);
      if (kept) return Object.assign([...kept], { uid: log.uid });
      if (attempt >= STALE_RETRIES) throw stillChanging(project);
      await this.advance(log);
    }
  }

  /** The entries of these kept revisions, oldest first; one pruned meanwhile by a writer is left out. */
  async readHistory(uid: string, kept: readonly KeptRevision[]): Promise<GroupHistoryEntry[]> {
    const out: GroupHistoryEntry[] = [];
    for (let i = 0; i < kept.length; i += LOOKUP_BATCH) {
      const docs = await Promise.all(
        kept
          .slice(i, i + LOOKUP_BATCH)
          .map(([, n]) => this.changesOf(uid, n).findOne({ _id: changeId(uid, n) }, { projection: { history: 1, groupInData: 1, data: 1 } })),
      );
      for (const d of docs) if (d?.history) out.push(changeHistory(d));
    }
    return out;
  }

  /**
   * The kept history of a group as of this state's head, loaded when not known yet (a head
   * from a checkpoint; a log written before the history budget, whose history is then found by
   * a scan and kept whole until the group's next write prunes it). Null when the head's change
   * was pruned: the state is behind, advance it first.
   */
  async keptOf(log: ProjectLog, name: string): Promise<KeptRevision[] | null> {
    const head = log.head('group', name);
    if (!head || head.pruned) return head ? null : [];
    if (head.kept) return head.kept;
    const doc = await this.changesOf(log.uid, head.n).findOne({ _id: changeId(log.uid, head.n) }, { projection: { kept: 1, pruned: 1, reclaimed: 1 } });
    if (!doc || doc.pruned || doc.reclaimed) return null;
    head.kept = doc.kept ? decodeKept(doc.kept) : head.hasHistory ? await this.scanHistory(log, name) : [];
    return head.kept;
  }

  /**
   * Every history entry of a group in the log, by a scan of each change collection (the one
   * query by a field other than _id on changes): only for logs written before the budget.
   */
  private async scanHistory(log: ProjectLog, name: string): Promise<KeptRevision[]> {
    const collections = Array.from({ length: Math.floor(log.n / CHANGES_PER_COLLECTION) + 1 }, (_, g) => this.changesOf(log.uid, g * CHANGES_PER_COLLECTION));
    const found = await Promise.all(
      collections.map((c) => c.find({ kind: 'group', name, history: { $ne: null } }, { projection: { n: 1, history: 1, groupInData: 1, data: 1 } }).toArray()),
    );
    return found
      .flat()
      .filter((d) => d.n <= log.n)
      .map((d) => ({ n: d.n, bytes: changeHistoryBytes(d), entry: changeHistory(d) }))
      .sort((a, b) => a.entry.revision - b.entry.revision || a.n - b.n)
      .map((d): KeptRevision => [d.entry.revision, d.n, d.bytes, historyKind(d.entry)]);
  }

  /** synced(), and past any pruned head: a reader never sees a state mid-way through catching up. */
  async readable(project: string): Promise<ProjectLog | null> {
    const log = await this.synced(project);
    for (let attempt = 0; log && log.prunedHeads > 0; attempt++) {
      if (attempt >= STALE_RETRIES) throw stillChanging(project);
      await this.advance(log);
    }
    return log;
  }

  /**
   * The project's state, brought up to date: the cached one after a look-up of what follows
   * it (and of the project, whose uid must not have changed), else loaded. Null without the
   * project, and for a closed log (a deletion under way, or one interrupted before the
   * project document went: DeleteProject again finishes it).
   */
  async synced(project: string): Promise<ProjectLog | null> {
    const cached = this.logs.get(project);
    if (cached) {
      if (await this.shared(cached).refresh.run()) return cached;
      if (this.logs.get(project) === cached) this.forget(project);
    }
    const log = await this.exclusive(project, () => this.loadLog(project));
    return log?.closed ? null : log;
  }

  /** The state of the project's current incarnation, loaded if needed and up to date (possibly closed). */
  async loadLog(project: string): Promise<ProjectLog | null> {
    const p = await this.c.projects.findOne({ _id: project });
    if (!p) {
      this.forget(project);
      return null;
    }
    const cached = this.logs.get(project);
    if (cached?.uid === p.uid) {
      cached.executionKeys = p.executionKeys;
      await this.advance(cached);
      return cached;
    }
    const log = await this.restore(p);
    this.logs.set(project, log);
    return log;
  }

  /**
   * A project's state from its newest checkpoint (found through the pointer, which may lag
   * but never points at a checkpoint that does not exist) plus the changes after it. Without
   * a usable checkpoint, from the start of the log: slower, same result.
   */
  private async restore(p: ProjectDoc): Promise<ProjectLog> {
    const log = new ProjectLog(p._id, p.uid, p.createdAt, 0);
    log.executionKeys = p.executionKeys;
    await this.advance(log); // never confirmed: starts at the checkpoint
    return log;
  }

  /**
   * Moves a state more than `minGap` changes behind the newest checkpoint to that checkpoint,
   * reading only the records that changed in between (their last change, by _id) instead of
   * every change. Does nothing when the pointer or the checkpoint cannot be read (none yet, a
   * deletion racing this): the caller then reads change by change — no change was reclaimed
   * then, since reclaiming needs a checkpoint past it. A listed head that is a tombstone (or
   * missing: a reclaiming pass under way) was reclaimed after a later change of its record
   * superseded it (mongo-reclaim.ts), and one stripped was pruned: either way that later
   * change comes after the checkpoint, and advancing reaches it.
   */
  private async jumpToCheckpoint(log: ProjectLog, minGap: number): Promise<void> {
    const pointer = await this.c.checkpoints.findOne({ _id: pointerId(log.uid) });
    if (!pointer || pointer.n <= log.n + minGap) return;
    const checkpoint = await this.c.checkpoints.findOne({ _id: checkpointId(log.uid, pointer.n) });
    if (!checkpoint) return;
    const newer = log.newerIn(checkpoint);
    const live = newer.filter((h) => h.data === undefined);
    for (let i = 0; i < live.length; i += LOOKUP_BATCH) {
      const heads = live.slice(i, i + LOOKUP_BATCH);
      const docs = await Promise.all(
        heads.map((h) => this.changesOf(log.uid, h.n).findOne({ _id: changeId(log.uid, h.n) }, { projection: { data: 1, pruned: 1, reclaimed: 1 } })),
      );
      heads.forEach((h, k) => {
        const d = docs[k];
        h.pruned = !d || d.pruned === true || d.reclaimed === true;
        h.data = h.pruned ? null : d!.data;
      });
    }
    log.jump(checkpoint.n, newer);
  }

  /**
   * Applies the changes after log.n, looking them up by _id: one look-up when nothing is new,
   * then batches of growing size in parallel while changes keep coming. Numbers have no gaps,
   * so the first missing one is the end of the log.
   */
  advance(log: ProjectLog): Promise<void> {
    return this.shared(log).advance.run();
  }

  /** Per state, the shared advance and the shared "advance and check the project". */
  private shared(log: ProjectLog): { advance: Coalesced<void>; refresh: Coalesced<boolean> } {
    let s = this.sharing.get(log);
    if (!s) {
      const advance = new Coalesced(() => this.advanceNow(log));
      const refresh = new Coalesced(async () => {
        const [p] = await Promise.all([this.c.projects.findOne({ _id: log.project }, { projection: { uid: 1, executionKeys: 1 } }), advance.run()]);
        if (p?.uid !== log.uid || log.closed) return false;
        log.executionKeys = p.executionKeys;
        return true;
      });
      this.sharing.set(log, (s = { advance, refresh }));
    }
    return s;
  }

  private async advanceNow(log: ProjectLog): Promise<void> {
    // Not known to be near the end lately: the changes after it may have been reclaimed.
    if (!this.fresh(log)) await this.jumpToCheckpoint(log, 0);
    const confirmed = await this.probe(
      log.uid,
      () => log.n,
      undefined,
      (docs) => {
        for (const d of docs) log.apply(d);
      },
      // Far behind (another instance wrote a lot, or imported a history): jump if a checkpoint
      // is well ahead, so catching up costs the records that changed, not every change.
      () => this.jumpToCheckpoint(log, LOOKUP_BATCH),
    );
    log.confirmedAt = Math.max(log.confirmedAt, confirmed);
  }

  /**
   * The last change number of a project, for the change feed. Projects this instance holds
   * state of answer from it; others from a lighter tip (numbers only), started at the newest
   * checkpoint and advanced with _id-only look-ups.
   */
  private async tip(project: string, uid: string): Promise<number> {
    const log = this.logs.get(project);
    if (log?.uid === uid) {
      await this.advance(log);
      return log.n;
    }
    let tip = this.tips.get(project);
    if (tip?.uid !== uid || performance.now() - tip.confirmedAt > this.freshMs) {
      // New, or not confirmed lately (see advanceNow): from the newest checkpoint.
      const pointer = await this.c.checkpoints.findOne({ _id: pointerId(uid) });
      tip = { uid, n: Math.max(tip?.uid === uid ? tip.n : 0, pointer?.n ?? 0), confirmedAt: -Infinity };
      this.tips.set(project, tip);
    }
    const t = tip;
    t.confirmedAt = await this.probe(
      uid,
      () => t.n,
      { _id: 1 },
      (found, from) => {
        t.n = Math.max(t.n, from - 1 + found.length);
      },
      async () => {
        // Far behind: skip to the newest checkpoint (numbers only: the changes before it are taken).
        const pointer = await this.c.checkpoints.findOne({ _id: pointerId(uid) });
        t.n = Math.max(t.n, pointer?.n ?? 0);
      },
    );
    return t.n;
  }

  /**
   * Looks up the changes after `last()` by _id, in batches that double (1, 2, 4, … LOOKUP_BATCH)
   * while every change of a batch exists, handing `found` the run of changes that follow
   * without a gap (and the number of the first one looked up), and calling `farBehind` after each full batch of the largest size. Numbers
   * have no gaps, so the first missing one is the end of the log. Returns when the look-up
   * that found the end was sent (performance.now()): the state was the end of the log then.
   */
  private async probe(
    uid: string,
    last: () => number,
    projection: Record<string, 1> | undefined,
    found: (docs: ChangeDoc[], from: number) => void,
    farBehind: () => Promise<void>,
  ): Promise<number> {
    for (let batch = 1; ; batch = Math.min(batch * 2, LOOKUP_BATCH)) {
      const from = last() + 1;
      const sent = performance.now();
      const docs = await Promise.all(
        Array.from({ length: batch }, (_, i) => this.changesOf(uid, from + i).findOne({ _id: changeId(uid, from + i) }, projection && { projection })),
      );
      const end = docs.indexOf(null);
      found((end < 0 ? docs : docs.slice(0, end)) as ChangeDoc[], from);
      if (end >= 0) return sent;
      if (batch === LOOKUP_BATCH) await farBehind();
    }
  }

  /** Drops what this instance holds of a project (deleted, or replaced by a new incarnation). */
  forget(project: string): void {
    this.logs.delete(project);
    this.tips.delete(project);
  }

  /** Runs one project's commits (and loads) one after another within this instance. */
  exclusive<T>(project: string, work: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(project) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(work);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(project, settled);
    void settled.then(() => {
      if (this.queues.get(project) === settled) this.queues.delete(project);
    });
    return next;
  }
}
