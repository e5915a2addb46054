/**
 * The one storage interface. SQLite (embedded default) and MongoDB implement it, and both
 * pass the same contract suite (test/contract/store-contract.ts).
 *
 * Concurrency: every update and delete names the revision it expects; the store refuses with
 * ABORTED (DomainError) when the record moved on, so no write is ever silently lost.
 * History: a group write and its history entry become visible together (one transaction in
 * SQLite; a pending entry inside the group document in MongoDB) — readers never see a group
 * and a history that disagree.
 * History budget: every write that adds a history entry also prunes the group's oldest entries
 * beyond the budget (historyKept), in the same commit, so a group's stored history never
 * exceeds LIMITS.historyBytes / LIMITS.historyRevisions (plus the revisions always kept).
 */
import { invalid } from '../domain/errors.js';
import { LIMITS } from '../domain/limits.js';
import type { Addon, GroupHistoryEntry, Project, ProjectSnapshot, SecretGroup, Workload } from '../domain/types.js';
import type { TokenRecord } from '../security/tokens.js';

/** Defined with the tokens (security/tokens.ts); the store keeps them. */
export type { TokenRecord };

export interface RecordTypes {
  workload: Workload;
  addon: Addon;
  group: SecretGroup;
}
export type RecordKind = keyof RecordTypes;

/** One audit event. Keys only, never values. */
export interface AuditEvent {
  id?: string;
  time: number;
  actor: string;
  action: string;
  project: string;
  target: string;
  keys: string[];
  outcome: 'ok' | 'denied' | 'error';
  detail?: string;
}

export interface AuditFilter {
  project?: string;
  /** The actor as recorded; "token:<id>" also matches that token recorded with its name, "token:<id>(name)". */
  actor?: string;
  action?: string;
  since?: number;
  /**
   * Only events older than this: before `time`, or at `time` with an id below `id` (the last
   * event of the previous page, so that events of the same millisecond are neither repeated
   * nor skipped). Ids are the store's own (see AuditEvent.id).
   */
  before?: { time: number; id?: string };
  limit?: number;
  /**
   * Order by insertion (the last stored first) instead of by time; for the migration's check
   * that nothing was appended while it copied. Buffered reads are stored after their time.
   */
  byInsertion?: boolean;
}

/**
 * "token:<id>" when an actor filter names a token by id alone (ids are hexadecimal, so the
 * result is safe in a range or a regular expression), else undefined.
 */
export function namedTokenActor(actor: string): string | undefined {
  return /^token:[0-9a-f]{1,64}$/.test(actor) ? actor : undefined;
}

/** A page of a group's history (Store.listGroupHistory). */
export interface HistoryPage {
  /** Only revisions below this one; 0 or absent: from the newest. */
  before?: number;
  limit: number;
  /** Stored bytes of the answered revisions, at most (the newest one is answered regardless). */
  maxBytes: number;
}

/** What the history budget weighs of one stored history entry. */
export interface HistoryCost {
  /** Bytes of the entry as stored (sealed, encoded). */
  bytes: number;
  /** The entry holds the group (false: it recorded a deletion). */
  content: boolean;
  /**
   * The entry is a RenameGroup's deletion of the old name: the history before it moved to the
   * new name with the group, so the old name keeps nothing older (a rename moves the history;
   * copying it would let a chain of renames store the budget again per name).
   */
  moved?: boolean;
}

/** How a store records an entry's HistoryCost flags in one small integer: 0 deletion, 1 content, 2 moved away by a rename. */
export type HistoryKind = 0 | 1 | 2;

export function historyKind(entry: Pick<GroupHistoryEntry, 'group' | 'renamedTo'>): HistoryKind {
  if (entry.group) return 1;
  return entry.renamedTo ? 2 : 0;
}

/** The HistoryCost of an entry of `bytes` stored bytes recorded with `kind`. */
export const historyCost = (bytes: number, kind: number): HistoryCost => ({ bytes, content: kind === 1, moved: kind === 2 });

export interface HistoryBudget {
  bytes: number;
  revisions: number;
}

export const HISTORY_BUDGET: HistoryBudget = { bytes: LIMITS.historyBytes, revisions: LIMITS.historyRevisions };

