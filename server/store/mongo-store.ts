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
 *
 * docs/storage.md describes the collections, indexes and the reasoning in full.
 */
import { randomBytes, randomInt } from 'node:crypto';
import {
  MongoBulkWriteError,
  MongoClient,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  ObjectId,
  type Collection,
  type Db,
} from 'mongodb';
import { alreadyExists, DomainError, invalid, notFound, precondition, stale } from '../domain/errors.js';
import type { Addon, GroupHistoryEntry, Project, ProjectSnapshot, SecretGroup, Workload } from '../domain/types.js';
import { decodeHistory, decodeRecord, encodeHistory, encodeRecord, sameKeys, SCHEMA_VERSION, withExecutionKeys } from './codec.js';
import {
  changeCollection,
  changeCollectionPrefix,
  changeId,
  checkpointId,
  crossesCheckpoint,
  pointerId,
  CHANGES_PER_COLLECTION,
  Coalesced,
  ProjectLog,
  type ChangeDoc,
  type CheckpointDoc,
  type Head,
  type KeptRevision,
} from './mongo-log.js';
import { Batcher } from './batcher.js';
import {
  checkImport,
  HISTORY_BUDGET,
  historyKept,
  pageCut,
  storedBytes,
  namedTokenActor,
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
}

interface ProjectDoc {
  _id: string;
  uid: string;
  createdAt: number;
  /** Project.executionKeys; absent when none. */
  executionKeys?: string[];
  schemaVersion: number;
}

interface TokenDoc extends TokenRecord {
  _id: string;
  oid: ObjectId;
  schemaVersion: number;
}

