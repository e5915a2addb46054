/** `sg token create|list|revoke`, `sg role list|create|update|delete`, `sg whoami`. */
import type { Command } from 'commander';
import {
  AccessLevel,
  CreateRoleRequest,
  CreateTokenRequest,
  DeleteRoleRequest,
  ListRolesRequest,
  ListTokensRequest,
  RevokeTokenRequest,
  UpdateRoleRequest,
  WhoAmIRequest,
  AccessServiceDefinition,
} from '../../gen/light/secretgroups/v1/access_service.js';
import { collect, parseTtl, parseWorkloadRef } from '../args.js';
import { withSession } from '../client.js';
import { usage } from '../errors.js';
import { emit, withAddr, withJson } from '../kit.js';
import { roleJson, rolesTable, tokenHuman, tokenJson, tokensTable } from '../views.js';

interface Opts {
  addr?: string;
  json?: boolean;
  role?: string;
  project?: string[];
  workload?: string;
  build?: boolean;
  name?: string;
  ttl?: string;
}

interface RoleOpts extends Opts {
  secret: string;
  config: string;
  projectAdmin?: boolean;
  tokenAdmin?: boolean;
  resolve?: boolean;
  description?: string;
}

const LEVELS = ['none', 'keys', 'read', 'write'] as const;
const LEVEL_VALUES: Record<(typeof LEVELS)[number], AccessLevel> = {
  none: AccessLevel.ACCESS_LEVEL_NONE,
  keys: AccessLevel.ACCESS_LEVEL_KEYS,
  read: AccessLevel.ACCESS_LEVEL_READ,
  write: AccessLevel.ACCESS_LEVEL_WRITE,
};

export function parseLevel(flag: string, text: string): AccessLevel {
  const level = LEVEL_VALUES[text as (typeof LEVELS)[number]];
  if (level === undefined) throw usage(`${flag} must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(text)}`);
  return level;
}

/** Either a role token (optionally limited to projects) or a workload token; pure, for tests. */
export function createTokenRequest(opts: Opts): CreateTokenRequest {
  if (opts.role !== undefined && opts.workload !== undefined) throw usage('give either --role or --workload, not both');
  if (opts.role === undefined && opts.workload === undefined) throw usage('give --role ROLE or --workload PROJECT/NAME');
  if (opts.workload !== undefined && opts.project?.length) throw usage('--project goes with --role; a workload token is bound to its own project');
  if (opts.role !== undefined && opts.build) throw usage('--build goes with --workload');
  const ttlSeconds = opts.ttl === undefined ? 0 : parseTtl(opts.ttl);
  return CreateTokenRequest.fromPartial({
    name: opts.name ?? '',
    role: opts.role ?? '',
    projects: opts.project ?? [],
    workload: opts.workload === undefined ? undefined : parseWorkloadRef(opts.workload),
    allowBuild: Boolean(opts.build),
    ttlSeconds,
  });
}

