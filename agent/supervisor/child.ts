/**
 * One run of the workload: spawned in its own process group (so a terminal's Ctrl-C reaches only
 * the agent, which forwards it once, and so a stop can take the whole group down), with a
 * promise of its exit. Modelled on consul-template's child.go: stop = kill signal, wait the kill
 * timeout, then SIGKILL the process group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What the agent exits with: the child's code, or 128 + n when signal n killed it. */
  exitCode: number;
}

export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal) return 128 + (constants.signals[signal] ?? 0);
  return 1;
}

export class SpawnError extends Error {
  override name = 'SpawnError';
  constructor(
    message: string,
    /** 127 for a command that does not exist, 126 for one that cannot be executed (as shells do). */
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface ChildSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
}

export class Child {
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;

  private constructor(private readonly proc: ChildProcess) {
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exitInfo = { code, signal, exitCode: exitCodeOf(code, signal) };
        resolve(this.exitInfo);
      });
    });
  }

  /** Resolves once the process runs; rejects with SpawnError when it cannot be started. */
  static start(spec: ChildSpec): Promise<Child> {
    return new Promise((resolve, reject) => {
      let proc: ChildProcess;
      try {
        // detached: setsid(), i.e. a new session and process group led by the child.
        proc = spawn(spec.command, spec.args, { env: spec.env, stdio: 'inherit', detached: true });
      } catch (e) {
        reject(new SpawnError(`cannot start ${spec.command}: ${(e as Error).message}`, 126));
        return;
      }
      proc.once('error', (e: NodeJS.ErrnoException) => {
        if (proc.pid !== undefined) return;
        const notFound = e.code === 'ENOENT';
        reject(new SpawnError(`cannot start ${spec.command}: ${notFound ? 'command not found' : e.code ?? e.message}`, notFound ? 127 : 126));
      });
      proc.once('spawn', () => resolve(new Child(proc)));
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Sends a signal to the child process itself (what a forwarded signal does). */
  signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      /* already gone */
    }
  }

  /** Sends a signal to the child's whole process group. */
  signalGroup(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, sig);
    } catch {
      this.signal(sig);
    }
  }

  /** Graceful stop: `killSignal` to the group, then SIGKILL to the group after `killTimeoutMs`. */
  async stop(killSignal: NodeJS.Signals, killTimeoutMs: number): Promise<ExitInfo> {
    if (!this.running) return this.exitInfo!;
    this.signalGroup(killSignal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), killTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) this.signalGroup('SIGKILL');
    return this.exited;
  }
}
