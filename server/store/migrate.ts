/**
 * `sg migrate`: moves a whole embedded installation (DATA/sg.db) into an empty MongoDB store.
 *
 * Values stay encrypted throughout: everything is copied below the encryption layer, between
 * the two inner stores — sealed ciphertexts and wrapped data keys exactly as they are. A sealed
 * value is bound to (project, kind, name, revision, field, key), so records and history entries
 * are written at their own revisions (Store.importRecord) and still open in their new home.
 *
 * Order: check the master key opens the source; refuse a non-empty target; mark the target
 * "migration in progress" (meta `migration`); copy data keys, projects, records with their full
 * group history, tokens (hashes only) and the audit log; then verify — the source must not have
 * changed while copying, and every record, history entry, token, audit event and meta entry
 * must be equal in both stores, raw (ciphertext for ciphertext) and opened through SealedStore
 * with the same master key (decrypted in memory only, compared, never printed). Only then is
 * the marker set to "complete".
 *
 * Interrupted (crash, Ctrl-C, store outage): the target holds a partial copy marked "in
 * progress"; a rerun refuses the non-empty target and says to drop the target database and run
 * again. The source is only read, so nothing is lost. Progress lines name counts and names,
 * never values.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { DomainError, precondition } from '../domain/errors.js';
import type { GroupHistoryEntry } from '../domain/types.js';
import { loadMasterKey } from '../security/master-key.js';
import { MongoStore } from './mongo-store.js';
import { SealedStore } from './sealed-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { AuditEvent, RecordKind, Store } from './store.js';

/** Meta key of the migration marker in the target. */
export const MIGRATION_META = 'migration';
const ALL_AUDIT = 2 ** 31 - 1;

export interface MigrateOptions {
  /** Data directory of the embedded installation (holds sg.db, and master.key by default). */
  from: string;
  /** mongodb:// or mongodb+srv:// URI of the target; the database must be empty. */
  to: string;
  /** Master key file; otherwise SG_MASTER_KEY, otherwise FROM/master.key. */
  masterKeyFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Receives progress lines (counts and names, never values). */
  progress?: (line: string) => void;
}

export interface MigrateReport {
  database: string;
  projects: number;
  workloads: number;
  addons: number;
  groups: number;
  /** Deleted groups whose history was copied. */
  deletedGroups: number;
  historyEntries: number;
  tokens: number;
  auditEvents: number;
  /** Meta entries copied, wrapped data keys included. */
  metaEntries: number;
  /** Where the master key came from: the target's servers need the same key. */
  masterKey: { source: 'env' | 'file'; path?: string; id: string };
}

interface Marker {
  state: 'in-progress' | 'complete';
  startedAt: number;
  completedAt?: number;
}

export async function migrate(opts: MigrateOptions): Promise<MigrateReport> {
  const say = opts.progress ?? (() => undefined);
  if (!/^mongodb(\+srv)?:\/\//.test(opts.to)) {
    throw new DomainError('INVALID_ARGUMENT', '--to must be a mongodb:// or mongodb+srv:// URI');
  }
  const file = join(opts.from, 'sg.db');
  if (!existsSync(file)) throw precondition(`no embedded store at ${file}; --from must be the data directory of \`sg serve\``);
  const master = loadMasterKey({ dataDir: opts.from, keyFile: opts.masterKeyFile, env: opts.env ?? process.env, allowCreate: false });
  if (master.pendingRotation) {
    throw precondition('a master key rotation of this installation was interrupted; finish it (run it again) before migrating');
  }

  const source = new SqliteStore(file);
  const target = new MongoStore(opts.to);
  try {
    await source.init();
    const sealedSource = new SealedStore(source, master.key);
    await sealedSource.verifyMasterKey();
    say(`source ${file} opens with master key ${sealedSource.masterKeyId}`);

    await target.init();
    await refuseNonEmpty(target);
    const before = await fingerprint(source);
    const startedAt = Date.now();
    await target.setMeta(MIGRATION_META, JSON.stringify({ state: 'in-progress', startedAt } satisfies Marker));
    say(`copying into database ${target.databaseName} (marked "migration in progress" until verified)`);

    const report = await copy(source, target, say);
    say('verifying: every record and history entry, raw and decrypted in memory');
    if (!isDeepStrictEqual(await fingerprint(source), before)) {
      throw precondition(
        `the source changed while it was being copied: stop every \`sg serve\` using ${opts.from}, drop the target database and run sg migrate again`,
      );
    }
    await verify(source, target, master.key, report);
    await target.setMeta(MIGRATION_META, JSON.stringify({ state: 'complete', startedAt, completedAt: Date.now() } satisfies Marker));
    say('verified; migration complete');
    return {
      ...report,
      database: target.databaseName,
      masterKey: { source: master.source, ...(master.path ? { path: master.path } : {}), id: sealedSource.masterKeyId },
    };
  } finally {
    await Promise.allSettled([source.close(), target.close()]);
  }
}

