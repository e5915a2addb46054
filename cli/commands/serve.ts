/**
 * `sg serve`: runs the server in this process. The server code is imported only here, lazily,
 * so client commands start without loading it.
 */
import { resolve as resolvePath, join } from 'node:path';
import type { Command } from 'commander';
import type { ServerOptions } from '../../server/app/options.js';
import { existsSync } from 'node:fs';
import { K8sSettingsError, kubeApiConfig } from '../../server/app/k8s-options.js';
import { oneLine, usage } from '../errors.js';
import { readInput } from '../kit.js';

interface Opts {
  addr?: string;
  data?: string;
  store?: string;
  insecure?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  logLevel?: string;
  metricsAddr?: string;
  consoleAddr?: string;
  masterKeyFile?: string;
  heartbeat?: string;
  pollInterval?: string;
  maxStreamsPerToken?: string;
  maxConnectionIdle?: string;
  k8sApi?: string;
  k8sCa?: string;
  k8sTokenFile?: string;
  k8sAudience?: string;
  config?: string;
}

export const DEFAULT_CONSOLE_ADDR = '127.0.0.1:8080';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Every setting: its flag (Opts key), environment variable and config-file key. */
const SETTINGS = [
  ['addr', 'SG_LISTEN_ADDR'],
  ['data', 'SG_DATA_DIR'],
  ['store', 'SG_STORE_URI'],
  ['insecure', 'SG_INSECURE'],
  ['tlsCert', 'SG_TLS_CERT'],
  ['tlsKey', 'SG_TLS_KEY'],
  ['tlsClientCa', 'SG_TLS_CLIENT_CA'],
  ['logLevel', 'SG_LOG_LEVEL'],
  ['metricsAddr', 'SG_METRICS_ADDR'],
  ['consoleAddr', 'SG_CONSOLE_ADDR'],
  ['masterKeyFile', 'SG_MASTER_KEY_FILE'],
  ['heartbeat', 'SG_HEARTBEAT'],
  ['pollInterval', 'SG_POLL_INTERVAL'],
  ['maxStreamsPerToken', 'SG_MAX_STREAMS_PER_TOKEN'],
  ['maxConnectionIdle', 'SG_MAX_CONNECTION_IDLE'],
  ['k8sApi', 'SG_K8S_API'],
  ['k8sCa', 'SG_K8S_CA'],
  // Not SG_K8S_TOKEN_FILE: that is the agent's (a workload's identity), this the server's own credential.
  ['k8sTokenFile', 'SG_K8S_API_TOKEN_FILE'],
  ['k8sAudience', 'SG_K8S_AUDIENCE'],
] as const satisfies ReadonlyArray<readonly [keyof Opts, string]>;

type Setting = (typeof SETTINGS)[number][0];

