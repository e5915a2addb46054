/** Projects, workloads and addons. */
import { randomBytes } from 'node:crypto';
import { checkGroup } from '../domain/group-changes.js';
import { secretKeys } from '../domain/secret-fields.js';
import { checkResolutionSizes } from '../domain/sizes.js';
import { valueView } from './value-view.js';
import { clip, DomainError, echo, echoList, invalid, notFound, precondition, tooLarge } from '../domain/errors.js';
import { validateExecutionKeyPatterns } from '../domain/project-policy.js';
import { LIMITS } from '../domain/limits.js';
import { validateKey, validateName, validateTags, validateValue, validateVars } from '../domain/validation.js';
import type { Addon, Project, Vars, Workload, WorkloadKind } from '../domain/types.js';
import type { TokenRecord } from '../store/store.js';
import { workloadBindings } from './service-accounts.js';
import type { Principal } from '../security/principal.js';
import { MAX_WRITE_ATTEMPTS, type Deps } from './deps.js';
import { currentFor, updateWithRetry } from './records.js';
import { auditedWrite } from './audit.js';
import { viewAddon, viewWorkload, type Redacted } from './redact.js';
import { recordAnswerRead, recordValueReads } from './value-reads.js';

export type NewWorkload = Pick<Workload, 'project' | 'name' | 'kind' | 'tags' | 'runtimeVariables' | 'buildArguments'>;

export interface WorkloadUpdate {
  expectedRevision: number;
  kind?: WorkloadKind;
  tags?: string[];
  setRuntime: Vars;
  unsetRuntime: string[];
  setBuild: Vars;
  unsetBuild: string[];
}

export class ProjectsService {
  constructor(private readonly d: Deps) {}

  async createProject(p: Principal, name: string): Promise<Project> {
    validateName('project name', name);
    p.requireProjectAdmin(name);
    const project = { name, createdAt: this.d.now() };
    await this.audited(p, 'CreateProject', name, `project ${name}`, [], () => this.d.store.createProject(project));
    return project;
  }

  async getProject(p: Principal, name: string): Promise<Project> {
    validateName('project name', name);
    p.requireProject(name);
    const project = await this.d.store.getProject(name);
    if (!project) throw notFound(`project ${name}`);
    return project;
  }

  async listProjects(p: Principal): Promise<Project[]> {
    return (await this.d.store.listProjects()).filter((x) => p.canSeeProject(x.name));
  }

  /**
   * Adds names and prefixes to the project's own execution-controlling keys, or removes them
   * (project-policy.ts). Audited with the entries as keys; they are names, never values.
   */
  async updateExecutionKeys(p: Principal, name: string, add: readonly string[], remove: readonly string[]): Promise<Project> {
    validateName('project name', name);
    p.requireProjectAdmin(name);
    const added = validateExecutionKeyPatterns(add);
    const removed = validateExecutionKeyPatterns(remove);
    const both = added.filter((k) => removed.includes(k));
    if (both.length) throw invalid(`execution-controlling keys ${echoList(both)} are both added and removed`);
    for (let attempt = 1; ; attempt++) {
      const project = await this.d.store.getProject(name);
      if (!project) throw notFound(`project ${name}`);
      const current = project.executionKeys ?? [];
      const missing = removed.filter((k) => !current.includes(k));
      if (missing.length) throw invalid(`project ${name} has no execution-controlling keys ${echoList(missing)} to remove`);
      const next = validateExecutionKeyPatterns([...current.filter((k) => !removed.includes(k)), ...added]);
      if (next.length === current.length && next.every((k, i) => k === current[i])) return project;
      const detail = [added.length ? `added ${added.join(' ')}` : '', removed.length ? `removed ${removed.join(' ')}` : ''].filter(Boolean).join('; ');
      const event = { actor: p.actor, action: 'UpdateProjectExecutionKeys', project: name, target: `project ${name}`, keys: [...added, ...removed].sort(), detail };
      const ok = await auditedWrite(this.d.audit, event, this.d.now, () => this.d.store.setProjectExecutionKeys(name, current, next));
      if (ok) {
        await this.d.snapshots.refresh(name);
        return next.length ? { ...project, executionKeys: next } : { name: project.name, createdAt: project.createdAt };
      }
      // Another admin changed the list between the read and the write: apply ours to theirs.
      if (attempt >= MAX_WRITE_ATTEMPTS) throw new DomainError('ABORTED', `the execution-controlling keys of project ${name} changed meanwhile; try again`);
    }
  }

