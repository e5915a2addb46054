/**
 * The two faces of every resource: a stable JSON shape for scripts (`--json`) and a table for
 * people. JSON uses lower-case enum names, ISO times and `null` for values the server withheld.
 */
import type { AccessLevel, Role, TokenInfo } from '../gen/light/secretgroups/v1/access_service.js';
import type { ExplainResponse } from '../gen/light/secretgroups/v1/resolver_service.js';
import type {
  Addon,
  Conflict,
  Project,
  Provenance,
  Resolution,
  SecretFile,
  SecretGroup,
  ServiceAccountBinding,
  Source,
  Workload,
} from '../gen/light/secretgroups/v1/resources.js';
import { GroupType } from '../gen/light/secretgroups/v1/resources.js';
import type { GroupRevision, PreviewChangeResponse, RestartDependentsResponse } from '../gen/light/secretgroups/v1/secret_group_service.js';
import { describeRevision } from '../client/history-wording.js';
import { formatMode, GROUP_TYPE_NAMES, KIND_NAMES, SCOPE_NAMES } from './args.js';
import { fields, humanTime, isoTime, list, shownValue, sortedEntries, table, MASK } from './output.js';

const enumName = (names: Record<number, string>, value: number) => names[value] ?? 'unspecified';

/** A map with every value replaced by null when the server sent keys only. */
function valueMap(map: Record<string, string>, redacted: boolean): Record<string, string | null> {
  return Object.fromEntries(sortedEntries(map).map(([k, v]) => [k, redacted ? null : v]));
}

function fileJson(f: SecretFile, redacted: boolean) {
  return {
    path: f.path,
    mode: formatMode(f.mode),
    size: f.size || f.content.length,
    contentBase64: redacted ? null : Buffer.from(f.content).toString('base64'),
  };
}

// ---- projects ----

export const projectJson = (p: Project) => ({ name: p.name, createdAt: isoTime(p.createdAtMs) });

export function projectsTable(projects: Project[]): string {
  return table(['NAME', 'CREATED'], projects.map((p) => [p.name, humanTime(p.createdAtMs)]));
}

// ---- workloads ----

/** A Kubernetes service-account binding, as `workload get --json` and `workload bind --json` show it. */
export function bindingJson(b: ServiceAccountBinding) {
  return {
    serviceAccount: b.serviceAccount,
    workload: `${b.project}/${b.workload}`,
    scopes: b.scopes.map((s) => enumName(SCOPE_NAMES, s)),
    id: b.id,
    createdAt: isoTime(b.createdAtMs),
    createdBy: b.createdBy,
  };
}

function bindingsSection(bindings: readonly ServiceAccountBinding[]): string {
  if (!bindings.length) return '\nKubernetes service accounts: none\n';
  return (
    '\nKubernetes service accounts:\n' +
    table(
      ['SERVICE ACCOUNT', 'SCOPES', 'BOUND', 'BY'],
      bindings.map((b) => {
        const j = bindingJson(b);
        return [j.serviceAccount, list(j.scopes), humanTime(b.createdAtMs), b.createdBy || '-'];
      }),
    )
  );
}

/** `bindings`: given when the answer carries them (GetWorkload), shown then. */
export function workloadJson(w: Workload, bindings?: readonly ServiceAccountBinding[]) {
  return {
    project: w.project,
    name: w.name,
    kind: enumName(KIND_NAMES, w.kind),
    tags: [...w.tags],
    runtimeVariables: valueMap(w.runtimeVariables, w.valuesRedacted),
    buildArguments: valueMap(w.buildArguments, w.valuesRedacted),
    revision: w.revision,
    createdAt: isoTime(w.createdAtMs),
    updatedAt: isoTime(w.updatedAtMs),
    updatedBy: w.updatedBy,
    valuesRedacted: w.valuesRedacted,
    ...(bindings ? { serviceAccounts: bindings.map(bindingJson) } : {}),
  };
}

export function workloadsTable(workloads: Workload[]): string {
  return table(
    ['NAME', 'KIND', 'TAGS', 'VARIABLES', 'BUILD ARGS', 'REVISION'],
    workloads.map((w) => [
      w.name,
      enumName(KIND_NAMES, w.kind),
      list(w.tags),
      Object.keys(w.runtimeVariables).length,
      Object.keys(w.buildArguments).length,
      w.revision,
    ]),
  );
}

