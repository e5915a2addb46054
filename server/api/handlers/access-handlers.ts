/** AccessService: tokens and roles. */
import type { AccessServiceServer } from '../../../gen/secretgroups/v1/access_service.js';
import type { AccessService } from '../../service/access.js';
import { denied } from '../../domain/errors.js';
import { unary, type ApiContext } from '../call.js';
import type { HandlersOf } from '../grpc-adapter.js';
import { auditToPb, bindingToPb, roleFromPb, roleToPb, tokenToPb } from '../mappers.js';

export function accessHandlers(ctx: ApiContext, svc: AccessService): HandlersOf<AccessServiceServer> {
  return {
    createToken: unary(ctx, 'CreateToken', async (p, req) => {
      const { secret, token } = await svc.create(p, {
        name: req.name,
        role: req.role,
        projects: req.projects,
        workload: req.workload ? { project: req.workload.project, workload: req.workload.workload } : null,
        allowBuild: req.allowBuild,
        ttlSeconds: req.ttlSeconds,
      });
      return { token: secret, info: tokenToPb(token) };
    }),
    listTokens: unary(ctx, 'ListTokens', async (p) => ({ tokens: (await svc.list(p)).map(tokenToPb) })),
    revokeToken: unary(ctx, 'RevokeToken', async (p, req) => {
      await svc.revoke(p, req.id);
      return {};
    }),
    listRoles: unary(ctx, 'ListRoles', async (p) => {
      if (p.token.workload) throw denied('a workload token may only resolve its own identity');
      return { roles: (await svc.roles()).map(roleToPb) };
    }),
    createRole: unary(ctx, 'CreateRole', async (p, req) => ({ role: roleToPb(await svc.createRole(p, roleFromPb(req.role))) })),
    updateRole: unary(ctx, 'UpdateRole', async (p, req) => ({ role: roleToPb(await svc.updateRole(p, roleFromPb(req.role))) })),
    deleteRole: unary(ctx, 'DeleteRole', async (p, req) => {
      await svc.deleteRole(p, req.name);
      return {};
    }),
    listAuditEvents: unary(ctx, 'ListAuditEvents', async (p, req) => {
      const filter = {
        project: req.project || undefined,
        actor: req.actor || undefined,
        action: req.action || undefined,
        since: req.sinceMs || undefined,
        before: req.beforeMs ? { time: req.beforeMs } : undefined,
        limit: req.limit,
      };
      const { events, nextCursor } = await svc.audit(p, filter, req.cursor);
      return { events: events.map(auditToPb), nextCursor };
    }),
    whoAmI: unary(ctx, 'WhoAmI', async (p) => ({ token: tokenToPb(p.token) })),
    bindServiceAccount: unary(ctx, 'BindServiceAccount', async (p, req) => ({
      binding: bindingToPb(await svc.bindServiceAccount(p, { project: req.project, workload: req.workload, serviceAccount: req.serviceAccount, allowBuild: req.allowBuild })),
    })),
    unbindServiceAccount: unary(ctx, 'UnbindServiceAccount', async (p, req) => {
      await svc.unbindServiceAccount(p, { project: req.project, workload: req.workload, serviceAccount: req.serviceAccount });
      return {};
    }),
  };
}
