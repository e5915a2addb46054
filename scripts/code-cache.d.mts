// Types of scripts/code-cache.mjs for the tests that import it (test/deploy/bins.test.ts).
/** What the bin loader puts before a bundle's text to run it as a CommonJS function (node:vm). */
export const WRAP_HEAD: string;
/** What it puts after. */
export const WRAP_TAIL: string;
