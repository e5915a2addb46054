/**
 * Raw Watch subscribers for the load, soak and fault suites: each keeps the etag it holds and
 * reconnects (exponential backoff with jitter, capped) after any error, resuming from that
 * etag, the way the agent does. Channels are separate HTTP/2 connections.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { authInterceptor } from '../../client/connection.js';
import { ResolverServiceClient, WatchRequest, type WatchResponse } from '../../gen/secretgroups/v1/resolver_service.js';
import { Scope } from '../../gen/secretgroups/v1/resources.js';

export function channels(addr: string, token: string, n: number): ResolverServiceClient[] {
  return Array.from(
    { length: n },
    () =>
      new ResolverServiceClient(addr, grpc.credentials.createInsecure(), {
        interceptors: authInterceptor(token),
        'grpc.use_local_subchannel_pool': 1,
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        // Reconnect promptly after a server restart (the default backoff starts at 1 s).
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      }),
  );
}

export class Watcher {
  etag = '';
  /** Resolution messages received (unchanged/heartbeat/restart not counted). */
  resolutions = 0;
  connects = 0;
  lastError: grpc.ServiceError | null = null;
  private call: grpc.ClientReadableStream<WatchResponse> | null = null;
  private stopped = false;
  private failures = 0;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly client: ResolverServiceClient,
    readonly project: string,
    readonly workload: string,
  ) {}

  start(): this {
    if (this.stopped) return this;
    this.connects++;
    const call = this.client.watch(WatchRequest.fromPartial({ project: this.project, workload: this.workload, scope: Scope.SCOPE_RUNTIME, etag: this.etag }));
    this.call = call;
    call.on('data', (m: WatchResponse) => {
      this.failures = 0;
      if (m.resolution) {
        this.resolutions++;
        this.etag = m.resolution.etag;
      } else if (m.unchanged) {
        this.etag = m.unchanged.etag;
      }
      this.listeners.forEach((l) => l());
    });
    const retry = (e: grpc.ServiceError | null) => {
      if (this.call !== call || this.stopped) return;
      this.call = null;
      this.lastError = e;
      const delay = Math.min(1000, 50 * 2 ** this.failures++) * (0.5 + Math.random() / 2);
      setTimeout(() => this.start(), delay);
    };
    call.on('error', (e: grpc.ServiceError) => retry(e));
    call.on('end', () => retry(null));
    return this;
  }

  /** The underlying stream (to pause it). */
  get stream(): grpc.ClientReadableStream<WatchResponse> | null {
    return this.call;
  }

  onMessage(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  stop(): void {
    this.stopped = true;
    this.call?.cancel();
    this.call = null;
  }
}

/** Polls `cond` every 50 ms until it holds or `ms` pass; returns whether it held. */
export async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Resident set size of a process in MB (Linux /proc). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}