/** A workload's own variables may be secrets: values are masked unless showValues. */
export function workloadHuman(w: Workload, showValues: boolean, bindings?: readonly ServiceAccountBinding[]): string {
  let out = fields([
    ['Workload', `${w.project}/${w.name}`],
    ['Kind', enumName(KIND_NAMES, w.kind)],
    ['Tags', list(w.tags)],
    ['Revision', w.revision],
    ['Updated', `${humanTime(w.updatedAtMs)} by ${w.updatedBy || '-'}`],
  ]);
  const opts = { redacted: w.valuesRedacted, mask: !showValues };
  out += varsSection('Runtime variables', w.runtimeVariables, opts);
  out += varsSection('Build arguments', w.buildArguments, opts);
  if (bindings) out += bindingsSection(bindings);
  return out;
}

function varsSection(title: string, vars: Record<string, string>, opts: { redacted: boolean; mask: boolean }): string {
  const entries = sortedEntries(vars);
  if (!entries.length) return `\n${title}: none\n`;
  return `\n${title}:\n` + table(['KEY', 'VALUE'], entries.map(([k, v]) => [k, shownValue(v, opts)]));
}

// ---- addons ----

export function addonJson(a: Addon) {
  return {
    project: a.project,
    name: a.name,
    type: a.type,
    connectionDetails: valueMap(a.connectionDetails, a.valuesRedacted),
    revision: a.revision,
    createdAt: isoTime(a.createdAtMs),
    updatedAt: isoTime(a.updatedAtMs),
    updatedBy: a.updatedBy,
    valuesRedacted: a.valuesRedacted,
  };
}

export function addonsTable(addons: Addon[]): string {
  return table(
    ['NAME', 'TYPE', 'DETAILS', 'REVISION'],
    addons.map((a) => [a.name, a.type, list(Object.keys(a.connectionDetails).sort()), a.revision]),
  );
}

/** Connection details are credentials: masked unless showValues. */
export function addonHuman(a: Addon, showValues: boolean): string {
  return (
    fields([
      ['Addon', `${a.project}/${a.name}`],
      ['Type', a.type],
      ['Revision', a.revision],
      ['Updated', `${humanTime(a.updatedAtMs)} by ${a.updatedBy || '-'}`],
    ]) + varsSection('Connection details', a.connectionDetails, { redacted: a.valuesRedacted, mask: !showValues })
  );
}

// ---- groups ----

export function restrictionsText(g: SecretGroup): string {
  const r = g.restrictions;
  if (!r?.restricted) return 'no (every workload)';
  if (!r.workloads.length && !r.tags.length) return 'yes: reaches no workload';
  const parts: string[] = [];
  if (r.workloads.length) parts.push(`workloads ${r.workloads.join(', ')}`);
  if (r.tags.length) parts.push(`tags ${r.tags.join(', ')}`);
  return `yes: ${parts.join('; ')}`;
}

export function groupJson(g: SecretGroup) {
  const r = g.restrictions;
  return {
    project: g.project,
    name: g.name,
    description: g.description,
    type: enumName(GROUP_TYPE_NAMES, g.type),
    scope: enumName(SCOPE_NAMES, g.scope),
    priority: g.priority,
    restrictions: { restricted: r?.restricted ?? false, workloads: [...(r?.workloads ?? [])], tags: [...(r?.tags ?? [])] },
    variables: valueMap(g.variables, g.valuesRedacted),
    files: g.files.map((f) => fileJson(f, g.valuesRedacted)),
    addonLinks: g.addonLinks.map((l) => ({ addon: l.addon, keys: l.keys.map((k) => ({ key: k.key, alias: k.alias })) })),
    revision: g.revision,
    createdAt: isoTime(g.createdAtMs),
    updatedAt: isoTime(g.updatedAtMs),
    updatedBy: g.updatedBy,
    valuesRedacted: g.valuesRedacted,
  };
}

