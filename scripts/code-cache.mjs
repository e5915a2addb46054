// The V8 code cache of a bundle in dist/bin (scripts/bundle-bins.mjs): how a bundle is wrapped
// into one script (the bundle file holds the wrapped text, so the loader reads it and hands it
// to V8 without a copy), and, run as a program, the producer of its cache:
//   node scripts/code-cache.mjs BUNDLE OUT [ARGS...]
// runs BUNDLE with ARGS the way its loader does and, when the process exits, writes the code V8
// compiled (the top level and every function the run called) to OUT. V8 accepts the cache only
// for the same source length, V8 version and flags; otherwise the loader compiles the source
// as usual (cachedDataRejected), so a stale or foreign cache costs time, never correctness.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

/** The bundle becomes one function of CommonJS's parameters (as node:module wraps a file). */
export const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {';
export const WRAP_TAIL = '\n})';

function produce(bundle, out, args) {
  const script = new Script(readFileSync(bundle, 'utf8'), {
    filename: bundle,
  });
  process.argv = [process.argv[0], bundle, ...args];
  process.on('exit', () => writeFileSync(out, script.createCachedData()));
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [bundle, out, ...args] = process.argv.slice(2);
  if (!bundle || !out) throw new Error('usage: node scripts/code-cache.mjs BUNDLE OUT [ARGS...]');
  produce(bundle, out, args);
}
