/**
 * Embedded store: one SQLite file (better-sqlite3, synchronous, WAL) under the data
 * directory. Every mutation is one transaction, which also bumps the project's version for
 * the change feed. Single server process only; see the MongoDB store for scale-out.
 */
import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';
import { alreadyExists, invalid, notFound, stale } from '../domain/errors.js';
import type { GroupHistoryEntry, Project, ProjectSnapshot } from '../domain/types.js';
import { decodeHistory, decodeRecord, encodeHistory, encodeRecord, sameKeys, SCHEMA_VERSION, withExecutionKeys } from './codec.js';
import {
  checkImport,
  HISTORY_BUDGET,
  historyCost,
  historyKept,
  historyKind,
  pageCut,
  storedBytes,
  type HistoryBudget,
  type HistoryPage,
  namedTokenActor,
  type AuditEvent, type AuditFilter, type RecordKind, type RecordTypes, type Store, type TokenRecord } from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS projects (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  kind TEXT NOT NULL, project TEXT NOT NULL, name TEXT NOT NULL, revision INTEGER NOT NULL,
  schema_version INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (project, kind, name));
CREATE TABLE IF NOT EXISTS group_history (
  project TEXT NOT NULL, name TEXT NOT NULL, revision INTEGER NOT NULL, data TEXT NOT NULL,
  bytes INTEGER, content INTEGER,
  PRIMARY KEY (project, name, revision));
CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tokens_k8s_service_account ON tokens (json_extract(data, '$.k8sServiceAccount'));
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, project TEXT NOT NULL,
  actor TEXT NOT NULL, action TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_project_time ON audit (project, time);
CREATE INDEX IF NOT EXISTS audit_time ON audit (time);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

export class SqliteStore implements Store {
  private readonly db: Database.Database;

  /** `file` is a path, or ':memory:' for tests; `history`: the per-group history budget. */
  constructor(
    file: string,
    private readonly history: HistoryBudget = HISTORY_BUDGET,
  ) {
    this.db = new Database(file);
    // Owner-only, like the token and key files beside it (SQLite gives its -wal/-shm the same mode).
    if (file !== ':memory:') chmodSync(file, 0o600);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
  }

