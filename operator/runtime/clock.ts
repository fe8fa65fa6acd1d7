/**
 * Time as a dependency: the runtime asks a Clock, so tests can drive queues, backoff and leases
 * with a fixed, manually advanced clock instead of sleeping.
 */

/** A cancellable timer handle. */
export interface Timer {
  cancel(): void;
}

/** The time source and timer factory the runtime uses. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` after `ms` milliseconds (never synchronously). */
  setTimer(ms: number, fn: () => void): Timer;
}

/** The longest delay `setTimeout` honours (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * `setTimeout` for any delay. Node clamps a delay beyond {@link MAX_TIMEOUT_MS} to 1 ms (with a
 * TimeoutOverflowWarning): a renewal due in months would fire at once, and a timer re-armed from
 * its own callback would spin. Longer delays are waited out in steps of at most `maxStepMs`.
 */
export function setLongTimeout(ms: number, fn: () => void, maxStepMs = MAX_TIMEOUT_MS): Timer {
  let handle: ReturnType<typeof setTimeout>;
  const arm = (remaining: number) => {
    handle = remaining > maxStepMs ? setTimeout(() => arm(remaining - maxStepMs), maxStepMs) : setTimeout(fn, Math.max(0, remaining));
  };
  arm(ms);
  return { cancel: () => clearTimeout(handle) };
}

/**
 * The real clock. Its timers keep the process alive (a pending retry is work to do); whoever
 * schedules one cancels it on shutdown.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => setLongTimeout(ms, fn),
};

/** A clock that moves only when told to; timers fire in due order during {@link FakeClock.advance}. */
export class FakeClock implements Clock {
  private current: number;
  private timers: Array<{ due: number; seq: number; fn: () => void; cancelled: boolean }> = [];
  private seq = 0;

  constructor(start: Date | number = Date.parse('2026-01-01T00:00:00Z')) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const timer = { due: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Number of timers that have not fired or been cancelled. */
  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing each timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.due <= target).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!due) break;
      this.current = due.due;
      due.cancelled = true;
      due.fn();
    }
    this.timers = this.timers.filter((t) => !t.cancelled);
    this.current = target;
  }
}
