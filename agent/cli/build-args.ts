/** `sg-agent build-args`: the BUILD set for a build runner, in a form no value can break. */
import { resolve as resolvePath } from 'node:path';
import { atomicWrite, checkWritable } from '../sinks/atomic-write.js';
import { FormatError, formatBuildArgs, suggestFormats, type BuildArgsFormat } from '../sinks/formats.js';
import type { AgentLog } from '../log.js';
import type { Parsed } from './args.js';
import { CliError, EXIT } from '../client/exit-codes.js';
import { openSession } from '../session/open.js';
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
  const session = await openSession(agentConfig(p, 'build'), log);
  const res = await session.start();
  session.close();
  const format = p.values.format as BuildArgsFormat;
  let text: string;
  try {
    text = formatBuildArgs(format, res.variables);
  } catch (e) {
    // Suggest only formats this command has (its own --format choices) that carry the value.
    const choices = p.command.options.find((o) => o.name === 'format')?.choices ?? [];
    const hint = e instanceof FormatError && e.key ? suggestFormats(choices, format, res.variables, [e.key]) : '';
    throw new CliError(`${(e as Error).message}${hint}`, EXIT.server);
  }
  if (out) {
    await atomicWrite(out, text, { mode: 0o600 });
    log.debug('build arguments written', { path: out, variableCount: Object.keys(res.variables).length });
  } else {
    await new Promise<void>((done, fail) => process.stdout.write(text, (e) => (e ? fail(e) : done())));
  }
  await session.flush();
  return EXIT.ok;
}
