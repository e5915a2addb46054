/**
 * The one storage interface. SQLite (embedded default) and MongoDB implement it, and both
 * pass the same contract suite (test/contract/store-contract.ts).
 *
 * Concurrency: every update and delete names the revision it expects; the store refuses with
 * ABORTED (DomainError) when the record moved on, so no write is ever silently lost.
 * History: a group write and its history entry become visible together (one transaction in
 * SQLite; a pending entry inside the group document in MongoDB) — readers never see a group
 * and a history that disagree.
 */
import type { Addon, GroupHistoryEntry, Project, ProjectSnapshot, SecretGroup, Workload } from '../domain/types.js';

export interface RecordTypes {
  workload: Workload;
  addon: Addon;
  group: SecretGroup;
}
export type RecordKind = keyof RecordTypes;

/** A stored token: only the hash of its secret. */
export interface TokenRecord {
  id: string;
  hash: string;
  name: string;
  role: string;
  /** Empty: every project. */
  projects: string[];
  workload: { project: string; workload: string } | null;
  scopes: ('runtime' | 'build')[];
  createdAt: number;
  /** 0: never. */
  expiresAt: number;
  revoked: boolean;
  createdBy: string;
}

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
  actor?: string;
  action?: string;
  since?: number;
  limit?: number;
}

export interface Store {
  /** Creates tables/collections and indexes; idempotent. */
  init(): Promise<void>;
  close(): Promise<void>;

  createProject(project: Project): Promise<void>;
  getProject(name: string): Promise<Project | null>;
  listProjects(): Promise<Project[]>;
  /** Removes the project with every record, history entry and version of it. */
  deleteProject(name: string): Promise<void>;

  getRecord<K extends RecordKind>(kind: K, project: string, name: string): Promise<RecordTypes[K] | null>;
  listRecords<K extends RecordKind>(kind: K, project: string): Promise<RecordTypes[K][]>;
  /** record.revision must be 1. ALREADY_EXISTS when the name is taken; NOT_FOUND without the project. */
  createRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry): Promise<void>;
  /** Writes record (revision = previous + 1) only if the stored revision is record.revision - 1. */
  updateRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry): Promise<void>;
  /** Deletes only if the stored revision equals expectedRevision. */
  deleteRecord(
    kind: RecordKind,
    project: string,
    name: string,
    expectedRevision: number,
    history?: GroupHistoryEntry,
  ): Promise<void>;

  /** Every revision of a group (including after its deletion), oldest first. */
  listGroupHistory(project: string, name: string): Promise<GroupHistoryEntry[]>;

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
  /** False when no such token. */
  revokeToken(id: string): Promise<boolean>;

  appendAudit(event: AuditEvent): Promise<void>;
  listAudit(filter: AuditFilter): Promise<AuditEvent[]>;

  /** Small installation-wide settings (for example wrapped data keys). */
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;
}