async function refuseNonEmpty(target: MongoStore): Promise<void> {
  const [projects, tokens, meta, audit] = await Promise.all([
    target.listProjects(),
    target.listTokens(),
    target.listMeta(),
    target.listAudit({ limit: 1 }),
  ]);
  if (projects.length + tokens.length + meta.size + audit.length === 0) return;
  const marker = parseMarker(meta.get(MIGRATION_META));
  const what =
    marker?.state === 'in-progress'
      ? 'it holds the partial copy of an interrupted sg migrate'
      : marker?.state === 'complete'
        ? 'an earlier sg migrate already completed into it'
        : `it holds ${projects.length} project(s), ${tokens.length} token(s), ${meta.size} setting(s)${audit.length ? ' and audit events' : ''}`;
  throw precondition(
    `the target database ${target.databaseName} is not empty (${what}); sg migrate copies only into an empty database. ` +
      'If it is a copy you do not need (an interrupted migration), drop that database and run sg migrate again; otherwise pick another database name in the URI',
  );
}

function parseMarker(raw: string | undefined): Marker | null {
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Marker;
  } catch {
    return null;
  }
}

/** What must not change while copying: every project's change-feed version, tokens, audit, meta. */
async function fingerprint(store: Store): Promise<unknown> {
  const [versions, tokens, audit, meta] = await Promise.all([
    store.projectVersions(),
    store.listTokens(),
    store.listAudit({ limit: 1, byInsertion: true }),
    store.listMeta(),
  ]);
  return { versions: [...versions].sort(), tokens, lastAudit: audit[0]?.id ?? null, meta: [...meta] };
}

type Counts = Omit<MigrateReport, 'database' | 'masterKey'>;

async function copy(source: Store, target: Store, say: (line: string) => void): Promise<Counts> {
  const counts: Counts = { projects: 0, workloads: 0, addons: 0, groups: 0, deletedGroups: 0, historyEntries: 0, tokens: 0, auditEvents: 0, metaEntries: 0 };

  // Data keys first: without them nothing copied after could be opened.
  for (const [key, value] of await source.listMeta()) {
    await target.setMeta(key, value);
    counts.metaEntries++;
  }
  say(`meta: ${counts.metaEntries} entries (wrapped data keys included, copied as stored)`);

  const projects = await source.listProjects();
  for (const [i, project] of projects.entries()) {
    await target.createProject(project);
    const p = project.name;
    const n = { workloads: 0, addons: 0, groups: 0, deleted: 0, history: 0 };
    for (const kind of ['workload', 'addon'] as const) {
      for (const r of await source.listRecords(kind, p)) {
        await target.importRecord(kind, p, r.name, r, []);
        n[kind === 'workload' ? 'workloads' : 'addons']++;
      }
    }
    const live = new Map((await source.listRecords('group', p)).map((g) => [g.name, g]));
    const names = [...new Set([...live.keys(), ...(await source.listGroupHistoryNames(p))])].sort();
    for (const name of names) {
      const history = await source.listGroupHistory(p, name);
      await target.importRecord('group', p, name, live.get(name) ?? null, history);
      if (live.has(name)) n.groups++;
      else n.deleted++;
      n.history += history.length;
    }
    counts.projects++;
    counts.workloads += n.workloads;
    counts.addons += n.addons;
    counts.groups += n.groups;
    counts.deletedGroups += n.deleted;
    counts.historyEntries += n.history;
    say(
      `project ${i + 1}/${projects.length} ${p}: ${n.workloads} workloads, ${n.addons} addons, ${n.groups} groups` +
        `${n.deleted ? ` (+${n.deleted} deleted, history kept)` : ''}, ${n.history} history entries`,
    );
  }

  for (const token of await source.listTokens()) {
    await target.createToken(token);
    counts.tokens++;
  }
  say(`tokens: ${counts.tokens} (hashes only)`);

  // Oldest first, so the target's order (newest first) matches the source's.
  const audit = (await source.listAudit({ limit: ALL_AUDIT })).reverse();
  for (const event of audit) {
    await target.appendAudit(withoutId(event));
    counts.auditEvents++;
    if (counts.auditEvents % 1000 === 0) say(`audit events: ${counts.auditEvents}/${audit.length}`);
  }
  say(`audit events: ${counts.auditEvents}`);
  return counts;
}

