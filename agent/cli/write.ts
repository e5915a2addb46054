/** `sg-agent write`: the variables as a file (and the secret files), kept current with --watch. */
import { spawn } from 'node:child_process';
import { resolve as resolvePath } from 'node:path';
import { CliError, EXIT } from '../../client/exit-codes.js';
import { checkWritable } from '../sinks/atomic-write.js';
import { childEnvironment } from '../sinks/env.js';
import type { FileFormat } from '../../client/formats.js';
import { OutFileSink } from '../sinks/out-file.js';
import { SecretFilesSink } from '../sinks/secret-files.js';
import { applyAll, type Sink } from '../sinks/sink.js';
import { openSession } from '../session/open.js';
import type { AgentLog } from '../log.js';
import type { Parsed } from './args.js';
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
  const execAfter = v['exec-after'] as string | undefined;
  const watch = Boolean(v.watch);
  try {
    await checkWritable(out);
  } catch (e) {
    throw new CliError(`cannot write --out ${outArg}: ${(e as Error).message}`, EXIT.server);
  }
  const cfg = agentConfig(p);
  const outFile = new OutFileSink({
    path: out,
    label: outArg,
    format: v.format as FileFormat,
    choices: p.command.options.find((o) => o.name === 'format')?.choices ?? [],
    log,
  });
  // Secret files first, so that whoever watches --out finds them in place when it changes.
  const sinks: Sink[] = [new SecretFilesSink(v['files-root'] as string | undefined, log), outFile];
  const session = await openSession(cfg, log);
  const first = await session.start();

  try {
    // Everything is rendered and validated before anything is written.
    if ((await applyAll(sinks, first)) && execAfter) await runAfter(execAfter, log);
  } catch (e) {
    session.close();
    throw new CliError((e as Error).message, EXIT.server);
  }
  if (!watch) {
    session.close();
    await session.flush();
    return outFile.incomplete ? EXIT.incomplete : EXIT.ok;
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
          if ((await applyAll(sinks, res)) && execAfter) await runAfter(execAfter, log);
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
