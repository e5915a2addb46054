/**
 * Plain domain types. Nothing here knows about protobuf, gRPC or storage: handlers map
 * generated messages to these, and the store persists them.
 */
export type WorkloadKind = 'service' | 'job';
export type GroupType = 'secret' | 'config';
export type GroupScope = 'runtime' | 'build' | 'both';
export type ResolveScope = 'runtime' | 'build';

/** A string-to-string map. Keys are validated, so `__proto__` never reaches one. */
export type Vars = Record<string, string>;

export interface Project {
  name: string;
  createdAt: number;
  /**
   * Names (`NAME`) and prefixes (`PREFIX*`) an admin added to the built-in execution-controlling
   * keys (project-policy.ts). Absent when none: projects stored before it existed read the same.
   */
  executionKeys?: string[];
}

/** Bookkeeping every stored record carries. */
export interface Revisioned {
  revision: number;
  createdAt: number;
  updatedAt: number;
  updatedBy: string;
}

export interface Workload extends Revisioned {
  project: string;
  name: string;
  /**
   * Creation identity, new for every creation: a workload deleted and re-created under the same
   * name is another workload, and tokens of the old one do not work for it. Absent on records
   * created before it existed.
   */
  uid?: string;
  kind: WorkloadKind;
  tags: string[];
  runtimeVariables: Vars;
  buildArguments: Vars;
}

export interface Addon extends Revisioned {
  project: string;
  name: string;
  type: string;
  connectionDetails: Vars;
}

export interface Restrictions {
  restricted: boolean;
  workloads: string[];
  tags: string[];
}

export interface SecretFile {
  path: string;
  content: Uint8Array;
  /** Unix permission bits. */
  mode: number;
  /** Byte size, set on keys-only views whose content was removed. */
  size?: number;
}

export interface AddonLinkKey {
  key: string;
  alias: string;
}

/** No keys means every key of the addon under its default alias. */
export interface AddonLink {
  addon: string;
  keys: AddonLinkKey[];
}

export interface SecretGroup extends Revisioned {
  project: string;
  name: string;
  description: string;
  type: GroupType;
  scope: GroupScope;
  priority: number;
  restrictions: Restrictions;
  variables: Vars;
  files: SecretFile[];
  addonLinks: AddonLink[];
}

/** One revision in a group's history: the group as it stood after the change. */
export interface GroupHistoryEntry {
  project: string;
  name: string;
  revision: number;
  time: number;
  actor: string;
  action: string;
  changedKeys: string[];
  /** null when this revision deleted the group. */
  group: SecretGroup | null;
  /** RenameGroup: under the new name, the old one (so history can say "Renamed from …"). */
  renamedFrom?: string;
  /** RenameGroup: under the old name (a deletion), the new one. */
  renamedTo?: string;
  /** RollbackGroup: the revision whose content it restored. */
  rolledBackTo?: number;
}

/** Everything resolution needs about one project, held in memory by the server. */
export interface ProjectSnapshot {
  project: Project;
  workloads: ReadonlyMap<string, Workload>;
  addons: ReadonlyMap<string, Addon>;
  groups: ReadonlyMap<string, SecretGroup>;
}

export type SourceKind = 'group' | 'addon' | 'workload';

export interface Source {
  kind: SourceKind;
  group?: string;
  priority?: number;
  addon?: string;
}

export interface Provenance {
  key: string;
  winner: Source;
  /** Every other group that defined the key, in merge order (highest priority first). */
  shadowed: Source[];
  conflict: boolean;
}

export interface Conflict {
  key: string;
  priority: number;
  groups: string[];
  winner: string;
}

export interface ResolvedFile {
  path: string;
  content: Uint8Array;
  mode: number;
}

export interface Resolution {
  project: string;
  workload: string;
  scope: ResolveScope;
  variables: Vars;
  files: ResolvedFile[];
  etag: string;
  /** Empty unless asked for (resolveWorkload's `provenance` option). */
  provenance: Provenance[];
  fileProvenance: Provenance[];
  conflicts: Conflict[];
  /** Groups that contributed at least one winning key or file. */
  contributingGroups: string[];
  /** Every eligible group, contributing or not. */
  eligibleGroups: string[];
}
