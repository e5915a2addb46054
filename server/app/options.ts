import type { KubeApiConfig } from '../security/k8s/kube-api.js';
import type { MongoStoreOptions } from '../store/mongo-store.js';

/** What `sg serve` (and tests, in process) pass to startServer. */
export interface ServerOptions {
  /**
   * Kubernetes service-account tokens as credentials, reviewed by this API server (TokenReview);
   * off when absent. See server/app/k8s-options.ts for the in-cluster defaults.
   */
  k8s?: KubeApiConfig;
  /** host:port to listen on; port 0 picks a free one. */
  addr: string;
  /** Directory of the embedded store, the admin token and the master key file. */
  dataDir: string;
  /** mongodb://… to use MongoDB instead of the embedded store. */
  storeUri?: string;
  /** Settings of the MongoDB store beyond its URI (tests; `sg serve` uses the defaults). */
  mongoStore?: Pick<MongoStoreOptions, 'lingerMaxMs'>;
  /** Master key file (otherwise SG_MASTER_KEY, or DATA/master.key created for the embedded store). */
  masterKeyFile?: string;
  /** Allow plaintext on a non-loopback address. */
  insecure?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  logLevel?: string;
  /** Watch heartbeat interval. */
  heartbeatMs?: number;
  /** Change-feed poll interval (how fast other replicas' writes are seen). */
  pollMs?: number;
  /** Prometheus endpoint host:port; off when absent. */
  metricsAddr?: string;
  /** Web console host:port (port 0 picks a free one); off when absent or "off". */
  consoleAddr?: string;
  /**
   * The console address is the default rather than asked for: if it cannot be bound (another
   * server on this machine has it), the server logs one line and runs without the console.
   */
  consoleAddrIsDefault?: boolean;
  /** Directory of the built console UI (default dist/console). */
  consoleAssetDir?: string;
  /** Silence after which the console repeats an idle stream's last message (default 25 s; tests shorten it). */
  consoleStreamKeepAliveMs?: number;
  /** Open Watch streams one token may hold on this replica (default 100). */
  maxStreamsPerToken?: number;
  /** A connection without any call for this long is closed (default 5 minutes). */
  maxConnectionIdleMs?: number;
  /** Told whenever the number of open Watch/WatchProject streams changes (V8 memory mode). */
  onOpenStreams?: (open: number) => void;
}

export interface RunningServer {
  /** host:port actually bound. */
  addr: string;
  port: number;
  /** The admin token, only on the first start (it is also written to DATA/admin.token). */
  bootstrapToken?: string;
  /** The web console's URL (http://127.0.0.1:8080/), absent when it is off or its default port was taken. */
  consoleUrl?: string;
  /** Live Watch subscribers on this replica. */
  watchers(): number;
  close(): Promise<void>;
}