  async deleteProject(p: Principal, name: string, force: boolean): Promise<void> {
    validateName('project name', name);
    p.requireProjectAdmin(name);
    const snap = await this.d.store.loadProject(name);
    if (!snap) throw notFound(`project ${name}`);
    const held = snap.workloads.size + snap.addons.size + snap.groups.size;
    if (held > 0 && !force) {
      throw precondition(
        `project ${name} still holds ${snap.workloads.size} workloads, ${snap.addons.size} addons and ${snap.groups.size} groups; delete them first or pass force`,
      );
    }
    await this.audited(p, 'DeleteProject', name, `project ${name}`, [], () => this.d.store.deleteProject(name));
  }

  async createWorkload(p: Principal, w: NewWorkload): Promise<{ record: Workload; redacted: boolean }> {
    validateName('project', w.project);
    validateName('workload name', w.name);
    p.requireProjectAdmin(w.project);
    const now = this.d.now();
    const record: Workload = {
      project: w.project,
      name: w.name,
      uid: randomBytes(12).toString('hex'),
      kind: w.kind,
      tags: validateTags('tags', w.tags),
      runtimeVariables: validateVars('runtime variables', w.runtimeVariables),
      buildArguments: validateVars('build arguments', w.buildArguments),
      revision: 1,
      createdAt: now,
      updatedAt: now,
      updatedBy: p.actor,
    };
    await this.checkResolutionSize(p, w.project, record);
    const keys = secretKeys('workload', record);
    await this.audited(p, 'CreateWorkload', w.project, `workload ${w.project}/${w.name}`, keys, () => this.d.store.createRecord('workload', record), ['workload', w.name, record]);
    return recordAnswerRead(this.d, p, 'CreateWorkload', w.project, viewWorkload(p, record));
  }

  async getWorkload(p: Principal, project: string, name: string) {
    validateName('project', project);
    validateName('workload name', name);
    p.requireRecordRead(project);
    const w = await this.d.store.getRecord('workload', project, name);
    if (!w) throw notFound(`workload ${project}/${name}`);
    return recordValueReads(this.d, p, 'GetWorkload', project, [viewWorkload(p, w)])[0]!;
  }

  /** The Kubernetes service accounts bound to this workload (its current incarnation). Read after getWorkload's checks. */
  serviceAccountBindings(w: Pick<Workload, 'project' | 'name' | 'uid'>): Promise<TokenRecord[]> {
    return workloadBindings(this.d.store, this.d.now(), w.project, w.name, w.uid);
  }

  async listWorkloads(p: Principal, project: string) {
    validateName('project', project);
    p.requireRecordRead(project);
    await this.requireProjectExists(project);
    return recordValueReads(this.d, p, 'ListWorkloads', project, (await this.d.store.listRecords('workload', project)).map((w) => viewWorkload(p, w)));
  }

  async updateWorkload(p: Principal, project: string, name: string, u: WorkloadUpdate): Promise<Redacted<Workload> & { unchanged?: boolean }> {
    validateName('project', project);
    validateName('workload name', name);
    p.requireProjectAdmin(project);
    validateVars('runtime variables', u.setRuntime);
    validateVars('build arguments', u.setBuild);
    for (const k of u.unsetRuntime) validateKey('unset runtime variable', k);
    for (const k of u.unsetBuild) validateKey('unset build argument', k);
    const tags = u.tags ? validateTags('tags', u.tags) : undefined;
    const keys = [...Object.keys(u.setRuntime), ...u.unsetRuntime, ...Object.keys(u.setBuild), ...u.unsetBuild];
    const write = this.writer(p, 'UpdateWorkload', project, `workload ${project}/${name}`, keys);
    const build = (cur: Workload): Workload => {
      const runtimeVariables = { ...cur.runtimeVariables, ...u.setRuntime };
      const buildArguments = { ...cur.buildArguments, ...u.setBuild };
      for (const k of u.unsetRuntime) {
        if (!Object.hasOwn(runtimeVariables, k)) throw notFound(`runtime variable ${echo(k)} of workload ${project}/${name}`);
        delete runtimeVariables[k];
      }
      for (const k of u.unsetBuild) {
        if (!Object.hasOwn(buildArguments, k)) throw notFound(`build argument ${echo(k)} of workload ${project}/${name}`);
        delete buildArguments[k];
      }
      return {
        ...cur,
        kind: u.kind ?? cur.kind,
        tags: tags ?? cur.tags,
        runtimeVariables: validateVars('runtime variables', runtimeVariables),
        buildArguments: validateVars('build arguments', buildArguments),
        revision: cur.revision + 1,
        updatedAt: this.d.now(),
        updatedBy: p.actor,
      };
    };
    // Read-only pass first: an update that changes nothing writes no revision.
    const cur0 = await this.d.store.getRecord('workload', project, name);
    if (cur0 && (!u.expectedRevision || cur0.revision === u.expectedRevision)) {
      const next = build(cur0);
      const same =
        next.kind === cur0.kind &&
        next.tags.length === cur0.tags.length &&
        next.tags.every((t) => cur0.tags.includes(t)) &&
        sameVars(next.runtimeVariables, cur0.runtimeVariables) &&
        sameVars(next.buildArguments, cur0.buildArguments);
      if (same) return { ...recordAnswerRead(this.d, p, 'UpdateWorkload', project, viewWorkload(p, cur0)), unchanged: true };
    }
    const { after, version } = await updateWithRetry(
      this.d.store,
      'workload',
      project,
      name,
      u.expectedRevision,
      async (cur) => {
        const next = build(cur);
        await this.checkResolutionSize(p, project, next);
        return next;
      },
      (next) => write(() => this.d.store.updateRecord('workload', next)),
    );
    await this.d.snapshots.applyLocal(project, 'workload', name, after, version);
    return recordAnswerRead(this.d, p, 'UpdateWorkload', project, viewWorkload(p, after));
  }

