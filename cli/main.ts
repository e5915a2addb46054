#!/usr/bin/env node
/** Entry point of `sg` (package.json "bin"; from a checkout: npm run --silent sg -- ARGS). */
import { run } from './program.js';

// Node's deprecation notices (e.g. DEP0123 for TLS to an IP address) would break the
// "one line on stderr" error contract; they concern our dependencies, not the user.
process.noDeprecation = true;

// exitCode rather than process.exit(): stdout is flushed before the process ends. No top-level
// await: the bundle that package.json's "bin" runs is a script (scripts/bundle-bins.mjs).
void run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
