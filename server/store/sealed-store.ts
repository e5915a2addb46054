/**
 * Encryption at rest as a Store wrapper: every variable value, build argument, addon
 * connection detail and file content (also inside group history entries) — the fields
 * `domain/secret-fields.ts` names — is sealed with the project's data key before it reaches
 * the inner store, and opened on the way out. Names
 * (keys, file paths) stay plaintext so the store can still be inspected and indexed.
 *
 * Data keys: one per project, kept wrapped by the master key in the inner store's meta under
 * `datakey:<project>`, held unwrapped in memory once used. A project's data key is created when
 * the project is created (only the replica whose createProject succeeds writes it, so replicas
 * never race to write different keys) and kept when the project is deleted, so a recreated
 * project reuses it. Values name their data key id, so a value from another project is
 * reported as such.
 *
 * Master key rotation re-wraps data keys only; values are never rewritten.
 */
import { DomainError } from '../domain/errors.js';
import { holdsSecrets, mapSecrets } from '../domain/secret-fields.js';
import type { GroupHistoryEntry, Project, ProjectSnapshot, SecretFile, SecretGroup, Vars } from '../domain/types.js';
import {
  type Binding,
  newDataKey,
  openBytes,
  openString,
  parseWrappedDataKey,
  sealBytes,
  sealStrings,
  type SecretKey,
  unwrapDataKey,
  wrapDataKey,
} from '../security/envelope.js';
import type { AuditEvent, AuditFilter, HistoryPage, RecordKind, RecordTypes, Store, TokenRecord } from './store.js';

const META_PREFIX = 'datakey:';

export interface RotationReport {
  /** Projects whose data key was re-wrapped under the new master key. */
  rewrapped: string[];
  /** Projects whose data key was already wrapped by the new key (an interrupted rotation resumed). */
  alreadyCurrent: string[];
  /** Projects without a data key (nothing sealed yet). */
  withoutKey: string[];
}

type Transform = 'seal' | 'open';

export class SealedStore implements Store {
  /** The key new data keys are wrapped with. */
  private current: SecretKey;
  /** Keys accepted for unwrapping: the current one, plus the new one during a rotation. */
  private masters: SecretKey[];
  private readonly dataKeys = new Map<string, Promise<SecretKey>>();
  /**
   * Per project, the values opened by its last loadProject, keyed by binding and ciphertext.
   * A project reload after one change then decrypts only what changed. A hit needs the exact
   * ciphertext at the exact place that authenticated before, so tampering or swapping still
   * misses and fails. Holds what the server's snapshot holds anyway; one generation only.
   */
  private readonly opened = new Map<string, Map<string, string>>();

  constructor(
    private readonly inner: Store,
    masterKey: SecretKey,
  ) {
    this.current = masterKey;
    this.masters = [masterKey];
  }

  get remoteReads(): boolean {
    return this.inner.remoteReads === true;
  }

  /** The id of the master key in use (safe to log; it reveals nothing about the key). */
  get masterKeyId(): string {
    return this.current.id;
  }

  init(): Promise<void> {
    return this.inner.init();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  async createProject(project: Project): Promise<void> {
    await this.inner.createProject(project);
    await this.provisionDataKey(project.name);
  }

  getProject(name: string): Promise<Project | null> {
    return this.inner.getProject(name);
  }

  listProjects(): Promise<Project[]> {
    return this.inner.listProjects();
  }

  /** Names and prefixes, not values: stored as they are. */
  setProjectExecutionKeys(name: string, expected: readonly string[], next: readonly string[]): Promise<boolean> {
    return this.inner.setProjectExecutionKeys(name, expected, next);
  }

  /** The data key stays in meta (and in the cache): a recreated project reuses it. */
  async deleteProject(name: string): Promise<void> {
    this.opened.delete(name);
    await this.inner.deleteProject(name);
  }

  async getRecord<K extends RecordKind>(kind: K, project: string, name: string): Promise<RecordTypes[K] | null> {
    const r = await this.inner.getRecord(kind, project, name);
    return r ? this.openRecord(kind, r, project, name, { prev: this.opened.get(project) }) : null;
  }

  async listRecords<K extends RecordKind>(kind: K, project: string): Promise<RecordTypes[K][]> {
    const rs = await this.inner.listRecords(kind, project);
    const memo: Memo = { prev: this.opened.get(project) };
    return Promise.all(rs.map((r) => this.openRecord(kind, r, project, r.name, memo)));
  }

  async createRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry, audit?: AuditEvent): Promise<number> {
    const [r, h] = await this.sealWrite(kind, record, history);
    return this.inner.createRecord(kind, r, h, audit);
  }

