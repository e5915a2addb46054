/**
 * MongoDB store (official driver). Works on MongoDB and on FerretDB 1.x, so it uses neither
 * multi-document transactions nor change streams, and — because FerretDB evaluates an
 * update's filter and applies the update in two separate steps — it never relies on a
 * conditional update being atomic either. The only primitive it trusts is "insert fails on a
 * duplicate _id", which both servers guarantee.
 *
 * - Every change to a workload, addon or group of a project is one immutable document of the
 *   project's change log (`mongo-log.ts`), `_id = [projectUid, n]` with n the next number
 *   without a gap. The insert is the commit: two writers that read the same state race for
 *   the same n and exactly one wins; the loser reads the change that beat it and checks its
 *   precondition again (ABORTED when its record moved on, else it takes the next n).
 * - A group's history entry travels inside its change document, so the group and its history
 *   become visible in one atomic insert.
 * - The change-feed version of a project is 1 + its last n. Because numbers have no gaps, a
 *   reader finds new changes by looking up n + 1 by _id — constant cost however long the
 *   history, and no commit order can hide a change behind a higher number already seen.
 * - Each store instance keeps the state of the projects it has read (the heads, sealed as
 *   stored) and brings it up to date with those look-ups; checkpoints every
 *   CHECKPOINT_EVERY changes bound what a new instance has to read.
 * - On FerretDB only a filter on `_id` alone uses an index; every other query reads the whole
 *   collection. Writes, reads of records and the change feed use `_id` look-ups only.
 * - Each project incarnation has a random uid; changes of a deleted project (or stragglers
 *   racing its deletion) can never surface in a project recreated under the same name.
 *   Deleting a project first closes its log with a last change, so a commit needs no look-up
 *   of the project: a writer that missed the deletion finds its number taken.
 *
 * - What no reader needs any more (changes superseded and pruned from the history) is
 *   reclaimed a whole change collection at a time, after a checkpoint and a grace, leaving a
 *   tombstone per number so that the log keeps no gap (`mongo-reclaim.ts`).
 *
 * The store is six files: this facade (projects, records, tokens, meta), the reading side
 * (`mongo-sync.ts`: replay of the log, checkpoints, the change feed), the writing side
 * (`mongo-commit.ts`: group commit, history budget, import), reclaiming (`mongo-reclaim.ts`),
 * the audit log (`mongo-audit.ts`) and the reading of driver errors (`mongo-errors.ts`);
 * `mongo-log.ts` holds the documents and the in-memory state of a log.
 *
 * docs/storage.md describes the collections, indexes and the reasoning in full.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { MongoClient, ObjectId, type Collection, type Db } from 'mongodb';
import { alreadyExists, notFound, precondition } from '../domain/errors.js';
import type { Addon, GroupHistoryEntry, Project, ProjectSnapshot, SecretGroup, Workload } from '../domain/types.js';
import { decodeRecord, sameKeys, SCHEMA_VERSION, withExecutionKeys } from './codec.js';
import { GroupCommit } from './mongo-commit.js';
import { MongoAudit, auditDoc } from './mongo-audit.js';
import { guard, ignoreDuplicate } from './mongo-errors.js';
import { changeCollectionPrefix, type CheckpointDoc, type KeptRevision } from './mongo-log.js';
import { FRESH_MS, Owed, RECLAIM_GRACE_MS, Reclaimer, type ReclaimResult } from './mongo-reclaim.js';
import { ProjectLogs, type ProjectDoc } from './mongo-sync.js';
import {
  HISTORY_BUDGET,
  pageCut,
  type AuditEvent,
  type AuditFilter,
  type HistoryBudget,
  type HistoryPage,
  type RecordKind,
  type RecordTypes,
  type Store,
  type TokenRecord,
} from './store.js';

export const DEFAULT_MONGO_DB = 'secretgroups';

export interface MongoStoreOptions {
  /** Database name; default: the URI's path, else `secretgroups`. */
  dbName?: string;
  /** Used when the URI sets no serverSelectionTimeoutMS: how long an RPC waits for a down store. */
  serverSelectionTimeoutMs?: number;
  /** The per-group history budget (default: LIMITS). */
  history?: HistoryBudget;
  /** How long a deleted project's change log stays before it is dropped (default DELETED_LOG_GRACE_MS; 0: at once). */
  deletedLogGraceMs?: number;
  /** How old a change collection's last change must be before it is reclaimed (default RECLAIM_GRACE_MS). */
  reclaimGraceMs?: number;
  /** How long a project's state may go unconfirmed and still be advanced change by change (default FRESH_MS; below the reclaim grace). */
  freshMs?: number;
  /** Bytes of pruned history, per project, that may wait for reclaiming before commits strip them (default OWED_BYTES). */
  owedBytes?: number;
  /**
   * The longest a group commit waits for the writers of the group before it (default
   * LINGER_MAX_MS). Tests lengthen it so that a loaded machine's scheduling does not decide
   * whether the wait is seen.
   */
  lingerMaxMs?: number;
}

