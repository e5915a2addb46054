/**
 * The MongoDB store's audit log (`audit` collection): records written alone (batched across
 * concurrent calls) or with a group commit, and listAudit's query and indexes. docs/storage.md
 * describes the collection.
 */
import { ObjectId, type Collection, type Document } from 'mongodb';
import { invalid } from '../domain/errors.js';
import { Batcher } from './batcher.js';
import { SCHEMA_VERSION } from './codec.js';
import { ignoreIndexNotFound, unorderedInsertErrors, unwrapBulk } from './mongo-errors.js';
import { namedTokenActor, type AuditEvent, type AuditFilter } from './store.js';

interface AuditDoc extends Omit<AuditEvent, 'id'> {
  _id: ObjectId;
  schemaVersion: number;
}

/** An audit event as stored: ObjectIds in insertion order (`_id` descending is newest first). */
export function auditDoc(event: AuditEvent): AuditDoc;
export function auditDoc(event: AuditEvent | undefined): AuditDoc | undefined;
export function auditDoc(event: AuditEvent | undefined): AuditDoc | undefined {
  if (!event) return undefined;
  const { id: _id, ...rest } = event;
  return { ...rest, _id: new ObjectId(), schemaVersion: SCHEMA_VERSION };
}

/** listAudit's indexes: its filters (project, actor) and its order (time, then insertion). */
const AUDIT_INDEXES = [
  { key: { project: 1, time: -1 }, name: 'audit_project_time' },
  { key: { actor: 1, time: -1 }, name: 'audit_actor_time' },
  { key: { time: -1, _id: -1 }, name: 'audit_time_id' },
] as const;

export class MongoAudit {
  private readonly writes = new Batcher<AuditDoc>(async (docs) => {
    try {
      await this.audit.insertMany(docs, { ordered: false });
      return docs.map(() => null);
    } catch (e) {
      // Only per-document errors leave the other records stored; anything else fails them all.
      return unorderedInsertErrors(e, docs.length);
    }
    // One insert in flight: the records of concurrent calls that arrive meanwhile go together
    // in the next (two in flight halved the batches and doubled the inserts of 8 writers).
  }, 256, 1);

  constructor(private readonly audit: Collection<AuditDoc>) {}

  /** Creates listAudit's indexes where the server can use them, and drops them where it cannot. */
  async init(): Promise<void> {
    if (await this.indexesServeQueries()) for (const i of AUDIT_INDEXES) await this.audit.createIndex(i.key, { name: i.name });
    else for (const i of AUDIT_INDEXES) await ignoreIndexNotFound(this.audit.dropIndex(i.name));
  }

  /** One record; those of concurrent calls share one insertMany (see Batcher). */
  async append(event: AuditEvent): Promise<void> {
    await this.writes.add(auditDoc(event));
  }

  /** The records of a group commit (made by auditDoc), before its changes: all or an error. */
  async insertCommitted(docs: Document[]): Promise<void> {
    try {
      await this.audit.insertMany(docs as AuditDoc[], { ordered: false });
    } catch (e) {
      throw unwrapBulk(e);
    }
  }

  async list(filter: AuditFilter): Promise<AuditEvent[]> {
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
  }

  /**
   * Whether the server can use a secondary index for listAudit at all. FerretDB 1.x (SQLite
   * handler) says in its explain that it passes neither the filter nor the sort down — it reads
   * the whole collection, whatever the indexes — so there the audit indexes only cost every
   * insert (two records per write) and are not kept. MongoDB's explain has no such fields.
   */
  private async indexesServeQueries(): Promise<boolean> {
    const plan = await this.audit.find({ project: '' }).sort({ time: -1, _id: -1 }).limit(1).explain();
    return !(plan.filterPushdown === false && plan.sortPushdown === false);
  }
}
