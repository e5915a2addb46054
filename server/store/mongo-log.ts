/**
 * The MongoDB store's per-project change log, as documents and as the in-memory state a
 * store instance keeps of it (docs/storage.md, "Change log").
 *
 * Every committed change to a workload, addon or group of a project is one immutable change
 * document with `_id = [projectUid, n]`, n = 1, 2, 3, … without gaps: a writer claims n only
 * after it has seen change n - 1, and the insert of n is the commit (a duplicate _id means
 * another writer committed n first). So the log is totally ordered, "the state after n" is
 * well defined, and a reader finds what is new with point look-ups of n + 1, n + 2, … — the
 * only query FerretDB answers from an index. Its cost does not grow with the history.
 *
 * Every CHECKPOINT_EVERY changes a checkpoint document lists the head (last change) of every
 * record, so a store instance that has not seen a project yet loads it from the newest
 * checkpoint plus at most about CHECKPOINT_EVERY changes, never from the whole history.
 */
import type { GroupHistoryEntry } from '../domain/types.js';
import { decodeHistory, encodeHistory, SCHEMA_VERSION } from './codec.js';
import { storedBytes, type HistoryKind, type RecordKind, type RecordTypes } from './store.js';

/** One committed change. The record's state after it is `data` (null: the record is deleted). */
export interface ChangeDoc {
  _id: string;
  uid: string;
  project: string;
  n: number;
  kind: RecordKind;
  name: string;
  /** The record's revision; for a deletion, the revision it deleted. */
  revision: number;
  deleted: boolean;
  /** JSON of the codec-encoded record (a JSON string: record maps may hold keys BSON refuses). */
  data: string | null;
  /**
   * JSON of the codec-encoded history entry written with this change, if any. When the entry
   * holds the very record of this change (`groupInData`), its group is stored once, in `data`,
   * and the entry's `group` is the string "data" (see changeHistory).
   */
  history: string | null;
  /** The history entry's group is `data` (stored once). */
  groupInData?: boolean;
  /**
   * Group changes: the group's history that the budget keeps after this change (oldest first),
   * as encodeKept writes it (earlier changes: JSON of KeptRevision[]). Absent on changes written
   * before the history budget.
   */
  kept?: string | null;
  /** Written by earlier versions, which stripped pruned changes after each commit: the ones this change owed. Ignored. */
  dropped?: number[];
  /**
   * Set when the payload (data, history, kept) was stripped because no reader needs it any
   * more: a later change of the same record superseded it, and it is not in its group's kept
   * history (mongo-reclaim.ts). The record's state here is no longer readable, and never
   * needed by a reader that is up to date.
   */
  pruned?: boolean;
  /**
   * A tombstone, written in place of a change nobody needed when its collection was reclaimed
   * (mongo-reclaim.ts): readers skip it. It reads as a deleted workload with an empty name
   * (listed nowhere) to earlier versions, which know no `reclaimed`.
   */
  reclaimed?: true;
  /**
   * The log's last change: DeleteProject closed it (see closingChange). Nothing commits after
   * it, because a writer claims n + 1 only after it has seen change n.
   */
  closes?: true;
  time: number;
  schemaVersion: number;
}

/** A checkpoint (`_id = [uid, 'checkpoint', n]`) or the pointer to the newest one (`[uid, 'checkpoint']`). */
export interface CheckpointDoc {
  _id: string;
  uid: string;
  n: number;
  /** Checkpoints only: JSON of ManifestEntry[], the heads after change n. */
  heads?: string;
  schemaVersion: number;
}

/** The last change of one record. */
export interface Head {
  kind: RecordKind;
  name: string;
  n: number;
  revision: number;
  deleted: boolean;
  /** Some change of this record carried a history entry. */
  hasHistory: boolean;
  /** Null for a deleted record; undefined until loaded (checkpoints list no data). */
  data?: string | null;
  /** The change was pruned (ChangeDoc.pruned): the state holding this head is not up to date. */
  pruned?: boolean;
  /** Groups: the kept history after this change; undefined until loaded. */
  kept?: KeptRevision[];
}

/** One revision the history budget keeps: its number, the change holding it, its stored bytes, its HistoryKind (1 content, 2 renamed away). */
export type KeptRevision = [revision: number, n: number, bytes: number, kind: HistoryKind];

type ManifestEntry = [kind: RecordKind, name: string, n: number, revision: number, deleted: boolean, hasHistory: boolean];

export const CHECKPOINT_EVERY = 100;

/**
 * Changes n of one project live in collection `changes_<uid>_<⌊n / CHANGES_PER_COLLECTION⌋>`.
 * FerretDB 1.x (SQLite handler) answers even a look-up by _id by reading the whole table (its
 * query's expression does not match the one its _id index is built on), so the look-ups of a
 * write — "is there a change n + 1?" — must hit a table that stays small however long the
 * history grows. Each number has exactly one place. Documents are never deleted one by one (a
 * change only loses its payload, see ChangeDoc.pruned); a whole collection is dropped once no
 * reader can need any of its changes and no writer can still claim a number in it
 * (mongo-reclaim.ts), so a number once taken is never taken again.
 */