/**
 * How long the change collections of a deleted project stay before they are dropped. The
 * closing change in them is what stops a replica that has not noticed the deletion yet (it
 * forgets the project at its next poll of the change feed, within a second) from committing
 * to the project: dropped at once, an insert would create the collection again and succeed.
 */
export const DELETED_LOG_GRACE_MS = 10 * 60_000;

/** A deleted project's log, waiting for its grace to end (`deleted_logs`). */
interface DeletedLogDoc {
  _id: string;
  project: string;
  deletedAt: number;
  schemaVersion: number;
}

interface TokenDoc extends TokenRecord {
  _id: string;
  oid: ObjectId;
  schemaVersion: number;
}

/** A number that changes on every revocation (see Store.tokenChanges). */
interface CounterDoc {
  _id: string;
  value: number;
}

interface MetaDoc {
  _id: string;
  value: string;
  schemaVersion: number;
}

const SCHEMA_DOC = 'schema';
const USER_META = 'user:';

/** Database name from a mongodb:// or mongodb+srv:// URI path, if any. */
export function dbNameFromUri(uri: string): string | null {
  const m = /^mongodb(?:\+srv)?:\/\/[^/?]*\/([^?]*)/.exec(uri);
  const name = m?.[1] ? decodeURIComponent(m[1]) : '';
  return name || null;
}

export class MongoStore implements Store {
  readonly remoteReads = true;
  private readonly client: MongoClient;
  private readonly db: Db;
  private readonly projects: Collection<ProjectDoc>;
  private readonly checkpoints: Collection<CheckpointDoc>;
  private readonly tokens: Collection<TokenDoc>;
  /** The audit log (mongo-audit.ts). */
  private readonly audit: MongoAudit;
  private readonly meta: Collection<MetaDoc>;
  private readonly counters: Collection<CounterDoc>;
  private readonly deletedLogs: Collection<DeletedLogDoc>;
  private readonly grace: number;
  private sweeps: NodeJS.Timeout | undefined;
  /** The projects this instance has read, kept up to date (the reading side). */
  private readonly logs: ProjectLogs;
  /** The writing side. */
  private readonly commits: GroupCommit;
  /** Drops or strips what the change logs hold that no reader needs (mongo-reclaim.ts). */
  private readonly reclaimer: Reclaimer;
  constructor(uri: string, opts: MongoStoreOptions = {}) {
    const timeout = opts.serverSelectionTimeoutMs ?? 5000;
    // Options given here override the URI's, so only fill in what the URI leaves unset.
    const has = (name: string) => new RegExp(`[?&]${name}=`, 'i').test(uri);
    this.client = new MongoClient(uri, {
      ignoreUndefined: true,
      ...(has('serverSelectionTimeoutMS') ? {} : { serverSelectionTimeoutMS: timeout }),
      ...(has('connectTimeoutMS') ? {} : { connectTimeoutMS: timeout }),
    });
    this.db = this.client.db(opts.dbName ?? dbNameFromUri(uri) ?? DEFAULT_MONGO_DB);
    this.projects = this.db.collection('projects');
    this.checkpoints = this.db.collection('checkpoints');
    this.tokens = this.db.collection('tokens');
    this.audit = new MongoAudit(this.db.collection('audit'));
    this.meta = this.db.collection('meta');
    this.counters = this.db.collection('counters');
    this.deletedLogs = this.db.collection('deleted_logs');
    this.grace = opts.deletedLogGraceMs ?? DELETED_LOG_GRACE_MS;
    const collections = { db: this.db, projects: this.projects, checkpoints: this.checkpoints };
    const reclaimGrace = opts.reclaimGraceMs ?? RECLAIM_GRACE_MS;
    const fresh = opts.freshMs ?? Math.min(FRESH_MS, reclaimGrace / 2);
    if (!(fresh < reclaimGrace)) throw new RangeError(`freshMs (${fresh}) must be below reclaimGraceMs (${reclaimGrace})`);
    this.logs = new ProjectLogs(collections, fresh);
    const owed = new Owed(this.logs, opts.owedBytes);
    this.reclaimer = new Reclaimer(collections, this.logs, reclaimGrace, (uid, first, last) => owed.forgive(uid, first, last));
    this.commits = new GroupCommit(
      collections,
      this.logs,
      opts.history ?? HISTORY_BUDGET,
      (docs) => this.audit.insertCommitted(docs),
      this.reclaimer,
      owed,
      opts.lingerMaxMs,
    );
  }

