/**
 * Slows brute force: a peer with too many failed authentications in a window is refused for
 * a while, without affecting other peers. Successes do not clear the count (a valid token
 * interleaved with guesses must not reset it); failures leave the window as it slides.
 * Memory is bounded by pruning old entries.
 */
export interface ThrottleOptions {
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = { maxFailures: 20, windowMs: 60_000, lockoutMs: 30_000 };

/** Peers tracked at most; beyond it the oldest entries that are not locked out are dropped. */
export const MAX_TRACKED_PEERS = 10_000;

export class AuthThrottle {
  // Insertion-ordered: re-inserting on each failure keeps the oldest activity first.
  private readonly peers = new Map<string, { failures: number[]; lockedUntil: number }>();

  constructor(
    private readonly opts: ThrottleOptions = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
    private readonly maxPeers = MAX_TRACKED_PEERS,
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
    this.peers.delete(peer);
    this.peers.set(peer, p);
    if (this.peers.size > this.maxPeers) this.evict(now);
  }

  /** Drops the least recently failing peers that are not locked out, down to the cap. */
  private evict(now: number): void {
    for (const [peer, p] of this.peers) {
      if (this.peers.size <= this.maxPeers) return;
      if (p.lockedUntil <= now) this.peers.delete(peer);
    }
  }
}

/**
 * The peer's identity for throttling: its host without the port (one client reconnecting stays
 * one peer), IPv4-mapped IPv6 as plain IPv4, and IPv6 by its /64 (a host can rotate through
 * its prefix).
 */
export function peerHost(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(bare);
  // grpc-js gives "address:port", IPv6 unbracketed: the last ":digits" is the port.
  const host = bracketed ? bracketed[1]! : bare.replace(/:\d+$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return mapped[1]!;
  return host.includes(':') ? ipv6Prefix64(host) : host;
}

function ipv6Prefix64(host: string): string {
  const [head = '', tail = ''] = host.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = host.includes('::') ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  if (groups.length < 4) return host;
  // Loopback and other addresses with an all-zero first half are kept whole.
  if (groups.slice(0, 4).every((g) => /^0*$/.test(g))) return host;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
