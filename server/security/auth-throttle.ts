/**
 * Slows brute force: a peer with too many failed authentications in a window is refused for
 * a while, without affecting other peers. Memory is bounded by pruning old entries.
 */
export interface ThrottleOptions {
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = { maxFailures: 20, windowMs: 60_000, lockoutMs: 30_000 };

export class AuthThrottle {
  private readonly peers = new Map<string, { failures: number[]; lockedUntil: number }>();

  constructor(
    private readonly opts: ThrottleOptions = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds the peer must still wait, or 0. */
  lockedFor(peer: string): number {
    const p = this.peers.get(peer);
    return p ? Math.max(0, p.lockedUntil - this.now()) : 0;
  }

  failure(peer: string): void {
    const now = this.now();
    const p = this.peers.get(peer) ?? { failures: [], lockedUntil: 0 };
    p.failures = p.failures.filter((t) => t > now - this.opts.windowMs);
    p.failures.push(now);
    if (p.failures.length >= this.opts.maxFailures) {
      p.lockedUntil = now + this.opts.lockoutMs;
      p.failures = [];
    }
    this.peers.set(peer, p);
    if (this.peers.size > 10_000) this.prune(now);
  }

  success(peer: string): void {
    this.peers.delete(peer);
  }

  private prune(now: number): void {
    for (const [peer, p] of this.peers) {
      if (p.lockedUntil < now && p.failures.every((t) => t <= now - this.opts.windowMs)) this.peers.delete(peer);
    }
  }
}

/** The peer's host, without the port: one client reconnecting keeps its identity. */
export function peerHost(peer: string): string {
  const m = /^(?:ipv[46]:)?\[?([^\]]*?)\]?(?::\d+)?$/.exec(peer);
  return m?.[1] || peer;
}