  get databaseName(): string {
    return this.db.databaseName;
  }

  async init(): Promise<void> {
    return guard(async () => {
      await this.client.connect();
      // createIndex is a no-op when an identical index exists, so every replica may run this.
      await this.refuseEarlierLayout();
      await this.checkpoints.createIndex({ uid: 1 }, { name: 'checkpoints_by_project' });
      await this.tokens.createIndex({ hash: 1 }, { name: 'token_hash', unique: true });
      await this.tokens.createIndex({ oid: 1 }, { name: 'token_order' });
      await this.tokens.createIndex({ k8sServiceAccount: 1 }, { name: 'token_k8s_service_account' });
      await this.audit.init();
      const schema = await this.meta.findOne({ _id: SCHEMA_DOC });
      if (!schema) {
        await ignoreDuplicate(this.meta.insertOne({ _id: SCHEMA_DOC, value: String(SCHEMA_VERSION), schemaVersion: SCHEMA_VERSION }));
      } else if (schema.schemaVersion > SCHEMA_VERSION) {
        throw precondition(
          `the MongoDB store was written by a newer version (schema ${schema.schemaVersion}, this server knows ${SCHEMA_VERSION}); upgrade the server`,
        );
      }
      // Logs whose grace ended while no instance ran, then every half grace (at most 5 min);
      // with them, what the logs of the projects held hold for nobody (a log reclaims itself
      // after each checkpoint, too: this is for projects no longer written).
      const sweep = () => {
        void this.sweepDeletedLogs().catch(() => undefined);
        void this.reclaimLogs().catch(() => undefined);
      };
      sweep();
      clearInterval(this.sweeps); // init may run again (it is idempotent)
      this.sweeps = setInterval(sweep, Math.min(5 * 60_000, Math.max(1_000, this.grace / 2)));
      this.sweeps.unref();
    });
  }

  async close(): Promise<void> {
    clearInterval(this.sweeps);
    await this.client.close();
  }

