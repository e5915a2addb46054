/**
 * The MongoDB store's writing side: group commit of the writes waiting for one project, the
 * history budget applied per group change, checkpoints (after which the log is reclaimed), and the
 * import of a record with its history. The insert of change n is the commit (`mongo-store.ts`;
 * docs/storage.md, "Change log").
 */
import { DomainError, alreadyExists, notFound, stale } from '../domain/errors.js';
import type { Document } from 'mongodb';
import type { GroupHistoryEntry } from '../domain/types.js';
import { encodeHistory, encodeRecord, SCHEMA_VERSION } from './codec.js';
import { ignoreDuplicate, isDuplicate, orderedInsertFailure, unwrapBulk } from './mongo-errors.js';
import {
  changeHistoryBytes,
  changeId,
  checkpointId,
  closingChange,
  encodeChangeHistory,
  crossesCheckpoint,
  encodeKept,
  pointerId,
  CHANGES_PER_COLLECTION,
  ProjectLog,
  type ChangeDoc,
  type Head,
  type KeptRevision,
} from './mongo-log.js';
import type { Owed, Reclaimer } from './mongo-reclaim.js';
import { ProjectLogs, STALE_RETRIES, stillChanging, type LogCollections } from './mongo-sync.js';
import { checkImport, historyCost, historyKept, historyKind, storedBytes, type HistoryBudget, type RecordKind, type RecordTypes } from './store.js';

export type Mode = 'create' | 'update' | 'delete';

/** A write waiting for its group commit. */
interface PendingWrite {
  mode: Mode;
  kind: RecordKind;
  name: string;
  expected: number;
  record: RecordTypes[RecordKind] | null;
  history: GroupHistoryEntry | undefined;
  /** The write's audit record, inserted with those of its group before the group is checked. */
  audit: Document | undefined;
  resolve: (version: number) => void;
  reject: (e: unknown) => void;
}

/** Writes committed together at most (a group's changes go in one insertMany). */
const MAX_GROUP = 64;
/**
 * The longest a group waits for more writes (see GroupCommit.linger), and at most this share
 * of what the project's previous commit took: a write waits at most half a commit longer.
 * Measured on FerretDB with 8 writers (docs/performance.md): 1 ms left the writers split in
 * two cohorts, 2–3 ms gave the best rates, 5 ms waited for stragglers with the CPU idle.
 */
const LINGER_MAX_MS = 3;
const LINGER_SHARE = 0.5;
/** Attempts of close against writers of other instances that keep taking the next number. */
const CLOSE_RETRIES = 50;
/** Changes per insertMany when importing a long history. */
const IMPORT_BATCH = 500;

export class GroupCommit {
  /** Per project: writes waiting for the next group commit (see commit). */
  private readonly waiting = new Map<string, PendingWrite[]>();
  /** Per project whose last group held more than one write: its size and how long its commit took (see linger). */
  private readonly lastGroup = new Map<string, { size: number; ms: number }>();
  /** Per project whose next group is waiting for more writes: how many are enough, and the end of the wait. */
  private readonly lingering = new Map<string, { enough: number; done: () => void }>();

  constructor(
    private readonly c: LogCollections,
    private readonly logs: ProjectLogs,
    private readonly budget: HistoryBudget,
    /** Inserts audit records (all or nothing, as far as the caller knows). */
    private readonly recordAudit: (docs: Document[]) => Promise<void>,
    /** Reclaims the log behind a checkpoint that a commit wrote (mongo-reclaim.ts). */
    private readonly reclaimer?: Reclaimer,
    /** What commits pruned and still store, stripped past its bound (mongo-reclaim.ts). */
    private readonly owed?: Owed,
    /** The longest a group waits for more writes (tests lengthen it: see MongoStoreOptions.lingerMaxMs). */
    private readonly lingerMaxMs = LINGER_MAX_MS,
  ) {}

