/** `sg resolve` and `sg explain`: what a workload inherits, and where each key comes from. */
import type { Command } from 'commander';
import { ExplainRequest, ResolveRequest } from '../../../gen/secretgroups/v1/resolver_service.js';
import { parseResolveScope } from '../args.js';
import { withSession } from '../client.js';
import { emit, withAddr, withJson } from '../kit.js';
import { explainHuman, explainJson, resolutionHuman, resolutionJson } from '../views.js';

interface Opts {
  addr?: string;
  json?: boolean;
  scope?: string;
  explain?: boolean;
}

export function registerResolve(program: Command): void {
  withJson(
    withAddr(
      program
        .command('resolve')
        .description("a workload's merged variables and files: groups by priority, then its own variables")
        .argument('<project>', 'project name')
        .argument('<workload>', 'workload name')
        .option('--scope <scope>', 'runtime (default) or build')
        .option('--explain', 'also show, per key, the winning source and the groups it shadowed'),
    ),
    'one object whose "variables" maps each key to its value',
  ).action((project: string, workload: string, opts: Opts) => {
    const scope = parseResolveScope(opts.scope);
    return withSession(opts, async (s) => {
      const [res, explain] = await Promise.all([
        s.call(s.clients.resolver, 'resolve', ResolveRequest.fromPartial({ project, workload, scope })),
        opts.explain ? s.call(s.clients.resolver, 'explain', ExplainRequest.fromPartial({ project, workload, scope })) : undefined,
      ]);
      emit(opts, () => resolutionJson(res.resolution!, explain), () => resolutionHuman(res.resolution!, explain));
    });
  });

  withJson(
    withAddr(
      program
        .command('explain')
        .description('per key: the winning source, the groups it shadowed, equal-priority conflicts (keys only, no values)')
        .argument('<project>', 'project name')
        .argument('<workload>', 'workload name')
        .option('--scope <scope>', 'runtime (default) or build'),
    ),
    'the provenance',
  ).action((project: string, workload: string, opts: Opts) => {
    const scope = parseResolveScope(opts.scope);
    return withSession(opts, async (s) => {
      const res = await s.call(s.clients.resolver, 'explain', ExplainRequest.fromPartial({ project, workload, scope }));
      emit(opts, () => explainJson(res), () => explainHuman(res));
    });
  });
}
