/**
 * A work queue with client-go's guarantees: a key is queued at most once however often it is
 * added (dedup); a key is handed to at most one worker at a time, and a key added while it is
 * being processed is queued again when that worker is done; delayed adds for `requeueAfter` and
 * per-key backoff for transient errors.
 */
import { ExponentialBackoff } from './backoff.ts';
import { systemClock, type Clock, type Timer } from './clock.ts';

/** Settings of {@link WorkQueue}. */
export interface WorkQueueOptions {
  name: string;
  clock?: Clock;
  backoff?: ExponentialBackoff;
  /** Called whenever the number of queued (not in-flight) keys changes. */
  onDepthChange?: (depth: number) => void;
  /** Called for every key actually added to the queue (after dedup). */
  onAdd?: () => void;
  /** A monotonic clock in milliseconds for {@link WorkQueue.queuedAt} (default `performance.now`). */
  stopwatch?: () => number;
}

/** Deduplicating, per-key-serialised queue of string keys. */
export class WorkQueue {
  readonly name: string;
  private readonly clock: Clock;
  readonly backoff: ExponentialBackoff;
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, { due: number; timer: Timer }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  /** When each queued key entered the ready queue, then (once handed out) until done(): what queuedAt() reports. */
  private readonly readySince = new Map<string, number>();
  private readonly stopwatch: () => number;
  private shuttingDown = false;

  constructor(private readonly options: WorkQueueOptions) {
    this.name = options.name;
    this.clock = options.clock ?? systemClock;
    this.backoff = options.backoff ?? new ExponentialBackoff();
    this.stopwatch = options.stopwatch ?? (() => performance.now());
  }

  /** Queues `key` unless it is queued already. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.options.onAdd?.();
    if (this.processing.has(key)) return; // re-queued by done()
    this.push(key);
  }

  /** Queues `key` after `delayMs`; an earlier pending delay for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const due = this.clock.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.due <= due) return;
    pending?.timer.cancel();
    const timer = this.clock.setTimer(delayMs, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { due, timer });
  }

  /** Queues `key` after its next backoff delay (one more consecutive failure). */
  addRateLimited(key: string): number {
    const delay = this.backoff.next(key);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the failure count of `key` (after a success or a terminal error). */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  /** Waits for the next key; resolves undefined once the queue is shut down and drained of waiters. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` as processed; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    this.readySince.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  /**
   * When `key`, now handed out, entered the ready queue (stopwatch milliseconds): the time from
   * there to its pass's start is time spent waiting for a worker. Undefined for a key not handed
   * out by {@link get}.
   */
  queuedAt(key: string): number | undefined {
    return this.processing.has(key) ? this.readySince.get(key) : undefined;
  }

  /** Queued keys, not counting those in flight or delayed. */
  len(): number {
    return this.queue.length;
  }

  /** Stops handing out keys: pending get() calls resolve undefined, delayed adds are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) timer.cancel();
    this.delayed.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  private take(key: string): string {
    this.dirty.delete(key);
    this.processing.add(key);
    this.options.onDepthChange?.(this.queue.length);
    return key;
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.readySince.set(key, this.stopwatch());
      waiter(this.take(key));
      return;
    }
    this.readySince.set(key, this.stopwatch());
    this.queue.push(key);
    this.options.onDepthChange?.(this.queue.length);
  }
}