export const CHANGES_PER_COLLECTION = 128;
export const changeCollection = (uid: string, n: number) => `${changeCollectionPrefix(uid)}${Math.floor(n / CHANGES_PER_COLLECTION)}`;
export const changeCollectionPrefix = (uid: string) => `changes_${uid}_`;

export const changeId = (uid: string, n: number) => JSON.stringify([uid, n]);

/**
 * The change that closes a log (DeleteProject, before the project document goes). Its kind
 * and empty name are what an earlier version of the store, which knows no `closes`, would
 * record harmlessly: a deleted workload with no name, listed nowhere.
 */
export function closingChange(uid: string, project: string, n: number): ChangeDoc {
  return { _id: changeId(uid, n), uid, project, n, kind: 'workload', name: '', revision: 0, deleted: true, data: null, history: null, closes: true, time: Date.now(), schemaVersion: SCHEMA_VERSION };
}
export const checkpointId = (uid: string, n: number) => JSON.stringify([uid, 'checkpoint', n]);
export const pointerId = (uid: string) => JSON.stringify([uid, 'checkpoint']);

/** True when committing changes after..upTo passes a checkpoint boundary. */
export function crossesCheckpoint(after: number, upTo: number): boolean {
  return Math.floor(upTo / CHECKPOINT_EVERY) > Math.floor(after / CHECKPOINT_EVERY);
}

/** A project incarnation's records as of change `n`. */
export class ProjectLog {
  private readonly heads = new Map<string, Head>();
  /** Heads whose change was pruned: while any, this state is mid-way and must advance before records are read. */
  prunedHeads = 0;

  constructor(
    readonly project: string,
    readonly uid: string,
    /** Of the project document (immutable for one incarnation). */
    readonly createdAt: number,
    /** The last change applied. */
    public n: number,
  ) {}

  /** Project.executionKeys as the project document last read had them (not part of the change log). */
  executionKeys: string[] | undefined;

  /** The closing change was applied: the project was deleted and this log takes no more changes. */
  closed = false;

  /**
   * When (performance.now()) this state was last known to be the end of the log: a look-up
   * found no change n + 1, or this instance's insert of change n succeeded (n + 1 cannot have
   * existed then, since a writer claims it only after it has seen n). A state not confirmed
   * for a while is brought up to date from the newest checkpoint first, never change by
   * change: the changes it would read may have been reclaimed (see mongo-reclaim.ts).
   */
  confirmedAt = -Infinity;

  /**
   * Applies change n + 1; anything else is ignored (already applied by a concurrent reader,
   * or not next). Returns whether it was applied.
   */
  apply(doc: ChangeDoc): boolean {
    if (doc.uid !== this.uid || doc.n !== this.n + 1) return false;
    if (doc.closes) {
      this.closed = true;
      this.n = doc.n;
      return true;
    }
    if (doc.reclaimed) {
      this.n = doc.n; // a tombstone (see ChangeDoc.reclaimed)
      return true;
    }
    const key = headKey(doc.kind, doc.name);
    const hasHistory = Boolean(doc.history) || (this.heads.get(key)?.hasHistory ?? false);
    this.setHead(key, {
      kind: doc.kind,
      name: doc.name,
      n: doc.n,
      revision: doc.revision,
      deleted: doc.deleted,
      hasHistory,
      data: doc.deleted || doc.pruned ? null : doc.data,
      pruned: doc.pruned === true,
      kept: doc.kept ? decodeKept(doc.kept) : undefined,
    });
    this.n = doc.n;
    return true;
  }

  private setHead(key: string, head: Head): void {
    if (this.heads.get(key)?.pruned) this.prunedHeads--;
    if (head.pruned) this.prunedHeads++;
    this.heads.set(key, head);
  }

  head(kind: RecordKind, name: string): Head | undefined {
    return this.heads.get(headKey(kind, name));
  }

  /** Every head, deleted records' included. */
  allHeads(): Head[] {
    return [...this.heads.values()];
  }