  /**
   * One write, committed with the others of its project that are waiting (group commit): each
   * is checked against the state after change n and the writes before it in the group, then
   * the group is inserted as changes n + 1, n + 2, … in one ordered insertMany. The insert is
   * the commit; ordered, it stops at the first duplicate _id — another writer committed that
   * number first — so the writes before it are committed and the rest are checked again
   * against the changes that beat them. Groups of one project in this instance run one after
   * another, so they do not race each other for numbers. Resolves to 1 + the change's number,
   * the project's change-feed version after it. The group's audit records go in first, in one
   * insert: a write whose record could not be stored is not tried (it fails with that error).
   */
  commit(
    mode: Mode,
    kind: RecordKind,
    project: string,
    name: string,
    expected: number,
    record: RecordTypes[RecordKind] | null,
    history: GroupHistoryEntry | undefined,
    audit?: Document,
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      const write: PendingWrite = { mode, kind, name, expected, record, history, audit, resolve, reject };
      const queue = this.waiting.get(project);
      if (queue) {
        queue.push(write); // a group commit is already scheduled to take it
        const lingering = this.lingering.get(project);
        if (lingering && queue.length >= lingering.enough) lingering.done();
        return;
      }
      this.waiting.set(project, [write]);
      this.scheduleGroup(project);
    });
  }

  /** Queues the commit of the writes waiting for `project` (at most MAX_GROUP of them). */
  private scheduleGroup(project: string): void {
    void this.logs.exclusive(project, async () => {
      await this.linger(project);
      const queue = this.waiting.get(project) ?? [];
      const group = queue.splice(0, MAX_GROUP);
      if (queue.length) this.scheduleGroup(project);
      else this.waiting.delete(project);
      const started = performance.now();
      await this.commitGroup(project, group);
      if (group.length < 2) this.lastGroup.delete(project);
      else {
        if (this.lastGroup.size >= 10_000 && !this.lastGroup.has(project)) this.lastGroup.clear(); // bounded: deleted projects leave theirs
        this.lastGroup.set(project, { size: group.length, ms: performance.now() - started });
      }
    });
  }

  /**
   * Before a group is taken, when the project's previous group held more than one write (its
   * writers are concurrent): waits for the writes still on their way, so that more of them
   * share the group's commands — until as many more are waiting as the previous group held
   * (its writers, answered, tend to write again), and at most LINGER_SHARE of what the previous
   * commit took or lingerMaxMs (LINGER_MAX_MS); not at all when that is below the timers' 1 ms (a fast
   * database). A lone writer never waits. PostgreSQL's commit_delay with commit_siblings, in
   * effect, ended early once the expected writes are in.
   */
  private async linger(project: string): Promise<void> {
    const last = this.lastGroup.get(project);
    const queue = this.waiting.get(project);
    if (!last || !queue) return;
    const enough = Math.min(MAX_GROUP, queue.length + last.size);
    const ms = Math.min(this.lingerMaxMs, Math.floor(last.ms * LINGER_SHARE));
    if (ms < 1 || queue.length >= enough) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.lingering.delete(project);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.lingering.set(project, { enough, done });
    });
  }

  private async commitGroup(project: string, writes: PendingWrite[]): Promise<void> {
    try {
      const records = writes.flatMap((w) => (w.audit ? [w.audit] : []));
      if (records.length) await this.recordAudit(records);
      let log = this.logs.cached(project) ?? (await this.logs.loadLog(project));
      // A state not confirmed lately is brought up to date before anything is claimed from it:
      // the number after it may lie in a reclaimed collection (mongo-reclaim.ts).
      if (log && !this.logs.fresh(log)) await this.logs.advance(log);
      // A cached state may be behind: it may only refuse once it is up to date.
      let current = false;
      let stale = 0;
      while (writes.length) {
        if (log?.closed) {
          // The project was deleted (its log closed): the writes go to its current incarnation, if any.
          const next = await this.logs.loadLog(project);
          log = next?.closed ? null : next;
          current = true;
        }
        if (!log) throw notFound(`project ${project}`);
        const { accepted, refused } = checkGroup(log, project, writes);
        if (refused.length && !current) {
          await this.logs.advance(log);
          current = true;
          continue;
        }
        for (const [w, e] of refused) w.reject(e);
        writes = accepted;
        if (!writes.length) return;
        const l = log;
        // Each group write carries its group's kept history onwards: known before the docs are built.
        const groups = [...new Set(writes.filter((w) => w.kind === 'group').map((w) => w.name))];
        await Promise.all(groups.map((g) => this.logs.keptOf(l, g)));
        const docs = writes.map((w, i) => changeDoc(l, l.n + 1 + i, w.kind, project, w.name, w.record ? w.record.revision : w.expected, w.record, w.history));
        const pruned = budgetGroup(l, docs, writes, this.budget);
        if (!pruned) {
          // A head without its kept history (pruned: this state is behind; or replaced meanwhile).
          if (++stale > STALE_RETRIES) throw stillChanging(project);
          await this.logs.advance(l);
          current = true;
          continue;
        }
        // No look-up of the project beside the insert: a deletion closes the log first
        // (close), and the insert of n + 1 succeeds only if n, and so the closing change
        // too, was seen. A duplicate brings the closing change in, and the loop above.
        const sent = performance.now();
        const { inserted, error } = await this.insertChanges(log.uid, docs);
        const before = log.n;
        for (const d of docs.slice(0, inserted)) log.apply(d);
        // The last insert succeeded: no change after it existed then (see ProjectLog.confirmedAt).
        if (inserted === docs.length && !error) log.confirmedAt = Math.max(log.confirmedAt, sent);
        // What the committed changes pruned keeps its payload until its change collection is
        // reclaimed, after a checkpoint (mongo-reclaim.ts): no per-change strip on this path.
        if (inserted && (await this.checkpointAfter(log, before).catch(() => false))) this.reclaimer?.start(log);
        writes.slice(0, inserted).forEach((w, i) => w.resolve(1 + docs[i]!.n));
        // Not owed when the strip fails: kept in the list, the next commit that adds to it tries again.
        await this.owed?.add(log.uid, pruned.slice(0, inserted).flat()).catch(() => undefined);
        writes = writes.slice(inserted);
        if (error) throw error;
        if (writes.length) {
          await this.logs.advance(log);
          current = true;
        }
      }
    } catch (e) {
      for (const w of writes) w.reject(e);
    }
  }

  /**
   * Closes the log of incarnation `uid` of the project (DeleteProject, before the project
   * document goes): appends the closing change, after which no writer can commit, since each
   * claims n + 1 only after it has seen change n. Queued behind this instance's commits of the
   * project. True when this call closed it; false when it was closed already, or the project
   * is gone or is another incarnation.
   */
  close(project: string, uid: string): Promise<boolean> {
    return this.logs.exclusive(project, async () => {
      const log = await this.logs.loadLog(project);
      if (!log || log.uid !== uid) return false;
      for (let attempt = 0; !log.closed; attempt++) {
        const doc = closingChange(uid, project, log.n + 1);
        const { inserted, error } = await this.insertChanges(uid, [doc]);
        if (error) throw error;
        if (inserted) return log.apply(doc);
        // Another instance committed that number first: read it, and try the next one.
        if (attempt >= CLOSE_RETRIES) throw stillChanging(project);
        await this.logs.advance(log);
      }
      return false;
    });
  }

  /**
   * Inserts consecutive changes in order (one insertMany per change collection). Stops at the
   * first duplicate _id: `inserted` counts the changes before it. Any other failure comes back
   * as `error`, with the changes inserted before it counted.
   */
  private async insertChanges(uid: string, docs: ChangeDoc[]): Promise<{ inserted: number; error?: unknown }> {
    let inserted = 0;
    while (inserted < docs.length) {
      let end = inserted + 1;
      while (end < docs.length && docs[end]!.n % CHANGES_PER_COLLECTION !== 0) end++;
      const chunk = docs.slice(inserted, end);
      try {
        await this.logs.changesOf(uid, chunk[0]!.n).insertMany(chunk, { ordered: true });
        inserted = end;
      } catch (e) {
        const failed = orderedInsertFailure(e);
        if (!failed) return { inserted, error: unwrapBulk(e) };
        inserted += failed.inserted;
        return failed.duplicate ? { inserted } : { inserted, error: e };
      }
    }
    return { inserted };
  }

  /**
   * Appends the history as changes, oldest first — each carrying the group as that entry
   * recorded it — and the record (or a deletion) with the last one, so the log replays to
   * exactly the imported state and later writes continue from it. Ordered inserts stop at
   * the first refused one, so the log keeps no gap even if a writer interferes.
   */
  importRecord<K extends RecordKind>(kind: K, project: string, name: string, record: RecordTypes[K] | null, history: GroupHistoryEntry[]): Promise<void> {
    const all = checkImport(kind, project, name, record, history);
    // The budget applies to an imported history as to one written entry by entry.
    const sizes = all.map((h) => storedBytes(JSON.stringify(encodeHistory(h))));
    const keep = historyKept(
      all.map((h, i) => historyCost(sizes[i]!, historyKind(h))).reverse(),
      this.budget,
    );
    const entries = all.slice(all.length - keep);
    const entrySizes = sizes.slice(all.length - keep);
    return this.logs.exclusive(project, async () => {
      const what = `${kind} ${project}/${name}`;
      const log = await this.logs.loadLog(project);
      if (!log) throw notFound(`project ${project}`);
      if (log.head(kind, name)) throw alreadyExists(what);
      const steps: { state: RecordTypes[RecordKind] | null; revision: number; history: GroupHistoryEntry | null }[] = entries.map((h) => ({
        state: h.group,
        revision: h.group ? h.revision : h.revision - 1,
        history: h,
      }));
      const last = steps.at(-1);
      // A tombstone carries the revision it deleted, as deleteRecord writes it.
      const final = { state: record, revision: record ? record.revision : last!.revision, history: last?.history ?? null };
      if (last) steps[steps.length - 1] = final;
      else steps.push(final);
      const from = log.n;
      const docs = steps.map((st, i) => changeDoc(log, from + 1 + i, kind, project, name, st.revision, st.state, st.history ?? undefined));
      if (kind === 'group') {
        // Each step's kept history: the imported entries up to it (all within the budget).
        const kept: KeptRevision[] = [];
        docs.forEach((d, i) => {
          const h = entries[i];
          if (h) kept.push([h.revision, d.n, entrySizes[i]!, historyKind(h)]);
          d.kept = encodeKept(kept);
        });
      }
      for (let i = 0; i < docs.length; ) {
        // One batch per change collection, in order.
        let j = i + 1;
        while (j < docs.length && j - i < IMPORT_BATCH && docs[j]!.n % CHANGES_PER_COLLECTION !== 0) j++;
        const batch = docs.slice(i, j);
        i = j;
        try {
          await this.logs.changesOf(log.uid, batch[0]!.n).insertMany(batch, { ordered: true });
        } catch (e) {
          if (!isDuplicate(e)) throw e;
          await this.logs.advance(log);
          throw new DomainError('ABORTED', `importing ${what}: another writer changed project ${project} meanwhile; import into an idle store`);
        }
        const before = log.n;
        for (const d of batch) log.apply(d);
        // Per batch, so other instances can jump over a long imported history.
        await this.checkpointAfter(log, before);
      }
    });
  }

  /**
   * After committing changes from + 1 … log.n: when that passed a checkpoint boundary, writes
   * a checkpoint of the state after log.n and moves the pointer to it (true). A duplicate means
   * another instance wrote the same state. The pointer is updated without a condition, so on
   * FerretDB it may lag behind; it never points at a missing checkpoint.
   */
  private async checkpointAfter(log: ProjectLog, from: number): Promise<boolean> {
    if (!crossesCheckpoint(from, log.n)) return false;
    const { uid, n } = log;
    await ignoreDuplicate(this.c.checkpoints.insertOne({ _id: checkpointId(uid, n), uid, n, heads: log.manifest(), schemaVersion: SCHEMA_VERSION }));
    await ignoreDuplicate(
      this.c.checkpoints.updateOne({ _id: pointerId(uid) }, { $max: { n }, $set: { uid, schemaVersion: SCHEMA_VERSION } }, { upsert: true }),
    );
    return true;
  }
}

