/**
 * Command-line parsing for sg-agent. Hand-written rather than commander: commander costs ~14 ms
 * of start-up, a quarter of the whole budget of `sg-agent exec -- true`. Options are declared
 * once, with their environment variable and help text; precedence is flag > environment >
 * default.
 */
import { constants } from 'node:os';

export class UsageError extends Error {
  override name = 'UsageError';
}

type Kind = 'string' | 'boolean' | 'duration' | 'signal' | 'choice';

export interface OptionSpec {
  name: string;
  kind: Kind;
  help: string;
  arg?: string;
  env?: string;
  default?: string;
  choices?: readonly string[];
}

export interface CommandSpec {
  name: 'exec' | 'write' | 'build-args';
  usage: string;
  summary: string;
  options: OptionSpec[];
}

const connection: OptionSpec[] = [
  { name: 'addr', kind: 'string', arg: 'HOST:PORT', env: 'SG_ADDR', default: '127.0.0.1:50051', help: 'server address' },
  { name: 'project', kind: 'string', arg: 'PROJECT', env: 'SG_PROJECT', help: 'project of the workload (required)' },
  { name: 'workload', kind: 'string', arg: 'NAME', env: 'SG_WORKLOAD', help: 'workload (service or job) to resolve (required)' },
  { name: 'token-file', kind: 'string', arg: 'FILE', env: 'SG_TOKEN_FILE', help: 'read the workload token from FILE instead of SG_TOKEN' },
  {
    name: 'k8s-token-file',
    kind: 'string',
    arg: 'FILE',
    env: 'SG_K8S_TOKEN_FILE',
    help: 'authenticate with the Kubernetes service-account token in FILE (a projected token of audience secret-groups) instead of SG_TOKEN; re-read on every (re)connect, as the kubelet rotates it',
  },
  { name: 'strict', kind: 'boolean', env: 'SG_STRICT', help: 'refuse (exit 2) a --token-file that its group or other users may read, instead of warning' },
  { name: 'ca', kind: 'string', arg: 'FILE', env: 'SG_CA', help: 'PEM CA bundle that signs the server certificate (enables TLS)' },
  { name: 'cert', kind: 'string', arg: 'FILE', env: 'SG_CERT', help: 'client certificate for mTLS' },
  { name: 'key', kind: 'string', arg: 'FILE', env: 'SG_KEY', help: 'client key for mTLS' },
  { name: 'cache-dir', kind: 'string', arg: 'DIR', env: 'SG_CACHE_DIR', help: 'keep an encrypted last-known-good copy here (off when unset)' },
  {
    name: 'max-stale',
    kind: 'duration',
    arg: 'DURATION',
    env: 'SG_MAX_STALE',
    default: '24h',
    help: 'use the cached copy only if the server is unreachable at start and the copy is younger than this (0 disables)',
  },
  {
    name: 'start-timeout',
    kind: 'duration',
    arg: 'DURATION',
    env: 'SG_START_TIMEOUT',
    default: '10s',
    help: 'how long to try the server at start before using the cache or giving up',
  },
  { name: 'log-level', kind: 'choice', arg: 'LEVEL', env: 'SG_LOG_LEVEL', default: 'info', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], help: 'log level (logs go to stderr and never contain values)' },
];

/** After the server stopped accepting the token mid-watch (revoked, expired, workload deleted). */
const authOptions: OptionSpec[] = [
  {
    name: 'auth-grace',
    kind: 'duration',
    arg: 'DURATION',
    env: 'SG_AUTH_GRACE',
    default: '30s',
    help: 'when the server stops accepting the token, keep retrying (slowly, re-reading --token-file) this long, then exit with status 77',
  },
  { name: 'wait-on-auth-error', kind: 'boolean', env: 'SG_WAIT_ON_AUTH_ERROR', help: 'never exit because the token is refused: keep the outputs as they are and retry until it is accepted' },
];