  async updateRecord<K extends RecordKind>(kind: K, record: RecordTypes[K], history?: GroupHistoryEntry, audit?: AuditEvent): Promise<number> {
    const [r, h] = await this.sealWrite(kind, record, history);
    return this.inner.updateRecord(kind, r, h, audit);
  }

  async deleteRecord(kind: RecordKind, project: string, name: string, expectedRevision: number, history?: GroupHistoryEntry, audit?: AuditEvent): Promise<number> {
    const h = history ? await this.transformHistory(history, 'seal') : undefined;
    return this.inner.deleteRecord(kind, project, name, expectedRevision, h, audit);
  }

  async listGroupHistory(project: string, name: string, page?: HistoryPage): Promise<GroupHistoryEntry[]> {
    const entries = await this.inner.listGroupHistory(project, name, page);
    return Promise.all(
      entries.map((e) => {
        checkPlace('group history entry', project, name, e.project, e.name);
        return this.transformHistory(e, 'open');
      }),
    );
  }

  async getGroupRevision(project: string, name: string, revision: number): Promise<GroupHistoryEntry | null> {
    const e = await this.inner.getGroupRevision(project, name, revision);
    if (!e) return null;
    checkPlace('group history entry', project, name, e.project, e.name);
    return this.transformHistory(e, 'open');
  }

  groupHistoryBounds(project: string, name: string): Promise<{ first: number; last: number } | null> {
    return this.inner.groupHistoryBounds(project, name);
  }

  async loadProject(name: string): Promise<ProjectSnapshot | null> {
    const snap = await this.inner.loadProject(name);
    if (!snap) {
      this.opened.delete(name);
      return null;
    }
    const memo: Memo = { prev: this.opened.get(name), next: new Map() };
    const open = async <K extends RecordKind>(kind: K, m: ReadonlyMap<string, RecordTypes[K]>) =>
      new Map(await Promise.all([...m].map(async ([n, r]) => [n, await this.openRecord(kind, r, name, n, memo)] as const)));
    const result = {
      project: snap.project,
      workloads: await open('workload', snap.workloads),
      addons: await open('addon', snap.addons),
      groups: await open('group', snap.groups),
    };
    this.opened.set(name, memo.next!);
    return result;
  }

  projectVersions(): Promise<Map<string, number>> {
    return this.inner.projectVersions();
  }

  createToken(token: TokenRecord): Promise<void> {
    return this.inner.createToken(token);
  }

  getTokenByHash(hash: string): Promise<TokenRecord | null> {
    return this.inner.getTokenByHash(hash);
  }

  listTokens(): Promise<TokenRecord[]> {
    return this.inner.listTokens();
  }

  tokenChanges(): Promise<number> {
    return this.inner.tokenChanges();
  }

  getTokensByServiceAccount(account: string): Promise<TokenRecord[]> {
    return this.inner.getTokensByServiceAccount(account);
  }

  getTokensByIds(ids: readonly string[]): Promise<TokenRecord[]> {
    return this.inner.getTokensByIds(ids);
  }

  revokeToken(id: string): Promise<boolean> {
    return this.inner.revokeToken(id);
  }