function changeDoc(
  log: ProjectLog,
  n: number,
  kind: RecordKind,
  project: string,
  name: string,
  revision: number,
  record: RecordTypes[RecordKind] | null,
  history: GroupHistoryEntry | undefined,
): ChangeDoc {
  return {
    _id: changeId(log.uid, n),
    uid: log.uid,
    project,
    n,
    kind,
    name,
    revision,
    deleted: record === null,
    data: record ? JSON.stringify(encodeRecord(kind, record)) : null,
    ...encodeChangeHistory(kind, record, history),
    time: Date.now(),
    schemaVersion: SCHEMA_VERSION,
  };
}

/**
 * Sets each group change's kept history: the budget applied to the group's kept history before
 * it plus its own entry. The revisions it leaves out are pruned: no longer listed by anyone,
 * their payload reclaimed later with their change collection (mongo-reclaim.ts). Returns, per
 * doc, what it pruned (change number, stored bytes); null when a group's head has no kept
 * history known (this state is behind: advance and plan again).
 */
function budgetGroup(
  log: ProjectLog,
  docs: ChangeDoc[],
  writes: readonly { history: GroupHistoryEntry | undefined }[],
  budget: HistoryBudget,
): [n: number, bytes: number][][] | null {
  const kept = new Map<string, KeptRevision[]>();
  const pruned = docs.map((): [number, number][] => []);
  for (const [i, d] of docs.entries()) {
    if (d.kind !== 'group') continue;
    if (!kept.has(d.name)) {
      const head = log.head('group', d.name);
      if (head && (head.pruned || !head.kept)) return null;
      kept.set(d.name, head?.kept ?? []);
    }
    let list = kept.get(d.name)!;
    const entry = writes[i]!.history;
    if (d.history && entry) {
      const revision = entry.revision;
      const newestFirst = [...list.filter((k) => k[0] !== revision), [revision, d.n, changeHistoryBytes(d), historyKind(entry)] as KeptRevision]
        .sort((a, b) => b[0] - a[0] || b[1] - a[1]);
      const keep = historyKept(newestFirst.map(([, , b, kind]) => historyCost(b, kind)), budget);
      for (const [, n, bytes] of [...list.filter((k) => k[0] === revision), ...newestFirst.slice(keep)]) pruned[i]!.push([n, bytes]);
      list = newestFirst.slice(0, keep).reverse();
    }
    kept.set(d.name, list);
    d.kept = encodeKept(list);
  }
  return pruned;
}