/**
 * How many of a group's history entries, given newest first, the budget keeps: the newest
 * ones while they fit its bytes and count, and never fewer than reach the newest entry and
 * the newest entry with content (RestoreGroup of a deleted group brings that one back).
 * What is kept is always the newest ones: older entries go first. Entries older than the
 * newest rename away from the name (HistoryCost.moved) are never kept.
 */
export function historyKept(all: readonly HistoryCost[], budget: HistoryBudget): number {
  // Nothing older than the newest rename away from this name: that history lives on under the new name.
  const moved = all.findIndex((c) => c.moved);
  const newestFirst = moved < 0 ? all : all.slice(0, moved + 1);
  let keep = 0;
  let bytes = 0;
  for (const c of newestFirst) {
    if (keep >= budget.revisions || bytes + c.bytes > budget.bytes) break;
    bytes += c.bytes;
    keep++;
  }
  const content = newestFirst.findIndex((c) => c.content) + 1;
  return Math.max(keep, content, Math.min(1, newestFirst.length));
}

/** Byte size of a stored history entry (the serialized form both stores keep). */
export const storedBytes = (serialized: string): number => Buffer.byteLength(serialized);

/**
 * The newest-first prefix of a page's candidates (newest first) that the page answers: at most
 * `limit`, within `maxBytes` of stored bytes, and at least one.
 */
export function pageCut(newestFirst: readonly { bytes: number }[], page: HistoryPage): number {
  let n = 0;
  let bytes = 0;
  for (const c of newestFirst) {
    if (n >= page.limit || (n > 0 && bytes + c.bytes > page.maxBytes)) break;
    bytes += c.bytes;
    n++;
  }
  return n;
}

export interface Store {
  /**
   * Reads cost a network round trip (MongoDB). A writer may then plan a change against the
   * server's in-memory snapshot and let the commit's revision check catch a stale one, instead
   * of reading the record first. The embedded store reads in microseconds and is always asked.
   */
  readonly remoteReads?: boolean;

  /** Creates tables/collections and indexes; idempotent. */
  init(): Promise<void>;
  close(): Promise<void>;

  createProject(project: Project): Promise<void>;
  getProject(name: string): Promise<Project | null>;
  listProjects(): Promise<Project[]>;
  /**
   * Replaces the project's own execution-controlling keys (Project.executionKeys) with `next`,
   * only if they are `expected` now (both sorted); false when they are not. NOT_FOUND without
   * the project.
   */
  setProjectExecutionKeys(name: string, expected: readonly string[], next: readonly string[]): Promise<boolean>;
  /** Removes the project with every record, history entry and version of it. */
  deleteProject(name: string): Promise<void>;

