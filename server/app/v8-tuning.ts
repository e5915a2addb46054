/**
 * V8 settings of the `sg serve` process (the executable only; tests that start a server in
 * their own process are not affected). With thousands of Watch streams the young generation
 * is most of what the server's RSS can shed: V8 lets it grow to 32 MB of semi-space, which
 * then holds garbage from fan-out and re-resolution until the next scavenge. A 1 MB young
 * generation that does not grow, and V8's memory-over-speed heuristics, keep the RSS of 5,000
 * watchers ~25–50 MB lower (docs/performance.md has the figures and the CPU cost). Without
 * Sparkplug (V8's baseline compiler) warm code stays interpreted until TurboFan takes it:
 * 2–3 MB less machine code, and less for every major GC to mark; hot paths are optimized
 * either way.
 *
 * Set at start with v8.setFlagsFromString rather than on the command line: Node refuses
 * --optimize-for-size in NODE_OPTIONS, and a re-exec would leave a second Node process
 * (another ~40 MB) around the server. Both flags are read by V8 at every heap-growing
 * decision, so they apply when set before the server has allocated its data; measured:
 * the same RSS as `node --max-semi-space-size=1 --optimize-for-size`.
 */
import v8 from 'node:v8';

export const SERVER_V8_FLAGS = ['--optimize-for-size', '--semi-space-growth-factor=1', '--no-sparkplug'] as const;

/** Applies SERVER_V8_FLAGS unless SG_V8_TUNING is "off"; returns the flags applied. */
export function tuneV8ForServer(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  if (env.SG_V8_TUNING === 'off') return [];
  for (const flag of SERVER_V8_FLAGS) v8.setFlagsFromString(flag);
  return SERVER_V8_FLAGS;
}