/**
 * Checks a group's writes in order against the log and the writes before them in the group
 * (two updates from the same revision: the second is stale, as if committed one by one).
 */
function checkGroup(log: ProjectLog, project: string, writes: readonly PendingWrite[]) {
  const ahead = new Map<string, Pick<Head, 'revision' | 'deleted'>>();
  const accepted: PendingWrite[] = [];
  const refused: [PendingWrite, unknown][] = [];
  for (const w of writes) {
    const key = `${w.kind}\u0000${w.name}`;
    try {
      refuseUnless(w.mode, ahead.get(key) ?? log.head(w.kind, w.name), w.expected, `${w.kind} ${project}/${w.name}`);
      accepted.push(w);
      ahead.set(key, { revision: w.record ? w.record.revision : w.expected, deleted: w.record === null });
    } catch (e) {
      refused.push([w, e]);
    }
  }
  return { accepted, refused };
}

/** Throws the error a write in `mode` from `expected` deserves against `head`, if any. */
function refuseUnless(mode: Mode, head: Pick<Head, 'revision' | 'deleted'> | undefined, expected: number, what: string): void {
  const live = head !== undefined && !head.deleted;
  if (mode === 'create') {
    if (live) throw alreadyExists(what);
    return;
  }
  if (!live) throw notFound(what);
  if (head!.revision !== expected) throw stale(what, expected, head.revision);
}
