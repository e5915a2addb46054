/**
 * `sg serve`: runs the server in this process. The server code is imported only here, lazily,
 * so client commands start without loading it.
 */
import { resolve as resolvePath, join } from 'node:path';
import type { Command } from 'commander';
import type { ServerOptions } from '../../app/options.js';
import { usage } from '../errors.js';

interface Opts {
  addr: string;
  data?: string;
  store?: string;
  insecure?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  logLevel?: string;
  metricsAddr?: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Flags first, then SG_DATA_DIR / SG_STORE_URI / SG_LOG_LEVEL, then defaults. Pure, for tests. */
export function serverOptions(opts: Opts, env: NodeJS.ProcessEnv = process.env): ServerOptions {
  if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) throw usage('--tls-cert and --tls-key go together');
  if (opts.tlsClientCa && !opts.tlsCert) throw usage('--tls-client-ca (mTLS) needs --tls-cert and --tls-key');
  const logLevel = opts.logLevel ?? env.SG_LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw usage(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const storeUri = opts.store ?? (env.SG_STORE_URI || undefined);
  return {
    addr: opts.addr,
    dataDir: opts.data ?? (env.SG_DATA_DIR || './data'),
    ...(storeUri ? { storeUri } : {}),
    ...(opts.insecure ? { insecure: true } : {}),
    ...(opts.tlsCert ? { tlsCert: opts.tlsCert, tlsKey: opts.tlsKey } : {}),
    ...(opts.tlsClientCa ? { tlsClientCa: opts.tlsClientCa } : {}),
    logLevel,
    ...(opts.metricsAddr ? { metricsAddr: opts.metricsAddr } : {}),
  };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the secret-groups server (embedded SQLite store under --data unless --store is given)')
    .option('--addr <host:port>', 'address to listen on; port 0 picks a free one', '127.0.0.1:50051')
    .option('--data <dir>', 'data directory: embedded store, admin token, master key (default: $SG_DATA_DIR, else ./data)')
    .option('--store <uri>', 'mongodb://... to use MongoDB instead of the embedded store (default: $SG_STORE_URI)')
    .option('--insecure', 'allow plaintext on a non-loopback address')
    .option('--tls-cert <file>', 'server certificate (PEM) to serve TLS')
    .option('--tls-key <file>', 'server private key (PEM)')
    .option('--tls-client-ca <file>', 'CA (PEM) that client certificates must chain to (mTLS)')
    .option('--log-level <level>', `${LOG_LEVELS.join('|')} (default: $SG_LOG_LEVEL, else info)`)
    .option('--metrics-addr <host:port>', 'serve Prometheus /metrics on this address (off by default)')
    .addHelpText(
      'after',
      '\nOn first start an admin token is created, printed once on stdout and written to DATA/admin.token (mode 0600).\n' +
        'The line "secret-groups listening on HOST:PORT" goes to stderr once the server accepts calls.\n' +
        'SIGTERM or SIGINT stops the server gracefully (exit status 0).',
    )
    .action(async (opts: Opts) => {
      const options = serverOptions(opts);
      const { startServer } = await import('../../app/start-server.js');
      const server = await startServer(options);
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
      process.stderr.write(`secret-groups listening on ${server.addr}\n`);
    });
}