const scope: OptionSpec = { name: 'scope', kind: 'choice', arg: 'SCOPE', env: 'SG_SCOPE', default: 'runtime', choices: ['runtime', 'build'], help: 'which variable set to resolve' };
const filesRoot: OptionSpec = {
  name: 'files-root',
  kind: 'string',
  arg: 'DIR',
  env: 'SG_FILES_ROOT',
  help: 'write secret files under this directory (their paths are absolute within it); without it secret files are not written',
};

export const COMMANDS: CommandSpec[] = [
  {
    name: 'exec',
    usage: 'sg-agent exec [options] -- CMD [ARGS]...',
    summary: 'run CMD with the resolved variables in its environment, keep it running, restart it on request',
    options: [
      ...connection,
      ...authOptions,
      scope,
      filesRoot,
      { name: 'pristine', kind: 'boolean', help: 'start CMD from an empty environment plus PATH and HOME (and the resolved variables)' },
      { name: 'restart-on-change', kind: 'boolean', help: 'restart CMD when the resolved variables or files really change' },
      { name: 'restart-debounce', kind: 'duration', arg: 'DURATION', default: '2s', help: 'wait this long after the last change before acting on it' },
      { name: 'splay', kind: 'duration', arg: 'DURATION', default: '0s', help: 'plus a random delay up to this, so that replicas do not act at once' },
      { name: 'on-change-signal', kind: 'signal', arg: 'SIGNAL', help: 'on a change, send SIGNAL to CMD instead of restarting it (for programs that re-read files)' },
      { name: 'kill-signal', kind: 'signal', arg: 'SIGNAL', default: 'SIGTERM', help: 'signal that asks CMD to stop before a restart' },
      { name: 'kill-timeout', kind: 'duration', arg: 'DURATION', default: '10s', help: 'grace period after --kill-signal before SIGKILL' },
    ],
  },
  {
    name: 'write',
    usage: 'sg-agent write [options] --out FILE',
    summary: 'write the resolved variables to FILE (and secret files), optionally keep them up to date',
    options: [
      ...connection,
      ...authOptions,
      scope,
      filesRoot,
      { name: 'out', kind: 'string', arg: 'FILE', help: 'file to write, atomically and with mode 0600 (required)' },
      { name: 'format', kind: 'choice', arg: 'FORMAT', default: 'dotenv', choices: ['dotenv', 'json', 'shell'], help: 'dotenv, json (one object) or shell (export lines, safe to source)' },
      { name: 'watch', kind: 'boolean', help: 'keep running and rewrite on every change' },
      { name: 'exec-after', kind: 'string', arg: 'CMD', help: 'run CMD with /bin/sh -c after every write that changed something, and on restart requests' },
    ],
  },
  {
    name: 'build-args',
    usage: 'sg-agent build-args [options]',
    summary: 'print the BUILD variable set for a build runner (needs a token created with --build)',
    options: [
      ...connection,
      { name: 'format', kind: 'choice', arg: 'FORMAT', default: 'docker', choices: ['docker', 'json', 'dotenv'], help: 'docker (NUL-separated --build-arg arguments), json or dotenv' },
      { name: 'out', kind: 'string', arg: 'FILE', help: 'write to FILE (atomically, mode 0600) instead of stdout' },
    ],
  },
];

export interface Parsed {
  command: CommandSpec;
  values: Record<string, string | boolean | number | undefined>;
  /** Everything after `--` (exec only). */
  rest: string[] | undefined;
}

export function parseDuration(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) throw new UsageError(`${what}: invalid duration ${JSON.stringify(s)} (use e.g. 500ms, 10s, 5m, 24h)`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(n * unit);
}

export function parseSignal(s: string, what: string): NodeJS.Signals {
  const up = s.trim().toUpperCase();
  const name = (up.startsWith('SIG') ? up : `SIG${up}`) as NodeJS.Signals;
  if (!(name in constants.signals)) throw new UsageError(`${what}: unknown signal ${JSON.stringify(s)}`);
  return name;
}