export function groupsTable(groups: SecretGroup[]): string {
  return table(
    ['NAME', 'TYPE', 'SCOPE', 'PRIORITY', 'RESTRICTED', 'KEYS', 'FILES', 'ADDONS', 'REVISION'],
    groups.map((g) => [
      g.name,
      enumName(GROUP_TYPE_NAMES, g.type),
      enumName(SCOPE_NAMES, g.scope),
      g.priority,
      g.restrictions?.restricted ? 'yes' : 'no',
      Object.keys(g.variables).length,
      g.files.length,
      list(g.addonLinks.map((l) => l.addon)),
      g.revision,
    ]),
  );
}

/**
 * Values of a secret group are masked unless showValues; config values are shown; values the
 * server withheld are marked hidden either way.
 */
export function groupHuman(g: SecretGroup, showValues: boolean): string {
  let out = fields([
    ['Group', `${g.project}/${g.name}`],
    ['Description', g.description || '-'],
    ['Type', enumName(GROUP_TYPE_NAMES, g.type)],
    ['Scope', enumName(SCOPE_NAMES, g.scope)],
    ['Priority', g.priority],
    ['Restricted', restrictionsText(g)],
    ['Revision', g.revision],
    ['Updated', `${humanTime(g.updatedAtMs)} by ${g.updatedBy || '-'}`],
  ]);
  const mask = g.type === GroupType.GROUP_TYPE_SECRET && !showValues;
  out += varsSection('Variables', g.variables, { redacted: g.valuesRedacted, mask });
  if (g.files.length) {
    out +=
      '\nFiles:\n' + table(['PATH', 'MODE', 'SIZE'], g.files.map((f) => [f.path, formatMode(f.mode), f.size || f.content.length]));
  }
  if (g.addonLinks.length) {
    const rows: string[][] = [];
    for (const l of g.addonLinks) {
      if (!l.keys.length) rows.push([l.addon, '(all keys)', '(default aliases)']);
      for (const k of l.keys) rows.push([l.addon, k.key, k.alias || '(default)']);
    }
    out += '\nAddon links:\n' + table(['ADDON', 'KEY', 'ALIAS'], rows);
  }
  if (mask && Object.keys(g.variables).length && !g.valuesRedacted) out += '\n(values masked; add --show-values to print them)\n';
  return out;
}

export function historyJson(revisions: GroupRevision[]) {
  return revisions.map((r) => ({
    revision: r.revision,
    time: isoTime(r.timeMs),
    actor: r.actor,
    action: r.action,
    change: describeRevision(r),
    changedKeys: [...r.changedKeys],
    deleted: r.deleted,
    renamedFrom: r.renamedFrom || null,
    renamedTo: r.renamedTo || null,
    rolledBackTo: r.rolledBackTo || null,
    group: r.group ? groupJson(r.group) : null,
  }));
}

/** Each revision in words, as the console's History tab says it (the RPC name is in --json's action). */
export function historyTable(revisions: GroupRevision[]): string {
  return table(
    ['REVISION', 'TIME', 'ACTOR', 'CHANGE'],
    revisions.map((r) => [r.revision, humanTime(r.timeMs), r.actor || '-', describeRevision(r)]),
  );
}

export function previewJson(res: PreviewChangeResponse) {
  return {
    changes: res.changes.map((c) => ({
      workload: c.workload,
      scope: enumName(SCOPE_NAMES, c.scope),
      addedKeys: [...c.addedKeys],
      removedKeys: [...c.removedKeys],
      changedKeys: [...c.changedKeys],
      addedFiles: [...c.addedFiles],
      removedFiles: [...c.removedFiles],
      changedFiles: [...c.changedFiles],
    })),
  };
}

export function previewHuman(res: PreviewChangeResponse): string {
  if (!res.changes.length) return "No workload's resolution would change.\n";
  return table(
    ['WORKLOAD', 'SCOPE', 'ADDED', 'REMOVED', 'CHANGED', 'FILES'],
    res.changes.map((c) => {
      const files = [
        ...c.addedFiles.map((f) => `+${f}`),
        ...c.removedFiles.map((f) => `-${f}`),
        ...c.changedFiles.map((f) => `~${f}`),
      ];
      return [c.workload, enumName(SCOPE_NAMES, c.scope), list(c.addedKeys), list(c.removedKeys), list(c.changedKeys), list(files)];
    }),
  );
}

export const restartJson = (res: RestartDependentsResponse) => ({ workloads: [...res.workloads], delivered: res.delivered });

