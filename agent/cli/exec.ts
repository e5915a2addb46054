/** `sg-agent exec`: the workload as a supervised child with the resolved variables. */
import { constants } from 'node:os';
import { SecretFileWriter, skippedFilesWarning } from '../sinks/secret-files.js';
import { childEnvironment, contentFingerprint } from '../sinks/env.js';
import { Supervisor, type ChangeAction } from '../supervisor/supervisor.js';
import type { AgentLog } from '../log.js';
import type { Parsed } from './args.js';
import { CliError, EXIT } from '../client/exit-codes.js';
import { openSession } from '../session/open.js';
import { agentConfig } from './config.js';

/** Signals the agent forwards to the workload (SIGKILL and SIGSTOP cannot be caught). */
export const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export async function runExec(p: Parsed, log: AgentLog): Promise<number> {
  const v = p.values;
  const [command, ...args] = p.rest!;
  const cfg = agentConfig(p);
  const files = new SecretFileWriter(v['files-root'] as string | undefined, skippedFilesWarning(log));
  const onChange: ChangeAction = v['on-change-signal']
    ? { kind: 'signal', signal: v['on-change-signal'] as NodeJS.Signals }
    : v['restart-on-change']
      ? { kind: 'restart' }
      : { kind: 'none' };

  let supervisor: Supervisor | undefined;
  // Installed before the first resolution: as PID 1 an unhandled SIGTERM would be ignored, and a
  // stop request while still connecting must end the agent without starting the workload.
  let early: ((code: number) => void) | undefined;
  const earlyExit = new Promise<number>((r) => (early = r));
  for (const sig of FORWARDED) {
    process.on(sig, () => {
      if (supervisor) supervisor.forward(sig);
      else if (sig === 'SIGTERM' || sig === 'SIGINT' || sig === 'SIGQUIT') early?.(128 + constants.signals[sig]);
    });
  }

  const session = await openSession(cfg, log);
  const first = await Promise.race([session.start(), earlyExit]);
  if (typeof first === 'number') {
    session.close();
    return first;
  }
  try {
    await files.validate(first.files);
    childEnvironment(process.env, first.variables);
  } catch (e) {
    session.close();
    throw new CliError((e as Error).message, EXIT.server);
  }

  supervisor = new Supervisor({
    command: command!,
    args,
    environment: () => childEnvironment(process.env, session.current.variables, { pristine: Boolean(v.pristine) }),
    fingerprint: () => contentFingerprint(session.current),
    beforeStart: async () => {
      const r = await files.write(session.current.files);
      if (r.written.length) log.debug('secret files written', { paths: r.written });
    },
    killSignal: v['kill-signal'] as NodeJS.Signals,
    killTimeoutMs: v['kill-timeout'] as number,
    debounceMs: v['restart-debounce'] as number,
    splayMs: v.splay as number,
    onChange,
    log,
  });
  const sup = supervisor;
  session.handlers = {
    onResolution: (res) => {
      log.info('values changed', { etag: res.etag, variableCount: Object.keys(res.variables).length, fileCount: res.files.length });
      // Files follow every change at once (programs may re-read them); the process itself follows
      // the change policy.
      files
        .write(res.files)
        .then((r) => r.written.length && log.info('secret files updated', { paths: r.written }))
        .catch((e: Error) => log.error('cannot write secret files', { error: e.message }))
        .finally(() => sup.changed());
    },
    onRestart: (ev) => sup.requestRestart(`RestartDependents of group ${ev.group}`),
    // The token stayed refused past --auth-grace: stop the workload like on SIGTERM (it keeps
    // running during the grace, on the values it has) and exit with EXIT.auth.
    onFatal: (err) => {
      if (!(err instanceof CliError) || err.exitCode !== EXIT.auth) return;
      process.stderr.write(`sg-agent: ${err.message}; stopping the workload\n`);
      void sup.stop(EXIT.auth);
    },
  };
  await sup.start();
  const code = await sup.done;
  session.close();
  await session.flush();
  return code;
}