  appendAudit(event: AuditEvent): Promise<void> {
    return this.inner.appendAudit(event);
  }

  listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.inner.listAudit(filter);
  }

  getMeta(key: string): Promise<string | null> {
    return this.inner.getMeta(key);
  }

  async setMeta(key: string, value: string): Promise<void> {
    // Data key entries are managed here only; overwriting one would orphan every value it sealed.
    if (key.startsWith(META_PREFIX)) throw new DomainError('INTERNAL', `meta key ${key} is reserved for data keys`);
    return this.inner.setMeta(key, value);
  }

  /** Wrapped data keys included, as stored (they are useless without the master key). */
  listMeta(): Promise<Map<string, string>> {
    return this.inner.listMeta();
  }

  listGroupHistoryNames(project: string): Promise<string[]> {
    return this.inner.listGroupHistoryNames(project);
  }

  /** Seals like a write, each value bound to its own revision. (`sg migrate` copies below this layer.) */
  async importRecord<K extends RecordKind>(kind: K, project: string, name: string, record: RecordTypes[K] | null, history: GroupHistoryEntry[]): Promise<void> {
    const r = record ? await this.transformRecord(kind, record, 'seal') : null;
    const h = await Promise.all(history.map((e) => this.transformHistory(e, 'seal')));
    return this.inner.importRecord(kind, project, name, r, h);
  }

  /**
   * Re-wraps every project's data key under `newKey`; values are not touched. Data keys
   * created while this runs are wrapped under `newKey` already. Safe to run again after an
   * interruption (keys already under `newKey` are verified and skipped). Afterwards only
   * `newKey` is needed.
   */
  async rotateMasterKey(newKey: SecretKey): Promise<RotationReport> {
    const old = this.current;
    this.masters = [newKey, ...this.masters.filter((m) => m.id !== newKey.id)];
    this.current = newKey;
    const report: RotationReport = { rewrapped: [], alreadyCurrent: [], withoutKey: [] };
    try {
      for (const { name } of await this.inner.listProjects()) {
        const raw = await this.readWrapped(name);
        if (raw === null) {
          report.withoutKey.push(name);
          continue;
        }
        const dataKey = this.unwrap(raw, name);
        if (parseWrappedDataKey(raw, name).mk === newKey.id) {
          report.alreadyCurrent.push(name);
        } else {
          // Read back: the old wrapping is gone now, so make sure the new one opens.
          await this.writeWrapped(name, dataKey, newKey, [newKey]);
          report.rewrapped.push(name);
        }
        this.dataKeys.set(name, Promise.resolve(dataKey));
      }
    } catch (e) {
      // Keep both keys usable so the rotation can simply be run again.
      this.masters = [newKey, old];
      throw e;
    }
    this.masters = [newKey];
    return report;
  }

  /**
   * Checks that the loaded master key opens the data key of every project; call at startup to
   * fail fast on a wrong key. FAILED_PRECONDITION naming the projects (never a key) otherwise.
   */
  async verifyMasterKey(): Promise<void> {
    const failed: string[] = [];
    let first: unknown;
    for (const { name } of await this.inner.listProjects()) {
      // A project without a data key has nothing sealed: nothing to check.
      if ((await this.readWrapped(name)) === null) continue;
      try {
        await this.dataKey(name, 'open');
      } catch (e) {
        failed.push(name);
        first ??= e;
      }
    }
    if (failed.length > 0) {
      const reason = first instanceof Error ? first.message : 'unknown error';
      throw new DomainError(
        'FAILED_PRECONDITION',
        `the master key ${this.current.id} cannot open the data keys of ${failed.length} project(s): ${failed.join(', ')}; first error: ${reason}`,
      );
    }
  }

  /** Called after a successful inner createProject: the project is new, so nothing is sealed yet. */
  private async provisionDataKey(project: string): Promise<void> {
    const raw = await this.readWrapped(project);
    if (raw !== null) {
      try {
        const key = this.unwrap(raw, project);
        this.dataKeys.set(project, Promise.resolve(key));
        return;
      } catch {
        // Left over from a deleted project of the same name and no longer openable (e.g. wrapped
        // by a master key rotated away since). Its records went with the project: replace it.
      }
    }
    const key = await this.writeWrapped(project, newDataKey(), this.current);
    this.dataKeys.set(project, Promise.resolve(key));
  }

  /** The project's data key, from the cache or meta. Sealing creates one if the project has none. */
  private dataKey(project: string, mode: Transform): Promise<SecretKey> {
    let p = this.dataKeys.get(project);
    if (!p) {
      p = this.loadDataKey(project, mode);
      this.dataKeys.set(project, p);
      // A failure is not cached: a later call retries (e.g. after the meta entry appears).
      p.catch(() => {
        if (this.dataKeys.get(project) === p) this.dataKeys.delete(project);
      });
    }
    return p;
  }

  private async loadDataKey(project: string, mode: Transform): Promise<SecretKey> {
    const raw = await this.readWrapped(project);
    if (raw !== null) return this.unwrap(raw, project);
    if (mode === 'open') {
      throw new DomainError('INTERNAL', `project ${project} has no data key, so its sealed values cannot be opened`);
    }
    // A project created without this wrapper (or a crash between createProject and writing
    // its key): create the key now, then adopt whatever meta holds in case another writer
    // got there at the same moment.
    return this.writeWrapped(project, newDataKey(), this.current, this.masters);
  }

  // The key ring: a project's data key is kept in meta wrapped by a master key.

  /** Meta's wrapping of the project's data key, as stored; null when there is none. */
  private readWrapped(project: string): Promise<string | null> {
    return this.inner.getMeta(META_PREFIX + project);
  }

  /** The data key a stored wrapping holds, opened with one of `masters`. */
  private unwrap(raw: string, project: string, masters: readonly SecretKey[] = this.masters): SecretKey {
    return unwrapDataKey(masters, parseWrappedDataKey(raw, project), project);
  }

  /**
   * Stores `key` wrapped by `master`. With `readBack`, reads meta again and answers the key it
   * holds then, opened with one of `readBack`: the check that the new wrapping opens, and the
   * key another writer stored at the same moment, should it have won. Else answers `key`.
   */
  private async writeWrapped(project: string, key: SecretKey, master: SecretKey, readBack?: readonly SecretKey[]): Promise<SecretKey> {
    await this.inner.setMeta(META_PREFIX + project, JSON.stringify(wrapDataKey(master, key, project)));
    if (!readBack) return key;
    return this.unwrap((await this.readWrapped(project)) ?? '', project, readBack);
  }

  private async sealWrite<K extends RecordKind>(
    kind: K,
    record: RecordTypes[K],
    history: GroupHistoryEntry | undefined,
  ): Promise<[RecordTypes[K], GroupHistoryEntry | undefined]> {
    const r = await this.transformRecord(kind, record, 'seal');
    if (!history) return [r, undefined];
    // The entry a write adds usually holds the very group it writes: its values are then sealed
    // once, at the record's place, and the entry says so (sealing was ~13% of a write's CPU).
    // That lets nothing new through: a ciphertext sealed there opens only as this revision of
    // this group, which is exactly what the entry holds.
    const same = record as SecretGroup;
    if (kind === 'group' && r !== record && history.group === record && history.revision === same.revision && history.name === same.name && history.project === same.project) {
      const entry: StoredEntry = { ...history, group: r as SecretGroup, sealedAt: 'record' };
      return [r, entry];
    }
    return [r, await this.transformHistory(history, 'seal')];
  }

  /**
   * Opens a record read from where (project, name) says. The binding uses the record's own
   * labels, so a record whose labels disagree with where it was stored was moved there.
   */
  private openRecord<K extends RecordKind>(
    kind: K,
    record: RecordTypes[K],
    project: string,
    name: string,
    memo: Memo,
  ): Promise<RecordTypes[K]> {
    checkPlace(kind, project, name, record.project, record.name);
    return this.transformRecord(kind, record, 'open', memo);
  }

  private async transformRecord<K extends RecordKind>(
    kind: K,
    record: RecordTypes[K],
    mode: Transform,
    memo?: Memo,
  ): Promise<RecordTypes[K]> {
    if (!holdsSecrets(kind, record)) return record;
    const key = await this.dataKey(record.project, mode);
    const at = { project: record.project, record: kind as string, name: record.name, revision: record.revision };
    return applyRecord(kind, record, key, at, mode, memo);
  }

  private async transformHistory(stored: GroupHistoryEntry, mode: Transform): Promise<GroupHistoryEntry> {
    const { sealedAt, ...entry } = stored as StoredEntry;
    if (!entry.group || !holdsSecrets('group', entry.group)) return entry;
    const key = await this.dataKey(entry.project, mode);
    const at: Place =
      sealedAt === 'record' && mode === 'open'
        ? { project: entry.project, record: 'group', name: entry.name, revision: entry.revision, shownAs: 'history' }
        : { project: entry.project, record: 'history', name: entry.name, revision: entry.revision };
    return { ...entry, group: applyRecord('group', entry.group, key, at, mode) };
  }
}