export function restartHuman(res: RestartDependentsResponse): string {
  if (!res.workloads.length) return 'No workload depends on this group at runtime.\n';
  return (
    table(['WORKLOAD'], res.workloads.map((w) => [w])) +
    `\nRestart requested for ${res.workloads.length} workload(s); delivered to ${res.delivered} live subscriber(s).\n`
  );
}

// ---- resolution ----

export function sourceJson(s: Source | undefined) {
  if (!s) return null;
  return { kind: s.kind, group: s.group || null, priority: s.kind === 'workload' ? null : s.priority, addon: s.addon || null };
}

/** "group A (50)", "addon db via group A (50)", "workload". */
export function sourceText(s: Source | undefined): string {
  if (!s) return '-';
  if (s.kind === 'workload') return 'workload';
  if (s.kind === 'addon') return `addon ${s.addon} via group ${s.group} (${s.priority})`;
  return `group ${s.group} (${s.priority})`;
}

const provenanceJson = (p: Provenance) => ({
  key: p.key,
  winner: sourceJson(p.winner),
  shadowed: p.shadowed.map(sourceJson),
  conflict: p.conflict,
});

const conflictJson = (c: Conflict) => ({ key: c.key, priority: c.priority, groups: [...c.groups], winner: c.winner });

export function resolutionJson(r: Resolution, explain?: ExplainResponse) {
  const out: Record<string, unknown> = {
    project: r.project,
    workload: r.workload,
    scope: enumName(SCOPE_NAMES, r.scope),
    etag: r.etag,
    variables: valueMap(r.variables, false),
    files: r.files.map((f) => fileJson(f, false)),
    conflicts: r.conflicts.map(conflictJson),
  };
  if (explain) out.provenance = { variables: explain.variables.map(provenanceJson), files: explain.files.map(provenanceJson) };
  return out;
}

export function resolutionHuman(r: Resolution, explain?: ExplainResponse, mask = false): string {
  const byKey = new Map(explain?.variables.map((p) => [p.key, p]));
  const byPath = new Map(explain?.files.map((p) => [p.key, p]));
  const vars = sortedEntries(r.variables).map(([k, v]): [string, string] => [k, mask ? MASK : v]);
  let out = '';
  if (!vars.length) out += 'No variables.\n';
  else if (explain) {
    out += table(
      ['KEY', 'VALUE', 'FROM', 'SHADOWS'],
      vars.map(([k, v]) => {
        const p = byKey.get(k);
        return [k, v, sourceText(p?.winner), list((p?.shadowed ?? []).map(sourceText))];
      }),
    );
  } else out += table(['KEY', 'VALUE'], vars);
  if (r.files.length) {
    const head = explain ? ['PATH', 'MODE', 'SIZE', 'FROM', 'SHADOWS'] : ['PATH', 'MODE', 'SIZE'];
    out +=
      '\nFiles:\n' +
      table(
        head,
        r.files.map((f) => {
          const row: Array<string | number> = [f.path, formatMode(f.mode), f.size || f.content.length];
          if (explain) {
            const p = byPath.get(f.path);
            row.push(sourceText(p?.winner), list((p?.shadowed ?? []).map(sourceText)));
          }
          return row;
        }),
      );
  }
  out += conflictsText(r.conflicts);
  if (mask && vars.length) out += '\n(values masked; add --show-values to print them)\n';
  return out;
}

function conflictsText(conflicts: Conflict[]): string {
  if (!conflicts.length) return '';
  return (
    '\nConflicts (equal priority; the lexically first group wins):\n' +
    table(['KEY', 'PRIORITY', 'GROUPS', 'WINNER'], conflicts.map((c) => [c.key, c.priority, c.groups.join(', '), c.winner]))
  );
}

export function explainJson(e: ExplainResponse) {
  return {
    etag: e.etag,
    variables: e.variables.map(provenanceJson),
    files: e.files.map(provenanceJson),
    conflicts: e.conflicts.map(conflictJson),
  };
}

