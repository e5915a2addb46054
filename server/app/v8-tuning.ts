/**
 * V8 settings of the `sg serve` process (the executable only; tests that start a server in
 * their own process are not affected).
 *
 * Memory mode: with thousands of Watch streams the young generation is most of what the
 * server's RSS can shed. V8 lets it grow to 16 MB semi-spaces, which then hold garbage from
 * fan-out and re-resolution until the next scavenge. A young generation that does not grow
 * (`--semi-space-growth-factor=1`) and V8's memory-over-speed heuristics
 * (`--optimize-for-size`: the old generation grown by little, every full GC compacting) keep
 * the RSS of 5,000 watchers ~25–50 MB lower. They cost CPU on every path, measured: ~1.5× the
 * server CPU per Resolve and per write (a 1 MB young generation promotes in-flight calls and
 * the old generation is collected ~7× as often). So in `auto` (the default) they are on only
 * while the per-stream memory is what grows: from MEMORY_MODE_STREAMS open Watch/WatchProject
 * streams, off again below half that. V8 reads both flags at each collection; entering
 * memory mode also runs one full collection (at most one a minute), so what the young
 * generation and the old generation's headroom grew to before is given back at once rather
 * than over minutes. It is a low-memory collection (lowMemoryCollection): an ordinary full
 * one keeps the young generation at its size while the allocation rate is high, as it is
 * while thousands of streams connect (then ~30 MB more stay in RSS).
 * `SG_V8_TUNING=memory` keeps memory mode on, `off` leaves V8's defaults.
 *
 * Always (unless off): no Sparkplug (V8's baseline compiler): warm code stays interpreted
 * until TurboFan takes it: 2–3 MB less machine code, and less for every full GC to mark; hot
 * paths are optimized either way.
 *
 * Set with v8.setFlagsFromString rather than on the command line: Node refuses
 * --optimize-for-size in NODE_OPTIONS, and a re-exec would leave a second Node process
 * (another ~40 MB) around the server.
 */
import type { Session } from 'node:inspector';
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import { DomainError } from '../domain/errors.js';

export const SERVER_V8_FLAGS = ['--no-sparkplug'] as const;
export const MEMORY_MODE_FLAGS = ['--optimize-for-size', '--semi-space-growth-factor=1'] as const;
/** V8's own defaults for the memory-mode flags. */
export const SPEED_MODE_FLAGS = ['--no-optimize-for-size', '--semi-space-growth-factor=2'] as const;
/** Open streams from which memory mode is on (auto); it goes off below half of this. */
export const MEMORY_MODE_STREAMS = 1_000;
/**
 * At most one full collection per this interval: callers who open and close hundreds of
 * streams in turn must not buy a full-heap pause each time.
 */
export const MIN_COLLECTION_INTERVAL_MS = 60_000;

export type V8Tuning = 'auto' | 'memory' | 'off';

/** SG_V8_TUNING: auto (default), memory, or off. */
export function v8TuningFrom(env: NodeJS.ProcessEnv = process.env): V8Tuning {
  const v = (env.SG_V8_TUNING ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'memory' || v === 'off') return v;
  throw new DomainError('INVALID_ARGUMENT', `SG_V8_TUNING must be auto, memory or off, not "${env.SG_V8_TUNING}"`);
}

/**
 * V8's collection for low memory: full collections that compact and give back what the young
 * and old generations do not use, whatever the allocation rate. Through an inspector session
 * in this process (HeapProfiler.collectGarbage makes V8's low-memory notification): Node has
 * no other way to it. No port is opened and no domain is enabled. V8 runs it as a task of its
 * own after this turn; the session ends with it, then `done` runs. A Node built without the
 * inspector has no such collection: then nothing is collected here (V8 shrinks the young
 * generation when its own heuristics say so).
 */
export function lowMemoryCollection(done?: () => void): void {
  let session: Session;
  try {
    // Loaded here: `node:inspector` throws when loaded in a Node built without it.
    session = new (createRequire(import.meta.url)('node:inspector') as typeof import('node:inspector')).Session();
    session.connect();
  } catch {
    done?.();
    return;
  }
  session.post('HeapProfiler.collectGarbage', () =>
    // Not from inside the session's own callback: disconnect() waits on it there, for ever.
    setImmediate(() => {
      session.disconnect();
      done?.();
    }),
  );
}

export class V8Tuner {
  private memory = false;
  private lastCollection = -Infinity;

  constructor(
    readonly tuning: V8Tuning,
    private readonly setFlag: (flag: string) => void = (f) => v8.setFlagsFromString(f),
    private readonly enterAt = MEMORY_MODE_STREAMS,
    private readonly collect: () => void = lowMemoryCollection,
    private readonly now: () => number = Date.now,
  ) {}

  /** Applies the start-up flags; call before the server allocates its data. */
  start(): void {
    if (this.tuning === 'off') return;
    for (const flag of SERVER_V8_FLAGS) this.setFlag(flag);
    if (this.tuning === 'memory') this.apply(true);
  }

  /** The number of open streams changed. */
  streams(open: number): void {
    if (this.tuning !== 'auto') return;
    if (!this.memory && open >= this.enterAt) {
      this.apply(true);
      // Not inside the call that admitted the stream: one pause, after it has been answered.
      if (this.now() - this.lastCollection >= MIN_COLLECTION_INTERVAL_MS) {
        this.lastCollection = this.now();
        setImmediate(this.collect);
      }
    } else if (this.memory && open < this.enterAt / 2) this.apply(false);
  }

  get memoryMode(): boolean {
    return this.memory;
  }

  private apply(memory: boolean): void {
    for (const flag of memory ? MEMORY_MODE_FLAGS : SPEED_MODE_FLAGS) this.setFlag(flag);
    this.memory = memory;
  }
}