function withoutId(e: AuditEvent): AuditEvent {
  const { id: _id, ...rest } = e;
  return rest;
}

/**
 * Compares the two stores, raw and opened through SealedStore with the same master key. A
 * difference is reported by place only (kind, project, name), never by value.
 */
async function verify(source: Store, target: MongoStore, masterKey: ConstructorParameters<typeof SealedStore>[1], counts: Counts): Promise<void> {
  const fail = (what: string) =>
    new DomainError('INTERNAL', `verification failed: ${what} differs between the source and the copy; drop the target database and run sg migrate again`);
  const sealedSource = new SealedStore(source, masterKey);
  const sealedTarget = new SealedStore(target, masterKey);
  // The copy must open with the same master key the replicas will use.
  await sealedTarget.verifyMasterKey();

  const targetMeta = await target.listMeta();
  targetMeta.delete(MIGRATION_META);
  if (!isDeepStrictEqual(targetMeta, await source.listMeta())) throw fail('meta (wrapped data keys)');

  const projects = await source.listProjects();
  if (!isDeepStrictEqual(await target.listProjects(), projects)) throw fail('the project list');
  let history = 0;
  for (const { name: p } of projects) {
    for (const [label, store] of [
      ['raw', [source, target]],
      ['decrypted', [sealedSource, sealedTarget]],
    ] as const) {
      const [a, b] = await Promise.all([store[0].loadProject(p), store[1].loadProject(p)]);
      if (!isDeepStrictEqual(a, b)) throw fail(`project ${p} (${label} records)`);
      for (const kind of ['workload', 'addon', 'group'] as RecordKind[]) {
        const [x, y] = await Promise.all([store[0].listRecords(kind, p), store[1].listRecords(kind, p)]);
        if (!isDeepStrictEqual(x, y)) throw fail(`the ${kind}s of project ${p} (${label})`);
      }
    }
    const names = await source.listGroupHistoryNames(p);
    if (!isDeepStrictEqual(await target.listGroupHistoryNames(p), names)) throw fail(`the groups with history of project ${p}`);
    for (const name of names) {
      const pairs: [Store, Store][] = [
        [source, target],
        [sealedSource, sealedTarget],
      ];
      for (const [i, [s, t]] of pairs.entries()) {
        const [a, b]: GroupHistoryEntry[][] = await Promise.all([s.listGroupHistory(p, name), t.listGroupHistory(p, name)]);
        if (!isDeepStrictEqual(a, b)) throw fail(`the history of group ${p}/${name} (${i ? 'decrypted' : 'raw'})`);
        if (i === 0) history += a.length;
      }
    }
  }
  if (history !== counts.historyEntries) throw fail('the number of history entries');

  const tokens = await source.listTokens();
  if (!isDeepStrictEqual(await target.listTokens(), tokens) || tokens.length !== counts.tokens) throw fail('the token list');

  const [a, b] = await Promise.all([source.listAudit({ limit: ALL_AUDIT }), target.listAudit({ limit: counts.auditEvents + 1 })]);
  if (a.length !== counts.auditEvents || !isDeepStrictEqual(a.map(withoutId), b.map(withoutId))) throw fail('the audit log');
}
