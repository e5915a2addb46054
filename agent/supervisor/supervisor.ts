/**
 * Keeps the workload running with the current environment: starts it, forwards signals,
 * restarts it gracefully on request, and on real changes restarts it (or signals it) after a
 * debounce plus a random splay. Resolves `done` with the agent's exit code once the workload
 * exits on its own or the agent is told to stop.
 */
import { constants } from 'node:os';
import { Child, SpawnError, type ExitInfo } from './child.js';

export type ChangeAction = { kind: 'none' } | { kind: 'restart' } | { kind: 'signal'; signal: NodeJS.Signals };

export interface SupervisorLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

export interface SupervisorOptions {
  command: string;
  args: string[];
  /** The environment for the next start, built from the current resolution. */
  environment(): Record<string, string>;
  /** Fingerprint of the current resolution's content (see contentFingerprint). */
  fingerprint(): string;
  /** Runs before every start (writes secret files). */
  beforeStart?(): Promise<void>;
  killSignal: NodeJS.Signals;
  killTimeoutMs: number;
  debounceMs: number;
  splayMs: number;
  onChange: ChangeAction;
  log: SupervisorLog;
  random?: () => number;
}

/** Signals that end the agent when no child is running to receive them. */
const TERMINATING: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT'];

export class Supervisor {
  readonly done: Promise<number>;
  private finish!: (code: number) => void;
  private child: Child | undefined;
  /** Fingerprint of what the running child was started with (or last signalled about). */
  private runningFingerprint = '';
  private busy = false;
  private terminating: NodeJS.Signals | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private splayTimer: NodeJS.Timeout | undefined;
  private pendingRestart: string | undefined;
  private recheck = false;
  private finished = false;
  /** Number of starts so far (the first one included). */
  starts = 0;

  constructor(private readonly opts: SupervisorOptions) {
    this.done = new Promise((r) => (this.finish = r));
  }

  private end(code: number): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.debounceTimer);
    clearTimeout(this.splayTimer);
    this.finish(code);
  }

  private async spawnChild(): Promise<void> {
    await this.opts.beforeStart?.();
    const fp = this.opts.fingerprint();
    let child: Child;
    try {
      child = await Child.start({ command: this.opts.command, args: this.opts.args, env: this.opts.environment() });
    } catch (e) {
      if (e instanceof SpawnError) {
        this.opts.log.debug('child could not be started', { error: e.message });
        process.stderr.write(`sg-agent: ${e.message}\n`);
        this.end(e.exitCode);
        return;
      }
      throw e;
    }
    this.child = child;
    this.runningFingerprint = fp;
    this.starts++;
    this.opts.log.debug('child started', { pid: child.pid, start: this.starts });
    void child.exited.then((info) => this.onExit(child, info));
  }

  private onExit(child: Child, info: ExitInfo): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.opts.log.debug('child exited', { code: info.code, signal: info.signal });
    // During a restart the exit is expected; otherwise the workload ended and so does the agent.
    if (!this.busy) this.end(info.exitCode);
  }

  async start(): Promise<void> {
    await this.spawnChild();
  }

  /** A signal the agent received: forwarded to the child; ends the agent when there is none. */
  forward(sig: NodeJS.Signals): void {
    if (this.child?.running) {
      this.opts.log.debug('forwarding signal', { signal: sig });
      if (TERMINATING.includes(sig) && this.busy) this.terminating = sig;
      this.child.signal(sig);
      return;
    }
    if (TERMINATING.includes(sig)) {
      this.terminating = sig;
      if (!this.busy) this.end(128 + signalNumber(sig));
    }
  }

  /** A new resolution arrived: apply the change policy after debounce and splay. */
  changed(): void {
    if (this.opts.onChange.kind === 'none' || this.finished) return;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      this.afterSplay(() => this.guard(this.applyChange()));
    }, this.opts.debounceMs);
  }

  /** RestartDependents: restart with the current environment whatever changed (after splay). */
  requestRestart(reason: string): void {
    if (this.finished) return;
    this.pendingRestart = reason;
    this.afterSplay(() => this.guard(this.runRestart()));
  }

  private afterSplay(fn: () => void): void {
    const delay = Math.floor((this.opts.random ?? Math.random)() * this.opts.splayMs);
    if (delay <= 0) return fn();
    clearTimeout(this.splayTimer);
    this.splayTimer = setTimeout(fn, delay);
  }

  /** A restart that cannot start the workload again (files unwritable, say) ends the agent. */
  private guard(p: Promise<void>): void {
    p.catch((e: Error) => {
      this.opts.log.warn('restart failed', { error: e.message });
      process.stderr.write(`sg-agent: restart failed: ${e.message}\n`);
      const child = this.child;
      if (child?.running) void child.stop(this.opts.killSignal, this.opts.killTimeoutMs).then(() => this.end(1));
      else this.end(1);
    });
  }

  private async applyChange(): Promise<void> {
    if (this.finished) return;
    if (this.busy) {
      this.recheck = true;
      return;
    }
    const fp = this.opts.fingerprint();
    // Never act on a no-op: the content must differ from what the child already has.
    if (fp === this.runningFingerprint) {
      this.opts.log.debug('resolution changed back or not at all; nothing to do');
      return;
    }
    const action = this.opts.onChange;
    if (action.kind === 'signal') {
      this.opts.log.info('values changed; signalling the child', { signal: action.signal });
      this.runningFingerprint = fp;
      this.child?.signal(action.signal);
    } else if (action.kind === 'restart') {
      this.pendingRestart = 'values changed';
      await this.runRestart();
    }
  }

  private async runRestart(): Promise<void> {
    if (this.finished || this.busy || this.pendingRestart === undefined) return;
    const reason = this.pendingRestart;
    this.pendingRestart = undefined;
    this.busy = true;
    try {
      this.opts.log.info('restarting the child', { reason });
      const child = this.child;
      if (child) {
        const info = await child.stop(this.opts.killSignal, this.opts.killTimeoutMs);
        if (this.terminating) return this.end(info.exitCode);
      }
      if (this.terminating) return this.end(128 + signalNumber(this.terminating));
      await this.spawnChild();
      // A stop request that arrived while the new child was starting (no child to forward it
      // to then) goes to the new child now; otherwise the agent would never exit.
      if (this.terminating && this.child?.running) this.child.signal(this.terminating);
    } finally {
      this.busy = false;
    }
    // A change that arrived during the restart is already in the new environment; a restart
    // request that arrived then is honoured now.
    if (this.pendingRestart !== undefined) await this.runRestart();
    else if (this.recheck) {
      this.recheck = false;
      await this.applyChange();
    }
  }

  /** Stops the child (graceful, then SIGKILL) and ends with its exit code, or with `exitCode`. */
  async stop(exitCode?: number): Promise<void> {
    const child = this.child;
    if (!child) return this.end(exitCode ?? 0);
    this.busy = true;
    const info = await child.stop(this.opts.killSignal, this.opts.killTimeoutMs);
    this.end(exitCode ?? info.exitCode);
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  return constants.signals[sig] ?? 15;
}
