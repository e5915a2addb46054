/**
 * Roles: per group type (secret, config) one access level, plus administration rights.
 * Workload variables and addon connection details count as secret values.
 */
import type { GroupType } from '../domain/types.js';

export type AccessLevel = 'none' | 'keys' | 'read' | 'write';
const ORDER: Record<AccessLevel, number> = { none: 0, keys: 1, read: 2, write: 3 };

export function atLeast(level: AccessLevel, wanted: AccessLevel): boolean {
  return ORDER[level] >= ORDER[wanted];
}

export interface Role {
  name: string;
  description: string;
  access: Record<GroupType, AccessLevel>;
  /** Create/delete projects; create, change and delete workloads and addons. */
  projectAdmin: boolean;
  /** Create, list and revoke tokens. */
  tokenAdmin: boolean;
  /** Resolve (and Watch, Explain) any workload of its projects. */
  resolve: boolean;
  builtin: boolean;
}

const role = (
  name: string,
  description: string,
  secret: AccessLevel,
  config: AccessLevel,
  rights: Partial<Pick<Role, 'projectAdmin' | 'tokenAdmin' | 'resolve'>> = {},
): Role => ({
  name,
  description,
  access: { secret, config },
  projectAdmin: rights.projectAdmin ?? false,
  tokenAdmin: rights.tokenAdmin ?? false,
  resolve: rights.resolve ?? false,
  builtin: true,
});

export const BUILTIN_ROLES: readonly Role[] = [
  role('admin', 'Everything, including projects and tokens', 'write', 'write', { projectAdmin: true, tokenAdmin: true, resolve: true }),
  role('editor', 'Write secret and config groups; resolve', 'write', 'write', { resolve: true }),
  role('config-editor', 'Write config groups (not execution-controlling keys, files or addon links); see only the keys of secret groups', 'keys', 'write'),
  role('viewer', 'Read config groups; see only the keys of secret groups', 'keys', 'read'),
  role('resolver', 'Internal services: resolve any workload of its projects', 'none', 'none', { resolve: true }),
  role('workload', 'A workload: resolve only its own identity', 'none', 'none'),
];

export function builtinRole(name: string): Role | undefined {
  return BUILTIN_ROLES.find((r) => r.name === name);
}
