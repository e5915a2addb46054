/**
 * `write --out FILE`: the variables as one file (dotenv, json, shell), written atomically,
 * mode 0600, untouched when its bytes are unchanged. A variable the format cannot carry is left
 * out and the rest is written, so one such value never stops later changes (a rotated secret)
 * from arriving; it is named on stderr, by key only, whenever the set of left-out variables changes.
 */
import { atomicWrite } from './atomic-write.js';
import { renderFile, suggestFormats, type FileFormat, type Rendered } from '../../client/formats.js';
import type { Resolution } from '../../client/wire.js';
import type { AgentLog } from '../log.js';
import type { Sink } from './sink.js';

export interface OutFileOptions {
  /** The absolute path written. */
  path: string;
  /** The path as the user gave it (for messages). */
  label: string;
  format: FileFormat;
  /** The formats this command offers, for suggesting one that carries a left-out value. */
  choices: readonly string[];
  log: Pick<AgentLog, 'debug' | 'info' | 'warn'>;
}

export class OutFileSink implements Sink {
  /** Keys left out of the file as last written, comma-separated. */
  private leftOut = '';
  private rendered: { res: Resolution; out: Rendered } | undefined;

  constructor(private readonly opts: OutFileOptions) {}

  /** Whether the file as last written lacks variables its format cannot carry. */
  get incomplete(): boolean {
    return this.leftOut !== '';
  }

  private render(res: Resolution): Rendered {
    if (this.rendered?.res !== res) this.rendered = { res, out: renderFile(this.opts.format, res.variables) };
    return this.rendered.out;
  }

  /** Renders, and names the variables left out when they differ from the last time. */
  validate(res: Resolution): void {
    const { unwritable } = this.render(res);
    const { format, label, path, log } = this.opts;
    const now = unwritable.map((u) => u.key).join(',');
    if (now === this.leftOut) return;
    this.leftOut = now;
    if (!unwritable.length) {
      process.stderr.write(`sg-agent: every variable is written to ${label} again\n`);
      log.info('every variable written again', { path, format });
      return;
    }
    const hint = suggestFormats(this.opts.choices, format, res.variables, unwritable.map((u) => u.key));
    process.stderr.write(
      `sg-agent: WARNING: --format ${format} cannot carry ${unwritable.map((u) => `${u.key} (${u.reason})`).join(', ')}; left out of ${label}, every other variable is written${hint}\n`,
    );
    log.warn('variables left out of the file', { path, format, keys: unwritable.map((u) => u.key) });
  }

  async apply(res: Resolution): Promise<boolean> {
    const { path, format, log } = this.opts;
    const { text, unwritable } = this.render(res);
    const changed = await atomicWrite(path, text, { mode: 0o600 });
    // The variables in the file: those left out are named by validate().
    if (changed) log.info('file written', { path, format, variableCount: Object.keys(res.variables).length - unwritable.length });
    else log.debug('file unchanged', { path });
    return changed;
  }
}