  getRecord<K extends RecordKind>(kind: K, project: string, name: string): Promise<RecordTypes[K] | null>;
  listRecords<K extends RecordKind>(kind: K, project: string): Promise<RecordTypes[K][]>;
  /*
   * The three record writes resolve to the project's change-feed version this write produced
   * (what projectVersions() gives for the project right after it, when nothing else was written
   * since): a snapshot at version v that gets v + 1 back knows this write was the only change
   * and can patch itself without asking the change feed.
   *
   * `audit`: the write's audit record, stored before the write is tried (also when the write
   * is then refused); when it cannot be stored the write does not happen and fails with that
   * error. A store may store it together with other writes' records (MongoDB: one insert per
   * group commit, not a round trip of its own).
   */
  /** record.revision must be 1. ALREADY_EXISTS when the name is taken; NOT_FOUND without the project. */
  createRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry, audit?: AuditEvent): Promise<number>;
  /** Writes record (revision = previous + 1) only if the stored revision is record.revision - 1. */
  updateRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry, audit?: AuditEvent): Promise<number>;
  /** Deletes only if the stored revision equals expectedRevision. */
  deleteRecord(kind: RecordKind, project: string, name: string, expectedRevision: number, history?: GroupHistoryEntry, audit?: AuditEvent): Promise<number>;

  /**
   * The kept revisions of a group (including after its deletion), oldest first: all of them, or
   * with `page` the newest `limit` ones below `before` whose stored bytes fit `maxBytes` (at
   * least one when any is below `before`). Reads and opens only the revisions it answers.
   */
  listGroupHistory(project: string, name: string, page?: HistoryPage): Promise<GroupHistoryEntry[]>;
  /** One kept revision of a group; null when it was never written or was pruned. */
  getGroupRevision(project: string, name: string, revision: number): Promise<GroupHistoryEntry | null>;
  /** The oldest and newest kept revision of a group; null when it has no history. */
  groupHistoryBounds(project: string, name: string): Promise<{ first: number; last: number } | null>;

  /** The whole project, for in-memory snapshots. */
  loadProject(name: string): Promise<ProjectSnapshot | null>;
  /**
   * Change feed: a number per project that grows with every committed change to it (a
   * deleted project disappears). Replicas poll this and reload projects whose number moved.
   */
  projectVersions(): Promise<Map<string, number>>;

  createToken(token: TokenRecord): Promise<void>;
  getTokenByHash(hash: string): Promise<TokenRecord | null>;
  listTokens(): Promise<TokenRecord[]>;
  /**
   * The tokens with these ids that exist, in any order: one query, however many ids. Replicas
   * re-check the tokens of their open Watch streams with it (revocation, expiry).
   */
  getTokensByIds(ids: readonly string[]): Promise<TokenRecord[]>;
  /**
   * Every binding of this Kubernetes service account ("NAMESPACE/NAME"; revoked ones included),
   * oldest first: the tokens whose k8sServiceAccount is that. Indexed.
   */
  getTokensByServiceAccount(account: string): Promise<TokenRecord[]>;
  /** False when no such token. */
  revokeToken(id: string): Promise<boolean>;
  /**
   * A number that changes whenever an existing token changes (a revocation), committed before
   * revokeToken returns. Replicas poll it to re-check the tokens of their open Watch streams
   * only when something changed; creating a token does not move it.
   */
  tokenChanges(): Promise<number>;

  appendAudit(event: AuditEvent): Promise<void>;
  /**
   * Newest first: by time, then by id (insertion) among events of the same millisecond. Time,
   * not insertion: buffered and repeated reads are stored up to a minute after their time.
   */
  listAudit(filter: AuditFilter): Promise<AuditEvent[]>;

  /** Small installation-wide settings (for example wrapped data keys). */
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;

  // --- migration (`sg migrate`): enumerate everything, write records exactly as they were ---

  /** Every meta entry, as setMeta stored it (wrapped data keys included). */
  listMeta(): Promise<Map<string, string>>;
  /** Names of the project's groups that have history — deleted groups included — by name. */
  listGroupHistoryNames(project: string): Promise<string[]>;
  /**
   * Writes one record exactly as given, at its own revision, with its group history held to
   * the history budget like any write (history only for groups; `record` null: a deleted group
   * whose history is kept). Nothing of
   * that record or its history may exist yet (ALREADY_EXISTS); NOT_FOUND without the project.
   * Later writes continue from the imported revision and history like from any other.
   */
  importRecord<K extends RecordKind>(kind: K, project: string, name: string, record: RecordTypes[K] | null, history: GroupHistoryEntry[]): Promise<void>;
}

/**
 * Checks the arguments of Store.importRecord (shared by the stores) and returns the history
 * oldest first. INVALID_ARGUMENT when the record or an entry is labelled with another place,
 * when a non-group has history, or when there is nothing to import.
 */
export function checkImport(
  kind: RecordKind,
  project: string,
  name: string,
  record: RecordTypes[RecordKind] | null,
  history: readonly GroupHistoryEntry[],
): GroupHistoryEntry[] {
  const what = `${kind} ${project}/${name}`;
  if (record && (record.project !== project || record.name !== name)) {
    throw invalid(`importing ${what}: the record is labelled ${record.project}/${record.name}`);
  }
  if (kind !== 'group' && history.length > 0) throw invalid(`importing ${what}: only groups have history`);
  if (!record && history.length === 0) throw invalid(`importing ${what}: neither a record nor history`);
  const seen = new Set<number>();
  for (const h of history) {
    if (h.project !== project || h.name !== name) throw invalid(`importing ${what}: a history entry is labelled ${h.project}/${h.name}`);
    if (seen.has(h.revision)) throw invalid(`importing ${what}: two history entries for revision ${h.revision}`);
    seen.add(h.revision);
  }
  return [...history].sort((a, b) => a.revision - b.revision);
}
