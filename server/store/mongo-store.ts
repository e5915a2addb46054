/**
 * MongoDB store (official driver). Works on MongoDB and on FerretDB 1.x, so it uses neither
 * multi-document transactions nor change streams, and — because FerretDB evaluates an
 * update's filter and applies the update in two separate steps — it never relies on a
 * conditional update being atomic either. The only primitive it trusts is "insert fails on a
 * duplicate _id", which both servers guarantee.
 *
 * - Every change to a workload, addon or group inserts a new immutable revision document into
 *   `records` with `_id = [projectUid, kind, name, seq]`, where seq is the previous head's seq
 *   plus one. Two writers that start from the same head race for the same _id, so exactly one
 *   wins (optimistic concurrency); the loser re-reads the head to name the current revision.
 *   The head (highest seq) is the record; a deletion is a tombstone head.
 * - A group's history entry travels inside its revision document (`history`), so the group and
 *   its history become visible in one atomic insert. It is then copied into `group_history`
 *   (idempotent insert); older revisions are compacted (payload removed, slot kept so no writer
 *   can ever reuse their seq) only after their entry has been copied. Readers merge both.
 * - The change-feed version of a project is 1 + the number of revision documents it has. Every
 *   committed change adds exactly one document in the same insert that commits it, so there is
 *   no window between a write and its feed bump, commit order does not matter, and a refused
 *   write adds nothing.
 * - Each project incarnation has a random uid; records of a deleted project (or stragglers
 *   racing its deletion) can never surface in a project recreated under the same name.
 *
 * docs/storage.md describes the collections, indexes and the reasoning in full.
 */
