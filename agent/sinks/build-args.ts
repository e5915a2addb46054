/** `build-args`: the BUILD set in a form no value can break, to --out (atomically, 0600) or stdout. */
import { atomicWrite } from './atomic-write.js';
import { FormatError, formatBuildArgs, suggestFormats, type BuildArgsFormat } from '../../client/formats.js';
import type { Resolution } from '../../client/wire.js';
import type { AgentLog } from '../log.js';
import type { Sink } from './sink.js';

export class BuildArgsSink implements Sink {
  constructor(
    private readonly format: BuildArgsFormat,
    /** The absolute path written; undefined writes to stdout. */
    private readonly out: string | undefined,
    /** The formats this command offers, for suggesting one that carries a refused value. */
    private readonly choices: readonly string[],
    private readonly log: Pick<AgentLog, 'debug'>,
  ) {}

  private text(res: Resolution): string {
    try {
      return formatBuildArgs(this.format, res.variables);
    } catch (e) {
      const hint = e instanceof FormatError && e.key ? suggestFormats(this.choices, this.format, res.variables, [e.key]) : '';
      throw new FormatError(`${(e as Error).message}${hint}`, e instanceof FormatError ? e.key : undefined);
    }
  }

  /** A value the format cannot carry refuses the whole set, naming the key and the formats that carry it. */
  validate(res: Resolution): void {
    this.text(res);
  }

  async apply(res: Resolution): Promise<boolean> {
    const text = this.text(res);
    if (this.out) {
      const changed = await atomicWrite(this.out, text, { mode: 0o600 });
      this.log.debug('build arguments written', { path: this.out, variableCount: Object.keys(res.variables).length });
      return changed;
    }
    await new Promise<void>((done, fail) => process.stdout.write(text, (e) => (e ? fail(e) : done())));
    return true;
  }
}