  /**
   * Drops the change collections and checkpoints of projects deleted more than the grace
   * ago; returns how many logs it dropped. Idempotent: replicas may sweep at the same time.
   * A record whose project document still stands (an interrupted deletion) is kept.
   */
  async sweepDeletedLogs(now = Date.now()): Promise<number> {
    return guard(async () => {
      const due = await this.deletedLogs.find({ deletedAt: { $lte: now - this.grace } }).toArray();
      if (!due.length) return 0;
      let dropped = 0;
      const names = (await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
      for (const d of due) {
        // A deletion that did not get as far as the project document: not a dead log (yet).
        if (await this.projects.findOne({ _id: d.project, uid: d._id }, { projection: { _id: 1 } })) continue;
        const prefix = changeCollectionPrefix(d._id);
        for (const c of names) if (c.startsWith(prefix)) await this.db.dropCollection(c).catch(() => undefined);
        await this.checkpoints.deleteMany({ uid: d._id });
        await this.deletedLogs.deleteOne({ _id: d._id });
        dropped++;
      }
      return dropped;
    });
  }

  /**
   * One reclaiming pass over the log of every project this instance holds (brought up to
   * date first); what they did, summed. Safe beside writers and other instances' passes.
   */
  async reclaimLogs(now = Date.now()): Promise<ReclaimResult> {
    return guard(async () => {
      const sum: ReclaimResult = { collections: 0, changes: 0 };
      for (const log of this.logs.held()) {
        await this.logs.advance(log);
        const r = await this.reclaimer.reclaim(log, now);
        sum.collections += r.collections;
        sum.changes += r.changes;
      }
      return sum;
    });
  }

  /** Drops the whole database (tests and `sg migrate` rollback only). */
  async dropDatabase(): Promise<void> {
    await guard(() => this.db.dropDatabase());
  }

  // --- projects ---------------------------------------------------------------------------

  async createProject(project: Project): Promise<void> {
    return guard(async () => {
      const doc: ProjectDoc = {
        _id: project.name,
        uid: randomBytes(12).toString('hex'),
        createdAt: project.createdAt,
        ...(project.executionKeys?.length ? { executionKeys: [...project.executionKeys] } : {}),
        schemaVersion: SCHEMA_VERSION,
      };
      if (!(await ignoreDuplicate(this.projects.insertOne(doc)))) throw alreadyExists(`project ${project.name}`);
    });
  }

  async getProject(name: string): Promise<Project | null> {
    return guard(async () => {
      const p = await this.projects.findOne({ _id: name });
      return p ? projectOf(p) : null;
    });
  }

  async listProjects(): Promise<Project[]> {
    return guard(async () => {
      const docs = await this.projects.find({}).sort({ _id: 1 }).toArray();
      return docs.map(projectOf);
    });
  }

  async setProjectExecutionKeys(name: string, expected: readonly string[], next: readonly string[]): Promise<boolean> {
    return guard(async () => {
      const p = await this.projects.findOne({ _id: name });
      if (!p) throw notFound(`project ${name}`);
      if (!sameKeys(p.executionKeys ?? [], expected)) return false;
      // The compare-and-set: the whole list as read (absent when it was empty).
      const filter = expected.length ? { _id: name, uid: p.uid, executionKeys: [...expected] } : { _id: name, uid: p.uid, executionKeys: { $exists: false } };
      const update = next.length ? { $set: { executionKeys: [...next] } } : { $unset: { executionKeys: '' as const } };
      const r = await this.projects.updateOne(filter, update);
      if (r.matchedCount === 0) return false;
      const log = this.logs.cached(name);
      if (log?.uid === p.uid) log.executionKeys = next.length ? [...next] : undefined;
      return true;
    });
  }

  async deleteProject(name: string): Promise<void> {
    return guard(async () => {
      const p = await this.projects.findOne({ _id: name });
      if (!p) throw notFound(`project ${name}`);
      // First the closing change: from then on no writer, on any replica, can commit to this
      // incarnation (writers do not look the project up on each commit). Then the project
      // document, which readers and the change feed go by: its uid dies with it, so whatever
      // is left behind is unreachable. A deletion interrupted between the two leaves a closed
      // project that answers NOT_FOUND for its records and takes no write; deleting it again
      // finishes it.
      // The log itself goes after a grace (DELETED_LOG_GRACE_MS). Recorded before anything is
      // changed, so that a deletion interrupted at any point leaves its log to a sweep (which
      // leaves it alone while the project document stands).
      await ignoreDuplicate(this.deletedLogs.insertOne({ _id: p.uid, project: name, deletedAt: Date.now(), schemaVersion: SCHEMA_VERSION }));
      const closed = await this.commits.close(name, p.uid);
      const r = await this.projects.deleteOne({ _id: name, uid: p.uid });
      if (r.deletedCount === 0 && !closed) throw notFound(`project ${name}`);
      this.logs.forget(name);
      // The grace counts from the deletion, not from an earlier attempt that left the record.
      await this.deletedLogs.updateOne({ _id: p.uid }, { $set: { deletedAt: Date.now() } });
      if (this.grace === 0) await this.sweepDeletedLogs();
    });
  }

  // --- records ----------------------------------------------------------------------------

  async getRecord<K extends RecordKind>(kind: K, project: string, name: string): Promise<RecordTypes[K] | null> {
    return guard(async () => {
      const head = (await this.logs.readable(project))?.head(kind, name);
      return head && !head.deleted ? decodeRecord(kind, JSON.parse(head.data!)) : null;
    });
  }

  async listRecords<K extends RecordKind>(kind: K, project: string): Promise<RecordTypes[K][]> {
    return guard(async () => {
      const log = await this.logs.readable(project);
      return log ? log.live(kind).map((h) => decodeRecord(kind, JSON.parse(h.data!))) : [];
    });
  }

  /** The audit record of a write goes in with its group commit (see GroupCommit.commit). */
  async createRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry, audit?: AuditEvent): Promise<number> {
    return guard(() => this.commits.commit('create', kind, record.project, record.name, record.revision - 1, record, history, auditDoc(audit)));
  }

