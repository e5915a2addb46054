#!/usr/bin/env node
/** Entry point of `sg` (package.json "bin"; from a checkout: npm run --silent sg -- ARGS). */
import { run } from './program.js';

// exitCode rather than process.exit(): stdout is flushed before the process ends.
process.exitCode = await run(process.argv.slice(2));
