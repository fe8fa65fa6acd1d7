/**
 * Per-key exponential backoff for transient errors: the n-th consecutive failure of a key waits
 * `base * 2^(n-1)`, capped at `max`; a success forgets the key.
 */

/** Settings of {@link ExponentialBackoff}. */
export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
}

/** Tracks consecutive failures per key and turns them into delays. */
export class ExponentialBackoff {
  private readonly failures = new Map<string, number>();
  readonly baseMs: number;
  readonly maxMs: number;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? 200;
    this.maxMs = options.maxMs ?? 5 * 60_000;
  }

  /** Records one more failure of `key` and returns how long to wait before retrying it. */
  next(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    // Cap the exponent too, so that 2^n never overflows into Infinity for a long-failing key.
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(n - 1, 40));
  }

  /** Consecutive failures recorded for `key`. */
  attempts(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Forgets `key` after a success. */
  forget(key: string): void {
    this.failures.delete(key);
  }
}
