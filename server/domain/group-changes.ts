/**
 * Group mutations as pure functions: the service applies them before writing, and
 * PreviewChange applies them without writing. Each returns the complete new group (or null
 * for a deletion) after validating everything a save must check.
 */
import { checkAddonLinks, checkLinkType, defaultAlias, linkedKeys } from './addon-links.js';
import { alreadyExists, invalid, notFound, tooLarge } from './errors.js';
import { parseImport } from './import-parse.js';
import { LIMITS } from './limits.js';
import { checkExpandedGroup } from './sizes.js';
import { checkTemplates } from './templates.js';
import {
  validateFile,
  validateFilePath,
  validateKey,
  validateName,
  validatePriority,
  validateRestrictions,
  validateVars,
} from './validation.js';
import type { Addon, AddonLinkKey, GroupScope, GroupType, Restrictions, SecretFile, SecretGroup, Vars } from './types.js';

/** What a new group is made of; the rest (revision, times, files, links) the change fills in. */
export type NewGroup = Pick<SecretGroup, 'project' | 'name' | 'description' | 'type' | 'scope' | 'priority' | 'restrictions' | 'variables'>;

export type GroupChange =
  /** allowEmpty: keep restrictions that reach no workload (see restriction-reach.ts). */
  | { kind: 'create'; group: NewGroup; allowEmpty?: boolean }
  | { kind: 'delete' }
  | {
      kind: 'settings';
      description?: string;
      type?: GroupType;
      scope?: GroupScope;
      priority?: number;
      restrictions?: Restrictions;
      allowEmpty?: boolean;
    }
  /** literal: store every value verbatim (`${` escaped as `$${`), not as a template. */
  | { kind: 'set'; variables: Vars; literal?: boolean }
  | { kind: 'unset'; keys: string[] }
  | { kind: 'import'; format: 'dotenv' | 'json'; content: string; replace: boolean; literal?: boolean }
  | { kind: 'add-file'; file: SecretFile }
  | { kind: 'remove-file'; path: string }
  | { kind: 'link'; addon: string; keys: AddonLinkKey[] }
  | { kind: 'unlink'; addon: string }
  /** `to` is the group at `revision`, looked up from history by the caller. */
  | { kind: 'rollback'; revision: number; to?: SecretGroup }
  /** Undelete: `to` is the last content before the deletion, `revision` the deletion's. */
  | { kind: 'restore'; revision?: number; to?: SecretGroup };

/** The action name recorded in history and audit. */
export const CHANGE_ACTIONS: Record<GroupChange['kind'], string> = {
  create: 'CreateGroup',
  delete: 'DeleteGroup',
  settings: 'UpdateGroupSettings',
  set: 'SetVariables',
  unset: 'UnsetVariables',
  import: 'ImportVariables',
  'add-file': 'AddFile',
  'remove-file': 'RemoveFile',
  link: 'LinkAddon',
  unlink: 'UnlinkAddon',
  rollback: 'RollbackGroup',
  restore: 'RestoreGroup',
};

export interface ChangeContext {
  addons: ReadonlyMap<string, Addon>;
  now: number;
  actor: string;
}

/**
 * Applies a change to the current group (null when it does not exist) and returns the new
 * group with revision + 1, or null for a deletion. Throws on any invalid input.
 */
