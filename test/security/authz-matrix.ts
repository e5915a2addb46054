/**
 * THE authorization matrix: every RPC of the four services × every built-in role × (secret
 * group, config group) where the type matters. It drives test/security/authz-matrix.test.ts
 * (one test per cell, against a real server) and is rendered into SECURITY.md by
 * scripts/gen-authz-doc.mjs (a test checks that SECURITY.md is current).
 *
 * Cell values:
 * - `allow`: the call succeeds and shows values.
 * - `keys`: the call succeeds but no value of the row's type appears (values empty,
 *   `values_redacted: true`; files without content).
 * - `deny`: PERMISSION_DENIED. For List RPCs, `deny` may also mean the call succeeds but no
 *   record of the row's type is listed.
 * - `refused`: FAILED_PRECONDITION for a caller who has the permission: the operation is not
 *   possible on a group of that type (an addon link into a config group).
 *
 * Workload variables and addon connection details count as secret values (type `secret`).
 * The `workload` role's cells are for its own identity; anything else is denied (tested
 * separately).
 */

export const ROLES = ['admin', 'editor', 'config-editor', 'viewer', 'resolver', 'workload'] as const;
export type RoleName = (typeof ROLES)[number];
export type Cell = 'allow' | 'deny' | 'keys' | 'refused';
export type Service = 'AccessService' | 'ProjectService' | 'SecretGroupService' | 'ResolverService';
/** `secret` / `config`: the group type the row is about; `-` when the type does not matter. */
export type RowType = 'secret' | 'config' | '-';

export interface MatrixRow {
  service: Service;
  rpc: string;
  type: RowType;
  cells: Record<RoleName, Cell>;
  /** Shown in SECURITY.md. */
  note?: string;
}

type Cells = [admin: Cell, editor: Cell, configEditor: Cell, viewer: Cell, resolver: Cell, workload: Cell];

const A: Cell = 'allow';
const D: Cell = 'deny';
const K: Cell = 'keys';
const R: Cell = 'refused';

function row(service: Service, rpc: string, type: RowType, c: Cells, note?: string): MatrixRow {
  const cells = Object.fromEntries(ROLES.map((r, i) => [r, c[i]!])) as Record<RoleName, Cell>;
  return note ? { service, rpc, type, cells, note } : { service, rpc, type, cells };
}

/** A write to a group: needs `write` on the group's type (`config`: other cells for config groups). */
const groupWrite = (rpc: string, note?: string, config: Cells = [A, A, A, D, D, D]): MatrixRow[] => [
  row('SecretGroupService', rpc, 'secret', [A, A, D, D, D, D], note),
  row('SecretGroupService', rpc, 'config', config, note),
];
/** In groups of either type, execution-controlling keys, files and addon links need write on secret groups. */
const EXEC = "execution-controlling keys (PATH, LD_*, NODE_OPTIONS, *FLAGS, …, and the project's own) need write on secret groups";
const ONLY_SECRET_WRITE: Cells = [A, A, D, D, D, D];
/** A read of a group: `read` shows values, `keys` shows keys only, `none` is refused. */
const groupRead = (rpc: string, note?: string): MatrixRow[] => [
  row('SecretGroupService', rpc, 'secret', [A, A, K, K, D, D], note),
  row('SecretGroupService', rpc, 'config', [A, A, A, A, D, D], note),
];
const adminOnly = (service: Service, rpc: string, note?: string) => row(service, rpc, '-', [A, D, D, D, D, D], note);

