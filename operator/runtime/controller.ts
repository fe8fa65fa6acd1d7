/**
 * A controller: watch events enqueue keys, workers reconcile them one key at a time.
 *
 * Errors come in two kinds, as in cert-manager: a terminal {@link ReconcileError} means retrying
 * cannot help until someone changes the spec (the reconciler has already shown it in status), so
 * the key is not retried; any other error is transient and retried with per-key exponential backoff.
 */
import type { Logger } from 'pino';
import { ExponentialBackoff } from './backoff.ts';
import { systemClock, type Clock } from './clock.ts';
import { ReconcileError } from './errors.ts';
import type { Informer, InformerEventType } from './informer.ts';
import type { KubeObject, TypeRef } from './kube.ts';
import { WorkQueue } from './workqueue.ts';

/** What a reconcile asks for next. */
export interface ReconcileResult {
  /** Reconcile this key again after this delay (timed work such as certificate renewal). */
  requeueAfterMs?: number;
  /**
   * No pass was needed (what asked for it was already known, e.g. our own writes coming back):
   * the key's timed pass (a requeue, a retry and its backoff) stays as it was.
   */
  skipped?: boolean;
}

/** A watch event that asked for a pass. */
export interface TriggerEvent {
  /** The kind the informer watches. */
  source: TypeRef;
  type: InformerEventType;
  /** The object as the event delivered it. */
  object: KubeObject;
  /** When the event was delivered (stopwatch milliseconds). */
  at: number;
}

/**
 * Why a pass runs and when its causes arrived: the watch events that asked for it since the key's
 * previous pass started, and whether anything else did. A reconciler may do the urgent part of
 * its work first for the objects the events name (a drift repair), or nothing for events that
 * carry nothing new (its own writes coming back); with `other`, it cannot know what changed.
 */
export interface PassTrigger {
  /** The events, oldest first; at most {@link MAX_TRIGGER_EVENTS} (more set `other`). */
  events: TriggerEvent[];
  /** Something besides these events asked: a direct enqueue, a timed requeue, a retry, a storm of events. */
  other: boolean;
  /** When the first cause arrived (stopwatch milliseconds; a timer's or retry's: when the key was queued). */
  since: number;
  /** When the key entered the ready queue for this pass. */
  queuedAt: number;
  /** When the pass started. */
  startedAt: number;
}

/** Events kept per pending pass: enough for one object's edit and its echoes; a storm is simply "other". */
export const MAX_TRIGGER_EVENTS = 16;

/** A timer may fire this much before the wall clock shows its due time: it counts as due. */
const TIMER_SLACK_MS = 10;

/** Reconciles one key to its desired state. */
export interface Reconciler {
  /** `trigger` says why the pass runs (absent: unknown, treat as `other`). */
  reconcile(key: string, trigger?: PassTrigger): Promise<ReconcileResult | void>;
}

/** The outcome of one reconcile, for metrics. */
export type ReconcileOutcome = 'success' | 'requeue' | 'transient_error' | 'terminal_error';

/** Settings of {@link Controller}. */
export interface ControllerOptions {
  name: string;
  reconciler: Reconciler;
  log: Logger;
  workers?: number;
  clock?: Clock;
  backoff?: ExponentialBackoff;
  /** Called after every reconcile with its outcome and duration. */
  onReconciled?: (outcome: ReconcileOutcome, seconds: number, error?: unknown) => void;
  /** Called when the queue depth changes. */
  onQueueDepth?: (depth: number) => void;
  /** A monotonic clock in milliseconds for the triggers' times (default `performance.now`). */
  stopwatch?: () => number;
}

/** Maps a changed object to the keys of the primary objects to reconcile. */
export type KeyMapper = (object: KubeObject) => string[];

/** Work queue plus workers plus event sources. */
export class Controller {
  readonly queue: WorkQueue;
  private readonly workers: Array<Promise<void>> = [];
  private running = false;
  private readonly clock: Clock;
  /** When each key's last pass started (clock ms): what coalesced events are timed from. One entry per primary object. */
  private readonly passStarted = new Map<string, number>();
  /** What asked for each key's next pass since its last one started (taken when that pass starts). */
  private readonly pending = new Map<string, { events: TriggerEvent[]; other: boolean; since: number }>();
  /**
   * When each key's timed pass (a requeueAfter, a retry's backoff) falls due (clock ms). Kept
   * apart from the queue's timer, which an earlier event's timer replaces: a pass that runs for
   * that event and is skipped must not take the timed one with it.
   */
  private readonly timedDue = new Map<string, number>();
  private readonly stopwatch: () => number;

  constructor(private readonly options: ControllerOptions) {
    this.clock = options.clock ?? systemClock;
    this.stopwatch = options.stopwatch ?? (() => performance.now());
    this.queue = new WorkQueue({
      name: options.name,
      clock: this.clock,
      backoff: options.backoff ?? new ExponentialBackoff({ baseMs: 200, maxMs: 5 * 60_000 }),
      onDepthChange: options.onQueueDepth,
      stopwatch: this.stopwatch,
    });
  }