export function applyGroupChange(current: SecretGroup | null, change: GroupChange, ctx: ChangeContext): SecretGroup | null {
  if (change.kind === 'create') {
    const g = change.group;
    validateName('project', g.project);
    validateName('group name', g.name);
    return checkGroup(
      {
        project: g.project,
        name: g.name,
        description: g.description,
        type: g.type,
        scope: g.scope,
        priority: validatePriority('priority', g.priority),
        restrictions: validateRestrictions(g.restrictions),
        variables: validateVars('variables', g.variables),
        files: [],
        addonLinks: [],
        revision: 1,
        createdAt: ctx.now,
        updatedAt: ctx.now,
        updatedBy: ctx.actor,
      },
      ctx,
    );
  }
  if (change.kind === 'restore') {
    if (current) throw alreadyExists(`group ${current.project}/${current.name}`);
    if (!change.to || change.revision === undefined) throw notFound('deleted group');
    const to = change.to;
    return checkGroup(
      { ...to, variables: { ...to.variables }, files: [...to.files], addonLinks: [...to.addonLinks], revision: change.revision + 1, updatedAt: ctx.now, updatedBy: ctx.actor },
      ctx,
    );
  }
  if (!current) throw notFound('group');
  if (change.kind === 'delete') return null;
  const next: SecretGroup = {
    ...current,
    variables: { ...current.variables },
    files: [...current.files],
    addonLinks: [...current.addonLinks],
    revision: current.revision + 1,
    updatedAt: ctx.now,
    updatedBy: ctx.actor,
  };
  switch (change.kind) {
    case 'settings':
      if (change.description !== undefined) next.description = change.description;
      if (change.type !== undefined) next.type = change.type;
      if (change.scope !== undefined) next.scope = change.scope;
      if (change.priority !== undefined) next.priority = validatePriority('priority', change.priority);
      if (change.restrictions !== undefined) next.restrictions = validateRestrictions(change.restrictions);
      break;
    case 'set':
      if (Object.keys(change.variables).length === 0) throw invalid('no variables given');
      Object.assign(next.variables, validateVars('variables', change.literal ? literalVars(change.variables) : change.variables));
      break;
    case 'unset': {
      if (change.keys.length === 0) throw invalid('no keys given');
      for (const k of change.keys) validateKey('key', k);
      const missing = change.keys.filter((k) => !Object.hasOwn(next.variables, k));
      if (missing.length) throw notFound(`variable ${missing.join(', ')} in group ${current.name}`);
      for (const k of change.keys) delete next.variables[k];
      break;
    }
    case 'import': {
      const parsed = parseImport(change.format, change.content);
      const vars = validateVars('imported variables', change.literal ? literalVars(parsed) : parsed);
      next.variables = change.replace ? vars : { ...next.variables, ...vars };
      break;
    }
    case 'add-file': {
      // Re-adding a file without a mode keeps the mode it had.
      const had = change.file.mode === 0 ? next.files.find((f) => f.path === change.file.path) : undefined;
      const file = validateFile(had ? { ...change.file, mode: had.mode } : change.file);
      next.files = [...next.files.filter((f) => f.path !== file.path), file].sort((a, b) => (a.path < b.path ? -1 : 1));
      break;
    }
    case 'remove-file':
      validateFilePath('path', change.path);
      if (!next.files.some((f) => f.path === change.path)) throw notFound(`file ${change.path} in group ${current.name}`);
      next.files = next.files.filter((f) => f.path !== change.path);
      break;
    case 'link': {
      validateName('addon', change.addon);
      const keys = change.keys.map((k) => ({ key: k.key, alias: k.alias || defaultAlias(change.addon, k.key) }));
      for (const k of keys) validateKey('alias', k.alias);
      next.addonLinks = [...next.addonLinks.filter((l) => l.addon !== change.addon), { addon: change.addon, keys }].sort(
        (a, b) => (a.addon < b.addon ? -1 : 1),
      );
      break;
    }
    case 'unlink':
      if (!next.addonLinks.some((l) => l.addon === change.addon)) throw notFound(`link to addon ${change.addon} in group ${current.name}`);
      next.addonLinks = next.addonLinks.filter((l) => l.addon !== change.addon);
      break;
    case 'rollback': {
      const to = change.to;
      if (!to) throw notFound(`revision ${change.revision} of group ${current.name}`);
      Object.assign(next, {
        description: to.description,
        type: to.type,
        scope: to.scope,
        priority: to.priority,
        restrictions: to.restrictions,
        variables: { ...to.variables },
        files: [...to.files],
        addonLinks: [...to.addonLinks],
      });
      break;
    }
  }
  return checkLinkType(checkGroup(next, ctx));
}