/**
 * A history entry as stored. `sealedAt: 'record'`: its values were sealed at the place of the
 * group record it was written with (same project, name and revision; see sealWrite), not at
 * the history entry's own place. Entries imported or written otherwise have no mark.
 */
type StoredEntry = GroupHistoryEntry & { sealedAt?: 'record' };

type Place = Omit<Binding, 'field' | 'key'>;

/** Opened-value cache for one read: consult `prev`, record into `next`. */
interface Memo {
  prev?: ReadonlyMap<string, string>;
  next?: Map<string, string>;
}

function checkPlace(what: string, project: string, name: string, labelledProject: string, labelledName: string): void {
  if (project !== labelledProject || name !== labelledName) {
    throw new DomainError(
      'INTERNAL',
      `stored ${what} ${project}/${name} is labelled ${labelledProject}/${labelledName} (tampered or moved)`,
    );
  }
}

function applyRecord<K extends RecordKind>(
  kind: K,
  record: RecordTypes[K],
  key: SecretKey,
  at: Place,
  mode: Transform,
  memo?: Memo,
): RecordTypes[K] {
  return mapSecrets(kind, record, {
    vars: (vars, field) => applyVars(vars, key, at, field, mode, memo),
    fileList: (list, field) => list.map((f) => applyFile(f, key, at, field, mode)),
  });
}

function applyVars(vars: Vars, key: SecretKey, at: Place, field: string, mode: Transform, memo?: Memo): Vars {
  if (mode === 'seal') return sealStrings(key, vars, { ...at, field });
  const out: Vars = {};
  // The memo key names the place and the ciphertext unambiguously (JSON of a fixed tuple).
  const place = memo ? JSON.stringify([at.project, at.record, at.name, at.revision ?? null, field]) : '';
  for (const [k, v] of Object.entries(vars)) {
    const id = memo ? `${place}${JSON.stringify([k, v])}` : '';
    let plain = memo?.prev?.get(id);
    if (plain === undefined) plain = openString(key, v, { ...at, field, key: k });
    memo?.next?.set(id, plain);
    out[k] = plain;
  }
  return out;
}

function applyFile(f: SecretFile, key: SecretKey, at: Place, field: string, mode: Transform): SecretFile {
  const b: Binding = { ...at, field, key: f.path };
  return { ...f, content: mode === 'seal' ? sealBytes(key, f.content, b) : openBytes(key, f.content, b) };
}