  async deleteWorkload(p: Principal, project: string, name: string, expectedRevision: number): Promise<void> {
    validateName('project', project);
    validateName('workload name', name);
    p.requireProjectAdmin(project);
    const current = await currentFor(this.d.store, 'workload', project, name, expectedRevision);
    await this.audited(p, 'DeleteWorkload', project, `workload ${project}/${name}`, [], () =>
      this.d.store.deleteRecord('workload', project, name, current.revision),
    ['workload', name, null]);
  }

  async createAddon(p: Principal, project: string, name: string, type: string, details: Vars) {
    validateName('project', project);
    validateName('addon name', name);
    p.requireProjectAdmin(project);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(type)) throw invalid('addon type must be 1-63 letters, digits, ".", "_" or "-"');
    const now = this.d.now();
    const record: Addon = {
      project,
      name,
      type,
      connectionDetails: validateDetails(details),
      revision: 1,
      createdAt: now,
      updatedAt: now,
      updatedBy: p.actor,
    };
    await this.audited(p, 'CreateAddon', project, `addon ${project}/${name}`, secretKeys('addon', record), () => this.d.store.createRecord('addon', record), ['addon', name, record]);
    return recordAnswerRead(this.d, p, 'CreateAddon', project, viewAddon(p, record));
  }

  async getAddon(p: Principal, project: string, name: string) {
    validateName('project', project);
    validateName('addon name', name);
    p.requireRecordRead(project);
    const a = await this.d.store.getRecord('addon', project, name);
    if (!a) throw notFound(`addon ${project}/${name}`);
    return recordValueReads(this.d, p, 'GetAddon', project, [viewAddon(p, a)])[0]!;
  }

  async listAddons(p: Principal, project: string) {
    validateName('project', project);
    p.requireRecordRead(project);
    await this.requireProjectExists(project);
    return recordValueReads(this.d, p, 'ListAddons', project, (await this.d.store.listRecords('addon', project)).map((a) => viewAddon(p, a)));
  }

  /** Rotation: replaces the details; refused if a linking group would lose a key it needs. */
  async updateAddon(
    p: Principal,
    project: string,
    name: string,
    expectedRevision: number,
    details: Vars,
    how: { merge?: boolean; unset?: string[] } = {},
  ): Promise<Redacted<Addon> & { unchanged?: boolean }> {
    validateName('project', project);
    validateName('addon name', name);
    p.requireProjectAdmin(project);
    validateDetails(details);
    const unset = how.unset ?? [];
    if (unset.length && !how.merge) throw invalid('unset_details goes with merge (a replacement names every detail it keeps)');
    validateDetails(Object.fromEntries(unset.map((k) => [k, ''])));
    if (unset.some((k) => Object.hasOwn(details, k))) throw invalid('a detail cannot be both set and unset');
    const write = this.writer(p, 'UpdateAddon', project, `addon ${project}/${name}`, [...Object.keys(details), ...unset].sort());
    // Read-only pass first: a change that alters nothing writes no revision.
    const cur0 = await this.d.store.getRecord('addon', project, name);
    if (cur0 && (!expectedRevision || cur0.revision === expectedRevision)) {
      const same = sameVars(cur0.connectionDetails, nextDetails(cur0.connectionDetails, details, how.merge, unset, name));
      if (same) return { ...recordAnswerRead(this.d, p, 'UpdateAddon', project, viewAddon(p, cur0)), unchanged: true };
    }
    const { after, version } = await updateWithRetry(this.d.store, 'addon', project, name, expectedRevision, async (cur) => {
      const connectionDetails = nextDetails(cur.connectionDetails, details, how.merge, unset, name);
      validateDetails(connectionDetails);
      const next = { ...cur, connectionDetails, revision: cur.revision + 1, updatedAt: this.d.now(), updatedBy: p.actor };
      const addons = new Map((await this.d.store.listRecords('addon', project)).map((a) => [a.name, a]));
      addons.set(name, next);
      for (const g of await this.d.store.listRecords('group', project)) {
        if (!g.addonLinks.some((l) => l.addon === name)) continue;
        try {
          checkGroup(g, { addons });
        } catch (e) {
          throw precondition(`group ${g.name} links addon ${name} and would break: ${(e as Error).message}`);
        }
      }
      const { snapshot } = await this.d.snapshots.get(project);
      checkResolutionSizes({ groups: snapshot.groups, addons }, snapshot.workloads.values(), valueView(p));
      return next;
    }, (next) => write(() => this.d.store.updateRecord('addon', next)));
    await this.d.snapshots.applyLocal(project, 'addon', name, after, version);
    return recordAnswerRead(this.d, p, 'UpdateAddon', project, viewAddon(p, after));
  }

  async deleteAddon(p: Principal, project: string, name: string, expectedRevision: number): Promise<void> {
    validateName('project', project);
    validateName('addon name', name);
    p.requireProjectAdmin(project);
    const current = await currentFor(this.d.store, 'addon', project, name, expectedRevision);
    const linking = (await this.d.store.listRecords('group', project)).filter((g) => g.addonLinks.some((l) => l.addon === name));
    if (linking.length) {
      throw precondition(`addon ${name} is linked by group ${echoList(linking.map((g) => g.name))}; unlink it first`);
    }
    await this.audited(p, 'DeleteAddon', project, `addon ${project}/${name}`, [], () => this.d.store.deleteRecord('addon', project, name, current.revision), ['addon', name, null]);
  }

  /** Refuses a workload whose resolution would be larger than the limit (sizes only). */
  private async checkResolutionSize(p: Principal, project: string, w: Workload): Promise<void> {
    const { snapshot } = await this.d.snapshots.get(project);
    checkResolutionSizes(snapshot, [w], valueView(p));
  }

  private async requireProjectExists(project: string): Promise<void> {
    if (!(await this.d.store.getProject(project))) throw notFound(`project ${project}`);
  }

  /** Records the write in the audit log first (see auditedWrite). */
  private writer(p: Principal, action: string, project: string, target: string, keys: string[]) {
    const event = { actor: p.actor, action, project, target, keys: [...new Set(keys)].sort() };
    return <T>(write: () => Promise<T>) => auditedWrite(this.d.audit, event, this.d.now, write);
  }

  /**
   * An audited write, then the in-memory snapshot follows so resolutions and watchers do: the
   * written record patched in when given, else a reload (project-level changes).
   */
  private async audited(
    p: Principal,
    action: string,
    project: string,
    target: string,
    keys: string[],
    write: () => Promise<unknown>,
    written?: ['workload', string, Workload | null] | ['addon', string, Addon | null],
  ): Promise<void> {
    const result = await this.writer(p, action, project, target, keys)(write);
    // A record write resolves to the version it produced (see Store); other writes to nothing.
    const version = typeof result === 'number' ? result : undefined;
    if (written?.[0] === 'workload') await this.d.snapshots.applyLocal(project, 'workload', written[1], written[2], version);
    else if (written?.[0] === 'addon') await this.d.snapshots.applyLocal(project, 'addon', written[1], written[2], version);
    else await this.d.snapshots.refresh(project);
  }
}