/** Whole-group checks every save runs: sizes, addon links, templates, expanded size. */
export function checkGroup(group: SecretGroup, ctx: Pick<ChangeContext, 'addons'>): SecretGroup {
  validateVars('variables', group.variables);
  if (group.description.length > LIMITS.descriptionLength) {
    throw invalid(`description is longer than ${LIMITS.descriptionLength} characters`);
  }
  if (group.files.length > LIMITS.filesPerGroup) {
    throw tooLarge(`group has ${group.files.length} files, more than the limit of ${LIMITS.filesPerGroup}`);
  }
  if (groupBytes(group) > LIMITS.groupBytes) {
    throw tooLarge(`group ${group.name} would be larger than the limit of ${LIMITS.groupBytes} bytes`);
  }
  checkAddonLinks(group.addonLinks, group.variables, ctx.addons);
  const { values: linked } = addonValuesForCheck(group, ctx.addons);
  checkTemplates(group.variables, linked);
  // After checkTemplates: the reference graph is acyclic and its keys are defined.
  checkExpandedGroup(group, ctx.addons);
  return group;
}

function addonValuesForCheck(group: SecretGroup, addons: ReadonlyMap<string, Addon>) {
  // Only the alias names matter for template checks; values are not needed.
  const values: Vars = {};
  for (const link of group.addonLinks) {
    for (const k of linkedKeys(link, addons.get(link.addon))) values[k.alias] = '';
  }
  return { values };
}

export function groupBytes(group: SecretGroup): number {
  let n = 0;
  for (const [k, v] of Object.entries(group.variables)) n += k.length + Buffer.byteLength(v);
  for (const f of group.files) n += f.path.length + f.content.byteLength;
  return n;
}

/** Keys (and file paths) that differ between two versions of a group. */
export function changedKeys(before: SecretGroup | null, after: SecretGroup | null): string[] {
  const a = before?.variables ?? {};
  const b = after?.variables ?? {};
  const keys = new Set<string>();
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (a[k] !== b[k] || Object.hasOwn(a, k) !== Object.hasOwn(b, k)) keys.add(k);
  }
  const fa = new Map((before?.files ?? []).map((f) => [f.path, f]));
  const fb = new Map((after?.files ?? []).map((f) => [f.path, f]));
  for (const p of new Set([...fa.keys(), ...fb.keys()])) {
    const x = fa.get(p);
    const y = fb.get(p);
    if (!x || !y || x.mode !== y.mode || Buffer.compare(x.content, y.content) !== 0) keys.add(p);
  }
  return [...keys].sort();
}

/** A value stored verbatim: every `${` becomes `$${`, which resolution turns back into `${`. */
export const literalValue = (v: string) => v.split('${').join('$${');

export function literalVars(vars: Vars): Vars {
  const out: Vars = {};
  for (const [k, v] of Object.entries(vars)) out[k] = literalValue(v);
  return out;
}

/** True when two versions of a group hold the same content (what a revision would record). */
export function sameContent(a: SecretGroup, b: SecretGroup): boolean {
  const canon = (g: SecretGroup) =>
    JSON.stringify([
      g.description,
      g.type,
      g.scope,
      g.priority,
      g.restrictions.restricted,
      [...g.restrictions.workloads].sort(),
      [...g.restrictions.tags].sort(),
      Object.entries(g.variables).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
      g.addonLinks.map((l) => [l.addon, l.keys.map((k) => [k.key, k.alias])]),
    ]);
  if (canon(a) !== canon(b) || a.files.length !== b.files.length) return false;
  return a.files.every((f, i) => {
    const g = b.files[i]!;
    return f.path === g.path && f.mode === g.mode && Buffer.compare(f.content, g.content) === 0;
  });
}
