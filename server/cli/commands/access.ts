/** `sg token create|list|revoke`, `sg role list`, `sg whoami`. */
import type { Command } from 'commander';
import {
  CreateTokenRequest,
  ListRolesRequest,
  ListTokensRequest,
  RevokeTokenRequest,
  WhoAmIRequest,
} from '../../../gen/secretgroups/v1/access_service.js';
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
      const res = await s.call(s.clients.access, 'createToken', req);
      emit(opts, () => ({ token: res.token, info: res.info ? tokenJson(res.info) : null }), () => `${res.token}\n`);
    });
  });

  withJson(withAddr(token.command('list').description('list tokens (never their secrets)')), 'the list').action((opts: Opts) =>
    withSession(opts, async (s) => {
      const res = await s.call(s.clients.access, 'listTokens', ListTokensRequest.fromPartial({}));
      emit(opts, () => ({ tokens: res.tokens.map(tokenJson) }), () => tokensTable(res.tokens));
    }),
  );

  withJson(withAddr(token.command('revoke').description('revoke a token').argument('<id>', 'token id (see `sg token list`)'))).action(
    (id: string, opts: Opts) =>
      withSession(opts, async (s) => {
        await s.call(s.clients.access, 'revokeToken', RevokeTokenRequest.fromPartial({ id }));
        emit(opts, () => ({ revoked: true, id }), () => `Revoked token ${id}\n`);
      }),
  );

  const role = program.command('role').description('roles: access per group type plus administration rights');
  withJson(withAddr(role.command('list').description('list the roles')), 'the list').action((opts: Opts) =>
    withSession(opts, async (s) => {
      const res = await s.call(s.clients.access, 'listRoles', ListRolesRequest.fromPartial({}));
      emit(opts, () => ({ roles: res.roles.map(roleJson) }), () => rolesTable(res.roles));
    }),
  );

  withJson(withAddr(program.command('whoami').description("the caller's token: id, role, projects, workload")), 'the token').action((opts: Opts) =>
    withSession(opts, async (s) => {
      const res = await s.call(s.clients.access, 'whoAmI', WhoAmIRequest.fromPartial({}));
      emit(opts, () => tokenJson(res.token!), () => tokenHuman(res.token!));
    }),
  );
}