  async updateRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry, audit?: AuditEvent): Promise<number> {
    return guard(() => this.commits.commit('update', kind, record.project, record.name, record.revision - 1, record, history, auditDoc(audit)));
  }

  async deleteRecord(kind: RecordKind, project: string, name: string, expectedRevision: number, history?: GroupHistoryEntry, audit?: AuditEvent): Promise<number> {
    return guard(() => this.commits.commit('delete', kind, project, name, expectedRevision, null, history, auditDoc(audit)));
  }

  /**
   * The group's kept history (its head's list) names the change of each revision: a page, or
   * one revision, is that many look-ups by _id, however long the log.
   */
  async listGroupHistory(project: string, name: string, page?: HistoryPage): Promise<GroupHistoryEntry[]> {
    return guard(async () => {
      const kept = await this.logs.keptHistory(project, name);
      if (!kept) return [];
      let chosen: KeptRevision[] = kept;
      if (page) {
        const below = kept.filter(([revision]) => !page.before || revision < page.before).reverse();
        chosen = below.slice(0, pageCut(below.map(([, , bytes]) => ({ bytes })), page)).reverse();
      }
      return this.logs.readHistory(kept.uid, chosen);
    });
  }

  async getGroupRevision(project: string, name: string, revision: number): Promise<GroupHistoryEntry | null> {
    return guard(async () => {
      const kept = await this.logs.keptHistory(project, name);
      const hit = kept?.filter((k) => k[0] === revision) ?? [];
      return hit.length ? ((await this.logs.readHistory(kept!.uid, hit))[0] ?? null) : null;
    });
  }

  async groupHistoryBounds(project: string, name: string): Promise<{ first: number; last: number } | null> {
    return guard(async () => {
      const kept = await this.logs.keptHistory(project, name);
      return kept?.length ? { first: kept[0]![0], last: kept.at(-1)![0] } : null;
    });
  }

  async loadProject(name: string): Promise<ProjectSnapshot | null> {
    return guard(async () => {
      const log = await this.logs.readable(name);
      if (!log) return null;
      const workloads = new Map<string, Workload>();
      const addons = new Map<string, Addon>();
      const groups = new Map<string, SecretGroup>();
      for (const h of log.live()) {
        const data = JSON.parse(h.data!) as Record<string, unknown>;
        if (h.kind === 'workload') workloads.set(h.name, decodeRecord('workload', data));
        else if (h.kind === 'addon') addons.set(h.name, decodeRecord('addon', data));
        else groups.set(h.name, decodeRecord('group', data));
      }
      return { project: withExecutionKeys({ name, createdAt: log.createdAt }, log.executionKeys), workloads, addons, groups };
    });
  }

  async projectVersions(): Promise<Map<string, number>> {
    return guard(async () => new Map(await this.logs.projectVersions()));
  }

  // --- tokens, audit, meta ----------------------------------------------------------------

  async createToken(token: TokenRecord): Promise<void> {
    return guard(async () => {
      const doc: TokenDoc = { ...token, _id: token.id, oid: new ObjectId(), schemaVersion: SCHEMA_VERSION };
      if (!(await ignoreDuplicate(this.tokens.insertOne(doc)))) throw alreadyExists('token');
    });
  }

  async getTokenByHash(hash: string): Promise<TokenRecord | null> {
    return guard(async () => {
      const doc = await this.tokens.findOne({ hash });
      return doc ? tokenFromDoc(doc) : null;
    });
  }

  async listTokens(): Promise<TokenRecord[]> {
    return guard(async () => {
      const docs = await this.tokens.find({}).sort({ oid: 1 }).toArray();
      return docs.map(tokenFromDoc);
    });
  }

  async getTokensByIds(ids: readonly string[]): Promise<TokenRecord[]> {
    if (ids.length === 0) return [];
    return guard(async () => {
      const docs = await this.tokens.find({ _id: { $in: [...ids] } }).toArray();
      return docs.map(tokenFromDoc);
    });
  }

  async getTokensByServiceAccount(account: string): Promise<TokenRecord[]> {
    return guard(async () => {
      const docs = await this.tokens.find({ k8sServiceAccount: account }).sort({ oid: 1 }).toArray();
      return docs.map(tokenFromDoc);
    });
  }

  async revokeToken(id: string): Promise<boolean> {
    return guard(async () => {
      // Unconditional and idempotent, so it is safe even where updates are not atomic.
      const r = await this.tokens.updateOne({ _id: id }, { $set: { revoked: true } });
      if (r.matchedCount === 0) return false;
      // After the token itself: a replica that sees the counter move then reads the revocation.
      // A fresh random value, not $inc: FerretDB's updates are not atomic, so two concurrent
      // increments can both write the same old + 1 and a poller that saw it would miss one.
      await this.counters.updateOne({ _id: 'tokens' }, { $set: { value: randomInt(1, 2 ** 47) } }, { upsert: true });
      return true;
    });
  }

  async tokenChanges(): Promise<number> {
    return guard(async () => (await this.counters.findOne({ _id: 'tokens' }))?.value ?? 0);
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    return guard(() => this.audit.append(event));
  }

  async listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    return guard(() => this.audit.list(filter));
  }

  async getMeta(key: string): Promise<string | null> {
    return guard(async () => {
      const doc = await this.meta.findOne({ _id: USER_META + key });
      return doc?.value ?? null;
    });
  }

  async setMeta(key: string, value: string): Promise<void> {
    return guard(async () => {
      const _id = USER_META + key;
      const set = { $set: { value, schemaVersion: SCHEMA_VERSION } };
      // Two first writers may both try to insert through the upsert; the loser just updates.
      if (!(await ignoreDuplicate(this.meta.updateOne({ _id }, set, { upsert: true })))) {
        await this.meta.updateOne({ _id }, set);
      }
    });
  }

  // --- migration ----------------------------------------------------------------------------

  async listMeta(): Promise<Map<string, string>> {
    return guard(async () => {
      const docs = await this.meta.find({}).sort({ _id: 1 }).toArray();
      return new Map(docs.filter((d) => d._id.startsWith(USER_META)).map((d) => [d._id.slice(USER_META.length), d.value]));
    });
  }

  async listGroupHistoryNames(project: string): Promise<string[]> {
    return guard(async () => (await this.logs.synced(project))?.groupsWithHistory() ?? []);
  }

  /** See GroupCommit.importRecord. */
  async importRecord<K extends RecordKind>(kind: K, project: string, name: string, record: RecordTypes[K] | null, history: GroupHistoryEntry[]): Promise<void> {
    return guard(() => this.commits.importRecord(kind, project, name, record, history));
  }

  /**
   * Databases written by the earlier layout (one `records` document per revision) cannot be
   * read by this one; say so instead of showing empty projects.
   */
  private async refuseEarlierLayout(): Promise<void> {
    const earlier = await this.db.collection('records').findOne({}, { projection: { _id: 1 } });
    if (earlier) {
      throw precondition(
        'this MongoDB database was written by an earlier store layout (collection `records`); copy its projects into a new database (docs/storage.md, "Earlier layout")',
      );
    }
  }
}

function projectOf(p: ProjectDoc): Project {
  return withExecutionKeys({ name: p._id, createdAt: p.createdAt }, p.executionKeys);
}

function tokenFromDoc(doc: TokenDoc): TokenRecord {
  const { _id: _i, oid: _o, schemaVersion: _v, ...token } = doc;
  return token;
}