  async init(): Promise<void> {
    this.db.exec(SCHEMA);
    // Added after the first release: a JSON list, NULL when the project adds none.
    const projectColumns = this.db.prepare('PRAGMA table_info(projects)').all() as { name: string }[];
    if (!projectColumns.some((c) => c.name === 'execution_keys')) this.db.exec('ALTER TABLE projects ADD COLUMN execution_keys TEXT');
    // Files written before the history budget: add its columns, weigh the entries and prune
    // every group to the budget, once (so `sg migrate` also copies a history within it).
    const columns = (this.db.prepare('PRAGMA table_info(group_history)').all() as { name: string }[]).map((c) => c.name);
    this.db.transaction(() => {
      if (!columns.includes('bytes')) this.db.exec('ALTER TABLE group_history ADD COLUMN bytes INTEGER');
      if (!columns.includes('content')) this.db.exec('ALTER TABLE group_history ADD COLUMN content INTEGER');
      const unweighed = this.db
        .prepare('SELECT DISTINCT project, name FROM group_history WHERE bytes IS NULL OR content IS NULL')
        .all() as { project: string; name: string }[];
      if (unweighed.length === 0) return;
      this.db.exec(
        "UPDATE group_history SET bytes = length(CAST(data AS BLOB)), content = (json_extract(data, '$.group') IS NOT NULL) WHERE bytes IS NULL OR content IS NULL",
      );
      for (const g of unweighed) this.pruneHistory(g.project, g.name);
    })();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async createProject(project: Project): Promise<void> {
    const r = this.db
      .prepare('INSERT INTO projects (name, created_at, version, execution_keys) VALUES (?, ?, 1, ?) ON CONFLICT DO NOTHING')
      .run(project.name, project.createdAt, encodeKeys(project.executionKeys));
    if (r.changes === 0) throw alreadyExists(`project ${project.name}`);
  }

  async getProject(name: string): Promise<Project | null> {
    const row = this.db.prepare(`SELECT ${PROJECT_COLUMNS} FROM projects WHERE name = ?`).get(name) as ProjectRow | undefined;
    return row ? projectOf(row) : null;
  }

  async listProjects(): Promise<Project[]> {
    const rows = this.db.prepare(`SELECT ${PROJECT_COLUMNS} FROM projects ORDER BY name`).all() as ProjectRow[];
    return rows.map(projectOf);
  }

  async setProjectExecutionKeys(name: string, expected: readonly string[], next: readonly string[]): Promise<boolean> {
    return this.db.transaction(() => {
      const row = this.db.prepare(`SELECT ${PROJECT_COLUMNS} FROM projects WHERE name = ?`).get(name) as ProjectRow | undefined;
      if (!row) throw notFound(`project ${name}`);
      if (!sameKeys(projectOf(row).executionKeys ?? [], expected)) return false;
      this.db.prepare('UPDATE projects SET execution_keys = ? WHERE name = ?').run(encodeKeys(next), name);
      // Snapshots carry the project: this replica's reloads it like after any other change.
      this.bump(name);
      return true;
    })();
  }

  async deleteProject(name: string): Promise<void> {
    this.db.transaction(() => {
      const r = this.db.prepare('DELETE FROM projects WHERE name = ?').run(name);
      if (r.changes === 0) throw notFound(`project ${name}`);
      this.db.prepare('DELETE FROM records WHERE project = ?').run(name);
      this.db.prepare('DELETE FROM group_history WHERE project = ?').run(name);
    })();
  }

  async getRecord<K extends RecordKind>(kind: K, project: string, name: string): Promise<RecordTypes[K] | null> {
    const row = this.db
      .prepare('SELECT data FROM records WHERE project = ? AND kind = ? AND name = ?')
      .get(project, kind, name) as { data: string } | undefined;
    return row ? decodeRecord(kind, JSON.parse(row.data)) : null;
  }

  async listRecords<K extends RecordKind>(kind: K, project: string): Promise<RecordTypes[K][]> {
    const rows = this.db
      .prepare('SELECT data FROM records WHERE project = ? AND kind = ? ORDER BY name')
      .all(project, kind) as { data: string }[];
    return rows.map((r) => decodeRecord(kind, JSON.parse(r.data)));
  }

  async createRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry, audit?: AuditEvent): Promise<number> {
    if (audit) await this.appendAudit(audit);
    return this.db.transaction(() => {
      const version = this.bump(record.project);
      const r = this.db
        .prepare(
          'INSERT INTO records (kind, project, name, revision, schema_version, data) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
        )
        .run(kind, record.project, record.name, record.revision, SCHEMA_VERSION, JSON.stringify(encodeRecord(kind, record)));
      if (r.changes === 0) throw alreadyExists(`${kind} ${record.project}/${record.name}`);
      if (history) this.writeHistory(history);
      return version;
    })();
  }