interface AuditDoc extends Omit<AuditEvent, 'id'> {
  _id: ObjectId;
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

type Mode = 'create' | 'update' | 'delete';

const SCHEMA_DOC = 'schema';
/** Look-ups by _id sent at once (advancing through many changes, loading a checkpoint). */
const LOOKUP_BATCH = 32;
/** Advances a reader or writer makes past pruned heads before it gives up (UNAVAILABLE). */
const STALE_RETRIES = 8;
const stillChanging = (project: string) => new DomainError('UNAVAILABLE', `project ${project} kept changing while it was read; retry`);
/** Changes per insertMany when importing a long history. */
const IMPORT_BATCH = 500;
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
  private readonly audit: Collection<AuditDoc>;
  private readonly meta: Collection<MetaDoc>;
  private readonly counters: Collection<CounterDoc>;
  private readonly budget: HistoryBudget;
  /** State of the projects this instance has read (current incarnation only). */
  private readonly logs = new Map<string, ProjectLog>();
  /** Last change numbers of projects read only through the change feed. */
  private readonly tips = new Map<string, { uid: string; n: number }>();
  /** Per project state: look-ups that concurrent callers share (see Coalesced). */
  private readonly sharing = new WeakMap<ProjectLog, { advance: Coalesced<void>; refresh: Coalesced<boolean> }>();
  /** The change feed, shared by concurrent callers. */
  private readonly versions = new Coalesced(() => this.readVersions());
  /** Per project: the tail of its queue of commits and loads. */
  private readonly queues = new Map<string, Promise<void>>();
  /** Per project: writes waiting for the next group commit (see commit). */
  private readonly waiting = new Map<string, PendingWrite[]>();
  private readonly auditWrites = new Batcher<AuditDoc>(async (docs) => {
    try {
      await this.audit.insertMany(docs, { ordered: false });
      return docs.map(() => null);
    } catch (e) {
      // Only per-document errors leave the other records stored; anything else fails them all.
      if (!(e instanceof MongoBulkWriteError) || writeErrorsOf(e).length === 0) throw unwrapBulk(e);
      const errors: unknown[] = docs.map(() => null);
      for (const w of writeErrorsOf(e)) errors[w.index] = e;
      return errors;
    }
  });

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
    this.budget = opts.history ?? HISTORY_BUDGET;
    this.projects = this.db.collection('projects');
    this.checkpoints = this.db.collection('checkpoints');
    this.tokens = this.db.collection('tokens');
    this.audit = this.db.collection('audit');
    this.meta = this.db.collection('meta');
    this.counters = this.db.collection('counters');
  }

  get databaseName(): string {
    return this.db.databaseName;
  }

  async init(): Promise<void> {
    return this.guard(async () => {
      await this.client.connect();
      // createIndex is a no-op when an identical index exists, so every replica may run this.
      await this.refuseEarlierLayout();
      await this.checkpoints.createIndex({ uid: 1 }, { name: 'checkpoints_by_project' });
      await this.tokens.createIndex({ hash: 1 }, { name: 'token_hash', unique: true });
      await this.tokens.createIndex({ oid: 1 }, { name: 'token_order' });
      await this.tokens.createIndex({ k8sServiceAccount: 1 }, { name: 'token_k8s_service_account' });
      await this.audit.createIndex({ project: 1, time: -1 }, { name: 'audit_project_time' });
      await this.audit.createIndex({ actor: 1, time: -1 }, { name: 'audit_actor_time' });
      // listAudit's order (time, then insertion); the two above serve its filters.
      await this.audit.createIndex({ time: -1, _id: -1 }, { name: 'audit_time_id' });
      const schema = await this.meta.findOne({ _id: SCHEMA_DOC });
      if (!schema) {
        await ignoreDuplicate(this.meta.insertOne({ _id: SCHEMA_DOC, value: String(SCHEMA_VERSION), schemaVersion: SCHEMA_VERSION }));
      } else if (schema.schemaVersion > SCHEMA_VERSION) {
        throw precondition(
          `the MongoDB store was written by a newer version (schema ${schema.schemaVersion}, this server knows ${SCHEMA_VERSION}); upgrade the server`,
        );
      }
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Drops the whole database (tests and `sg migrate` rollback only). */
  async dropDatabase(): Promise<void> {
    await this.guard(() => this.db.dropDatabase());
  }

  // --- projects ---------------------------------------------------------------------------

  async createProject(project: Project): Promise<void> {
    return this.guard(async () => {
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
    return this.guard(async () => {
      const p = await this.projects.findOne({ _id: name });
      return p ? projectOf(p) : null;
    });
  }

  async listProjects(): Promise<Project[]> {
    return this.guard(async () => {
      const docs = await this.projects.find({}).sort({ _id: 1 }).toArray();
      return docs.map(projectOf);
    });
  }

  async setProjectExecutionKeys(name: string, expected: readonly string[], next: readonly string[]): Promise<boolean> {
    return this.guard(async () => {
      const p = await this.projects.findOne({ _id: name });
      if (!p) throw notFound(`project ${name}`);
      if (!sameKeys(p.executionKeys ?? [], expected)) return false;
      // The compare-and-set: the whole list as read (absent when it was empty).
      const filter = expected.length ? { _id: name, uid: p.uid, executionKeys: [...expected] } : { _id: name, uid: p.uid, executionKeys: { $exists: false } };
      const update = next.length ? { $set: { executionKeys: [...next] } } : { $unset: { executionKeys: '' as const } };
      const r = await this.projects.updateOne(filter, update);
      if (r.matchedCount === 0) return false;
      const log = this.logs.get(name);
      if (log?.uid === p.uid) log.executionKeys = next.length ? [...next] : undefined;
      return true;
    });
  }

  async deleteProject(name: string): Promise<void> {
    return this.guard(async () => {
      const p = await this.projects.findOne({ _id: name });
      if (!p) throw notFound(`project ${name}`);
      // Removing the project document is the commit: its uid dies with it, so whatever the
      // clean-up below leaves behind (crash, racing writer) is unreachable.
      const r = await this.projects.deleteOne({ _id: name, uid: p.uid });
      if (r.deletedCount === 0) throw notFound(`project ${name}`);
      this.forget(name);
      const prefix = changeCollectionPrefix(p.uid);
      for (const c of await this.db.listCollections({}, { nameOnly: true }).toArray()) {
        if (c.name.startsWith(prefix)) await this.db.dropCollection(c.name).catch(() => undefined);
      }
      await this.checkpoints.deleteMany({ uid: p.uid });
    });
  }

  // --- records ----------------------------------------------------------------------------

  async getRecord<K extends RecordKind>(kind: K, project: string, name: string): Promise<RecordTypes[K] | null> {
    return this.guard(async () => {
      const head = (await this.readable(project))?.head(kind, name);
      return head && !head.deleted ? decodeRecord(kind, JSON.parse(head.data!)) : null;
    });
  }

  async listRecords<K extends RecordKind>(kind: K, project: string): Promise<RecordTypes[K][]> {
    return this.guard(async () => {
      const log = await this.readable(project);
      return log ? log.live(kind).map((h) => decodeRecord(kind, JSON.parse(h.data!))) : [];
    });
  }

  async createRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry): Promise<number> {
    return this.guard(() => this.commit('create', kind, record.project, record.name, record.revision - 1, record, history));
  }

  async updateRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry): Promise<number> {
    return this.guard(() => this.commit('update', kind, record.project, record.name, record.revision - 1, record, history));
  }

  async deleteRecord(
    kind: RecordKind,
    project: string,
    name: string,
    expectedRevision: number,
    history?: GroupHistoryEntry,
  ): Promise<number> {
    return this.guard(() => this.commit('delete', kind, project, name, expectedRevision, null, history));
  }

  /**
   * The group's kept history (its head's list) names the change of each revision: a page, or
   * one revision, is that many look-ups by _id, however long the log.
   */
  async listGroupHistory(project: string, name: string, page?: HistoryPage): Promise<GroupHistoryEntry[]> {
    return this.guard(async () => {
      const kept = await this.keptHistory(project, name);
      if (!kept) return [];
      let chosen: KeptRevision[] = kept;
      if (page) {
        const below = kept.filter(([revision]) => !page.before || revision < page.before).reverse();
        chosen = below.slice(0, pageCut(below.map(([, , bytes]) => ({ bytes })), page)).reverse();
      }
      return this.readHistory(kept.uid, chosen);
    });
  }

  async getGroupRevision(project: string, name: string, revision: number): Promise<GroupHistoryEntry | null> {
    return this.guard(async () => {
      const kept = await this.keptHistory(project, name);
      const hit = kept?.filter((k) => k[0] === revision) ?? [];
      return hit.length ? ((await this.readHistory(kept!.uid, hit))[0] ?? null) : null;
    });
  }

  async groupHistoryBounds(project: string, name: string): Promise<{ first: number; last: number } | null> {
    return this.guard(async () => {
      const kept = await this.keptHistory(project, name);
      return kept?.length ? { first: kept[0]![0], last: kept.at(-1)![0] } : null;
    });
  }

  /** The group's kept history, from an up-to-date state; null without the project. */
  private async keptHistory(project: string, name: string): Promise<(KeptRevision[] & { uid: string }) | null> {
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
  private async readHistory(uid: string, kept: readonly KeptRevision[]): Promise<GroupHistoryEntry[]> {
    const out: GroupHistoryEntry[] = [];
    for (let i = 0; i < kept.length; i += LOOKUP_BATCH) {
      const docs = await Promise.all(
        kept.slice(i, i + LOOKUP_BATCH).map(([, n]) => this.changesOf(uid, n).findOne({ _id: changeId(uid, n) }, { projection: { history: 1 } })),
      );
      for (const d of docs) if (d?.history) out.push(decodeHistory(JSON.parse(d.history)));
    }
    return out;
  }

  /**
   * The kept history of a group as of this state's head, loaded when not known yet (a head
   * from a checkpoint; a log written before the history budget, whose history is then found by
   * a scan and kept whole until the group's next write prunes it). Null when the head's change
   * was pruned: the state is behind, advance it first.
   */
  private async keptOf(log: ProjectLog, name: string): Promise<KeptRevision[] | null> {
    const head = log.head('group', name);
    if (!head || head.pruned) return head ? null : [];
    if (head.kept) return head.kept;
    const doc = await this.changesOf(log.uid, head.n).findOne({ _id: changeId(log.uid, head.n) }, { projection: { kept: 1, pruned: 1 } });
    if (!doc || doc.pruned) return null;
    head.kept = doc.kept ? (JSON.parse(doc.kept) as KeptRevision[]) : head.hasHistory ? await this.scanHistory(log, name) : [];
    return head.kept;
  }

  /**
   * Every history entry of a group in the log, by a scan of each change collection (the one
   * query by a field other than _id on changes): only for logs written before the budget.
   */
  private async scanHistory(log: ProjectLog, name: string): Promise<KeptRevision[]> {
    const collections = Array.from({ length: Math.floor(log.n / CHANGES_PER_COLLECTION) + 1 }, (_, g) => this.changesOf(log.uid, g * CHANGES_PER_COLLECTION));
    const found = await Promise.all(
      collections.map((c) => c.find({ kind: 'group', name, history: { $ne: null } }, { projection: { n: 1, history: 1 } }).toArray()),
    );
    return found
      .flat()
      .filter((d) => d.n <= log.n)
      .map((d) => ({ n: d.n, bytes: storedBytes(d.history!), entry: decodeHistory(JSON.parse(d.history!)) }))
      .sort((a, b) => a.entry.revision - b.entry.revision || a.n - b.n)
      .map((d): KeptRevision => [d.entry.revision, d.n, d.bytes, d.entry.group ? 1 : 0]);
  }

  /** synced(), and past any pruned head: a reader never sees a state mid-way through catching up. */
  private async readable(project: string): Promise<ProjectLog | null> {
    const log = await this.synced(project);
    for (let attempt = 0; log && log.prunedHeads > 0; attempt++) {
      if (attempt >= STALE_RETRIES) throw stillChanging(project);
      await this.advance(log);
    }
    return log;
  }

  async loadProject(name: string): Promise<ProjectSnapshot | null> {
    return this.guard(async () => {
      const log = await this.readable(name);
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
    return this.guard(async () => new Map(await this.versions.run()));
  }

  private async readVersions(): Promise<Map<string, number>> {
    const projects = await this.projects.find({}, { projection: { _id: 1, uid: 1 } }).sort({ _id: 1 }).toArray();
    const names = new Set(projects.map((p) => p._id));
    for (const name of [...this.logs.keys(), ...this.tips.keys()]) if (!names.has(name)) this.forget(name);
    const tips = await Promise.all(projects.map((p) => this.tip(p._id, p.uid)));
    return new Map(projects.map((p, i) => [p._id, 1 + tips[i]!]));
  }

  // --- tokens, audit, meta ----------------------------------------------------------------

  async createToken(token: TokenRecord): Promise<void> {
    return this.guard(async () => {
      const doc: TokenDoc = { ...token, _id: token.id, oid: new ObjectId(), schemaVersion: SCHEMA_VERSION };
      if (!(await ignoreDuplicate(this.tokens.insertOne(doc)))) throw alreadyExists('token');
    });
  }

  async getTokenByHash(hash: string): Promise<TokenRecord | null> {
    return this.guard(async () => {
      const doc = await this.tokens.findOne({ hash });
      return doc ? tokenFromDoc(doc) : null;
    });
  }

  async listTokens(): Promise<TokenRecord[]> {
    return this.guard(async () => {
      const docs = await this.tokens.find({}).sort({ oid: 1 }).toArray();
      return docs.map(tokenFromDoc);
    });
  }

  async getTokensByIds(ids: readonly string[]): Promise<TokenRecord[]> {
    if (ids.length === 0) return [];
    return this.guard(async () => {
      const docs = await this.tokens.find({ _id: { $in: [...ids] } }).toArray();
      return docs.map(tokenFromDoc);
    });
  }

  async getTokensByServiceAccount(account: string): Promise<TokenRecord[]> {
    return this.guard(async () => {
      const docs = await this.tokens.find({ k8sServiceAccount: account }).sort({ oid: 1 }).toArray();
      return docs.map(tokenFromDoc);
    });
  }

  async revokeToken(id: string): Promise<boolean> {
    return this.guard(async () => {
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
    return this.guard(async () => (await this.counters.findOne({ _id: 'tokens' }))?.value ?? 0);
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    return this.guard(async () => {
      const { id: _id, ...rest } = event;
      // Records of concurrent calls share one insertMany (see Batcher).
      await this.auditWrites.add({ ...rest, _id: new ObjectId(), schemaVersion: SCHEMA_VERSION });
    });
  }

  async listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.guard(async () => {
      const q: Record<string, unknown> = {};
      if (filter.project) q.project = filter.project;
      if (filter.actor) {
        const named = namedTokenActor(filter.actor);
        q.actor = named ? { $in: [filter.actor, new RegExp(`^${named}\\(`)] } : filter.actor;
      }
      if (filter.action) q.action = filter.action;
      if (filter.since) q.time = { $gte: filter.since };
      if (filter.before) {
        const { time, id } = filter.before;
        const older = { time: { $lt: time } };
        if (id === undefined) q.$and = [older];
        else {
          if (!ObjectId.isValid(id) || !/^[0-9a-f]{24}$/.test(id)) throw invalid('malformed audit cursor');
          q.$and = [{ $or: [older, { time, _id: { $lt: new ObjectId(id) } }] }];
        }
      }
      // ObjectIds grow with insertion: they order events of the same millisecond.
      const docs = await this.audit
        .find(q)
        .sort(filter.byInsertion ? { _id: -1 } : { time: -1, _id: -1 })
        .limit(filter.limit ?? 100)
        .toArray();
      return docs.map(({ _id, schemaVersion: _v, ...e }) => ({ ...e, id: _id.toHexString() }));
    });
  }

  async getMeta(key: string): Promise<string | null> {
    return this.guard(async () => {
      const doc = await this.meta.findOne({ _id: USER_META + key });
      return doc?.value ?? null;
    });
  }

  async setMeta(key: string, value: string): Promise<void> {
    return this.guard(async () => {
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
    return this.guard(async () => {
      const docs = await this.meta.find({}).sort({ _id: 1 }).toArray();
      return new Map(docs.filter((d) => d._id.startsWith(USER_META)).map((d) => [d._id.slice(USER_META.length), d.value]));
    });
  }

  async listGroupHistoryNames(project: string): Promise<string[]> {
    return this.guard(async () => (await this.synced(project))?.groupsWithHistory() ?? []);
  }

  /**
   * Appends the history as changes, oldest first — each carrying the group as that entry
   * recorded it — and the record (or a deletion) with the last one, so the log replays to
   * exactly the imported state and later writes continue from it. Ordered inserts stop at
   * the first refused one, so the log keeps no gap even if a writer interferes.
   */
  async importRecord<K extends RecordKind>(
    kind: K,
    project: string,
    name: string,
    record: RecordTypes[K] | null,
    history: GroupHistoryEntry[],
  ): Promise<void> {
    const all = checkImport(kind, project, name, record, history);
    // The budget applies to an imported history as to one written entry by entry.
    const sizes = all.map((h) => storedBytes(JSON.stringify(encodeHistory(h))));
    const keep = historyKept(
      all.map((h, i) => ({ bytes: sizes[i]!, content: h.group !== null })).reverse(),
      this.budget,
    );
    const entries = all.slice(all.length - keep);
    const entrySizes = sizes.slice(all.length - keep);
    return this.guard(() =>
      this.exclusive(project, async () => {
        const what = `${kind} ${project}/${name}`;
        const log = await this.loadLog(project);
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
        const docs = steps.map((st, i) => this.changeDoc(log, from + 1 + i, kind, project, name, st.revision, st.state, st.history ?? undefined));
        if (kind === 'group') {
          // Each step's kept history: the imported entries up to it (all within the budget).
          const kept: KeptRevision[] = [];
          docs.forEach((d, i) => {
            const h = entries[i];
            if (h) kept.push([h.revision, d.n, entrySizes[i]!, h.group ? 1 : 0]);
            d.kept = JSON.stringify(kept);
            d.dropped = [];
          });
        }
        for (let i = 0; i < docs.length; ) {
          // One batch per change collection, in order.
          let j = i + 1;
          while (j < docs.length && j - i < IMPORT_BATCH && docs[j]!.n % CHANGES_PER_COLLECTION !== 0) j++;
          const batch = docs.slice(i, j);
          i = j;
          try {
            await this.changesOf(log.uid, batch[0]!.n).insertMany(batch, { ordered: true });
          } catch (e) {
            if (!(e instanceof MongoServerError && e.code === 11000)) throw e;
            await this.advance(log);
            throw new DomainError('ABORTED', `importing ${what}: another writer changed project ${project} meanwhile; import into an idle store`);
          }
          const before = log.n;
          for (const d of batch) log.apply(d);
          // Per batch, so other instances can jump over a long imported history.
          await this.checkpointAfter(log, before);
        }
      }),
    );
  }

  // --- internals --------------------------------------------------------------------------

  /**
   * The project's state, brought up to date: the cached one after a look-up of what follows
   * it (and of the project, whose uid must not have changed), else loaded. Null without the
   * project.
   */
  private async synced(project: string): Promise<ProjectLog | null> {
    const cached = this.logs.get(project);
    if (cached) {
      if (await this.shared(cached).refresh.run()) return cached;
      if (this.logs.get(project) === cached) this.forget(project);
    }
    return this.exclusive(project, () => this.loadLog(project));
  }

  /** The state of the project's current incarnation, loaded if needed and up to date. */
  private async loadLog(project: string): Promise<ProjectLog | null> {
    const p = await this.projects.findOne({ _id: project });
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
    await this.jumpToCheckpoint(log, 0);
    await this.advance(log);
    return log;
  }

  /**
   * Moves a state more than `minGap` changes behind the newest checkpoint to that checkpoint,
   * reading only the records that changed in between (their last change, by _id) instead of
   * every change. Does nothing when the pointer, the checkpoint or a change cannot be read
   * (a lagging pointer, a deletion racing this): the caller then reads change by change.
   */
  private async jumpToCheckpoint(log: ProjectLog, minGap: number): Promise<void> {
    const pointer = await this.checkpoints.findOne({ _id: pointerId(log.uid) });
    if (!pointer || pointer.n <= log.n + minGap) return;
    const checkpoint = await this.checkpoints.findOne({ _id: checkpointId(log.uid, pointer.n) });
    if (!checkpoint) return;
    const newer = log.newerIn(checkpoint);
    const live = newer.filter((h) => h.data === undefined);
    for (let i = 0; i < live.length; i += LOOKUP_BATCH) {
      const heads = live.slice(i, i + LOOKUP_BATCH);
      const docs = await Promise.all(
        heads.map((h) => this.changesOf(log.uid, h.n).findOne({ _id: changeId(log.uid, h.n) }, { projection: { data: 1, pruned: 1 } })),
      );
      if (docs.some((d) => !d)) return;
      // A pruned head has a later change of its record after the checkpoint: advancing reaches it.
      heads.forEach((h, k) => {
        h.pruned = docs[k]!.pruned === true;
        h.data = h.pruned ? null : docs[k]!.data;
      });
    }
    log.jump(checkpoint.n, newer);
  }

  /**
   * Applies the changes after log.n, looking them up by _id: one look-up when nothing is new,
   * then batches of growing size in parallel while changes keep coming. Numbers have no gaps,
   * so the first missing one is the end of the log.
   */
  private advance(log: ProjectLog): Promise<void> {
    return this.shared(log).advance.run();
  }

  /** Per state, the shared advance and the shared "advance and check the project". */
  private shared(log: ProjectLog): { advance: Coalesced<void>; refresh: Coalesced<boolean> } {
    let s = this.sharing.get(log);
    if (!s) {
      const advance = new Coalesced(() => this.advanceNow(log));
      const refresh = new Coalesced(async () => {
        const [p] = await Promise.all([this.projects.findOne({ _id: log.project }, { projection: { uid: 1, executionKeys: 1 } }), advance.run()]);
        if (p?.uid !== log.uid) return false;
        log.executionKeys = p.executionKeys;
        return true;
      });
      this.sharing.set(log, (s = { advance, refresh }));
    }
    return s;
  }

  private async advanceNow(log: ProjectLog): Promise<void> {
    for (let batch = 1; ; batch = Math.min(batch * 2, LOOKUP_BATCH)) {
      const from = log.n + 1;
      const docs = await Promise.all(Array.from({ length: batch }, (_, i) => this.changesOf(log.uid, from + i).findOne({ _id: changeId(log.uid, from + i) })));
      const end = docs.indexOf(null);
      for (const d of end < 0 ? docs : docs.slice(0, end)) log.apply(d!);
      if (end >= 0) return;
      // Far behind (another instance wrote a lot, or imported a history): jump if a checkpoint
      // is well ahead, so catching up costs the records that changed, not every change.
      if (batch === LOOKUP_BATCH) await this.jumpToCheckpoint(log, LOOKUP_BATCH);
    }
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
    if (tip?.uid !== uid) {
      const pointer = await this.checkpoints.findOne({ _id: pointerId(uid) });
      tip = { uid, n: pointer?.n ?? 0 };
      this.tips.set(project, tip);
    }
    const t = tip;
    for (let batch = 1; ; batch = Math.min(batch * 2, LOOKUP_BATCH)) {
      const from = t.n + 1;
      const found = await Promise.all(
        Array.from({ length: batch }, (_, i) => this.changesOf(uid, from + i).findOne({ _id: changeId(uid, from + i) }, { projection: { _id: 1 } })),
      );
      const end = found.indexOf(null);
      t.n = Math.max(t.n, from - 1 + (end < 0 ? batch : end));
      if (end >= 0) return t.n;
      if (batch === LOOKUP_BATCH) {
        // Far behind: every change up to a checkpoint exists, so skip to the newest one.
        const pointer = await this.checkpoints.findOne({ _id: pointerId(uid) });
        t.n = Math.max(t.n, pointer?.n ?? 0);
      }
    }
  }

  /** Drops what this instance holds of a project (deleted, or replaced by a new incarnation). */
  private forget(project: string): void {
    this.logs.delete(project);
    this.tips.delete(project);
  }

  /** Runs one project's commits (and loads) one after another within this instance. */
  private exclusive<T>(project: string, work: () => Promise<T>): Promise<T> {
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

  /**
   * One write, committed with the others of its project that are waiting (group commit): each
   * is checked against the state after change n and the writes before it in the group, then
   * the group is inserted as changes n + 1, n + 2, … in one ordered insertMany. The insert is
   * the commit; ordered, it stops at the first duplicate _id — another writer committed that
   * number first — so the writes before it are committed and the rest are checked again
   * against the changes that beat them. Groups of one project in this instance run one after
   * another, so they do not race each other for numbers. Resolves to 1 + the change's number,
   * the project's change-feed version after it.
   */
  private commit(
    mode: Mode,
    kind: RecordKind,
    project: string,
    name: string,
    expected: number,
    record: RecordTypes[RecordKind] | null,
    history: GroupHistoryEntry | undefined,
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      const write: PendingWrite = { mode, kind, name, expected, record, history, resolve, reject };
      const queue = this.waiting.get(project);
      if (queue) {
        queue.push(write); // a group commit is already scheduled to take it
        return;
      }
      this.waiting.set(project, [write]);
      this.scheduleGroup(project);
    });
  }

  /** Queues the commit of the writes waiting for `project` (at most MAX_GROUP of them). */
  private scheduleGroup(project: string): void {
    void this.exclusive(project, () => {
      const queue = this.waiting.get(project) ?? [];
      const group = queue.splice(0, MAX_GROUP);
      if (queue.length) this.scheduleGroup(project);
      else this.waiting.delete(project);
      return this.commitGroup(project, group);
    });
  }

  private async commitGroup(project: string, writes: PendingWrite[]): Promise<void> {
    try {
      let log = this.logs.get(project) ?? (await this.loadLog(project));
      // A cached state may be behind: it may only refuse once it is up to date.
      let current = false;
      let stale = 0;
      while (writes.length) {
        if (!log) throw notFound(`project ${project}`);
        const { accepted, refused } = checkGroup(log, project, writes);
        if (refused.length && !current) {
          await this.advance(log);
          current = true;
          continue;
        }
        for (const [w, e] of refused) w.reject(e);
        writes = accepted;
        if (!writes.length) return;
        const l = log;
        // Each group write carries its group's kept history onwards: known before the docs are built.
        const groups = [...new Set(writes.filter((w) => w.kind === 'group').map((w) => w.name))];
        await Promise.all(groups.map((g) => this.keptOf(l, g)));
        const docs = writes.map((w, i) => this.changeDoc(l, l.n + 1 + i, w.kind, project, w.name, w.record ? w.record.revision : w.expected, w.record, w.history));
        const strip = this.budgetGroup(l, docs, writes);
        if (!strip) {
          // A head without its kept history (pruned: this state is behind; or replaced meanwhile).
          if (++stale > STALE_RETRIES) throw stillChanging(project);
          await this.advance(l);
          current = true;
          continue;
        }
        // The project check runs beside the insert: if the project is gone (or is a new
        // incarnation), the changes went to a dead uid that nobody reads, and nothing committed.
        const [{ inserted, error }, p] = await Promise.all([
          this.insertChanges(log.uid, docs),
          this.projects.findOne({ _id: project }, { projection: { uid: 1 } }),
        ]);
        if (p?.uid !== log.uid) {
          this.forget(project);
          log = await this.loadLog(project);
          current = true;
          continue;
        }
        const before = log.n;
        for (const d of docs.slice(0, inserted)) log.apply(d);
        if (inserted) await this.checkpointAfter(log, before).catch(() => undefined);
        // Committed: strip what the committed changes pruned. A failed strip leaves a payload
        // nobody reads (it is not in the kept history) until the group's next write strips it
        // again; after a strip that succeeded, this instance's next write need not repeat it.
        const stripped = await this.strip(log.uid, strip(inserted)).then(
          () => true,
          () => false,
        );
        if (stripped) {
          for (const d of docs.slice(0, inserted)) {
            const head = d.kind === 'group' ? log.head('group', d.name) : undefined;
            if (head?.n === d.n) head.dropped = [];
          }
        }
        writes.slice(0, inserted).forEach((w, i) => w.resolve(1 + docs[i]!.n));
        writes = writes.slice(inserted);
        if (error) throw error;
        if (writes.length) {
          await this.advance(log);
          current = true;
        }
      }
    } catch (e) {
      for (const w of writes) w.reject(e);
    }
  }

  /**
   * Sets each group change's kept history (the budget applied to the group's kept history
   * before it plus its own entry) and what it drops. Returns, for a number of changes
   * committed, the changes whose payload to strip: what they dropped, and what the group's
   * previous head dropped (stripped again, should that strip have failed).
   */
  private budgetGroup(
    log: ProjectLog,
    docs: ChangeDoc[],
    writes: readonly { history: GroupHistoryEntry | undefined }[],
  ): ((committed: number) => number[]) | null {
    const kept = new Map<string, KeptRevision[]>();
    const again = new Map<string, number[]>();
    for (const [i, d] of docs.entries()) {
      if (d.kind !== 'group') continue;
      if (!kept.has(d.name)) {
        const head = log.head('group', d.name);
        if (head && (head.pruned || !head.kept)) return null;
        kept.set(d.name, head?.kept ?? []);
        again.set(d.name, head?.dropped ?? []);
      }
      let list = kept.get(d.name)!;
      const dropped: number[] = [];
      const entry = writes[i]!.history;
      if (d.history && entry) {
        const revision = entry.revision;
        const replaced = list.filter((k) => k[0] === revision);
        const newestFirst = [...list.filter((k) => k[0] !== revision), [revision, d.n, storedBytes(d.history), entry.group ? 1 : 0] as KeptRevision]
          .sort((a, b) => b[0] - a[0] || b[1] - a[1]);
        const keep = historyKept(newestFirst.map(([, , bytes, content]) => ({ bytes, content: content === 1 })), this.budget);
        list = newestFirst.slice(0, keep).reverse();
        dropped.push(...replaced.map((k) => k[1]), ...newestFirst.slice(keep).map((k) => k[1]));
      }
      kept.set(d.name, list);
      d.kept = JSON.stringify(list);
      d.dropped = dropped;
    }
    return (committed) => {
      const done = docs.slice(0, committed).filter((d) => d.kind === 'group');
      const names = new Set(done.map((d) => d.name));
      return [...new Set([...done.flatMap((d) => d.dropped ?? []), ...[...names].flatMap((n) => again.get(n) ?? [])])];
    };
  }

  /** Strips the payload of pruned changes (idempotent: an unconditional $set). */
  private async strip(uid: string, ns: readonly number[]): Promise<void> {
    await Promise.all(
      ns.map((n) =>
        this.changesOf(uid, n).updateOne({ _id: changeId(uid, n) }, { $set: { data: null, history: null, kept: null, pruned: true } }),
      ),
    );
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
        await this.changesOf(uid, chunk[0]!.n).insertMany(chunk, { ordered: true });
        inserted = end;
      } catch (e) {
        const first = e instanceof MongoBulkWriteError ? writeErrorsOf(e)[0] : undefined;
        if (!first) return { inserted, error: unwrapBulk(e) };
        inserted += Math.min(first.index, e instanceof MongoBulkWriteError ? e.insertedCount : 0);
        return first.code === 11000 ? { inserted } : { inserted, error: e };
      }
    }
    return { inserted };
  }

  /** The collection that holds change n of a project incarnation. */
  private changesOf(uid: string, n: number): Collection<ChangeDoc> {
    return this.db.collection(changeCollection(uid, n));
  }

  private changeDoc(
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
      history: history ? JSON.stringify(encodeHistory(history)) : null,
      time: Date.now(),
      schemaVersion: SCHEMA_VERSION,
    };
  }

  /**
   * After committing changes from + 1 … log.n: when that passed a checkpoint boundary, writes
   * a checkpoint of the state after log.n and moves the pointer to it. A duplicate means
   * another instance wrote the same state. The pointer is updated without a condition, so on
   * FerretDB it may lag behind; it never points at a missing checkpoint.
   */
  private async checkpointAfter(log: ProjectLog, from: number): Promise<void> {
    if (!crossesCheckpoint(from, log.n)) return;
    const { uid, n } = log;
    await ignoreDuplicate(this.checkpoints.insertOne({ _id: checkpointId(uid, n), uid, n, heads: log.manifest(), schemaVersion: SCHEMA_VERSION }));
    await ignoreDuplicate(
      this.checkpoints.updateOne({ _id: pointerId(uid) }, { $max: { n }, $set: { uid, schemaVersion: SCHEMA_VERSION } }, { upsert: true }),
    );
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

  /** Runs a store operation, turning an unreachable server into UNAVAILABLE. */
  private async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      throw toDomainError(e);
    }
  }
}

/** A write waiting for its group commit. */
interface PendingWrite {
  mode: Mode;
  kind: RecordKind;
  name: string;
  expected: number;
  record: RecordTypes[RecordKind] | null;
  history: GroupHistoryEntry | undefined;
  resolve: (version: number) => void;
  reject: (e: unknown) => void;
}

/** Writes committed together at most (a group's changes go in one insertMany). */
const MAX_GROUP = 64;

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

/**
 * The driver wraps a failure that is not about one document (no server, a lost connection)
 * in a MongoBulkWriteError without write errors; the original is its errorResponse.
 */
function unwrapBulk(e: unknown): unknown {
  if (e instanceof MongoBulkWriteError && writeErrorsOf(e).length === 0 && e.errorResponse instanceof Error) return e.errorResponse;
  return e;
}

/** The write errors of a bulk write, as a list (the driver gives one or many). */
function writeErrorsOf(e: MongoBulkWriteError): { index: number; code: number }[] {
  const w = e.writeErrors as unknown;
  return (Array.isArray(w) ? w : w ? [w] : []) as { index: number; code: number }[];
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

function projectOf(p: ProjectDoc): Project {
  return withExecutionKeys({ name: p._id, createdAt: p.createdAt }, p.executionKeys);
}

function tokenFromDoc(doc: TokenDoc): TokenRecord {
  const { _id: _i, oid: _o, schemaVersion: _v, ...token } = doc;
  return token;
}

/** Resolves true when the write happened, false on a duplicate key; other errors propagate. */
async function ignoreDuplicate(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (e) {
    if (e instanceof MongoServerError && e.code === 11000) return false;
    throw e;
  }
}

const UNAVAILABLE_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/** Connection-level failures become UNAVAILABLE; the message names no host, URI or value. */
export function toDomainError(error: unknown): unknown {
  const e = unwrapBulk(error);
  if (e instanceof DomainError) return e;
  const unavailable =
    e instanceof MongoServerSelectionError ||
    e instanceof MongoNetworkError ||
    e instanceof MongoNotConnectedError ||
    e instanceof MongoTopologyClosedError ||
    (e instanceof MongoServerError && typeof e.code === 'number' && UNAVAILABLE_CODES.has(e.code));
  if (unavailable) {
    return new DomainError('UNAVAILABLE', `the MongoDB store is unavailable (${(e as Error).name}); retry later`);
  }
  return e;
}
