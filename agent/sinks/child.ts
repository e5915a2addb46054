/**
 * `exec`: the supervised child. Its environment is built from the current resolution at every
 * (re)start; a change is handed to the supervisor, whose policy (--restart-on-change,
 * --on-change-signal, or nothing) decides what the running child sees of it.
 */
import { childEnvironment } from './env.js';
import type { Resolution } from '../../client/wire.js';
import type { Sink } from './sink.js';

export class ChildSink implements Sink {
  /** Told of every change (Supervisor.changed); set once the supervisor exists. */
  supervisor: { changed(): void } | undefined;

  constructor(
    private readonly inherited: NodeJS.ProcessEnv,
    private readonly pristine: boolean,
  ) {}

  /** The child's environment for `res`: inherited, minus the agent's credentials, resolved on top. */
  environment(res: Resolution): Record<string, string> {
    return childEnvironment(this.inherited, res.variables, { pristine: this.pristine });
  }

  /** A value an environment cannot carry (a NUL byte) refuses the set. */
  validate(res: Resolution): void {
    this.environment(res);
  }

  apply(): Promise<boolean> {
    this.supervisor?.changed();
    return Promise.resolve(false);
  }
}
