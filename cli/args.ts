/**
 * Pure parsing of command-line values. Errors are usage errors that name the flag and, at
 * most, a key: a value typed on the command line may be a secret, so it is never echoed.
 */
import { GroupType, Scope, WorkloadKind } from '../gen/light/secretgroups/v1/resources.js';
import { parsePriority as parseDomainPriority } from '../server/domain/validation.js';
import { usage } from './errors.js';

/** Commander accumulator for repeatable flags (`--tag a --tag b`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Splits `KEY=VALUE` at the first '=' so values keep theirs (`URL=a=b` is key URL, value a=b).
 * `what` names the flag or argument in the error.
 */
export function splitAssignment(what: string, text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq < 0) throw usage(`${what} expects KEY=VALUE, got an argument without '='`);
  const key = text.slice(0, eq);
  if (key === '') throw usage(`${what} expects KEY=VALUE, got an empty key`);
  return [key, text.slice(eq + 1)];
}

/** `K=V` arguments to a map; the same key twice is refused rather than silently dropped. */
export function parseAssignments(what: string, items: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const item of items ?? []) {
    const [key, value] = splitAssignment(what, item);
    if (Object.hasOwn(out, key)) throw usage(`${what}: key ${JSON.stringify(key)} is given more than once`);
    out[key] = value;
  }
  // A plain object again: protobuf encoders iterate own keys and do not care, JSON does not either.
  return { ...out };
}

/** `KEY` or `KEY=ALIAS` for addon links; an empty alias means the default alias. */
export function parseLinkKey(text: string): { key: string; alias: string } {
  const eq = text.indexOf('=');
  const key = eq < 0 ? text : text.slice(0, eq);
  const alias = eq < 0 ? '' : text.slice(eq + 1);
  if (key === '') throw usage(`--key expects KEY or KEY=ALIAS, got an empty key`);
  return { key, alias };
}

export function parsePriority(text: string): number {
  return parseDomainPriority('--priority', text);
}

/** `--expected-revision`: a non-negative integer; 0 (the default) skips the check. */
export function parseRevision(flag: string, text: string | undefined): number {
  if (text === undefined) return 0;
  if (!/^\d{1,15}$/.test(text.trim())) {
    throw usage(`${flag} must be a non-negative integer, got ${JSON.stringify(text)}`);
  }
  return Number(text.trim());
}

/** Unix permission bits written in octal (`0640`, `640`). */
export function parseMode(text: string): number {
  if (!/^0?[0-7]{3}$/.test(text.trim())) {
    throw usage(`--mode must be octal permission bits such as 0600 or 0640, got ${JSON.stringify(text)}`);
  }
  return parseInt(text.trim(), 8);
}

export function formatMode(mode: number): string {
  return `0${(mode || 0o600).toString(8).padStart(3, '0')}`;
}

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** `--ttl`: `90s`, `30m`, `24h`, `7d`, `2w`, plain seconds, or 0 for never. Returns seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d{1,9})([smhdw]?)$/.exec(text.trim());
  if (!m) throw usage(`--ttl must be a duration such as 30m, 24h or 7d (0 means never), got ${JSON.stringify(text)}`);
  return Number(m[1]) * TTL_UNITS[m[2] || 's']!;
}

export function parseKind(text: string): WorkloadKind {
  if (text === 'service') return WorkloadKind.WORKLOAD_KIND_SERVICE;
  if (text === 'job') return WorkloadKind.WORKLOAD_KIND_JOB;
  throw usage(`--kind must be "service" or "job", got ${JSON.stringify(text)}`);
}

export function parseGroupType(text: string): GroupType {
  if (text === 'secret') return GroupType.GROUP_TYPE_SECRET;
  if (text === 'config') return GroupType.GROUP_TYPE_CONFIG;
  throw usage(`--type must be "secret" or "config", got ${JSON.stringify(text)}`);
}

export function parseGroupScope(text: string): Scope {
  if (text === 'runtime') return Scope.SCOPE_RUNTIME;
  if (text === 'build') return Scope.SCOPE_BUILD;
  if (text === 'both') return Scope.SCOPE_BOTH;
  throw usage(`--scope must be "runtime", "build" or "both", got ${JSON.stringify(text)}`);
}

/** Resolution asks for one scope: runtime (the default) or build. */
export function parseResolveScope(text: string | undefined): Scope {
  if (text === undefined || text === 'runtime') return Scope.SCOPE_RUNTIME;
  if (text === 'build') return Scope.SCOPE_BUILD;
  throw usage(`--scope must be "runtime" or "build", got ${JSON.stringify(text)}`);
}

/** `PROJECT/NAME` of a workload token. */
export function parseWorkloadRef(text: string): { project: string; workload: string } {
  const m = /^([^/]+)\/([^/]+)$/.exec(text);
  if (!m) throw usage(`--workload expects PROJECT/NAME, got ${JSON.stringify(text)}`);
  return { project: m[1]!, workload: m[2]! };
}

/**
 * Addon details from a JSON file: an object whose values are all strings. Errors name the
 * offending key, never its value.
 */
export function parseDetailsJson(source: string, text: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw usage(`${source}: not valid JSON (${describeJsonError(err instanceof Error ? err.message : '')})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw usage(`${source}: expected a JSON object of strings`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof value !== 'string') throw usage(`${source}: the value of ${JSON.stringify(key)} must be a string`);
    out[key] = value;
  }
  return out;
}

/** V8's JSON messages quote the offending text, which could be part of a secret; keep only where. */
function describeJsonError(message: string): string {
  const pos = /position (\d+)/.exec(message);
  const line = /line (\d+)/.exec(message);
  if (line) return `at line ${line[1]}`;
  if (pos) return `at position ${pos[1]}`;
  return /end of JSON|Unexpected end/i.test(message) ? 'unexpected end of input' : 'syntax error';
}

export const GROUP_TYPE_NAMES: Record<number, string> = {
  [GroupType.GROUP_TYPE_SECRET]: 'secret',
  [GroupType.GROUP_TYPE_CONFIG]: 'config',
};

export const SCOPE_NAMES: Record<number, string> = {
  [Scope.SCOPE_RUNTIME]: 'runtime',
  [Scope.SCOPE_BUILD]: 'build',
  [Scope.SCOPE_BOTH]: 'both',
};

export const KIND_NAMES: Record<number, string> = {
  [WorkloadKind.WORKLOAD_KIND_SERVICE]: 'service',
  [WorkloadKind.WORKLOAD_KIND_JOB]: 'job',
};