  /** Records a cause of `key`'s next pass: a watch event, or (without one) something else. */
  private note(key: string, event?: TriggerEvent): void {
    let pending = this.pending.get(key);
    if (!pending) this.pending.set(key, pending = { events: [], other: false, since: event?.at ?? this.stopwatch() });
    if (!event || pending.events.length >= MAX_TRIGGER_EVENTS) pending.other = true;
    else pending.events.push(event);
  }

  /**
   * Enqueues the keys `map` returns for every add, update and delete the informer sees. With
   * `coalesceMs`, events ask for at most one pass of a key per window: an event long after the
   * key's last pass queues it at once, one within `coalesceMs` of that pass's start queues it for
   * the window's end, and the events arriving meanwhile ride on that one pass. For sources that
   * change in storms (a thousand namespaces created, every pod of a rollout turning Ready) a storm
   * costs a pass per window instead of a pass per event, while a lone event is answered at once.
   */
  watch(informer: Informer, map: KeyMapper, options: { coalesceMs?: number } = {}): void {
    informer.on((type, object) => {
      const keys = map(object);
      if (keys.length === 0) return;
      const at = this.stopwatch();
      for (const key of keys) {
        this.note(key, { source: informer.type, type, object, at });
        this.queueKey(key, options.coalesceMs);
      }
    });
  }

  /** Enqueues a key directly (a cause other than a watch event); with `coalesceMs`, as {@link watch} does. */
  enqueue(key: string, coalesceMs?: number): void {
    this.note(key);
    this.queueKey(key, coalesceMs);
  }

  private queueKey(key: string, coalesceMs?: number): void {
    const last = coalesceMs ? this.passStarted.get(key) : undefined;
    const wait = last === undefined ? 0 : last + coalesceMs! - this.clock.now();
    // The queue keeps the earliest pending time of a key: later events never push a pass further out.
    if (wait > 0) this.queue.addAfter(key, wait);
    else this.queue.add(key);
  }
  /** Starts the workers. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < (this.options.workers ?? 2); i++) this.workers.push(this.work());
  }

  /** Stops taking new keys and waits for reconciles in flight to finish. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.workers);
    this.running = false;
  }

  /** Handles one key and decides whether and when it comes back. */
  async processKey(key: string): Promise<ReconcileOutcome> {
    const started = performance.now();
    this.passStarted.set(key, this.clock.now());
    const trigger = this.takeTrigger(key);
    let outcome: ReconcileOutcome;
    let failure: unknown;
    try {
      const result = await this.options.reconciler.reconcile(key, trigger);
      if (result?.skipped) {
        const due = this.timedDue.get(key);
        if (due !== undefined) this.queue.addAfter(key, due - this.clock.now());
        outcome = 'success';
      } else {
        this.queue.forget(key);
        this.timedDue.delete(key);
        if (result?.requeueAfterMs !== undefined) {
          this.queue.addAfter(key, result.requeueAfterMs);
          this.timedDue.set(key, this.clock.now() + result.requeueAfterMs);
          outcome = 'requeue';
        } else {
          outcome = 'success';
        }
      }
    } catch (error) {
      failure = error;
      if (error instanceof ReconcileError && error.terminal) {
        this.queue.forget(key);
        this.timedDue.delete(key);
        outcome = 'terminal_error';
        this.options.log.warn({ key, reason: error.reason, err: error.message }, 'reconcile stopped on a terminal error; waiting for a change');
      } else {
        const retryInMs = this.queue.addRateLimited(key);
        this.timedDue.set(key, this.clock.now() + retryInMs);
        outcome = 'transient_error';
        this.options.log.error({ key, ...(error instanceof ReconcileError ? { reason: error.reason } : {}), err: error instanceof Error ? error.message : String(error), retryInMs }, 'reconcile failed; retrying with backoff');
      }
    }
    this.options.onReconciled?.(outcome, (performance.now() - started) / 1000, failure);
    return outcome;
  }

  /**
   * What asked for the pass of `key` starting now. Without a recorded cause the key came from a
   * timer (a requeue, a retry's backoff) or straight from the queue: `other`.
   */
  private takeTrigger(key: string): PassTrigger {
    const startedAt = this.stopwatch();
    const queuedAt = this.queue.queuedAt(key) ?? startedAt;
    const pending = this.pending.get(key);
    this.pending.delete(key);
    if (!pending) return { events: [], other: true, since: queuedAt, queuedAt, startedAt };
    // The timed pass fell due along with these events (one pass for both): it asked too.
    const due = this.timedDue.get(key);
    const timed = due !== undefined && due <= this.clock.now() + TIMER_SLACK_MS;
    return { ...pending, other: pending.other || timed, queuedAt, startedAt };
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.processKey(key);
      } finally {
        this.queue.done(key);
      }
    }
  }
}
