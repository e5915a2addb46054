/** Generated protobuf messages <-> domain types. The domain never imports generated code. */
import { invalid } from '../domain/errors.js';
import type * as d from '../domain/types.js';
import { AccessLevel, type AuditEvent as PbAuditEvent, type Role as PbRole, type TokenInfo } from '../../gen/secretgroups/v1/access_service.js';
import {
  GroupType,
  Scope,
  WorkloadKind,
  type Addon as PbAddon,
  type Conflict as PbConflict,
  type Provenance as PbProvenance,
  type Resolution as PbResolution,
  type Restrictions as PbRestrictions,
  type SecretFile as PbSecretFile,
  type ServiceAccountBinding,
  type SecretGroup as PbGroup,
  type Source as PbSource,
  type Workload as PbWorkload,
} from '../../gen/secretgroups/v1/resources.js';
import type { Role } from '../security/roles.js';
import type { AuditEvent, TokenRecord } from '../store/store.js';

export function kindFromPb(k: WorkloadKind, fallback: d.WorkloadKind = 'service'): d.WorkloadKind {
  if (k === WorkloadKind.WORKLOAD_KIND_SERVICE) return 'service';
  if (k === WorkloadKind.WORKLOAD_KIND_JOB) return 'job';
  if (k === WorkloadKind.WORKLOAD_KIND_UNSPECIFIED) return fallback;
  throw invalid(`kind ${k} is not a known workload kind`);
}
export const kindToPb = (k: d.WorkloadKind) => (k === 'job' ? WorkloadKind.WORKLOAD_KIND_JOB : WorkloadKind.WORKLOAD_KIND_SERVICE);

export function typeFromPb(t: GroupType, fallback: d.GroupType = 'secret'): d.GroupType {
  if (t === GroupType.GROUP_TYPE_SECRET) return 'secret';
  if (t === GroupType.GROUP_TYPE_CONFIG) return 'config';
  if (t === GroupType.GROUP_TYPE_UNSPECIFIED) return fallback;
  throw invalid(`type ${t} is not a known group type`);
}
export const typeToPb = (t: d.GroupType) => (t === 'secret' ? GroupType.GROUP_TYPE_SECRET : GroupType.GROUP_TYPE_CONFIG);

export function groupScopeFromPb(s: Scope, fallback: d.GroupScope = 'both'): d.GroupScope {
  switch (s) {
    case Scope.SCOPE_RUNTIME:
      return 'runtime';
    case Scope.SCOPE_BUILD:
      return 'build';
    case Scope.SCOPE_BOTH:
      return 'both';
    case Scope.SCOPE_UNSPECIFIED:
      return fallback;
    default:
      throw invalid(`scope ${s} is not a known scope`);
  }
}
export function resolveScopeFromPb(s: Scope): d.ResolveScope {
  const scope = groupScopeFromPb(s, 'runtime');
  if (scope === 'both') throw invalid('scope must be RUNTIME or BUILD for a resolution');
  return scope;
}
export const scopeToPb = (s: d.GroupScope): Scope =>
  s === 'runtime' ? Scope.SCOPE_RUNTIME : s === 'build' ? Scope.SCOPE_BUILD : Scope.SCOPE_BOTH;

export function restrictionsFromPb(r: PbRestrictions | undefined): d.Restrictions {
  return { restricted: r?.restricted ?? false, workloads: r?.workloads ?? [], tags: r?.tags ?? [] };
}

function fileToPb(f: d.SecretFile | d.ResolvedFile): PbSecretFile {
  const size = 'size' in f && f.size !== undefined ? f.size : f.content.byteLength;
  return { path: f.path, content: asBuffer(f.content), mode: f.mode, size };
}

/** Zero-copy view: generated code wants Buffer, the domain holds Uint8Array. */
const asBuffer = (c: Uint8Array): Buffer => (Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength));

export function fileFromPb(f: PbSecretFile | undefined): d.SecretFile {
  if (!f) throw invalid('file is required');
  return { path: f.path, content: f.content, mode: f.mode };
}

export const projectToPb = (p: d.Project) => ({ name: p.name, createdAtMs: p.createdAt, executionKeys: p.executionKeys ?? [] });

export function groupToPb(g: d.SecretGroup, redacted: boolean): PbGroup {
  return {
    project: g.project,
    name: g.name,
    description: g.description,
    type: typeToPb(g.type),
    scope: scopeToPb(g.scope),
    priority: g.priority,
    restrictions: g.restrictions,
    variables: g.variables,
    files: g.files.map(fileToPb),
    addonLinks: g.addonLinks,
    revision: g.revision,
    createdAtMs: g.createdAt,
    updatedAtMs: g.updatedAt,
    updatedBy: g.updatedBy,
    valuesRedacted: redacted,
  };
}

