/** Secret groups: every mutation goes through applyGroupChange, the store's CAS and history. */
import { applyGroupChange, changedKeys, CHANGE_ACTIONS, sameContent, type GroupChange } from '../domain/group-changes.js';
import { checkRestrictionReach } from '../domain/restriction-reach.js';
import { DomainError, alreadyExists, invalid, notFound, stale, tooLarge } from '../domain/errors.js';
import { LIMITS } from '../domain/limits.js';
import type { WorkloadChange } from '../domain/group-diff.js';
import { previewChange } from '../domain/preview.js';
import { isEligible } from '../domain/resolve.js';
import { describeNeeds, secretWriteNeeds } from '../domain/secret-write.js';
import { checkResolutionSizes } from '../domain/sizes.js';
import { valueView } from './value-view.js';
import { validateName } from '../domain/validation.js';
import type { GroupHistoryEntry, GroupType, ProjectSnapshot, Restrictions, SecretGroup } from '../domain/types.js';
import type { Principal } from '../security/principal.js';
import type { AuditEvent } from '../store/store.js';
import { MAX_WRITE_ATTEMPTS, type Deps } from './deps.js';
import { snapshotGroup } from './snapshot-group.js';
import { dependentsOf, RESTART_ACTION, signalRestart } from '../watch/restart-relay.js';
import { auditedStoreWrite, auditedWrite } from './audit.js';
import { historyTail, openHistory, revisionOf } from './group-history.js';
import { viewGroup, type Redacted } from './redact.js';
import { recordAnswerRead, recordValueReads } from './value-reads.js';

/** Changes to an existing group that read nothing but the group, addons and workloads (see plan). */
const SNAPSHOT_PLANNED: ReadonlySet<GroupChange['kind']> = new Set(['set', 'unset', 'settings', 'link', 'unlink', 'add-file', 'remove-file', 'delete', 'import']);

/** One page of ListGroupHistory; nextBefore 0: it reaches the oldest kept revision. */
export interface HistoryPage {
  revisions: { entry: GroupHistoryEntry; redacted: boolean }[];
  nextBefore: number;
  oldestKept: number;
}

/** A deleted group that RestoreGroup can bring back (names and metadata only). */
export interface DeletedGroup {
  name: string;
  type: GroupType;
  deletedRevision: number;
  deletedAt: number;
  deletedBy: string;
}

/** A group after a change: `unchanged` when the change altered nothing (no revision written). */
export type MutationResult = Redacted<SecretGroup> & { unchanged?: boolean; warnings?: string[] };

export class GroupsService {
  constructor(
    private readonly d: Deps,
    /** Marks restart requests with their origin replica (see RestartRelay). */
    private readonly replicaTag = 'replica local',
  ) {}

  async get(p: Principal, project: string, name: string): Promise<Redacted<SecretGroup>> {
    validateName('project', project);
    validateName('group name', name);
    p.requireProject(project);
    const g = await this.d.store.getRecord('group', project, name);
    if (!g) throw notFound(`group ${project}/${name}`);
    p.requireGroupAccess(project, g.type, 'keys');
    return recordValueReads(this.d, p, 'GetGroup', project, [viewGroup(p, g)])[0]!;
  }

  /** Groups of types the caller may see at least the keys of. */
  async list(p: Principal, project: string): Promise<Redacted<SecretGroup>[]> {
    validateName('project', project);
    p.requireProject(project);
    if (!(await this.d.store.getProject(project))) throw notFound(`project ${project}`);
    const groups = await this.d.store.listRecords('group', project);
    return recordValueReads(this.d, p, 'ListGroups', project, groups.filter((g) => p.level(g.type) !== 'none').map((g) => viewGroup(p, g)));
  }

