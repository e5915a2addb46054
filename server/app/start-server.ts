/**
 * Wires a server: store (embedded SQLite or MongoDB) behind envelope encryption, snapshots
 * and change feed, watch hub, services, gRPC with health and reflection. `sg serve` and the
 * tests call this.
 */
import { closeSync, constants as fsConstants, fsyncSync, lstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { createGrpcServer, DEFAULT_MAX_CONNECTION_IDLE_MS, serviceHandlers, SERVICE_NAMES } from '../api/server.js';
import { startConsole, type ConsoleServer } from '../console/console-server.js';
import { createLogger, type Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { AuthThrottle } from '../security/auth-throttle.js';
import { Authenticator } from '../security/authenticator.js';
import { RoleRegistry } from '../security/role-registry.js';
import { DEFAULT_MAX_STREAMS_PER_TOKEN, DEFAULT_STREAM_CHECK_MS, StreamGuard } from '../security/stream-guard.js';
import type { Principal } from '../security/principal.js';
import { loadMasterKey } from '../security/master-key.js';
import { AccessService } from '../service/access.js';
import { Audit } from '../service/audit.js';
import type { Deps } from '../service/deps.js';
import { GroupsService } from '../service/groups.js';
import { GroupInsights } from '../service/group-insights.js';
import { ProjectWatch } from '../service/project-watch.js';
import { RevealService } from '../service/reveal.js';
import { ProjectsService } from '../service/projects.js';
import { ResolverService } from '../service/resolver.js';
import { Snapshots } from '../watch/snapshots.js';
import { SealedStore } from '../store/sealed-store.js';
import type { MongoStoreOptions } from '../store/mongo-store.js';
import { SqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import { WatchHub } from '../watch/hub.js';
import { RestartRelay } from '../watch/restart-relay.js';
import { encodeResolution, resolutionKeys, watchEncoder } from '../api/handlers/resolver-handlers.js';
import { CloseStack } from './close-stack.js';
import type { RunningServer, ServerOptions } from './options.js';

export type { RunningServer, ServerOptions } from './options.js';

export async function startServer(opts: ServerOptions, log: Logger = createLogger(opts.logLevel)): Promise<RunningServer> {
  const { host, port } = splitAddr(opts.addr);
  const tls = Boolean(opts.tlsCert || opts.tlsKey);
  if (!tls && !opts.insecure && !isLoopback(host)) {
    throw new Error(`refusing plaintext on non-loopback address ${opts.addr}: give --tls-cert and --tls-key, or --insecure`);
  }
  const consoleAt = opts.consoleAddr && opts.consoleAddr !== 'off' ? splitAddr(opts.consoleAddr) : undefined;
  if (consoleAt && !tls && !opts.insecure && !isLoopback(consoleAt.host)) {
    throw new Error(`refusing plaintext console on non-loopback address ${opts.consoleAddr}: give --tls-cert and --tls-key, or --insecure`);
  }
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });

  const storeUri = opts.storeUri ?? '';
  const embedded = !storeUri;
  // The key first: a bad key must not leave a store connection open behind it.
  const master = loadMasterKey({ dataDir: opts.dataDir, keyFile: opts.masterKeyFile, allowCreate: embedded });
  if (master.created) log.warn({ path: master.path }, 'created a new master key file (mode 0600); back it up: without it the data cannot be read');
  if (master.pendingRotation) log.warn('a master key rotation was interrupted; run `sg admin rotate-master-key` again to finish it');
  // Every resource pushes its close as it is opened: a failed start closes what it opened.
  const stack = new CloseStack();
  return stack.guard(async () => {
    const store = new SealedStore(await openStore(storeUri, opts.dataDir, opts.mongoStore), master.key);
    stack.push(() => store.close());
    await store.init();
    await store.verifyMasterKey();
    log.info({ masterKeyId: store.masterKeyId, source: master.source }, 'master key loaded');

    let hubRef: WatchHub | undefined;
    // prom-client is loaded only when metrics are asked for: the default server stays lighter.
    const metrics: Metrics | undefined = opts.metricsAddr
      ? new (await import('../metrics.js')).Metrics(() => hubRef?.subscriberCount ?? 0)
      : undefined;
    const timed = metrics ? metrics.instrument(store) : store;
    const snapshots = new Snapshots(timed, encodeResolution, metrics?.resolution);
    const hub = (hubRef = new WatchHub(snapshots, watchEncoder, opts.heartbeatMs ?? 15_000, metrics?.push));
    const audit = new Audit(timed);
    stack.push(() => audit.close().catch(() => undefined));
    const deps: Deps = { store: timed, snapshots, hub, audit, now: Date.now };
    const roles = new RoleRegistry(timed);
    const reviewer = opts.k8s ? await kubernetesReviewer(opts.k8s, stack, log) : undefined;
    const auth = new Authenticator(timed, (name) => roles.get(name), Date.now, reviewer);
    const guard = new StreamGuard(timed, roles, snapshots, {
      maxStreamsPerToken: opts.maxStreamsPerToken ?? DEFAULT_MAX_STREAMS_PER_TOKEN,
      checkMs: DEFAULT_STREAM_CHECK_MS,
      ...(opts.onOpenStreams ? { onOpenStreams: opts.onOpenStreams } : {}),
      // A service account's open streams: its token reviewed again once the cached review lapses.
      ...(reviewer ? { review: async (p: Principal) => void (await reviewer.review(p.k8s!.credential)), reviewMs: reviewer.cacheMs } : {}),
      // One record per token, reason and identity, however many streams it had.
      onCut: (p, s, code, message) =>
        audit.recordRepeatedRead(`cut\0${p.token.id}\0${s.project}\0${s.workload}\0${s.scope}\0${message}`, () => ({
          time: Date.now(),
          actor: p.actor,
          action: 'Watch',
          project: s.project,
          target: `workload ${s.project}/${s.workload} (${s.scope})`,
          keys: [],
          outcome: 'denied',
          detail: `stream ended (${code}): ${message}`,
        })),
    });
    snapshots.beforePublish = () => guard.fresh();
    const access = new AccessService(deps, auth, roles, guard);
    // Other replicas' restart requests reach this replica's subscribers through the store.
    const relay = new RestartRelay(timed, snapshots, hub);
    const resolver = new ResolverService(deps, guard, resolutionKeys);
    const services = {
      projects: new ProjectsService(deps),
      groups: new GroupsService(deps, relay.origin),
      resolver,
      access,
      insights: new GroupInsights(deps),
      reveal: new RevealService(deps, resolver),
      projectWatch: new ProjectWatch(deps, guard),
    };
    const apiContext = { auth, throttle: new AuthThrottle(), log, ...auditedRefusals(audit), observe: metrics?.rpc, authFailed: metrics?.authFailure };
    // Built once, protocol-independent: grpc-js and the console's Connect mount run the same handlers.
    const handlers = serviceHandlers(apiContext, services);
    const { server, health } = createGrpcServer(apiContext, services, handlers, {
      maxConnectionIdleMs: opts.maxConnectionIdleMs ?? DEFAULT_MAX_CONNECTION_IDLE_MS,
    });
    // A failed start drops its connections at once; a shutdown lets in-flight calls finish.
    stack.push((why) => (why === 'shutdown' ? drain(server) : server.forceShutdown()));
    const metricsServer = metrics && opts.metricsAddr ? await metrics.serve(opts.metricsAddr) : undefined;
    if (metricsServer) stack.push(() => metricsServer.close());
    if (opts.metricsAddr) log.info({ addr: opts.metricsAddr }, 'metrics at /metrics');

    const credentials = tls
      ? grpc.ServerCredentials.createSsl(
          opts.tlsClientCa ? readFileSync(opts.tlsClientCa) : null,
          [{ cert_chain: readFileSync(opts.tlsCert!), private_key: readFileSync(opts.tlsKey!) }],
          Boolean(opts.tlsClientCa),
        )
      : grpc.ServerCredentials.createInsecure();
    routeGrpcLogs(log);
    const boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, credentials, (err, p) => (err ? reject(bindError(opts.addr, err)) : resolve(p))),
    );
    // Only once the address is ours: a start that fails must not use up the one-time token print.
    if (await access.needsBootstrap()) checkSecretDir(opts.dataDir, 'admin.token');
    const bootstrapToken = await access.bootstrap();
    if (bootstrapToken) writeSecretFile(opts.dataDir, 'admin.token', `${bootstrapToken}\n`);
    const addr = `${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
    let consoleServer: ConsoleServer | undefined;
    if (consoleAt) {
      try {
        consoleServer = await startConsole({
          ...consoleAt,
          loopback: isLoopback(consoleAt.host),
          tls: tls ? { cert: opts.tlsCert!, key: opts.tlsKey!, clientCa: opts.tlsClientCa } : undefined,
          assetDir: opts.consoleAssetDir,
          streamKeepAliveMs: opts.consoleStreamKeepAliveMs,
          log,
          handlers,
        });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        if (!opts.consoleAddrIsDefault) throw new Error(`cannot serve the console on ${opts.consoleAddr}: ${code}`);
        log.warn({ consoleAddr: opts.consoleAddr, code }, `console not started: ${opts.consoleAddr} is taken (${code}); give --console-addr HOST:PORT to serve it elsewhere`);
      }
    }
    const openConsole = consoleServer;
    if (openConsole) stack.push(() => openConsole.close());
    // On shutdown, in this order: NOT_SERVING, the change feed, relay and guard stop, every
    // Watch ends with a status that tells agents to reconnect, then the servers and the store close.
    stack.push(() => hub.closeAll('server shutting down; reconnect'));
    guard.start();
    stack.push(() => guard.stop());
    if (!embedded) {
      relay.start(opts.pollMs ?? 250); // one process owns an embedded store: nothing to relay
      stack.push(() => relay.stop());
    }
    snapshots.startPolling(opts.pollMs ?? (embedded ? 1000 : 250));
    stack.push(() => snapshots.stop());
    for (const s of ['', ...SERVICE_NAMES]) health.setStatus(s, 'SERVING');
    stack.push(() => {
      for (const s of ['', ...SERVICE_NAMES]) health.setStatus(s, 'NOT_SERVING');
    });
    log.info({ addr, store: embedded ? 'sqlite' : 'mongodb', tls, console: consoleServer?.url ?? 'off' }, 'listening');

    let closing: Promise<void> | undefined;
    return {
      addr,
      port: boundPort,
      bootstrapToken,
      ...(consoleServer ? { consoleUrl: consoleServer.url } : {}),
      watchers: () => hub.subscriberCount,
      close: () => (closing ??= stack.unwind('shutdown')),
    };
  });
}

/** Kubernetes identity, loaded only when configured: a TokenReview client (closed with the stack) and its reviewer. */
async function kubernetesReviewer(k8s: NonNullable<ServerOptions['k8s']>, stack: CloseStack, log: Logger) {
  const [{ TokenReviewClient }, { TokenReviewer }] = await Promise.all([import('../security/k8s/kube-api.js'), import('../security/k8s/token-reviewer.js')]);
  const client = new TokenReviewClient(k8s);
  stack.push(() => client.close());
  log.info({ api: k8s.url, audience: k8s.audience, caFile: k8s.caFile ?? '(system CAs)', tokenFile: k8s.tokenFile }, 'accepting Kubernetes service-account tokens (TokenReview)');
  return new TokenReviewer((token) => client.review(token), { audience: k8s.audience });
}

/** The API's audit records of refused calls: denied ones by actor, failed authentications by peer host. */
function auditedRefusals(audit: Audit) {
  const denied = (p: Principal, method: string, request: unknown, detail?: string) => {
    const r = request as { project?: unknown; name?: unknown; workload?: unknown };
    const project = typeof r.project === 'string' ? r.project.slice(0, 64) : '';
    const name = (typeof r.name === 'string' ? r.name : typeof r.workload === 'string' ? r.workload : '').slice(0, 64);
    audit.recordRead({ time: Date.now(), actor: p.actor, action: method, project, target: name ? `${project}/${name}` : project, keys: [], outcome: 'denied', ...(detail ? { detail: detail.slice(0, 200) } : {}) });
  };
  // Failed authentications have no actor: recorded by peer host, one record per host, method
  // and reason per flush interval (the throttle bounds how many a host can cause).
  const unauthenticated = (peer: string, method: string, reason: string) =>
    audit.recordRepeatedRead(`unauth\0${peer}\0${method}\0${reason}`, () => ({
      time: Date.now(),
      actor: `peer:${peer}`,
      action: method,
      project: '',
      target: '',
      keys: [],
      outcome: 'denied' as const,
      detail: `authentication failed: ${reason.slice(0, 120)}`,
    }));
  return { denied, unauthenticated };
}

/** Stops taking calls and lets in-flight ones finish, for 5 s at the most. */
function drain(server: grpc.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 5_000);
    force.unref();
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

/** The inner store for a URI: MongoDB for mongodb://…, else the embedded SQLite under dataDir. */
export async function openStore(uri: string, dataDir: string, mongo: ServerOptions['mongoStore'] = {}): Promise<Store> {
  if (!uri) return new SqliteStore(join(dataDir, 'sg.db'));
  if (/^mongodb(\+srv)?:\/\//.test(uri)) {
    // Loaded only when asked for: the embedded path never loads the MongoDB driver.
    const modulePath = '../store/mongo-store.js';
    const { MongoStore } = (await import(modulePath)) as { MongoStore: new (uri: string, opts: MongoStoreOptions) => Store };
    return new MongoStore(uri, mongo);
  }
  throw new Error(`unsupported store URI (expected mongodb://…): ${uri.replace(/\/\/[^@/]*@/, '//***@')}`);
}

export function splitAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`address must be HOST:PORT, got ${addr}`);
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * grpc-js writes its own errors to the console; send them to our log instead, and its bind
 * failure at debug level only, since bindError says the same in one readable line.
 */
function routeGrpcLogs(log: Logger): void {
  const line = (args: unknown[]) => args.map(String).join(' ');
  grpc.setLogger({
    error: (...args: unknown[]) => {
      const msg = line(args);
      if (/No address added/.test(msg)) log.debug({ source: 'grpc-js' }, msg);
      else log.warn({ source: 'grpc-js' }, msg);
    },
  });
}

/**
 * grpc-js reports a taken address as "No address added out of total 1 resolved"; say which
 * address and how to choose another.
 */
function bindError(addr: string, err: Error): Error {
  const busy = /No address added|EADDRINUSE|address already in use/i.test(err.message);
  const why = busy ? 'is already in use (or cannot be bound here)' : `cannot be bound (${err.message.split('\n')[0]})`;
  return new Error(`listen address ${addr} ${why}: choose another with --addr HOST:PORT or SG_LISTEN_ADDR (port 0 picks a free one)`);
}

/**
 * Atomic 0600 write of a secret into dir: the directory must belong to this user and be
 * writable by nobody else (or a planted file or symlink could capture the secret); the
 * temporary file has an unpredictable name, is created exclusively and never through a
 * symlink (O_EXCL|O_NOFOLLOW), then renamed over the target (rename replaces a symlink itself).
 */
export function writeSecretFile(dir: string, name: string, content: string): void {
  checkSecretDir(dir, name);
  const path = join(dir, name);
  const tmp = join(dir, `.${name}.${randomBytes(12).toString('hex')}.tmp`);
  const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Refuses a directory that is not ours alone (see writeSecretFile). */
export function checkSecretDir(dir: string, name: string): void {
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory; cannot write ${name}`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new Error(`${dir} belongs to another user (uid ${st.uid}); refusing to write ${name} there`);
  if (st.mode & 0o022) throw new Error(`${dir} is writable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod go-w it before the first start`);
}
