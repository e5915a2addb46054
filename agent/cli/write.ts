/** `sg-agent write`: the variables as a file (and the secret files), kept current with --watch. */
import { spawn } from 'node:child_process';
import { resolve as resolvePath } from 'node:path';
import { atomicWrite, checkWritable } from '../sinks/atomic-write.js';
import { renderFile, suggestFormats, type FileFormat, type Unwritable, type Variables } from '../sinks/formats.js';
import { SecretFileWriter, skippedFilesWarning } from '../sinks/secret-files.js';
import { childEnvironment } from '../sinks/env.js';
import type { Resolution } from '../client/wire.js';
import type { AgentLog } from '../log.js';
import type { Parsed } from './args.js';
import { CliError, EXIT } from '../client/exit-codes.js';
import { openSession } from '../session/open.js';
import { agentConfig } from './config.js';

function runAfter(cmd: string, log: AgentLog): Promise<void> {
  return new Promise((done) => {
    const child = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'inherit', 'inherit'], env: childEnvironment(process.env, {}) });
    child.once('error', (e) => {
      log.error('--exec-after could not start', { error: e.message });
      done();
    });
    child.once('exit', (code, signal) => {
      if (code === 0) log.debug('--exec-after finished');
      else log.warn('--exec-after failed', { code, signal });
      done();
    });
  });
}

export async function runWrite(p: Parsed, log: AgentLog): Promise<number> {
  const v = p.values;
  const outArg = v.out as string | undefined;
  if (!outArg) throw new CliError('write: --out FILE is required', EXIT.usage);
  const out = resolvePath(outArg);
  const format = v.format as FileFormat;
  const execAfter = v['exec-after'] as string | undefined;
  const watch = Boolean(v.watch);
  try {
    await checkWritable(out);
  } catch (e) {
    throw new CliError(`cannot write --out ${outArg}: ${(e as Error).message}`, EXIT.server);
  }
  const cfg = agentConfig(p);
  const files = new SecretFileWriter(v['files-root'] as string | undefined, skippedFilesWarning(log));
  const session = await openSession(cfg, log);
  const first = await session.start();
  const choices = p.command.options.find((o) => o.name === 'format')?.choices ?? [];

  /**
   * A variable the format cannot carry is left out and the rest is written, so one such value
   * never stops later changes (a rotated secret) from arriving. Said on stderr, by key only,
   * whenever the set of left-out variables changes.
   */
  let leftOut = '';
  const report = (unwritable: Unwritable[], vars: Variables) => {
    const now = unwritable.map((u) => u.key).join(',');
    if (now === leftOut) return;
    leftOut = now;
    if (!unwritable.length) {
      process.stderr.write(`sg-agent: every variable is written to ${outArg} again\n`);
      log.info('every variable written again', { path: out, format });
      return;
    }
    const hint = suggestFormats(choices, format, vars, unwritable.map((u) => u.key));
    process.stderr.write(
      `sg-agent: WARNING: --format ${format} cannot carry ${unwritable.map((u) => `${u.key} (${u.reason})`).join(', ')}; left out of ${outArg}, every other variable is written${hint}\n`,
    );
    log.warn('variables left out of the file', { path: out, format, keys: unwritable.map((u) => u.key) });
  };

  // Renders and validates everything before writing anything.
  const apply = async (res: Resolution): Promise<boolean> => {
    const { text, unwritable } = renderFile(format, res.variables);
    report(unwritable, res.variables);
    await files.validate(res.files);
    const r = await files.write(res.files);
    const changed = await atomicWrite(out, text, { mode: 0o600 });
    if (changed) log.info('file written', { path: out, format, variableCount: Object.keys(res.variables).length });
    else log.debug('file unchanged', { path: out });
    return changed || r.written.length > 0;
  };

  try {
    const changed = await apply(first);
    if (changed && execAfter) await runAfter(execAfter, log);
  } catch (e) {
    session.close();
    throw new CliError((e as Error).message, EXIT.server);
  }
  if (!watch) {
    session.close();
    await session.flush();
    return leftOut ? EXIT.incomplete : EXIT.ok;
  }

  return new Promise<number>((finish) => {
    // Changes and restart requests are handled one at a time, in order.
    let queue = Promise.resolve();
    const enqueue = (fn: () => Promise<void>) => {
      queue = queue.then(fn).catch((e: Error) => log.error('update failed', { error: e.message }));
    };
    session.handlers = {
      onResolution: (res) =>
        enqueue(async () => {
          if ((await apply(res)) && execAfter) await runAfter(execAfter, log);
        }),
      onRestart: () =>
        enqueue(async () => {
          if (execAfter) await runAfter(execAfter, log);
        }),
      onFatal: (err) => {
        session.close();
        if (err instanceof CliError) process.stderr.write(`sg-agent: ${err.message}\n`);
        finish(err instanceof CliError ? err.exitCode : EXIT.server);
      },
    };
    const stop = () => {
      session.close();
      void queue.then(() => session.flush()).then(() => finish(EXIT.ok));
    };
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const) process.once(sig, stop);
  });
}
