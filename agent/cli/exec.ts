/** `sg-agent exec`: the workload as a supervised child with the resolved variables. */
import { constants } from 'node:os';
import { CliError, EXIT } from '../../client/exit-codes.js';
import { ChildSink } from '../sinks/child.js';
import { contentFingerprint } from '../sinks/env.js';
import { SecretFilesSink } from '../sinks/secret-files.js';
import { applyAll, type Sink } from '../sinks/sink.js';
import { openSession } from '../session/open.js';
import { Supervisor, type ChangeAction } from '../supervisor/supervisor.js';
import type { AgentLog } from '../log.js';
import type { Parsed } from './args.js';
import { agentConfig } from './config.js';

/** Signals the agent forwards to the workload (SIGKILL and SIGSTOP cannot be caught). */
export const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export async function runExec(p: Parsed, log: AgentLog): Promise<number> {
  const v = p.values;
  const [command, ...args] = p.rest!;
  const cfg = agentConfig(p);
  const files = new SecretFilesSink(v['files-root'] as string | undefined, log);
  const child = new ChildSink(process.env, Boolean(v.pristine));
  // Files follow every change at once (programs may re-read them); the process itself follows
  // the change policy.
  const sinks: Sink[] = [files, child];
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
    for (const s of sinks) await s.validate?.(first);
  } catch (e) {
    session.close();
    throw new CliError((e as Error).message, EXIT.server);
  }

  // Every start reads the current resolution from the session's memory cache.
  supervisor = new Supervisor({
    command: command!,
    args,
    environment: () => child.environment(session.current),
    fingerprint: () => contentFingerprint(session.current),
    beforeStart: async () => {
      await files.apply(session.current);
    },
    killSignal: v['kill-signal'] as NodeJS.Signals,
    killTimeoutMs: v['kill-timeout'] as number,
    debounceMs: v['restart-debounce'] as number,
    splayMs: v.splay as number,
    onChange,
    log,
  });
  const sup = supervisor;
  child.supervisor = sup;
  session.handlers = {
    onResolution: (res) => {
      log.info('values changed', { etag: res.etag, variableCount: Object.keys(res.variables).length, fileCount: res.files.length });
      void applyAll(sinks, res, (e) => log.error('cannot apply the change', { error: e.message }));
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