export function explainHuman(e: ExplainResponse): string {
  const rows = (ps: Provenance[]) => ps.map((p) => [p.key, sourceText(p.winner), list(p.shadowed.map(sourceText)), p.conflict ? 'yes' : 'no']);
  let out = e.variables.length ? table(['KEY', 'FROM', 'SHADOWS', 'CONFLICT'], rows(e.variables)) : 'No variables.\n';
  if (e.files.length) out += '\nFiles:\n' + table(['PATH', 'FROM', 'SHADOWS', 'CONFLICT'], rows(e.files));
  out += conflictsText(e.conflicts);
  return out;
}

// ---- access ----

// AccessLevel's values (NONE = 1 ... WRITE = 4; test/cli/output.test.ts checks the names): a
// type-only import keeps the access service's generated code out of commands that show no role.
const ACCESS_NAMES: Record<number, string> = { 1: 'none', 2: 'keys', 3: 'read', 4: 'write' } satisfies Partial<Record<AccessLevel, string>>;

/** revoked, else expired (by this machine's clock), else active. */
export function tokenStatus(t: TokenInfo, now = Date.now()): 'active' | 'expired' | 'revoked' {
  if (t.revoked) return 'revoked';
  return t.expiresAtMs && t.expiresAtMs <= now ? 'expired' : 'active';
}

/** What a workload token may resolve: "runtime" or "runtime, build"; "-" for role tokens. */
const tokenScope = (t: TokenInfo) => (t.scopes.length ? t.scopes.map((s) => enumName(SCOPE_NAMES, s)).join(', ') : '-');

export function tokenJson(t: TokenInfo) {
  return {
    status: tokenStatus(t),
    id: t.id,
    name: t.name,
    role: t.role,
    projects: [...t.projects],
    workload: t.workload && (t.workload.project || t.workload.workload) ? `${t.workload.project}/${t.workload.workload}` : null,
    scopes: t.scopes.map((s) => enumName(SCOPE_NAMES, s)),
    createdAt: isoTime(t.createdAtMs),
    expiresAt: isoTime(t.expiresAtMs),
    revoked: t.revoked,
    createdBy: t.createdBy,
    ...(t.k8sServiceAccount ? { k8sServiceAccount: t.k8sServiceAccount } : {}),
  };
}

export function tokensTable(tokens: TokenInfo[]): string {
  return table(
    ['ID', 'NAME', 'ROLE', 'PROJECTS', 'WORKLOAD', 'SCOPE', 'EXPIRES', 'STATUS', 'CREATED BY'],
    tokens.map((t) => {
      const j = tokenJson(t);
      return [t.id, t.name || '-', t.role, t.projects.length ? t.projects.join(', ') : '(all)', j.workload ?? '-', tokenScope(t), t.expiresAtMs ? humanTime(t.expiresAtMs) : 'never', j.status, t.createdBy || '-'];
    }),
  );
}

export function tokenHuman(t: TokenInfo): string {
  const j = tokenJson(t);
  const pairs: Array<[string, string]> = [
    ['Token ID', t.id],
    ['Name', t.name || '-'],
    ['Role', t.role],
    ['Projects', t.projects.length ? t.projects.join(', ') : '(all)'],
  ];
  if (j.workload) pairs.push(['Workload', j.workload], ['Scopes', list(j.scopes)]);
  if (t.k8sServiceAccount) pairs.push(['Kubernetes service account', t.k8sServiceAccount]);
  pairs.push(['Expires', t.expiresAtMs ? humanTime(t.expiresAtMs) : 'never'], ['Status', j.status]);
  return fields(pairs);
}

export function roleJson(r: Role) {
  return {
    name: r.name,
    description: r.description,
    secret: enumName(ACCESS_NAMES, r.secret),
    config: enumName(ACCESS_NAMES, r.config),
    projectAdmin: r.projectAdmin,
    tokenAdmin: r.tokenAdmin,
    resolve: r.resolve,
    builtin: r.builtin,
  };
}

export function rolesTable(roles: Role[]): string {
  const yn = (b: boolean) => (b ? 'yes' : 'no');
  return table(
    ['NAME', 'SECRET', 'CONFIG', 'PROJECT ADMIN', 'TOKEN ADMIN', 'RESOLVE', 'DESCRIPTION'],
    roles.map((r) => [r.name, enumName(ACCESS_NAMES, r.secret), enumName(ACCESS_NAMES, r.config), yn(r.projectAdmin), yn(r.tokenAdmin), yn(r.resolve), r.description]),
  );
}