import { randomBytes } from 'node:crypto';
import {
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
import { alreadyExists, DomainError, notFound, precondition, stale } from '../domain/errors.js';
import type { Addon, GroupHistoryEntry, Project, ProjectSnapshot, SecretGroup, Workload } from '../domain/types.js';
import { decodeHistory, decodeRecord, encodeHistory, encodeRecord, SCHEMA_VERSION } from './codec.js';
import { checkImport, type AuditEvent, type AuditFilter, type RecordKind, type RecordTypes, type Store, type TokenRecord } from './store.js';

export const DEFAULT_MONGO_DB = 'secretgroups';

export interface MongoStoreOptions {
  /** Database name; default: the URI's path, else `secretgroups`. */
  dbName?: string;
  /** Used when the URI sets no serverSelectionTimeoutMS: how long an RPC waits for a down store. */
  serverSelectionTimeoutMs?: number;
}

interface ProjectDoc {
  _id: string;
  uid: string;
  createdAt: number;
  schemaVersion: number;
}

/** One revision of one record (or a tombstone). Immutable except for compaction. */
interface RevisionDoc {
  _id: string;
  uid: string;
  project: string;
  kind: RecordKind;
  name: string;
  seq: number;
  /** The record's revision; for a tombstone, the revision it deleted. */
  revision: number;
  deleted: boolean;
  /** JSON of the codec-encoded record (JSON strings: record maps may hold keys BSON refuses). */
  data?: string | null;
  /** JSON of the codec-encoded history entry written with this revision, until compaction. */
  history?: string | null;
  compacted?: boolean;
  time: number;
  schemaVersion: number;
}

interface HistoryDoc {
  _id: string;
  uid: string;
  project: string;
  kind: RecordKind;
  name: string;
  revision: number;
  seq: number;
  data: string;
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

/** A number that only grows (see Store.tokenChanges). */
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
const USER_META = 'user:';

/** Database name from a mongodb:// or mongodb+srv:// URI path, if any. */
export function dbNameFromUri(uri: string): string | null {
  const m = /^mongodb(?:\+srv)?:\/\/[^/?]*\/([^?]*)/.exec(uri);
  const name = m?.[1] ? decodeURIComponent(m[1]) : '';
  return name || null;
}

export class MongoStore implements Store {
  private readonly client: MongoClient;
  private readonly db: Db;
  private readonly projects: Collection<ProjectDoc>;
  private readonly records: Collection<RevisionDoc>;
  private readonly history: Collection<HistoryDoc>;
  private readonly tokens: Collection<TokenDoc>;
  private readonly audit: Collection<AuditDoc>;
  private readonly meta: Collection<MetaDoc>;
  private readonly counters: Collection<CounterDoc>;

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
    this.records = this.db.collection('records');
    this.history = this.db.collection('group_history');
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
      await this.records.createIndex({ uid: 1, kind: 1, name: 1, seq: -1 }, { name: 'record_head' });
      await this.history.createIndex({ uid: 1, kind: 1, name: 1, revision: 1 }, { name: 'history_by_group' });
      await this.tokens.createIndex({ hash: 1 }, { name: 'token_hash', unique: true });
      await this.tokens.createIndex({ oid: 1 }, { name: 'token_order' });
      await this.audit.createIndex({ project: 1, time: -1 }, { name: 'audit_project_time' });
      await this.audit.createIndex({ actor: 1, time: -1 }, { name: 'audit_actor_time' });
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
        schemaVersion: SCHEMA_VERSION,
      };
      if (!(await ignoreDuplicate(this.projects.insertOne(doc)))) throw alreadyExists(`project ${project.name}`);
    });
  }

  async getProject(name: string): Promise<Project | null> {
    return this.guard(async () => {
      const p = await this.projects.findOne({ _id: name });
      return p ? { name: p._id, createdAt: p.createdAt } : null;
    });
  }

  async listProjects(): Promise<Project[]> {
    return this.guard(async () => {
      const docs = await this.projects.find({}).sort({ _id: 1 }).toArray();
      return docs.map((p) => ({ name: p._id, createdAt: p.createdAt }));
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
      await this.records.deleteMany({ uid: p.uid });
      await this.history.deleteMany({ uid: p.uid });
    });
  }

  // --- records ----------------------------------------------------------------------------

  async getRecord<K extends RecordKind>(kind: K, project: string, name: string): Promise<RecordTypes[K] | null> {
    return this.guard(async () => {
      const p = await this.projects.findOne({ _id: project });
      if (!p) return null;
      const head = await this.head(p.uid, kind, name);
      return head && !head.deleted ? decodeRecord(kind, JSON.parse(head.data!)) : null;
    });
  }

  async listRecords<K extends RecordKind>(kind: K, project: string): Promise<RecordTypes[K][]> {
    return this.guard(async () => {
      const p = await this.projects.findOne({ _id: project });
      if (!p) return [];
      const heads = await this.heads({ uid: p.uid, kind });
      return heads.map((h) => decodeRecord(kind, JSON.parse(h.data!)));
    });
  }

  async createRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry): Promise<void> {
    return this.guard(() => this.commit('create', kind, record.project, record.name, record.revision - 1, record, history));
  }

  async updateRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry): Promise<void> {
    return this.guard(() => this.commit('update', kind, record.project, record.name, record.revision - 1, record, history));
  }

  async deleteRecord(
    kind: RecordKind,
    project: string,
    name: string,
    expectedRevision: number,
    history?: GroupHistoryEntry,
  ): Promise<void> {
    return this.guard(() => this.commit('delete', kind, project, name, expectedRevision, null, history));
  }

  async listGroupHistory(project: string, name: string): Promise<GroupHistoryEntry[]> {
    return this.guard(async () => {
      const p = await this.projects.findOne({ _id: project });
      if (!p) return [];
      // Revision documents first, then the history collection: compaction copies an entry
      // before removing it from its revision, so in this order no entry can slip between reads.
      const pending = await this.records
        .find({ uid: p.uid, kind: 'group', name, compacted: { $ne: true }, history: { $ne: null } })
        .toArray();
      const copied = await this.history.find({ uid: p.uid, kind: 'group', name }).toArray();
      const bySeq = new Map<number, { revision: number; data: string }>();
      for (const h of copied) bySeq.set(h.seq, h);
      for (const r of pending) if (r.history) bySeq.set(r.seq, { revision: historyRevision(r), data: r.history });
      return [...bySeq.entries()]
        .sort(([sa, a], [sb, b]) => a.revision - b.revision || sa - sb)
        .map(([, h]) => decodeHistory(JSON.parse(h.data)));
    });
  }

  async loadProject(name: string): Promise<ProjectSnapshot | null> {
    return this.guard(async () => {
      const p = await this.projects.findOne({ _id: name });
      if (!p) return null;
      const workloads = new Map<string, Workload>();
      const addons = new Map<string, Addon>();
      const groups = new Map<string, SecretGroup>();
      for (const h of await this.heads({ uid: p.uid })) {
        const data = JSON.parse(h.data!) as Record<string, unknown>;
        if (h.kind === 'workload') workloads.set(h.name, decodeRecord('workload', data));
        else if (h.kind === 'addon') addons.set(h.name, decodeRecord('addon', data));
        else groups.set(h.name, decodeRecord('group', data));
      }
      return { project: { name: p._id, createdAt: p.createdAt }, workloads, addons, groups };
    });
  }

  async projectVersions(): Promise<Map<string, number>> {
    return this.guard(async () => {
      const projects = await this.projects.find({}, { projection: { _id: 1, uid: 1 } }).toArray();
      const counts = await this.records
        .aggregate<{ _id: string; n: number }>([{ $group: { _id: '$uid', n: { $sum: 1 } } }])
        .toArray();
      const byUid = new Map(counts.map((c) => [c._id, c.n]));
      return new Map(projects.map((p) => [p._id, 1 + (byUid.get(p.uid) ?? 0)]));
    });
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

  async revokeToken(id: string): Promise<boolean> {
    return this.guard(async () => {
      // Unconditional and idempotent, so it is safe even where updates are not atomic.
      const r = await this.tokens.updateOne({ _id: id }, { $set: { revoked: true } });
      if (r.matchedCount === 0) return false;
      // After the token itself: a replica that sees the counter move then reads the revocation.
      await this.counters.updateOne({ _id: 'tokens' }, { $inc: { value: 1 } }, { upsert: true });
      return true;
    });
  }

  async tokenChanges(): Promise<number> {
    return this.guard(async () => (await this.counters.findOne({ _id: 'tokens' }))?.value ?? 0);
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    return this.guard(async () => {
      const { id: _id, ...rest } = event;
      await this.audit.insertOne({ ...rest, _id: new ObjectId(), schemaVersion: SCHEMA_VERSION });
    });
  }

  async listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.guard(async () => {
      const q: Record<string, unknown> = {};
      if (filter.project) q.project = filter.project;
      if (filter.actor) q.actor = filter.actor;
      if (filter.action) q.action = filter.action;
      if (filter.since) q.time = { $gte: filter.since };
      // ObjectIds grow with insertion, so _id descending is newest first.
      const docs = await this.audit
        .find(q)
        .sort({ _id: -1 })
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
    return this.guard(async () => {
      const p = await this.projects.findOne({ _id: project });
      if (!p) return [];
      const filter = { uid: p.uid, kind: 'group' as const };
      const projection = { projection: { name: 1 } };
      const copied = await this.history.find(filter, projection).toArray();
      const pending = await this.records.find({ ...filter, compacted: { $ne: true }, history: { $ne: null } }, projection).toArray();
      return [...new Set([...copied, ...pending].map((d) => d.name))].sort();
    });
  }

  /**
   * History entries go to `group_history` with seq 1..n, then one revision document at seq n
   * (the record, or a tombstone for a deleted group) — the same slots a record written n times
   * would have used, so the next write takes seq n+1 and can never collide with an imported
   * entry. The head insert comes last: until it exists the record is absent.
   */
  async importRecord<K extends RecordKind>(
    kind: K,
    project: string,
    name: string,
    record: RecordTypes[K] | null,
    history: GroupHistoryEntry[],
  ): Promise<void> {
    const entries = checkImport(kind, project, name, record, history);
    return this.guard(async () => {
      const what = `${kind} ${project}/${name}`;
      const p = await this.projects.findOne({ _id: project });
      if (!p) throw notFound(`project ${project}`);
      const taken = (await this.head(p.uid, kind, name)) ?? (await this.history.findOne({ uid: p.uid, kind, name }));
      if (taken) throw alreadyExists(what);
      const id = (seq: number) => JSON.stringify([p.uid, kind, name, seq]);
      const docs: HistoryDoc[] = entries.map((h, i) => ({
        _id: id(i + 1),
        uid: p.uid,
        project,
        kind,
        name,
        revision: h.revision,
        seq: i + 1,
        data: JSON.stringify(encodeHistory(h)),
        schemaVersion: SCHEMA_VERSION,
      }));
      for (const d of docs) if (!(await ignoreDuplicate(this.history.insertOne(d)))) throw alreadyExists(what);
      const seq = Math.max(1, docs.length);
      const last = entries.at(-1);
      const head: RevisionDoc = {
        _id: id(seq),
        uid: p.uid,
        project,
        kind,
        name,
        seq,
        // A tombstone carries the revision it deleted, as deleteRecord writes it.
        revision: record ? record.revision : last!.group === null ? last!.revision - 1 : last!.revision,
        deleted: record === null,
        data: record ? JSON.stringify(encodeRecord(kind, record)) : null,
        history: null,
        time: Date.now(),
        schemaVersion: SCHEMA_VERSION,
      };
      if (!(await ignoreDuplicate(this.records.insertOne(head)))) throw alreadyExists(what);
    });
  }

  // --- internals --------------------------------------------------------------------------

  /** The highest revision document of one record, tombstone included. */
  private head(uid: string, kind: RecordKind, name: string): Promise<RevisionDoc | null> {
    return this.records.findOne({ uid, kind, name }, { sort: { seq: -1 } });
  }

  /** The live heads matching a filter, ordered by name. Compacted revisions are never heads. */
  private async heads(filter: { uid: string; kind?: RecordKind }): Promise<RevisionDoc[]> {
    const docs = await this.records
      .find({ ...filter, compacted: { $ne: true } }, { projection: { history: 0 } })
      .toArray();
    const best = new Map<string, RevisionDoc>();
    for (const d of docs) {
      const key = `${d.kind}\u0000${d.name}`;
      const cur = best.get(key);
      if (!cur || d.seq > cur.seq) best.set(key, d);
    }
    return [...best.values()].filter((d) => !d.deleted).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * One write: check the head, then insert the next revision. The insert is the commit; a
   * duplicate _id means another writer committed from the same head first.
   */
  private async commit(
    mode: Mode,
    kind: RecordKind,
    project: string,
    name: string,
    expected: number,
    record: RecordTypes[RecordKind] | null,
    history: GroupHistoryEntry | undefined,
  ): Promise<void> {
    const what = `${kind} ${project}/${name}`;
    const p = await this.projects.findOne({ _id: project });
    if (!p) throw notFound(`project ${project}`);
    const head = await this.head(p.uid, kind, name);
    refuseUnless(mode, head, expected, what);
    const seq = (head?.seq ?? 0) + 1;
    const doc: RevisionDoc = {
      _id: JSON.stringify([p.uid, kind, name, seq]),
      uid: p.uid,
      project,
      kind,
      name,
      seq,
      revision: record ? record.revision : expected,
      deleted: record === null,
      data: record ? JSON.stringify(encodeRecord(kind, record)) : null,
      history: history ? JSON.stringify(encodeHistory(history)) : null,
      time: Date.now(),
      schemaVersion: SCHEMA_VERSION,
    };
    if (!(await ignoreDuplicate(this.records.insertOne(doc)))) {
      const now = await this.head(p.uid, kind, name);
      if (mode === 'create') throw alreadyExists(what);
      refuseUnless(mode, now, expected, what);
      // The head matches again (deleted and recreated in between): still a lost race.
      throw stale(what, expected, now!.revision);
    }
    // Committed. What follows only tidies up; a failure or crash here is repaired by the next
    // write to this record, and readers merge uncopied history meanwhile.
    await this.settle(doc).catch(() => undefined);
  }

  /** Copies the new revision's history entry, then compacts every older revision. */
  private async settle(doc: RevisionDoc): Promise<void> {
    await this.copyHistory(doc);
    const older = await this.records
      .find({ uid: doc.uid, kind: doc.kind, name: doc.name, seq: { $lt: doc.seq }, compacted: { $ne: true } })
      .toArray();
    for (const o of older) {
      await this.copyHistory(o);
      await this.records.updateOne({ _id: o._id }, { $set: { compacted: true }, $unset: { data: '', history: '' } });
    }
  }

  private async copyHistory(doc: RevisionDoc): Promise<void> {
    if (!doc.history) return;
    await ignoreDuplicate(
      this.history.insertOne({
        _id: JSON.stringify([doc.uid, doc.kind, doc.name, doc.seq]),
        uid: doc.uid,
        project: doc.project,
        kind: doc.kind,
        name: doc.name,
        revision: historyRevision(doc),
        seq: doc.seq,
        data: doc.history,
        schemaVersion: SCHEMA_VERSION,
      }),
    );
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

/** Throws the error a write in `mode` from `expected` deserves against `head`, if any. */
function refuseUnless(mode: Mode, head: RevisionDoc | null, expected: number, what: string): void {
  const live = head !== null && !head.deleted;
  if (mode === 'create') {
    if (live) throw alreadyExists(what);
    return;
  }
  if (!live) throw notFound(what);
  if (head.revision !== expected) throw stale(what, expected, head.revision);
}

function historyRevision(doc: RevisionDoc): number {
  return (JSON.parse(doc.history!) as { revision: number }).revision;
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
export function toDomainError(e: unknown): unknown {
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
