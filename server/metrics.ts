/**
 * Prometheus metrics (prom-client), all named sg_*, served at --metrics-addr. The hot paths
 * only increment counters and observe histograms; nothing here does I/O per request.
 */
import { createServer, type Server } from 'node:http';
import client from 'prom-client';
import type { Store } from './store/store.js';

export class Metrics {
  readonly registry = new client.Registry();
  private readonly rpcs = new client.Counter({ name: 'sg_rpc_requests_total', help: 'RPCs handled, by method and status code', labelNames: ['method', 'code'], registers: [this.registry] });
  private readonly rpcSeconds = new client.Histogram({
    name: 'sg_rpc_duration_seconds',
    help: 'RPC latency (for Watch: until the subscription is set up)',
    labelNames: ['method'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly pushSeconds = new client.Histogram({
    name: 'sg_push_latency_seconds',
    help: 'From a snapshot change to the new resolution written to every subscriber',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  private readonly cache = new client.Counter({ name: 'sg_resolution_cache_total', help: 'Resolution lookups, by result (hit or miss)', labelNames: ['result'], registers: [this.registry] });
  private readonly storeSeconds = new client.Histogram({
    name: 'sg_store_operation_seconds',
    help: 'Store operation latency, by operation and outcome',
    labelNames: ['operation', 'outcome'],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });
  private readonly authFailures = new client.Counter({ name: 'sg_auth_failures_total', help: 'Failed authentications', registers: [this.registry] });

  constructor(watchers: () => number) {
    new client.Gauge({ name: 'sg_watchers', help: 'Live Watch subscribers on this replica', registers: [this.registry], collect() { this.set(watchers()); } });
    client.collectDefaultMetrics({ register: this.registry, prefix: 'sg_process_' });
  }

  rpc = (method: string, code: string, seconds: number) => {
    this.rpcs.inc({ method, code });
    this.rpcSeconds.observe({ method }, seconds);
  };
  push = (seconds: number) => this.pushSeconds.observe(seconds);
  resolution = (hit: boolean) => this.cache.inc({ result: hit ? 'hit' : 'miss' });
  authFailure = () => this.authFailures.inc();

  /** Times every store call. */
  instrument(store: Store): Store {
    const observe = this.storeSeconds;
    return new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          const end = observe.startTimer({ operation: String(prop) });
          try {
            const out = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            end({ outcome: 'ok' });
            return out;
          } catch (e) {
            end({ outcome: 'error' });
            throw e;
          }
        };
      },
    });
  }

  /** GET /metrics on host:port. */
  async serve(addr: string): Promise<Server> {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(addr);
    if (!m) throw new Error(`metrics address must be HOST:PORT, got ${addr}`);
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end('not found\n');
        return;
      }
      this.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        () => res.writeHead(500).end('metrics unavailable\n'),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(m[3]), m[1] ?? m[2], () => resolve());
    });
    return server;
  }
}