  async updateRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry, audit?: AuditEvent): Promise<number> {
    if (audit) await this.appendAudit(audit);
    return this.db.transaction(() => {
      const expected = record.revision - 1;
      const r = this.db
        .prepare(
          'UPDATE records SET revision = ?, schema_version = ?, data = ? WHERE project = ? AND kind = ? AND name = ? AND revision = ?',
        )
        .run(record.revision, SCHEMA_VERSION, JSON.stringify(encodeRecord(kind, record)), record.project, kind, record.name, expected);
      if (r.changes === 0) this.refuse(kind, record.project, record.name, expected);
      const version = this.bump(record.project);
      if (history) this.writeHistory(history);
      return version;
    })();
  }

  async deleteRecord(kind: RecordKind, project: string, name: string, expectedRevision: number, history?: GroupHistoryEntry, audit?: AuditEvent): Promise<number> {
    if (audit) await this.appendAudit(audit);
    return this.db.transaction(() => {
      const r = this.db
        .prepare('DELETE FROM records WHERE project = ? AND kind = ? AND name = ? AND revision = ?')
        .run(project, kind, name, expectedRevision);
      if (r.changes === 0) this.refuse(kind, project, name, expectedRevision);
      const version = this.bump(project);
      if (history) this.writeHistory(history);
      return version;
    })();
  }

  async listGroupHistory(project: string, name: string, page?: HistoryPage): Promise<GroupHistoryEntry[]> {
    if (!page) {
      const rows = this.db
        .prepare('SELECT data FROM group_history WHERE project = ? AND name = ? ORDER BY revision')
        .all(project, name) as { data: string }[];
      return rows.map((r) => decodeHistory(JSON.parse(r.data)));
    }
    // Sizes first (no data read), then only the rows the page answers.
    const before = page.before || Number.MAX_SAFE_INTEGER;
    const sizes = this.db
      .prepare('SELECT revision, bytes FROM group_history WHERE project = ? AND name = ? AND revision < ? ORDER BY revision DESC LIMIT ?')
      .all(project, name, before, Math.max(1, page.limit)) as { revision: number; bytes: number }[];
    const n = pageCut(sizes, page);
    if (n === 0) return [];
    const rows = this.db
      .prepare('SELECT data FROM group_history WHERE project = ? AND name = ? AND revision >= ? AND revision < ? ORDER BY revision')
      .all(project, name, sizes[n - 1]!.revision, before) as { data: string }[];
    return rows.map((r) => decodeHistory(JSON.parse(r.data)));
  }

  async getGroupRevision(project: string, name: string, revision: number): Promise<GroupHistoryEntry | null> {
    const row = this.db
      .prepare('SELECT data FROM group_history WHERE project = ? AND name = ? AND revision = ?')
      .get(project, name, revision) as { data: string } | undefined;
    return row ? decodeHistory(JSON.parse(row.data)) : null;
  }

  async groupHistoryBounds(project: string, name: string): Promise<{ first: number; last: number } | null> {
    const row = this.db
      .prepare('SELECT MIN(revision) AS first, MAX(revision) AS last FROM group_history WHERE project = ? AND name = ?')
      .get(project, name) as { first: number | null; last: number | null };
    return row.first === null || row.last === null ? null : { first: row.first, last: row.last };
  }

  async loadProject(name: string): Promise<ProjectSnapshot | null> {
    return this.db.transaction(() => {
      const project = this.db.prepare(`SELECT ${PROJECT_COLUMNS} FROM projects WHERE name = ?`).get(name) as ProjectRow | undefined;
      if (!project) return null;
      const rows = this.db.prepare('SELECT kind, name, data FROM records WHERE project = ?').all(name) as {
        kind: RecordKind;
        name: string;
        data: string;
      }[];
      const snapshot = {
        project: projectOf(project),
        workloads: new Map(),
        addons: new Map(),
        groups: new Map(),
      };
      const maps = { workload: snapshot.workloads, addon: snapshot.addons, group: snapshot.groups };
      for (const row of rows) maps[row.kind].set(row.name, decodeRecord(row.kind, JSON.parse(row.data)));
      return snapshot;
    })();
  }

  async projectVersions(): Promise<Map<string, number>> {
    const rows = this.db.prepare('SELECT name, version FROM projects').all() as { name: string; version: number }[];
    return new Map(rows.map((r) => [r.name, r.version]));
  }

  async createToken(token: TokenRecord): Promise<void> {
    this.db.prepare('INSERT INTO tokens (id, hash, data) VALUES (?, ?, ?)').run(token.id, token.hash, JSON.stringify(token));
  }

  async getTokenByHash(hash: string): Promise<TokenRecord | null> {
    const row = this.db.prepare('SELECT data FROM tokens WHERE hash = ?').get(hash) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as TokenRecord) : null;
  }

  async listTokens(): Promise<TokenRecord[]> {
    const rows = this.db.prepare('SELECT data FROM tokens ORDER BY rowid').all() as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as TokenRecord);
  }

  async getTokensByIds(ids: readonly string[]): Promise<TokenRecord[]> {
    if (ids.length === 0) return [];
    // One statement and one parameter however many ids (no bound-parameter limit).
    const rows = this.db.prepare('SELECT data FROM tokens WHERE id IN (SELECT value FROM json_each(?))').all(JSON.stringify(ids)) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as TokenRecord);
  }

  async getTokensByServiceAccount(account: string): Promise<TokenRecord[]> {
    const rows = this.db.prepare("SELECT data FROM tokens WHERE json_extract(data, '$.k8sServiceAccount') = ? ORDER BY rowid").all(account) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as TokenRecord);
  }

  async revokeToken(id: string): Promise<boolean> {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT data FROM tokens WHERE id = ?').get(id) as { data: string } | undefined;
      if (!row) return false;
      const token = { ...(JSON.parse(row.data) as TokenRecord), revoked: true };
      this.db.prepare('UPDATE tokens SET data = ? WHERE id = ?').run(JSON.stringify(token), id);
      this.db.prepare("INSERT INTO counters (name, value) VALUES ('tokens', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1").run();
      return true;
    })();
  }

  async tokenChanges(): Promise<number> {
    const row = this.db.prepare("SELECT value FROM counters WHERE name = 'tokens'").get() as { value: number } | undefined;
    return row?.value ?? 0;
  }

  private insertAudit: Database.Statement | undefined;

  async appendAudit(event: AuditEvent): Promise<void> {
    // Prepared once: audit inserts are the most frequent write.
    this.insertAudit ??= this.db.prepare('INSERT INTO audit (time, project, actor, action, data) VALUES (?, ?, ?, ?, ?)');
    this.insertAudit.run(event.time, event.project, event.actor, event.action, JSON.stringify(event));
  }

  async listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.project) (where.push('project = ?'), args.push(filter.project));
    if (filter.actor) {
      const named = namedTokenActor(filter.actor);
      if (named) (where.push('(actor = ? OR (actor >= ? AND actor < ?))'), args.push(filter.actor, `${named}(`, `${named})`));
      else (where.push('actor = ?'), args.push(filter.actor));
    }
    if (filter.action) (where.push('action = ?'), args.push(filter.action));
    if (filter.since) (where.push('time >= ?'), args.push(filter.since));
    if (filter.before) {
      const { time, id } = filter.before;
      if (id === undefined) (where.push('time < ?'), args.push(time));
      else {
        if (!/^\d{1,19}$/.test(id)) throw invalid('malformed audit cursor');
        where.push('(time < ? OR (time = ? AND id < ?))');
        args.push(time, time, Number(id));
      }
    }
    // An index holds the rowid after its columns, so (time) and (project, time) serve this order.
    const order = filter.byInsertion ? 'id DESC' : 'time DESC, id DESC';
    const sql = `SELECT id, data FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, filter.limit ?? 100) as { id: number; data: string }[];
    return rows.map((r) => ({ ...(JSON.parse(r.data) as AuditEvent), id: String(r.id) }));
  }

  async getMeta(key: string): Promise<string | null> {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  async listMeta(): Promise<Map<string, string>> {
    const rows = this.db.prepare('SELECT key, value FROM meta ORDER BY key').all() as { key: string; value: string }[];
    return new Map(rows.map((r) => [r.key, r.value]));
  }

  async listGroupHistoryNames(project: string): Promise<string[]> {
    const rows = this.db.prepare('SELECT DISTINCT name FROM group_history WHERE project = ? ORDER BY name').all(project) as { name: string }[];
    return rows.map((r) => r.name);
  }

  async importRecord<K extends RecordKind>(kind: K, project: string, name: string, record: RecordTypes[K] | null, history: GroupHistoryEntry[]): Promise<void> {
    const entries = checkImport(kind, project, name, record, history);
    this.db.transaction(() => {
      this.bump(project);
      const exists =
        this.db.prepare('SELECT 1 FROM records WHERE project = ? AND kind = ? AND name = ?').get(project, kind, name) ??
        (kind === 'group' ? this.db.prepare('SELECT 1 FROM group_history WHERE project = ? AND name = ?').get(project, name) : undefined);
      if (exists) throw alreadyExists(`${kind} ${project}/${name}`);
      if (record) {
        this.db
          .prepare('INSERT INTO records (kind, project, name, revision, schema_version, data) VALUES (?, ?, ?, ?, ?, ?)')
          .run(kind, project, name, record.revision, SCHEMA_VERSION, JSON.stringify(encodeRecord(kind, record)));
      }
      for (const h of entries) this.writeHistory(h, false);
      if (entries.length) this.pruneHistory(project, name);
    })();
  }

  /** Bumps the project's change-feed version and returns it; NOT_FOUND when the project does not exist. */
  private bump(project: string): number {
    const row = this.db.prepare('UPDATE projects SET version = version + 1 WHERE name = ? RETURNING version').get(project) as { version: number } | undefined;
    if (!row) throw notFound(`project ${project}`);
    return row.version;
  }

  /** Inside the write's transaction: the entry, then (unless `prune` is false) the budget. */
  private writeHistory(entry: GroupHistoryEntry, prune = true): void {
    const data = JSON.stringify(encodeHistory(entry));
    this.db
      .prepare('INSERT OR REPLACE INTO group_history (project, name, revision, data, bytes, content) VALUES (?, ?, ?, ?, ?, ?)')
      .run(entry.project, entry.name, entry.revision, data, storedBytes(data), historyKind(entry));
    if (prune) this.pruneHistory(entry.project, entry.name);
  }

  /**
   * Deletes the group's entries older than what the history budget keeps. Reads sizes only;
   * the group has at most the budget's revisions + 1 entries here.
   */
  private pruneHistory(project: string, name: string): void {
    const rows = this.db
      .prepare('SELECT revision, bytes, content FROM group_history WHERE project = ? AND name = ? ORDER BY revision DESC')
      .all(project, name) as { revision: number; bytes: number; content: number }[];
    const keep = historyKept(
      rows.map((r) => historyCost(r.bytes, r.content)),
      this.history,
    );
    if (keep < rows.length) {
      this.db.prepare('DELETE FROM group_history WHERE project = ? AND name = ? AND revision <= ?').run(project, name, rows[keep]!.revision);
    }
  }

  /** Explains why a conditional write changed nothing: missing record, or a stale revision. */
  private refuse(kind: RecordKind, project: string, name: string, expected: number): never {
    const row = this.db
      .prepare('SELECT revision FROM records WHERE project = ? AND kind = ? AND name = ?')
      .get(project, kind, name) as { revision: number } | undefined;
    if (!row) throw notFound(`${kind} ${project}/${name}`);
    throw stale(`${kind} ${project}/${name}`, expected, row.revision);
  }
}

interface ProjectRow {
  name: string;
  created_at: number;
  execution_keys: string | null;
}

const PROJECT_COLUMNS = 'name, created_at, execution_keys';

function projectOf(row: ProjectRow): Project {
  return withExecutionKeys({ name: row.name, createdAt: row.created_at }, row.execution_keys ? (JSON.parse(row.execution_keys) as string[]) : undefined);
}

function encodeKeys(keys: readonly string[] | undefined): string | null {
  return keys?.length ? JSON.stringify(keys) : null;
}
