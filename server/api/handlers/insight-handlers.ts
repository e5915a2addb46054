/**
 * RPCs added for the web console (and every other client): ListGroupDependents,
 * DiffGroupRevisions and RevealValue (SecretGroupService), WatchProject (ProjectService).
 */
import { DomainError, invalid } from '../../domain/errors.js';
import type { ResolveScope } from '../../domain/types.js';
import { RevealKind, type SecretGroupServiceServer } from '../../../gen/secretgroups/v1/secret_group_service.js';
import type { ProjectServiceServer, WatchProjectResponse } from '../../../gen/secretgroups/v1/project_service.js';
import { Scope } from '../../../gen/secretgroups/v1/resources.js';
import type { GroupInsights } from '../../service/group-insights.js';
import type { ProjectWatch } from '../../service/project-watch.js';
import type { RevealKind as DomainRevealKind, RevealService } from '../../service/reveal.js';
import { serverStream, unary, type ApiContext } from '../call.js';
import type { HandlersOf } from '../grpc-adapter.js';
import { resolveScopeFromPb, scopeToPb } from '../mappers.js';

const REVEAL_KINDS = new Map<RevealKind, DomainRevealKind>([
  [RevealKind.REVEAL_KIND_GROUP_VARIABLE, 'group-variable'],
  [RevealKind.REVEAL_KIND_GROUP_FILE, 'group-file'],
  [RevealKind.REVEAL_KIND_ADDON_DETAIL, 'addon-detail'],
  [RevealKind.REVEAL_KIND_WORKLOAD_RUNTIME_VARIABLE, 'workload-runtime'],
  [RevealKind.REVEAL_KIND_WORKLOAD_BUILD_ARGUMENT, 'workload-build'],
  [RevealKind.REVEAL_KIND_RESOLVED_VARIABLE, 'resolved-variable'],
  [RevealKind.REVEAL_KIND_RESOLVED_FILE, 'resolved-file'],
]);

/** UNSPECIFIED means both scopes. */
function scopesOf(s: Scope): ResolveScope[] {
  return s === Scope.SCOPE_UNSPECIFIED || s === Scope.SCOPE_BOTH ? ['runtime', 'build'] : [resolveScopeFromPb(s)];
}

export interface InsightServices {
  insights: GroupInsights;
  reveal: RevealService;
  projectWatch: ProjectWatch;
}

export function groupInsightHandlers(
  ctx: ApiContext,
  svc: InsightServices,
): Pick<HandlersOf<SecretGroupServiceServer>, 'listGroupDependents' | 'diffGroupRevisions' | 'revealValue'> {
  return {
    listGroupDependents: unary(ctx, 'ListGroupDependents', async (p, req) => ({
      dependents: (await svc.insights.dependents(p, req.project, req.name, scopesOf(req.scope))).map((d) => ({ ...d, scope: scopeToPb(d.scope) })),
    })),
    diffGroupRevisions: unary(ctx, 'DiffGroupRevisions', async (p, req) => {
      if (req.fromRevision <= 0) throw invalid('from_revision is required');
      return svc.insights.diff(p, req.project, req.name, req.fromRevision, req.toRevision, req.keysOnly);
    }),
    revealValue: unary(ctx, 'RevealValue', async (p, req) => {
      const kind = REVEAL_KINDS.get(req.kind);
      if (!kind) throw invalid('kind is required (REVEAL_KIND_GROUP_VARIABLE, …)');
      const scope = kind.startsWith('resolved') ? resolveScopeFromPb(req.scope) : 'runtime';
      const r = await svc.reveal.reveal(p, req.project, kind, req.name, req.key, scope);
      return { value: r.value ?? '', content: r.content ? Buffer.from(r.content.buffer, r.content.byteOffset, r.content.byteLength) : Buffer.alloc(0) };
    }),
  };
}

export function projectWatchHandlers(ctx: ApiContext, svc: InsightServices): Pick<HandlersOf<ProjectServiceServer>, 'watchProject'> {
  return {
    watchProject: serverStream(ctx, 'WatchProject', (p, req, stream) =>
      svc.projectWatch.watch(p, req.project, {
        change: (version, deleted) => {
          if (stream.ended) return;
          stream.write({ version, deleted } as WatchProjectResponse);
          if (deleted) stream.end();
        },
        // A revoked or expired token, or lost rights: ended by the stream guard within 1 s.
        fail: (code, message) => {
          if (!stream.ended) stream.fail(new DomainError(code, message));
        },
      }),
    ),
  };
}