/** Addon detail keys are free-form (host, password, db.port) but must be sane. */
function validateDetails(details: Vars): Vars {
  for (const [key, value] of Object.entries(details)) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(key)) {
      throw invalid(`connection detail key ${echo(key)} must be letters, digits, "_", "." or "-"`);
    }
    validateValue(`connection detail ${clip(key)}`, value);
  }
  if (Object.keys(details).length > LIMITS.keysPerGroup) {
    throw tooLarge(`connection details have more than ${LIMITS.keysPerGroup} keys`);
  }
  const total = Object.entries(details).reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v), 0);
  if (total > LIMITS.groupBytes) throw tooLarge(`connection details are larger than the limit of ${LIMITS.groupBytes} bytes in all`);
  return details;
}

/** The details after an update: replaced, or merged with some removed (NOT_FOUND when absent). */
function nextDetails(current: Vars, details: Vars, merge: boolean | undefined, unset: string[], addon: string): Vars {
  if (!merge) return details;
  const missing = unset.filter((k) => !Object.hasOwn(current, k));
  if (missing.length) throw notFound(`detail ${echoList(missing, false)} of addon ${addon}`);
  const next = { ...current, ...details };
  for (const k of unset) delete next[k];
  return next;
}

function sameVars(a: Vars, b: Vars): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}