export const MATRIX: readonly MatrixRow[] = [
  // AccessService
  adminOnly('AccessService', 'CreateToken'),
  adminOnly('AccessService', 'ListTokens'),
  adminOnly('AccessService', 'RevokeToken'),
  row('AccessService', 'ListRoles', '-', [A, A, A, A, A, D], 'a workload token may only resolve its own identity'),
  row('AccessService', 'WhoAmI', '-', [A, A, A, A, A, A]),
  adminOnly('AccessService', 'CreateRole'),
  adminOnly('AccessService', 'UpdateRole', 'custom roles only; tokens using the role get the new rights at once'),
  adminOnly('AccessService', 'DeleteRole'),
  adminOnly('AccessService', 'ListAuditEvents', 'records hold keys, never values'),
  adminOnly('AccessService', 'BindServiceAccount', 'needs project and token administration: a binding grants what a workload token does'),
  adminOnly('AccessService', 'UnbindServiceAccount', 'needs project and token administration'),

  // ProjectService
  adminOnly('ProjectService', 'CreateProject'),
  row('ProjectService', 'GetProject', '-', [A, A, A, A, A, A], 'only projects the token is bound to'),
  row('ProjectService', 'ListProjects', '-', [A, A, A, A, A, A], 'only projects the token is bound to'),
  adminOnly('ProjectService', 'DeleteProject'),
  adminOnly('ProjectService', 'UpdateProjectExecutionKeys', 'names and prefixes only; changing such a key then needs write on secret groups'),
  adminOnly('ProjectService', 'CreateWorkload'),
  row('ProjectService', 'GetWorkload', 'secret', [A, A, K, K, D, D], 'workload variables are secret values'),
  row('ProjectService', 'ListWorkloads', 'secret', [A, A, K, K, D, D], 'workload variables are secret values'),
  adminOnly('ProjectService', 'UpdateWorkload'),
  adminOnly('ProjectService', 'DeleteWorkload'),
  adminOnly('ProjectService', 'CreateAddon'),
  row('ProjectService', 'GetAddon', 'secret', [A, A, K, K, D, D], 'connection details are secret values'),
  row('ProjectService', 'ListAddons', 'secret', [A, A, K, K, D, D], 'connection details are secret values'),
  adminOnly('ProjectService', 'UpdateAddon'),
  adminOnly('ProjectService', 'DeleteAddon'),
  row('ProjectService', 'WatchProject', '-', [A, A, A, A, A, A], 'a change version only; projects the token is bound to'),

  // SecretGroupService
  ...groupWrite('CreateGroup', `default type secret; ${EXEC}`),
  ...groupRead('GetGroup'),
  ...groupRead('ListGroups'),
  ...groupWrite('DeleteGroup', 'a group holding execution-controlling keys, files or addon links needs write on secret groups'),
  ...groupWrite('UpdateGroupSettings', 'changing the type needs write on both types; moving a group that holds execution-controlling keys, files or addon links needs write on secret groups'),
  ...groupWrite('SetVariables', EXEC),
  ...groupWrite('UnsetVariables', EXEC),
  ...groupWrite('ImportVariables', EXEC),
  ...groupWrite('AddFile', 'files need write on secret groups, whatever the group type', ONLY_SECRET_WRITE),
  ...groupWrite('RemoveFile', 'files need write on secret groups, whatever the group type', ONLY_SECRET_WRITE),
  ...groupWrite('LinkAddon', 'addon details are secret values: only into a secret group, with write on secret groups', [R, R, D, D, D, D]),
  ...groupWrite('UnlinkAddon', 'needs write on secret groups (config row: a config group linked before links needed a secret group)', ONLY_SECRET_WRITE),
  ...groupRead('ListGroupHistory', 'every revision shown with the stricter of its own and the current type'),
  ...groupWrite('RollbackGroup', 'execution-controlling keys, files and addon links it would change need write on secret groups'),
  row('SecretGroupService', 'PreviewChange', 'secret', [A, A, D, D, D, D], 'needs read on the group type; values the caller cannot read are compared by presence only'),
  row('SecretGroupService', 'PreviewChange', 'config', [A, A, A, A, D, D], 'needs read on the group type; values the caller cannot read are compared by presence only'),
  ...groupWrite('RestartDependents'),
  row('SecretGroupService', 'ListGroupDependents', 'secret', [A, A, A, A, D, D], 'keys only, for everyone'),
  row('SecretGroupService', 'ListGroupDependents', 'config', [A, A, A, A, D, D], 'keys only, for everyone'),
  ...groupRead('DiffGroupRevisions', 'values only with read on the type of both revisions and of the current group'),
  row('SecretGroupService', 'RevealValue', 'secret', [A, A, D, D, D, D], 'one value, audited; what reading it normally needs'),
  row('SecretGroupService', 'RevealValue', 'config', [A, A, A, A, D, D], 'one value, audited; what reading it normally needs'),
  ...groupWrite('RestoreGroup', "the deleted group's last type decides"),
  ...groupWrite('RenameGroup', 'the name breaks priority ties: renaming a group that holds execution-controlling keys, files or addon links needs write on secret groups'),

  // ResolverService
  row('ResolverService', 'Resolve', '-', [A, A, D, D, A, A], 'workload: its own identity and granted scopes only'),
  row('ResolverService', 'Watch', '-', [A, A, D, D, A, A], 'workload: its own identity and granted scopes only'),
  row('ResolverService', 'Explain', '-', [A, A, A, A, A, A], 'keys and sources only; workload: its own identity'),
];

/** Every RPC of the four services, as declared in proto/secretgroups/v1/*_service.proto. */
export function matrixRpcs(): string[] {
  return [...new Set(MATRIX.map((r) => `${r.service}.${r.rpc}`))];
}

/** The Markdown table shown in SECURITY.md. */
export function renderMatrix(rows: readonly MatrixRow[] = MATRIX): string {
  const sym: Record<Cell, string> = { allow: 'allow', deny: '—', keys: 'keys', refused: 'n/a' };
  const head = `| Service | RPC | Group type | ${ROLES.join(' | ')} | Note |`;
  const sep = `| --- | --- | --- | ${ROLES.map(() => ':---:').join(' | ')} | --- |`;
  const lines = rows.map((r) => `| ${r.service} | ${r.rpc} | ${r.type === '-' ? '' : r.type} | ${ROLES.map((x) => sym[r.cells[x]]).join(' | ')} | ${r.note ?? ''} |`);
  return [head, sep, ...lines].join('\n');
}