export function workloadToPb(w: d.Workload, redacted: boolean): PbWorkload {
  return {
    project: w.project,
    name: w.name,
    kind: kindToPb(w.kind),
    tags: w.tags,
    runtimeVariables: w.runtimeVariables,
    buildArguments: w.buildArguments,
    revision: w.revision,
    createdAtMs: w.createdAt,
    updatedAtMs: w.updatedAt,
    updatedBy: w.updatedBy,
    valuesRedacted: redacted,
  };
}

export function addonToPb(a: d.Addon, redacted: boolean): PbAddon {
  return {
    project: a.project,
    name: a.name,
    type: a.type,
    connectionDetails: a.connectionDetails,
    revision: a.revision,
    createdAtMs: a.createdAt,
    updatedAtMs: a.updatedAt,
    updatedBy: a.updatedBy,
    valuesRedacted: redacted,
  };
}

export function resolutionToPb(r: d.Resolution): PbResolution {
  return {
    project: r.project,
    workload: r.workload,
    scope: scopeToPb(r.scope),
    variables: r.variables,
    files: r.files.map(fileToPb),
    etag: r.etag,
    conflicts: r.conflicts.map(conflictToPb),
  };
}

export const conflictToPb = (c: d.Conflict): PbConflict => ({ ...c });

function sourceToPb(s: d.Source): PbSource {
  return { kind: s.kind, group: s.group ?? '', priority: s.priority ?? 0, addon: s.addon ?? '' };
}

export function provenanceToPb(p: d.Provenance): PbProvenance {
  return { key: p.key, winner: sourceToPb(p.winner), shadowed: p.shadowed.map(sourceToPb), conflict: p.conflict };
}

const LEVEL: Record<string, AccessLevel> = {
  none: AccessLevel.ACCESS_LEVEL_NONE,
  keys: AccessLevel.ACCESS_LEVEL_KEYS,
  read: AccessLevel.ACCESS_LEVEL_READ,
  write: AccessLevel.ACCESS_LEVEL_WRITE,
};

export function roleToPb(r: Role): PbRole {
  return {
    name: r.name,
    secret: LEVEL[r.access.secret]!,
    config: LEVEL[r.access.config]!,
    projectAdmin: r.projectAdmin,
    tokenAdmin: r.tokenAdmin,
    resolve: r.resolve,
    builtin: r.builtin,
    description: r.description,
  };
}

export function tokenToPb(t: TokenRecord): TokenInfo {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    projects: t.projects,
    workload: t.workload ?? undefined,
    scopes: t.scopes.map(scopeToPb),
    createdAtMs: t.createdAt,
    expiresAtMs: t.expiresAt,
    revoked: t.revoked,
    createdBy: t.createdBy,
    k8sServiceAccount: t.k8sServiceAccount ?? '',
  };
}

/** A Kubernetes service-account binding (a token record with k8sServiceAccount). */
export function bindingToPb(t: TokenRecord): ServiceAccountBinding {
  return {
    serviceAccount: t.k8sServiceAccount ?? '',
    project: t.workload?.project ?? '',
    workload: t.workload?.workload ?? '',
    scopes: t.scopes.map(scopeToPb),
    id: t.id,
    createdAtMs: t.createdAt,
    createdBy: t.createdBy,
  };
}

const LEVEL_NAMES = new Map<AccessLevel, Role['access']['secret']>([
  [AccessLevel.ACCESS_LEVEL_NONE, 'none'],
  [AccessLevel.ACCESS_LEVEL_KEYS, 'keys'],
  [AccessLevel.ACCESS_LEVEL_READ, 'read'],
  [AccessLevel.ACCESS_LEVEL_WRITE, 'write'],
]);

export function roleFromPb(r: PbRole | undefined): Omit<Role, 'builtin'> {
  if (!r) throw invalid('role is required');
  const level = (l: AccessLevel, type: string) => {
    const name = LEVEL_NAMES.get(l);
    if (!name) throw invalid(`role access for ${type} groups is required (NONE, KEYS, READ or WRITE)`);
    return name;
  };
  return {
    name: r.name,
    description: r.description,
    access: { secret: level(r.secret, 'secret'), config: level(r.config, 'config') },
    projectAdmin: r.projectAdmin,
    tokenAdmin: r.tokenAdmin,
    resolve: r.resolve,
  };
}

export function auditToPb(e: AuditEvent): PbAuditEvent {
  return {
    id: e.id ?? '',
    timeMs: e.time,
    actor: e.actor,
    action: e.action,
    project: e.project,
    target: e.target,
    keys: e.keys,
    outcome: e.outcome,
    detail: e.detail ?? '',
  };
}