function convert(spec: OptionSpec, raw: string, source: string): string | number {
  const what = source === 'flag' ? `--${spec.name}` : `${spec.env}`;
  switch (spec.kind) {
    case 'duration':
      return parseDuration(raw, what);
    case 'signal':
      return parseSignal(raw, what);
    case 'choice':
      if (!spec.choices!.includes(raw)) throw new UsageError(`${what}: must be one of ${spec.choices!.join(', ')}, not ${JSON.stringify(raw)}`);
      return raw;
    default:
      return raw;
  }
}

export function helpText(cmd?: CommandSpec): string {
  if (!cmd) {
    return [
      'sg-agent — resolve a workload\'s secret groups and hand them to it',
      '',
      'Usage:',
      ...COMMANDS.map((c) => `  ${c.usage}\n      ${c.summary}`),
      '',
      'The token comes from SG_TOKEN (or --token-file), or is the pod\'s Kubernetes service-account',
      'token (--k8s-token-file). Flags override environment variables,',
      'which override defaults. `sg-agent COMMAND --help` lists every option.',
      '',
    ].join('\n');
  }
  const lines = [`Usage: ${cmd.usage}`, '', cmd.summary, '', 'Options:'];
  for (const o of cmd.options) {
    const flag = `--${o.name}${o.arg ? ` ${o.arg}` : ''}`;
    const extra = [o.env ? `env ${o.env}` : '', o.default !== undefined ? `default ${o.default}` : ''].filter(Boolean).join('; ');
    lines.push(`  ${flag.padEnd(30)} ${o.help}${extra ? ` [${extra}]` : ''}`);
  }
  lines.push(`  ${'-h, --help'.padEnd(30)} show this help`, '');
  return lines.join('\n');
}

export type ParseResult = { kind: 'help'; text: string } | { kind: 'version' } | { kind: 'run'; parsed: Parsed };

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ParseResult {
  const [name, ...args] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') return { kind: 'help', text: helpText() };
  if (name === '--version' || name === '-v') return { kind: 'version' };
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)} (expected exec, write or build-args)`);
  const byName = new Map(command.options.map((o) => [o.name, o]));
  const values: Parsed['values'] = {};
  let rest: string[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      rest = args.slice(i + 1);
      break;
    }
    if (a === '-h' || a === '--help') return { kind: 'help', text: helpText(command) };
    if (!a.startsWith('--')) {
      if (command.name === 'exec') throw new UsageError(`exec: missing "--" before the command (usage: ${command.usage})`);
      throw new UsageError(`${command.name}: unexpected argument ${JSON.stringify(a)}`);
    }
    const eq = a.indexOf('=');
    const key = a.slice(2, eq === -1 ? undefined : eq);
    const spec = byName.get(key);
    if (!spec) throw new UsageError(`${command.name}: unknown option --${key}`);
    if (spec.kind === 'boolean') {
      if (eq !== -1) {
        const v = a.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new UsageError(`--${key}: expected true or false`);
        values[key] = v === 'true';
      } else values[key] = true;
      continue;
    }
    let raw: string | undefined;
    if (eq !== -1) raw = a.slice(eq + 1);
    else {
      raw = args[++i];
      if (raw === undefined) throw new UsageError(`--${key} needs a value`);
    }
    values[key] = convert(spec, raw, 'flag');
  }
  if (command.name === 'exec') {
    if (rest === undefined) throw new UsageError(`exec: missing "--" before the command (usage: ${command.usage})`);
    if (rest.length === 0) throw new UsageError(`exec: no command after "--" (usage: ${command.usage})`);
  } else if (rest !== undefined) {
    throw new UsageError(`${command.name}: unexpected "--"`);
  }
  for (const spec of command.options) {
    if (values[spec.name] !== undefined) continue;
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') values[spec.name] = spec.kind === 'boolean' ? fromEnv === 'true' : convert(spec, fromEnv, 'env');
    else if (spec.default !== undefined) values[spec.name] = convert(spec, spec.default, 'flag');
  }
  return { kind: 'run', parsed: { command, values, rest } };
}
