/** `sg-agent build-args`: the BUILD set for a build runner, in a form no value can break. */
import { resolve as resolvePath } from 'node:path';
import { CliError, EXIT } from '../../client/exit-codes.js';
import { checkWritable } from '../sinks/atomic-write.js';
import { BuildArgsSink } from '../sinks/build-args.js';
import type { BuildArgsFormat } from '../../client/formats.js';
import { openSession } from '../session/open.js';
import type { AgentLog } from '../log.js';
import type { Parsed } from './args.js';
import { agentConfig } from './config.js';

export async function runBuildArgs(p: Parsed, log: AgentLog): Promise<number> {
  const outArg = p.values.out as string | undefined;
  const out = outArg ? resolvePath(outArg) : undefined;
  if (out) {
    try {
      await checkWritable(out);
    } catch (e) {
      throw new CliError(`cannot write --out ${outArg}: ${(e as Error).message}`, EXIT.server);
    }
  }
  // Suggests only formats this command has (its own --format choices) that carry a refused value.
  const choices = p.command.options.find((o) => o.name === 'format')?.choices ?? [];
  const sink = new BuildArgsSink(p.values.format as BuildArgsFormat, out, choices, log);
  const session = await openSession(agentConfig(p, 'build'), log);
  const res = await session.start();
  session.close();
  try {
    sink.validate(res);
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.server);
  }
  await sink.apply(res);
  await session.flush();
  return EXIT.ok;
}