export function registerAccess(program: Command): void {
  const token = program.command('token').description('access tokens (stored by the server only as hashes)');

  withJson(
    withAddr(
      token
        .command('create')
        .description('create a token and print it, alone, on stdout (it cannot be shown again)')
        .option('--role <role>', 'role of the token (see `sg role list`), e.g. admin, editor, config-editor, viewer, resolver')
        .option('--project <project>', 'with --role: limit the token to this project (repeatable; default all)', collect)
        .option('--workload <PROJECT/NAME>', 'a workload token: may only resolve and watch that workload')
        .option('--build', 'with --workload: also allow the build scope')
        .option('--name <name>', 'a label shown by `sg token list`')
        .option('--ttl <duration>', 'lifetime such as 30m, 24h or 7d (default: never expires)')
        .addHelpText(
          'after',
          '\nExamples:\n  sg token create --role config-editor --project shop --name alice --ttl 7d\n' +
            '  sg token create --workload shop/api --build      # for sg-agent beside shop/api',
        ),
    ),
    '{"token": "...", "info": {...}}',
  ).action((opts: Opts) => {
    const req = createTokenRequest(opts);
    return withSession(opts, async (s) => {
      const res = await s.call(AccessServiceDefinition, 'createToken', req);
      emit(opts, () => ({ token: res.token, info: res.info ? tokenJson(res.info) : null }), () => `${res.token}\n`);
    });
  });

  withJson(withAddr(token.command('list').description('list tokens (never their secrets)')), 'the list').action((opts: Opts) =>
    withSession(opts, async (s) => {
      const res = await s.call(AccessServiceDefinition, 'listTokens', ListTokensRequest.fromPartial({}));
      emit(opts, () => ({ tokens: res.tokens.map(tokenJson) }), () => tokensTable(res.tokens));
    }),
  );

  withJson(withAddr(token.command('revoke').description('revoke a token').argument('<id>', 'token id (see `sg token list`)'))).action(
    (id: string, opts: Opts) =>
      withSession(opts, async (s) => {
        await s.call(AccessServiceDefinition, 'revokeToken', RevokeTokenRequest.fromPartial({ id }));
        emit(opts, () => ({ revoked: true, id }), () => `Revoked token ${id}\n`);
      }),
  );

  const role = program.command('role').description('roles: access per group type plus administration rights');
  withJson(withAddr(role.command('list').description('list the roles')), 'the list').action((opts: Opts) =>
    withSession(opts, async (s) => {
      const res = await s.call(AccessServiceDefinition, 'listRoles', ListRolesRequest.fromPartial({}));
      emit(opts, () => ({ roles: res.roles.map(roleJson) }), () => rolesTable(res.roles));
    }),
  );

  // create and update take the same definition: update replaces the role as a whole.
  const roleOf = (name: string, opts: RoleOpts) => ({
    name,
    secret: parseLevel('--secret', opts.secret),
    config: parseLevel('--config', opts.config),
    projectAdmin: Boolean(opts.projectAdmin),
    tokenAdmin: Boolean(opts.tokenAdmin),
    resolve: Boolean(opts.resolve),
    description: opts.description ?? '',
  });
  const roleOptions = (cmd: Command) =>
    cmd
      .argument('<name>', 'role name (a DNS label, not a built-in name)')
      .requiredOption('--secret <level>', `access to secret groups: ${LEVELS.join('|')}`)
      .requiredOption('--config <level>', `access to config groups: ${LEVELS.join('|')}`)
      .option('--project-admin', 'may create and delete projects, workloads and addons')
      .option('--token-admin', 'may create, list and revoke tokens')
      .option('--resolve', 'may resolve any workload of its projects')
      .option('--description <text>', 'shown by `sg role list`');

  withJson(withAddr(roleOptions(role.command('create').description('define a custom role: access per group type plus administration rights'))), 'the role').action(
    (name: string, opts: RoleOpts) => {
      const req = CreateRoleRequest.fromPartial({ role: roleOf(name, opts) });
      return withSession(opts, async (s) => {
        const res = await s.call(AccessServiceDefinition, 'createRole', req);
        emit(opts, () => roleJson(res.role!), () => rolesTable([res.role!]));
      });
    },
  );

  withJson(
    withAddr(
      roleOptions(
        role
          .command('update')
          .description("replace a custom role's access, rights and description (flags not given are off); tokens using it get the new rights at once"),
      ),
    ),
    'the role',
  ).action((name: string, opts: RoleOpts) => {
    const req = UpdateRoleRequest.fromPartial({ role: roleOf(name, opts) });
    return withSession(opts, async (s) => {
      const res = await s.call(AccessServiceDefinition, 'updateRole', req);
      emit(opts, () => roleJson(res.role!), () => rolesTable([res.role!]));
    });
  });

  withJson(withAddr(role.command('delete').description('delete a custom role (refused while a token uses it)').argument('<name>', 'role name'))).action(
    (name: string, opts: Opts) =>
      withSession(opts, async (s) => {
        await s.call(AccessServiceDefinition, 'deleteRole', DeleteRoleRequest.fromPartial({ name }));
        emit(opts, () => ({ deleted: true, name }), () => `Deleted role ${name}\n`);
      }),
  );

  withJson(withAddr(program.command('whoami').description("the caller's token: id, role, projects, workload")), 'the token').action((opts: Opts) =>
    withSession(opts, async (s) => {
      const res = await s.call(AccessServiceDefinition, 'whoAmI', WhoAmIRequest.fromPartial({}));
      emit(opts, () => tokenJson(res.token!), () => tokenHuman(res.token!));
    }),
  );
}