  /** Live records, of one kind or all, ordered by name. */
  live(kind?: RecordKind): Head[] {
    return [...this.heads.values()]
      .filter((h) => !h.deleted && (!kind || h.kind === kind))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Groups with history, deleted ones included, by name. */
  groupsWithHistory(): string[] {
    return [...this.heads.values()].filter((h) => h.kind === 'group' && h.hasHistory).map((h) => h.name).sort();
  }

  /** The heads as a checkpoint lists them (no data: it stays in the change documents). */
  manifest(): string {
    return JSON.stringify([...this.heads.values()].map((h): ManifestEntry => [h.kind, h.name, h.n, h.revision, h.deleted, h.hasHistory]));
  }

  /**
   * The heads of a checkpoint that are newer than this state's: what jumping to it changes.
   * Live ones come without data (it stays in the change documents; see `jump`).
   */
  newerIn(checkpoint: CheckpointDoc): Head[] {
    const out: Head[] = [];
    for (const [kind, name, n, revision, deleted, hasHistory] of JSON.parse(checkpoint.heads ?? '[]') as ManifestEntry[]) {
      if (n > (this.head(kind, name)?.n ?? 0)) out.push({ kind, name, n, revision, deleted, hasHistory, data: deleted ? null : undefined });
    }
    return out;
  }

  /** Moves this state to change `n` of a checkpoint, given its newer heads with their data. */
  jump(n: number, newer: readonly Head[]): void {
    if (n <= this.n) return;
    for (const h of newer) this.setHead(headKey(h.kind, h.name), h);
    this.n = n;
  }
}

function headKey(kind: RecordKind, name: string): string {
  return `${kind}\u0000${name}`;
}

/**
 * Runs `work` one at a time; callers that arrive while it runs share the next run, which
 * starts after they arrived — so each caller still sees everything done before its call, and
 * concurrent callers do not repeat the same look-ups.
 */
export class Coalesced<T> {
  private running: Promise<T> | null = null;
  private queued: Promise<T> | null = null;

  constructor(private readonly work: () => Promise<T>) {}

  run(): Promise<T> {
    if (!this.running) {
      const run: Promise<T> = this.work().finally(() => {
        if (this.running === run) this.running = null;
      });
      this.running = run;
      return run;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.run();
      });
    return this.queued;
  }
}

/** What a change's history entry says for its group when it is stored once, in `data`. */
const GROUP_IN_DATA = 'data';

/**
 * A change's `history` and `groupInData`: a group write's entry usually holds the record it
 * writes (the same object: the encryption layer seals it once for both), which is then not
 * stored twice: half the bytes FerretDB stores, and scans on every look-up by _id.
 */
export function encodeChangeHistory(
  kind: RecordKind,
  record: RecordTypes[RecordKind] | null,
  history: GroupHistoryEntry | undefined,
): { history: string | null; groupInData?: true } {
  if (!history) return { history: null };
  if (kind !== 'group' || record === null || history.group !== record) return { history: JSON.stringify(encodeHistory(history)) };
  return { history: JSON.stringify({ ...encodeHistory({ ...history, group: null }), group: GROUP_IN_DATA }), groupInData: true };
}

/** The history entry of a change that has one (not stripped). */
export function changeHistory(doc: Pick<ChangeDoc, 'data' | 'history' | 'groupInData'>): GroupHistoryEntry {
  const raw = JSON.parse(doc.history!) as Record<string, unknown>;
  if (doc.groupInData) raw.group = JSON.parse(doc.data!);
  return decodeHistory(raw);
}

/** Stored bytes of a change's history entry, its group counted as if stored with it (the budget's measure). */
export function changeHistoryBytes(doc: Pick<ChangeDoc, 'data' | 'history' | 'groupInData'>): number {
  return storedBytes(doc.history!) + (doc.groupInData ? storedBytes(doc.data!) : 0);
}

/** Marks the compact form of a kept history (see encodeKept); the earlier form is a JSON array. */
const KEPT_V2 = 'k2:';

/**
 * A change's `kept`: every group change carries its group's whole kept history (up to
 * LIMITS.historyRevisions entries), so its form is compact — each entry as the differences
 * from the one before (revision, change number, bytes; base 36) and its content flag:
 * `k2:1,8,0,1;1,8,-3,1;…`, about 8 characters an entry instead of JSON's ~19. On FerretDB,
 * whose look-ups by _id read every document of a collection, it was the largest part of a
 * change.
 */
export function encodeKept(list: readonly KeptRevision[]): string {
  let [r0, n0, b0] = [0, 0, 0];
  const rows = list.map(([r, n, b, c]) => {
    const row = `${(r - r0).toString(36)},${(n - n0).toString(36)},${(b - b0).toString(36)},${c}`;
    [r0, n0, b0] = [r, n, b];
    return row;
  });
  return KEPT_V2 + rows.join(';');
}

/** A change's `kept`, in either form. */
export function decodeKept(text: string): KeptRevision[] {
  if (!text.startsWith(KEPT_V2)) return JSON.parse(text) as KeptRevision[];
  const body = text.slice(KEPT_V2.length);
  if (!body) return [];
  let [r, n, b] = [0, 0, 0];
  return body.split(';').map((row) => {
    const [dr, dn, db, c] = row.split(',');
    r += parseInt(dr!, 36);
    n += parseInt(dn!, 36);
    b += parseInt(db!, 36);
    return [r, n, b, c === '1' ? 1 : c === '2' ? 2 : 0] as KeptRevision;
  });
}
