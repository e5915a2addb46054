/**
 * Retry policy for the Watch stream: exponential backoff with jitter, injected into the client
 * as a plain function so tests (and callers) can replace it. The client resets the attempt
 * counter after every successful (re)connection.
 */
export interface RetryDecision {
  retry: boolean;
  delayMs: number;
}

/** `attempt` counts failures since the last success, starting at 1. */
export type RetryPolicy = (attempt: number) => RetryDecision;

export interface BackoffOptions {
  /** First delay before jitter; default 250 ms. */
  initialMs?: number;
  /** Cap on the delay before jitter; default 30 s. */
  maxMs?: number;
  /** Growth per attempt; default 2. */
  factor?: number;
  /** Fraction of the delay that is randomised, 0..1; default 0.5 ("equal jitter"). */
  jitter?: number;
  /** Give up after this many consecutive failures; default never. */
  maxAttempts?: number;
  /** Source of randomness in [0, 1); tests pass a fixed one. */
  random?: () => number;
}

export function exponentialBackoff(opts: BackoffOptions = {}): RetryPolicy {
  const initial = opts.initialMs ?? 250;
  const max = opts.maxMs ?? 30_000;
  const factor = opts.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
  const random = opts.random ?? Math.random;
  const maxAttempts = opts.maxAttempts ?? Infinity;
  return (attempt) => {
    if (attempt > maxAttempts) return { retry: false, delayMs: 0 };
    const base = Math.min(max, initial * factor ** Math.max(0, attempt - 1));
    // Keep (1 - jitter) of the delay fixed and randomise the rest, so that replicas that lost
    // the server together do not come back together.
    const delayMs = Math.round(base * (1 - jitter) + base * jitter * random());
    return { retry: true, delayMs };
  };
}
