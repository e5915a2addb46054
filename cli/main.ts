#!/usr/bin/env node
/** Entry point of `sg` (package.json "bin"; from a checkout: npm run --silent sg -- ARGS). */
import { run } from './program.js';

// Node's deprecation notices (e.g. DEP0123 for TLS to an IP address) would break the
// "one line on stderr" error contract; they concern our dependencies, not the user.
process.noDeprecation = true;

// exitCode rather than process.exit(): stdout is flushed before the process ends.
process.exitCode = await run(process.argv.slice(2));