/** "250ms", "15s", "1m" (or a number of milliseconds) to milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw usage(`${flag} must be a duration such as 250ms, 15s or 1m, got ${JSON.stringify(text)}`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1);
}

/** Reads a config file (YAML or JSON) whose keys are the settings' names (addr, data, ...). */
export async function readConfigFile(file: string, text: string): Promise<Partial<Record<Setting, string | boolean>>> {
  // Loaded only here: client commands share this module and should not pay for a YAML parser.
  const { parse: parseYaml } = await import('yaml');
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw usage(`--config ${file}: not valid YAML or JSON (${oneLine((e as Error).message).slice(0, 120)})`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw usage(`--config ${file}: expected a mapping of settings`);
  const known = new Set<string>(SETTINGS.map(([k]) => k));
  const out: Partial<Record<Setting, string | boolean>> = {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (!known.has(key)) throw usage(`--config ${file}: unknown setting ${JSON.stringify(key)} (known: ${[...known].join(', ')})`);
    if (typeof value !== 'string' && typeof value !== 'boolean' && typeof value !== 'number') {
      throw usage(`--config ${file}: ${key} must be a string, number or boolean`);
    }
    out[key as Setting] = typeof value === 'number' ? String(value) : value;
  }
  return out;
}

/**
 * Flags first, then SG_* environment variables, then the config file, then defaults. Pure, for
 * tests. The master key itself is only ever read from SG_MASTER_KEY or a key file.
 */
export function serverOptions(
  opts: Opts,
  env: NodeJS.ProcessEnv = process.env,
  config: Partial<Record<Setting, string | boolean>> = {},
  exists: (path: string) => boolean = existsSync,
): ServerOptions {
  const get = (key: Setting): string | boolean | undefined => {
    const flag = opts[key];
    if (flag !== undefined) return flag;
    const envName = SETTINGS.find(([k]) => k === key)![1];
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== '') return key === 'insecure' ? fromEnv === 'true' || fromEnv === '1' : fromEnv;
    return config[key];
  };
  const str = (key: Setting) => {
    const v = get(key);
    return v === undefined || typeof v === 'boolean' ? undefined : v;
  };
  const tlsCert = str('tlsCert');
  const tlsKey = str('tlsKey');
  const tlsClientCa = str('tlsClientCa');
  if (Boolean(tlsCert) !== Boolean(tlsKey)) throw usage('--tls-cert and --tls-key go together');
  if (tlsClientCa && !tlsCert) throw usage('--tls-client-ca (mTLS) needs --tls-cert and --tls-key');
  const logLevel = str('logLevel') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw usage(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const storeUri = str('store');
  const metricsAddr = str('metricsAddr');
  const consoleAddr = str('consoleAddr');
  if (consoleAddr !== undefined && consoleAddr !== 'off' && !/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(consoleAddr)) {
    throw usage(`--console-addr must be HOST:PORT or off, got ${JSON.stringify(consoleAddr)}`);
  }
  const masterKeyFile = str('masterKeyFile');
  const heartbeat = str('heartbeat');
  const poll = str('pollInterval');
  const maxStreams = str('maxStreamsPerToken');
  if (maxStreams !== undefined && !/^[1-9]\d{0,6}$/.test(maxStreams.trim())) {
    throw usage(`--max-streams-per-token must be a whole number from 1 to 9999999, got ${JSON.stringify(maxStreams.slice(0, 20))}`);
  }
  const idle = str('maxConnectionIdle');
  const idleMs = idle === undefined ? undefined : parseDuration('--max-connection-idle', idle);
  if (idleMs !== undefined && idleMs < 1000) throw usage('--max-connection-idle must be at least 1s');
  let k8s;
  try {
    k8s = kubeApiConfig({ api: str('k8sApi'), ca: str('k8sCa'), tokenFile: str('k8sTokenFile'), audience: str('k8sAudience') }, env, exists);
  } catch (e) {
    if (e instanceof K8sSettingsError) throw usage(e.message);
    throw e;
  }
  return {
    addr: str('addr') ?? '127.0.0.1:50051',
    dataDir: str('data') ?? './data',
    ...(storeUri ? { storeUri } : {}),
    ...(get('insecure') === true ? { insecure: true } : {}),
    ...(tlsCert ? { tlsCert, tlsKey } : {}),
    ...(tlsClientCa ? { tlsClientCa } : {}),
    logLevel,
    ...(metricsAddr ? { metricsAddr } : {}),
    // On by default; a taken default port is not an error (several servers on one machine).
    ...(consoleAddr === undefined ? { consoleAddr: DEFAULT_CONSOLE_ADDR, consoleAddrIsDefault: true } : { consoleAddr }),
    ...(masterKeyFile ? { masterKeyFile } : {}),
    ...(heartbeat ? { heartbeatMs: parseDuration('--heartbeat', heartbeat) } : {}),
    ...(poll ? { pollMs: Math.max(50, parseDuration('--poll-interval', poll)) } : {}),
    ...(maxStreams ? { maxStreamsPerToken: Number(maxStreams.trim()) } : {}),
    ...(idleMs !== undefined ? { maxConnectionIdleMs: idleMs } : {}),
    ...(k8s ? { k8s } : {}),
  };
}

const SERVE_HELP = `
Settings come from flags, then SG_* environment variables, then --config FILE (YAML or JSON
with the keys addr, data, store, insecure, tlsCert, tlsKey, tlsClientCa, logLevel, metricsAddr,
consoleAddr, masterKeyFile, heartbeat, pollInterval, maxStreamsPerToken, maxConnectionIdle, k8sApi,
k8sCa, k8sTokenFile, k8sAudience), then the defaults shown.
Environment: ${SETTINGS.map(([, e]) => e).join(', ')}.
Master key: SG_MASTER_KEY (base64 of 32 bytes) or --master-key-file; with neither, the embedded
store creates DATA/master.key (mode 0600) on first start. Every replica sharing a MongoDB store
needs the same key.

On first start an admin token is created, printed once on stdout and written to DATA/admin.token (mode 0600).
The line "secret-groups listening on HOST:PORT" goes to stderr once the server accepts calls,
followed on the same line by "(web console: URL)" when the console is served. The console
shares the gRPC TLS settings: with --tls-cert it is HTTPS; plaintext on a non-loopback address
needs --insecure. If the default console port is taken the server runs without the console and
says so; an explicit --console-addr that cannot be bound is an error.
Kubernetes service-account tokens are accepted as credentials with --k8s-api (reviewed by that
API server with TokenReview; see docs/kubernetes.md). Run in a pod with none of the --k8s-*
flags, the server uses the in-cluster defaults: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
the pod's own token and CA under /var/run/secrets/kubernetes.io/serviceaccount; --k8s-api off
turns this off.
SIGTERM or SIGINT stops the server gracefully: Watch streams end with UNAVAILABLE so that agents
reconnect elsewhere, in-flight calls finish, the store is closed (exit status 0).`;

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the secret-groups server (embedded SQLite store under --data unless --store is given)')
    .option('--addr <host:port>', 'address to listen on; port 0 picks a free one ($SG_LISTEN_ADDR; default 127.0.0.1:50051)')
    .option('--data <dir>', 'data directory: embedded store, admin token, master key ($SG_DATA_DIR; default ./data)')
    .option('--store <uri>', 'mongodb://... to use MongoDB instead of the embedded store ($SG_STORE_URI)')
    .option('--insecure', 'allow plaintext on a non-loopback address ($SG_INSECURE=true)')
    .option('--tls-cert <file>', 'server certificate (PEM) to serve TLS ($SG_TLS_CERT)')
    .option('--tls-key <file>', 'server private key (PEM) ($SG_TLS_KEY)')
    .option('--tls-client-ca <file>', 'CA (PEM) that client certificates must chain to: mTLS ($SG_TLS_CLIENT_CA)')
    .option('--log-level <level>', `${LOG_LEVELS.join('|')} ($SG_LOG_LEVEL; default info)`)
    .option('--metrics-addr <host:port>', 'serve Prometheus /metrics on this address ($SG_METRICS_ADDR; off by default)')
    .option('--console-addr <host:port|off>', `web console address; off disables it ($SG_CONSOLE_ADDR; default ${DEFAULT_CONSOLE_ADDR})`)
    .option('--master-key-file <file>', 'master key file ($SG_MASTER_KEY_FILE; else SG_MASTER_KEY, else DATA/master.key)')
    .option('--heartbeat <duration>', 'Watch heartbeat interval ($SG_HEARTBEAT; default 15s)')
    .option('--poll-interval <duration>', 'change-feed poll interval: how soon other replicas\' writes are seen ($SG_POLL_INTERVAL; default 250ms with MongoDB, 1s embedded)')
    .option('--max-streams-per-token <n>', 'open Watch streams one token may hold on this server; more are refused with RESOURCE_EXHAUSTED ($SG_MAX_STREAMS_PER_TOKEN; default 100)')
    .option('--max-connection-idle <duration>', 'close connections that carry no call for this long ($SG_MAX_CONNECTION_IDLE; default 5m)')
    .option('--k8s-api <url|off>', 'accept Kubernetes service-account tokens, reviewed by this API server ($SG_K8S_API; default: in-cluster when run in a pod, else off)')
    .option('--k8s-ca <file>', 'CA (PEM) of the Kubernetes API server ($SG_K8S_CA; default: the pod\'s service-account ca.crt, else the system CAs)')
    .option('--k8s-token-file <file>', 'the server\'s own credential for creating TokenReviews, re-read when it changes ($SG_K8S_API_TOKEN_FILE; default: the pod\'s service-account token)')
    .option('--k8s-audience <aud>', 'audience a workload\'s token must be for ($SG_K8S_AUDIENCE; default secret-groups)')
    .option('--config <file>', 'settings file (YAML or JSON); flags and SG_* variables override it')
    .addHelpText('after', SERVE_HELP)
    .action(async (opts: Opts) => {
      const config = opts.config ? await readConfigFile(opts.config, (await readInput(opts.config, '--config')).toString('utf8')) : {};
      const options = serverOptions(opts, process.env, config);
      // Before the server allocates anything (see v8-tuning.ts): V8's memory mode follows the
      // number of open streams.
      const { V8Tuner, v8TuningFrom } = await import('../../server/app/v8-tuning.js');
      const tuner = new V8Tuner(v8TuningFrom(process.env));
      tuner.start();
      const { startServer } = await import('../../server/app/start-server.js');
      const server = await startServer({ ...options, onOpenStreams: (open) => tuner.streams(open) });
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        // A second signal while closing means "now".
        if (stopping) process.exit(signal === 'SIGINT' ? 130 : 143);
        stopping = true;
        server.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`sg: error while stopping: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      // The token first: whoever waits for the "listening" line then already has it.
      if (server.bootstrapToken) {
        const file = resolvePath(join(options.dataDir, 'admin.token'));
        process.stdout.write(
          `Admin token (shown only this once; also written to ${file} with mode 0600):\n${server.bootstrapToken}\n`,
        );
      }
      const consoleNote = server.consoleUrl
        ? ` (web console: ${server.consoleUrl})`
        : options.consoleAddrIsDefault
          ? ` (web console off: ${options.consoleAddr} is taken; use --console-addr)`
          : '';
      process.stderr.write(`secret-groups listening on ${server.addr}${consoleNote}\n`);
    });
}