  /**
   * Deleted groups whose history is kept, of types the caller may see the keys of: a name
   * with history and no live group, whose last entry is a deletion with content before it to
   * restore. A name RenameGroup left behind is not one (the group lives under its new name).
   */
  async listDeleted(p: Principal, project: string, live: readonly string[]): Promise<DeletedGroup[]> {
    const store = this.d.store;
    const names = (await store.listGroupHistoryNames(project)).filter((n) => !live.includes(n));
    const out: DeletedGroup[] = [];
    for (const name of names) {
      const tail = await historyTail(store, project, name);
      const last = tail?.last;
      const type = tail?.content?.group?.type;
      if (!last || last.group || !type || last.action === 'RenameGroup') continue;
      if (p.level(type) === 'none') continue;
      out.push({ name, type, deletedRevision: last.revision, deletedAt: last.time, deletedBy: last.actor });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * One page of the kept history, the newest first (LIMITS.historyPageSize, at most
   * historyPageMax revisions and historyPageBytes stored bytes); access is checked before a
   * revision is read.
   */
  async history(p: Principal, project: string, name: string, page: { size?: number; before?: number } = {}): Promise<HistoryPage> {
    const store = this.d.store;
    const { type, bounds } = await openHistory(store, p, project, name);
    const limit = Math.min(page.size || LIMITS.historyPageSize, LIMITS.historyPageMax);
    const entries = await store.listGroupHistory(project, name, { before: page.before, limit, maxBytes: LIMITS.historyPageBytes });
    const oldest = entries[0]?.revision;
    const nextBefore = oldest !== undefined && oldest > bounds.first ? oldest : 0;
    const out = entries.map((entry) => {
      if (!entry.group) return { entry, redacted: false };
      // Every revision is shown with the stricter of its own and the current type.
      const strict = p.seesValues(entry.group.type) && p.seesValues(type);
      const view = strict ? { record: entry.group, redacted: false } : viewGroup(p, { ...entry.group, type: 'secret' });
      return { entry: { ...entry, group: { ...view.record, type: entry.group.type } }, redacted: view.redacted };
    });
    const secretShown = out.some((o) => !o.redacted && o.entry.group && (o.entry.group.type === 'secret' || type === 'secret'));
    if (secretShown) {
      const keys = [...new Set(out.flatMap((o) => Object.keys(o.entry.group?.variables ?? {})))].sort();
      this.d.audit.recordRead({ time: this.d.now(), actor: p.actor, action: 'ListGroupHistory', project, target: `group ${project}/${name}`, keys, outcome: 'ok' });
    }
    return { revisions: out, nextBefore, oldestKept: bounds.first };
  }

  /**
   * Applies a change: validates, checks permissions and expected_revision, writes with CAS and
   * history, audits, refreshes the snapshot. Returns the new group (null after a delete).
   */
  async mutate(p: Principal, project: string, name: string, change: GroupChange, expectedRevision: number): Promise<MutationResult | null> {
    validateName('project', project);
    validateName('group name', name);
    p.requireProject(project);
    for (let attempt = 1; ; attempt++) {
      // On a store whose reads are round trips (MongoDB), the first attempt of a change to an
      // existing group plans against the in-memory snapshot without reading the store. That is
      // safe because every change bumps the group's revision and the commit checks it: a stale
      // snapshot costs one retry planned from the store, and anything the snapshot refuses or
      // finds unchanged is asked of the store again before it is answered.
      let fromSnapshot = attempt === 1 && this.d.store.remoteReads === true && SNAPSHOT_PLANNED.has(change.kind);
      try {
        let planned = fromSnapshot ? await this.plan(p, project, name, change, expectedRevision, undefined, 'snapshot').catch(() => null) : null;
        if (planned?.before && planned.after && sameContent(planned.before, planned.after)) planned = null;
        if (!planned) fromSnapshot = false;
        const { before, after, history, warnings } = planned ?? (await this.plan(p, project, name, change, expectedRevision));
        const action = CHANGE_ACTIONS[change.kind];
        // A change that alters nothing writes no revision and no write record; the values it
        // answers with are still a read.
        if (before && after && sameContent(before, after)) return { ...recordAnswerRead(this.d, p, action, project, viewGroup(p, before)), unchanged: true, warnings };
        const event = { actor: p.actor, action, project, target: `group ${project}/${name}`, keys: history.changedKeys };
        const version = await auditedStoreWrite(this.d.audit, event, this.d.now, (record) => this.write(project, name, before, after, history, record));
        await this.d.snapshots.applyLocal(project, 'group', name, after, version);
        return after ? { ...recordAnswerRead(this.d, p, action, project, viewGroup(p, after)), warnings } : null;
      } catch (e) {
        const lostRace = e instanceof DomainError && e.code === 'ABORTED' && ((!expectedRevision && change.kind !== 'create') || fromSnapshot);
        if (!lostRace || attempt >= MAX_WRITE_ATTEMPTS) throw e;
      }
    }
  }

  /** Dry run of a change: which workloads' resolutions would differ, keys only. */
  async preview(p: Principal, project: string, name: string, change: GroupChange, expectedRevision: number): Promise<WorkloadChange[]> {
    validateName('project', project);
    validateName('group name', name);
    p.requireProject(project);
    // Needs read on the group's type; values from other sources are masked below.
    const { after } = await this.plan(p, project, name, change, expectedRevision, 'read');
    const state = await this.d.snapshots.get(project);
    const before = state.snapshot;
    const groups = new Map(before.groups);
    if (after) groups.set(name, after);
    else groups.delete(name);
    const next: ProjectSnapshot = { ...before, groups };
    // Only what the caller could read anyway: hidden values are compared by presence.
    return previewChange(before, next, valueView(p));
  }

  /** Restart events to every live Watch of a workload the group reaches at runtime. */
  async restartDependents(p: Principal, project: string, name: string): Promise<{ workloads: string[]; delivered: number }> {
    await snapshotGroup(this.d.snapshots, p, project, name, 'write');
    const workloads = await dependentsOf(this.d.snapshots, project, name);
    // The audit record is also how other replicas learn of the request (RestartRelay).
    await this.d.audit.record({
      time: this.d.now(),
      actor: p.actor,
      action: RESTART_ACTION,
      project,
      target: `group ${project}/${name}`,
      keys: [],
      outcome: 'ok',
      detail: this.replicaTag,
    });
    await signalRestart(this.d.store);
    const delivered = this.d.hub.restart(project, new Set(workloads), name, p.actor);
    return { workloads, delivered };
  }

  /**
   * Reads the current group and computes the new one, checking permissions; writes nothing.
   * `from` snapshot: the group, addons and workloads as the in-memory snapshot has them (only
   * for SNAPSHOT_PLANNED changes, which read nothing else).
   */
  private async plan(
    p: Principal,
    project: string,
    name: string,
    change: GroupChange,
    expectedRevision: number,
    previewLevel?: 'read',
    from: 'store' | 'snapshot' = 'store',
  ) {
    const store = this.d.store;
    const snapshot = from === 'snapshot' ? (await this.d.snapshots.get(project)).snapshot : null;
    const current = snapshot ? (snapshot.groups.get(name) ?? null) : await store.getRecord('group', project, name);
    let effective = change;
    if (change.kind === 'restore') {
      if (!(await store.getProject(project))) throw notFound(`project ${project}`);
      if (current) throw alreadyExists(`group ${project}/${name} (only a deleted group can be restored)`);
      const tail = await historyTail(store, project, name);
      const last = tail?.last;
      const content = tail?.content?.group;
      if (!last || !content) throw notFound(`deleted group ${project}/${name}`);
      if (expectedRevision && last.revision !== expectedRevision) throw stale(`deleted group ${project}/${name}`, expectedRevision, last.revision);
      p.requireGroupAccess(project, content.type, previewLevel ?? 'write');
      const count = (await store.listRecords('group', project)).length;
      if (count >= LIMITS.groupsPerProject) throw tooLarge(`project ${project} already has ${count} groups, the limit`);
      effective = { kind: 'restore', revision: last.revision, to: content };
    } else if (change.kind === 'create') {
      if (!(await store.getProject(project))) throw notFound(`project ${project}`);
      if (current) throw alreadyExists(`group ${project}/${name}`);
      p.requireGroupAccess(project, change.group.type, previewLevel ?? 'write');
      const count = (await store.listRecords('group', project)).length;
      if (count >= LIMITS.groupsPerProject) throw tooLarge(`project ${project} already has ${count} groups, the limit`);
    } else {
      if (!current) throw notFound(`group ${project}/${name}`);
      if (expectedRevision && current.revision !== expectedRevision) {
        throw stale(`group ${project}/${name}`, expectedRevision, current.revision);
      }
      p.requireGroupAccess(project, current.type, previewLevel ?? 'write');
    }
    // Addon details are secret values: linking or unlinking one needs write on secret groups.
    if (!previewLevel && (change.kind === 'link' || change.kind === 'unlink')) p.requireSecretWrite(project, ['addon links']);
    if (change.kind === 'rollback') {
      const target = await revisionOf(store, project, name, change.revision);
      if (!target.group) throw invalid(`revision ${change.revision} of group ${project}/${name} is a deletion; roll back to an earlier one`);
      effective = { kind: 'rollback', revision: change.revision, to: target.group };
    }
    const addons = snapshot ? new Map(snapshot.addons) : new Map((await store.listRecords('addon', project)).map((a) => [a.name, a]));
    const after = applyGroupChange(current, effective, { addons, now: this.d.now(), actor: p.actor });
    if (after && after.type !== current?.type) p.requireGroupAccess(project, after.type, previewLevel ?? 'write');
    // A preview only shows keys, and values the caller may read (see preview): not applied there.
    if (!previewLevel) await this.requireSecretWriteFor(p, project, current, after);
    if (after) await this.checkResolutionSizes(p, project, after);
    if (after && change.kind === 'create') {
      // A group recreated after deletion continues its history's revision numbers.
      const last = await store.groupHistoryBounds(project, name);
      if (last) after.revision = last.last + 1;
    }
    const warnings = after ? await this.checkReach(project, name, current?.restrictions ?? null, after.restrictions, change, snapshot) : [];
    const history: GroupHistoryEntry = {
      project,
      name,
      revision: after?.revision ?? current!.revision + 1,
      time: this.d.now(),
      actor: p.actor,
      action: CHANGE_ACTIONS[change.kind],
      changedKeys: changedKeys(current, after),
      group: after,
      ...(change.kind === 'rollback' ? { rolledBackTo: change.revision } : {}),
    };
    return { before: current, after, history, warnings };
  }

  /** Restrictions that name nothing (see restriction-reach.ts), when this change sets them. */
  private async checkReach(
    project: string,
    name: string,
    before: Restrictions | null,
    after: Restrictions,
    change: GroupChange,
    snapshot: ProjectSnapshot | null,
  ): Promise<string[]> {
    const touches = change.kind === 'create' || (change.kind === 'settings' && change.restrictions !== undefined);
    if (!touches || !after.restricted) return [];
    const same = before && before.restricted && sameList(before.workloads, after.workloads) && sameList(before.tags, after.tags);
    if (same) return [];
    const allowEmpty = 'allowEmpty' in change && Boolean(change.allowEmpty);
    const workloads = snapshot ? [...snapshot.workloads.values()] : await this.d.store.listRecords('workload', project);
    return checkRestrictionReach(`${project}/${name}`, after, before, workloads, allowEmpty).warnings;
  }

  /**
   * Renames a group; its kept history follows it (within the history budget, as any import). The old name is deleted first (with the CAS on its
   * revision, its history ending in a RenameGroup deletion), then the group and its whole
   * history are written under the new name; if that fails, the old name is restored.
   */
  async rename(p: Principal, project: string, name: string, newName: string, expectedRevision: number): Promise<MutationResult> {
    validateName('project', project);
    validateName('group name', name);
    validateName('new group name', newName);
    p.requireProject(project);
    if (newName === name) throw invalid('new name is the current name');
    const store = this.d.store;
    const current = await store.getRecord('group', project, name);
    if (!current) throw notFound(`group ${project}/${name}`);
    p.requireGroupAccess(project, current.type, 'write');
    if (expectedRevision && current.revision !== expectedRevision) throw stale(`group ${project}/${name}`, expectedRevision, current.revision);
    if (await store.getRecord('group', project, newName)) throw alreadyExists(`group ${project}/${newName}`);
    if (await store.groupHistoryBounds(project, newName)) {
      throw alreadyExists(`history of a deleted group ${project}/${newName} (restore it, or choose another name)`);
    }
    const now = this.d.now();
    const revision = current.revision + 1;
    const renamed: SecretGroup = { ...current, name: newName, revision, updatedAt: now, updatedBy: p.actor };
    // Groups of equal priority merge in name order, so a rename can change which group's value
    // wins: it counts as moving the group, like a priority change. Only the renamed group's own
    // execution-controlling keys, files and addon links need checking: templates expand within
    // one group, so a rename changes the winner only of keys and paths this group defines (a
    // key held by another group of the same priority changes hands only if this group holds
    // it too, and then this group's copy is among the needs).
    await this.requireSecretWriteFor(p, project, current, renamed);
    // The name breaks priority ties, so it can change which value wins a key.
    await this.checkResolutionSizes(p, project, renamed, name);
    const entry = (n: string, group: SecretGroup | null): GroupHistoryEntry => ({
      project,
      name: n,
      revision,
      time: now,
      actor: p.actor,
      action: 'RenameGroup',
      changedKeys: [],
      group,
      ...(group ? { renamedFrom: name } : { renamedTo: newName }),
    });
    const history = (await store.listGroupHistory(project, name)).map((h) => ({ ...h, name: newName, group: h.group && { ...h.group, name: newName } }));
    const event = { actor: p.actor, action: 'RenameGroup', project, target: `group ${project}/${name} -> ${newName}`, keys: [] };
    await auditedWrite(this.d.audit, event, this.d.now, async () => {
      await store.deleteRecord('group', project, name, current.revision, entry(name, null));
      try {
        await store.importRecord('group', project, newName, renamed, [...history, entry(newName, renamed)]);
      } catch (e) {
        // Someone took the new name meanwhile: put the group back under its old name.
        const { renamedFrom: _from, ...restored } = entry(name, { ...current, revision: revision + 1 });
        await store.createRecord('group', { ...current, revision: revision + 1, updatedAt: now, updatedBy: p.actor }, {
          ...restored,
          revision: revision + 1,
          action: 'RestoreGroup',
        });
        throw e;
      }
    });
    await this.d.snapshots.applyLocal(project, 'group', name, null);
    await this.d.snapshots.applyLocal(project, 'group', newName, renamed);
    return recordAnswerRead(this.d, p, 'RenameGroup', project, viewGroup(p, renamed));
  }

  /**
   * Refuses a keys-only writer a change to what counts as secret (secret-write.ts). The
   * project's own execution-controlling keys are read from the store, not the snapshot: a list
   * an admin just extended must bind on every replica at once, and the change feed of a
   * MongoDB store does not move for a project setting.
   */
  private async requireSecretWriteFor(p: Principal, project: string, before: SecretGroup | null, after: SecretGroup | null): Promise<void> {
    if (p.canWriteSecrets(project)) return;
    const projectKeys = (await this.d.store.getProject(project))?.executionKeys ?? [];
    const needs = secretWriteNeeds(before, after, projectKeys);
    if (needs.length) p.requireSecretWrite(project, describeNeeds(needs, projectKeys));
  }

  /**
   * Refuses a group after which a workload it reaches would resolve to more than the
   * resolution limit (checked against this replica's snapshot; only sizes, nothing expanded).
   */
  private async checkResolutionSizes(p: Principal, project: string, after: SecretGroup, replacing = after.name): Promise<void> {
    const { snapshot } = await this.d.snapshots.get(project);
    const groups = new Map(snapshot.groups);
    groups.delete(replacing);
    groups.set(after.name, after);
    const reached = [...snapshot.workloads.values()].filter((w) => isEligible(after, w, 'runtime') || isEligible(after, w, 'build'));
    checkResolutionSizes({ groups, addons: snapshot.addons }, reached, valueView(p));
  }

  private async write(project: string, name: string, before: SecretGroup | null, after: SecretGroup | null, history: GroupHistoryEntry, audit: AuditEvent) {
    if (!before) return this.d.store.createRecord('group', after!, history, audit);
    if (!after) return this.d.store.deleteRecord('group', project, name, before.revision, history, audit);
    return this.d.store.updateRecord('group', after, history, audit);
  }
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
