/**
 * A project's own execution-controlling keys: names and prefixes an admin adds to the built-in
 * families (execution-keys.ts), for the project's own hooks (`MY_PLUGIN_PATH`, `ACME_*`). They
 * count exactly like the built-in ones: keys-only writers may not change them (SECURITY.md
 * "Execution-controlling keys and files").
 */
import { echo, invalid, tooLarge } from './errors.js';
import { compilePattern, executionFamily, matches } from './execution-keys.js';
import { LIMITS } from './limits.js';

/** `NAME` or `PREFIX*`: variable-name characters, at most one `*`, at the end. */
const PATTERN_RE = /^[A-Za-z_][A-Za-z0-9_]*\*?$/;

/** Checks and normalises (sorted, without duplicates) a project's list. INVALID_ARGUMENT names the entry. */
export function validateExecutionKeyPatterns(patterns: readonly string[]): string[] {
  const unique = [...new Set(patterns)].sort();
  if (unique.length > LIMITS.executionKeyPatterns) {
    throw tooLarge(`a project may add at most ${LIMITS.executionKeyPatterns} execution-controlling keys; this list has ${unique.length}`);
  }
  for (const p of unique) {
    if (!PATTERN_RE.test(p) || p.length > LIMITS.keyLength + 1) {
      throw invalid(`execution-controlling key ${echo(p)} is not a NAME or PREFIX*: letters, digits and '_', not starting with a digit, an optional '*' at the end (at most ${LIMITS.keyLength} characters before it)`);
    }
    if (p === '__proto__') throw invalid('execution-controlling key "__proto__" is reserved');
  }
  return unique;
}

/** The project entry a name matches, or null. */
export function projectPatternOf(key: string, patterns: readonly string[]): string | null {
  for (const p of patterns) if (matches(compilePattern(p), key)) return p;
  return null;
}

/**
 * Why a name is execution-controlling in this project: a built-in family's id, or
 * `project policy PATTERN`; null for an ordinary key.
 */
export function executionRule(key: string, projectPatterns: readonly string[] = []): string | null {
  const family = executionFamily(key);
  if (family) return family;
  const own = projectPatternOf(key, projectPatterns);
  return own ? `project policy ${own}` : null;
}
