/** `sg resolve` and `sg explain`: what a workload inherits, and where each key comes from. */
import type { Command } from 'commander';
import { ExplainRequest, ResolveRequest, ResolverServiceDefinition } from '../../gen/light/secretgroups/v1/resolver_service.js';
import { parseResolveScope } from '../args.js';
import { withSession } from '../client.js';
import { FormatError, formatFile, suggestFormats } from '../../client/formats.js';
import { usage } from '../errors.js';
import { emit, withAddr, withJson } from '../kit.js';
import { stdout } from '../output.js';
import { explainHuman, explainJson, resolutionHuman, resolutionJson } from '../views.js';

interface Opts {
  addr?: string;
  json?: boolean;
  scope?: string;
  explain?: boolean;
  showValues?: boolean;
  format?: string;
}

const FORMATS = ['table', 'json', 'dotenv', 'shell'] as const;
type Format = (typeof FORMATS)[number];

/** --json is the same as --format json; dotenv and shell print values: the user asked for them. */
export function resolveFormat(opts: Opts): Format {
  if (opts.format !== undefined && !FORMATS.includes(opts.format as Format)) {
    throw usage(`--format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(opts.format)}`);
  }
  if (opts.json && opts.format && opts.format !== 'json') throw usage('--json and --format ' + opts.format + ' contradict each other');
  return opts.json ? 'json' : ((opts.format as Format | undefined) ?? 'table');
}

/** The variables as a file; a refusal names only this command's formats that carry the value. */
function fileOrHint(format: 'dotenv' | 'shell', vars: Record<string, string>): string {
  try {
    return formatFile(format, vars);
  } catch (e) {
    if (!(e instanceof FormatError) || !e.key) throw e;
    throw new FormatError(`${e.message}${suggestFormats(FORMATS, format, vars, [e.key])}`, e.key);
  }
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
        .option('--explain', 'also show, per key, the winning source and the groups it shadowed')
        .option('--show-values', 'print values in the table (masked by default: a resolution holds secrets)')
        .option('--format <format>', `output: ${FORMATS.join('|')} (table by default; dotenv and shell print values)`),
    ),
    'one object whose "variables" maps each key to its value (same as --format json)',
  ).action((project: string, workload: string, opts: Opts) => {
    const scope = parseResolveScope(opts.scope);
    const format = resolveFormat(opts);
    return withSession(opts, async (s) => {
      const [res, explain] = await Promise.all([
        s.call(ResolverServiceDefinition, 'resolve', ResolveRequest.fromPartial({ project, workload, scope })),
        opts.explain ? s.call(ResolverServiceDefinition, 'explain', ExplainRequest.fromPartial({ project, workload, scope })) : undefined,
      ]);
      const r = res.resolution!;
      if (format === 'dotenv' || format === 'shell') stdout.write(fileOrHint(format, r.variables));
      else emit({ json: format === 'json' }, () => resolutionJson(r, explain), () => resolutionHuman(r, explain, !opts.showValues));
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
      const res = await s.call(ResolverServiceDefinition, 'explain', ExplainRequest.fromPartial({ project, workload, scope }));
      emit(opts, () => explainJson(res), () => explainHuman(res));
    });
  });
}
