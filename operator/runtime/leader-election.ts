/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics: only one
 * operator process writes at a time, a standby takes over when the leader dies, and a leader that
 * cannot renew in time stops before anyone else may start.
 *
 * Safety rests on three rules:
 * - Every write carries the resourceVersion that was read, so of two candidates racing for the same
 *   lease exactly one write succeeds (the API server rejects the other with 409 Conflict).
 * - A candidate judges expiry by its *own* clock: the lease expires `leaseDuration` after the moment
 *   this process last saw the lease record change, never by comparing `renewTime` (another host's
 *   clock) with ours. Clock skew between hosts therefore does not matter.
 * - A leader gives up `renewDeadline` after it *sent* its last successful renewal. The API server
 *   received that renewal no earlier, and a standby observed it no earlier still, so the leader
 *   stops at least `leaseDuration - renewDeadline` before any standby can consider the lease expired.
 */
import type { Logger } from 'pino';
import { systemClock, type Clock, type Timer } from './clock.ts';
import { isConflict, isNotFound, KubeApiError, microTime, type KubeClient, type KubeObject } from './kube.ts';
import { createLogger } from './logger.ts';
import type { OperatorMetrics } from './metrics.ts';

/** A Lease's election record as the API server stores it; times are MicroTime strings ({@link microTime}). */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  /** Fields we do not set (e.g. `strategy`, `preferredHolder`) are kept as read. */
  [field: string]: unknown;
}

/** A `coordination.k8s.io/v1` Lease as plain JSON. */
export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

/** The Lease type, for {@link KubeClient} calls. */
const LEASE_TYPE = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' } as const;

/** What a candidate should do with the lease it just read; see {@link decideLeaseAction}. */
export type LeaseDecision =
  /** No lease exists: create it, holding it. */
  | { action: 'create' }
  /** The lease is ours: renew it, keeping acquireTime and leaseTransitions. */
  | { action: 'renew' }
  /** The lease is free (released) or expired: take it over, counting one more transition. */
  | { action: 'acquire'; reason: 'free' | 'expired'; previousHolder?: string }
  /** Another candidate holds a valid lease: try again later; it expires at `expiresAt` (our clock) unless renewed. */
  | { action: 'wait'; holder: string; expiresAt: number };

/** What this process last saw of the lease record, and when (by its own clock). */
export interface LeaseObservation {
  /** The record's canonical form; a change of any field counts as a change. */
  record: string;
  /** Local time at which `record` was first seen. */
  observedAt: number;
}

/** A Kubernetes (Micro)Time string as epoch milliseconds. */
function toMillis(time: string | undefined): number | undefined {
  if (time === undefined || time === null) return undefined;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The canonical form of a lease's election record (holder, times, duration, transitions): two
 * reads of an unchanged lease give the same string, any renewal gives a different one.
 */
export function leaseRecord(lease: Lease | undefined): string {
  const spec = lease?.spec ?? {};
  return JSON.stringify([
    spec.holderIdentity ?? '',
    spec.leaseDurationSeconds ?? null,
    toMillis(spec.acquireTime) ?? null,
    toMillis(spec.renewTime) ?? null,
    spec.leaseTransitions ?? null,
  ]);
}

/**
 * Updates what we know of the lease after a read at local time `now`: the observation time moves
 * only when the record changed, so a lease nobody renews ages on our clock alone.
 */
export function observeLease(previous: LeaseObservation | undefined, lease: Lease | undefined, now: number): LeaseObservation {
  const record = leaseRecord(lease);
  return previous && previous.record === record ? previous : { record, observedAt: now };
}

/**
 * The election decision, client-go's `tryAcquireOrRenew` as a pure function. `observedAt` is the
 * local time at which the current record was first seen ({@link observeLease}); the lease is valid
 * while `observedAt + leaseDurationSeconds > now`. `defaultLeaseDurationMs` applies when the lease
 * does not say its duration.
 */
export function decideLeaseAction(lease: Lease | undefined, identity: string, now: number, observedAt: number, defaultLeaseDurationMs = 15_000): LeaseDecision {
  if (!lease) return { action: 'create' };
  const holder = lease.spec?.holderIdentity ?? '';
  if (holder === identity) return { action: 'renew' };
  if (holder === '') return { action: 'acquire', reason: 'free' };
  const seconds = lease.spec?.leaseDurationSeconds;
  const durationMs = seconds !== undefined && seconds > 0 ? seconds * 1000 : defaultLeaseDurationMs;
  const expiresAt = observedAt + durationMs;
  if (expiresAt > now) return { action: 'wait', holder, expiresAt };
  return { action: 'acquire', reason: 'expired', previousHolder: holder };
}

/**
 * The lease spec to write for a `create`, `renew` or `acquire` decision at local time `now`.
 * A renewal keeps acquireTime and leaseTransitions; a takeover counts one more transition.
 */
export function nextLeaseSpec(decision: Exclude<LeaseDecision, { action: 'wait' }>, current: LeaseSpec | undefined, identity: string, now: number, leaseDurationMs: number): LeaseSpec {
  const leaseDurationSeconds = Math.max(1, Math.ceil(leaseDurationMs / 1000));
  const stamp = microTime(now);
  switch (decision.action) {
    case 'create':
      return { holderIdentity: identity, leaseDurationSeconds, acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 };
    case 'renew':
      return {
        ...current,
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTime: current?.acquireTime ?? stamp,
        renewTime: stamp,
        leaseTransitions: current?.leaseTransitions ?? 0,
      };
    case 'acquire':
      return {
        ...current,
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTime: stamp,
        renewTime: stamp,
        leaseTransitions: (current?.leaseTransitions ?? 0) + 1,
      };
  }
}

/** The lease spec a leader writes when it steps down: no holder, so a standby may take over at once. */
export function releasedLeaseSpec(current: LeaseSpec | undefined, now: number): LeaseSpec {
  const stamp = microTime(now);
  // client-go writes a 1 s duration on release too, for candidates that only look at the duration.
  return { ...current, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: stamp, acquireTime: stamp, leaseTransitions: current?.leaseTransitions ?? 0 };
}

/** Raised by a {@link LeaseClient} when a write lost an optimistic-concurrency race (HTTP 409). */
export class LeaseConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaseConflictError';
  }
}

/**
 * Why leader election cannot work as configured. Retrying alone will not fix it: a person must
 * act, and the message says how. The elector keeps retrying meanwhile, so the fix takes effect
 * without a restart.
 */
export interface LeaseProblem {
  reason: 'NamespaceNotFound' | 'Forbidden';
  message: string;
}

/** Raised by a {@link LeaseClient} for a failure that is a {@link LeaseProblem}. */
export class LeaseProblemError extends Error {
  constructor(readonly problem: LeaseProblem) {
    super(problem.message);
    this.name = 'LeaseProblemError';
  }
}

/**
 * The {@link LeaseProblem} behind a failed lease request, or undefined for a failure that retrying
 * may fix (a timeout, an API server restarting, a lost race).
 */
export function leaseProblem(error: unknown, operation: 'get' | 'create' | 'update', namespace: string, name: string): LeaseProblem | undefined {
  if (!(error instanceof KubeApiError)) return undefined;
  // A 404 on a create cannot mean the Lease is missing: it is the namespace we create it in.
  if (error.status === 404 && operation === 'create') {
    return {
      reason: 'NamespaceNotFound',
      message: `the leader-election namespace "${namespace}" does not exist, so the Lease "${name}" cannot be created and this operator will not reconcile: create the namespace (kubectl create namespace ${namespace}) or pass --leader-election-namespace=<an existing namespace>`,
    };
  }
  if (error.status === 403) {
    return {
      reason: 'Forbidden',
      message: `not allowed to ${operation} the leader-election Lease ${namespace}/${name}, so this operator will not reconcile: grant get, create and update on leases (coordination.k8s.io) in namespace ${namespace} (${error.message})`,
    };
  }
  return undefined;
}

/** The three lease operations leader election needs; {@link kubernetesLeaseClient} is the real one. */
export interface LeaseClient {
  /** The lease, or undefined when it does not exist. */
  get(namespace: string, name: string): Promise<Lease | undefined>;
  /** Creates the lease; {@link LeaseConflictError} when it already exists. */
  create(namespace: string, lease: Lease): Promise<Lease>;
  /** Replaces the lease, guarded by `lease.metadata.resourceVersion`; {@link LeaseConflictError} when it changed meanwhile. */
  replace(namespace: string, lease: Lease): Promise<Lease>;
}

/**
 * A {@link LeaseClient} on our {@link KubeClient}: renewals share the operator's connection pool and
 * user agent. Failures become {@link LeaseConflictError} (409: someone else wrote first) or
 * {@link LeaseProblemError} (see {@link leaseProblem}); anything else is thrown as it is.
 */
export function kubernetesLeaseClient(client: KubeClient): LeaseClient {
  const failed = (operation: 'get' | 'create' | 'update', namespace: string, name: string) => (error: unknown): never => {
    if (isConflict(error)) throw new LeaseConflictError(`${operation} lease ${namespace}/${name}: ${(error as Error).message}`);
    const problem = leaseProblem(error, operation, namespace, name);
    throw problem ? new LeaseProblemError(problem) : error;
  };
  return {
    async get(namespace, name) {
      try {
        return await client.get<Lease>(LEASE_TYPE, name, namespace);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        return failed('get', namespace, name)(error);
      }
    },
    create: (namespace, lease) =>
      client.create<Lease>({ ...lease, ...LEASE_TYPE, metadata: { ...lease.metadata, namespace } }).catch(failed('create', namespace, lease.metadata.name)),
    replace: (namespace, lease) =>
      client.replace<Lease>({ ...lease, ...LEASE_TYPE, metadata: { ...lease.metadata, namespace } }).catch(failed('update', namespace, lease.metadata.name)),
  };
}

/** Whether leader election can proceed; see {@link LeaderElector.health}. */
export interface ElectionHealth {
  /** A round has reached the API server and been answered (whatever the answer). */
  checked: boolean;
  /** What keeps election from working, while it lasts. */
  problem?: LeaseProblem;
}

/** Settings of {@link LeaderElector}. */
export interface LeaderElectionOptions {
  /** Cluster access; ignored when `leases` is given. One of the two is required. */
  client?: KubeClient;
  /** The lease operations (tests pass an in-memory one). */
  leases?: LeaseClient;
  namespace: string;
  /** Name of the Lease object. */
  name: string;
  /** This candidate's unique identity (e.g. pod name plus a random suffix). */
  identity: string;
  /** How long a lease is valid after a standby last saw it change. Default 15 s. */
  leaseDurationMs?: number;
  /** How long a leader keeps trying to renew before it steps down. Default 10 s; must be below leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Interval between acquisition and renewal attempts. Default 2 s; must be below renewDeadlineMs. */
  retryPeriodMs?: number;
  clock?: Clock;
  log?: Logger;
  /** Where to publish `meshwright_leader{identity}`. */
  metrics?: OperatorMetrics;
  /** Source of jitter for acquisition attempts (0 ≤ x < 1); Math.random by default. */
  random?: () => number;
}

/** What to run while leading. */
export interface LeaderCallbacks {
  /**
   * Called once leadership is acquired. `signal` aborts the moment leadership ends (lost or
   * released): everything that writes to the cluster must stop then. A returned promise is awaited
   * by {@link LeaderElector.release} before the lease is given up, so in-flight work can finish.
   */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /** Called once when leadership ends, after the signal was aborted (and, on release, after the lease was given up). */
  onStoppedLeading(): void;
  /** Called whenever a different holder (or none) is observed, including ourselves. */
  onNewLeader?(identity: string | undefined): void;
}

/** How a {@link LeaderElector.run} ended. */
export type LeaderElectionOutcome = 'released' | 'lost';

/** Upper bound of the random extra wait between acquisition attempts, as a fraction of retryPeriod. */
const ACQUIRE_JITTER = 0.2;

/** A candidate for leadership of one Lease; see the module comment for the guarantees. */
export class LeaderElector {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  private readonly leases: LeaseClient;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: OperatorMetrics | undefined;
  private readonly random: () => number;

  private observation: LeaseObservation | undefined;
  private lastHolder: string | undefined | null = null;
  private leading = false;
  private lost = false;
  private stopping = false;
  private running: Promise<LeaderElectionOutcome> | undefined;
  private releasing: Promise<void> | undefined;
  private lossTimer: Timer | undefined;
  private wakers = new Set<() => void>();
  private writes: Promise<unknown> = Promise.resolve();
  /** The lease as our last successful write returned it, while we lead: what the next renewal is based on. */
  private ownLease: Lease | undefined;
  private checked = false;
  private problem: LeaseProblem | undefined;

  constructor(options: LeaderElectionOptions) {
    this.identity = options.identity;
    this.namespace = options.namespace;
    this.name = options.name;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!this.identity) throw new Error('leader election: identity must not be empty');
    if (!(this.leaseDurationMs > this.renewDeadlineMs)) throw new Error(`leader election: leaseDurationMs (${this.leaseDurationMs}) must be greater than renewDeadlineMs (${this.renewDeadlineMs})`);
    if (!(this.renewDeadlineMs > this.retryPeriodMs * (1 + ACQUIRE_JITTER))) {
      throw new Error(`leader election: renewDeadlineMs (${this.renewDeadlineMs}) must be greater than ${1 + ACQUIRE_JITTER} × retryPeriodMs (${this.retryPeriodMs})`);
    }
    if (!options.leases && !options.client) throw new Error('leader election: either client or leases is required');
    this.leases = options.leases ?? kubernetesLeaseClient(options.client!);
    this.clock = options.clock ?? systemClock;
    this.log = (options.log ?? createLogger({ name: 'leader-election' })).child({ lease: `${this.namespace}/${this.name}`, identity: this.identity });
    this.metrics = options.metrics;
    this.random = options.random ?? Math.random;
    this.metrics?.setLeader(this.identity, false);
  }

  /** True while this process holds the lease and has not stepped down. */
  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Whether election can proceed, for readiness: unchecked until the first round has been answered,
   * then the {@link LeaseProblem} that blocks it, if any (e.g. the lease's namespace does not exist).
   * A standby waiting for a valid lease held by another candidate is healthy.
   */
  health(): ElectionHealth {
    return { checked: this.checked, ...(this.problem ? { problem: this.problem } : {}) };
  }

  /**
   * Campaigns until the lease is acquired, then leads until leadership is lost or
   * {@link release} is called; resolves with how it ended. One run at a time per elector (a
   * second concurrent call throws); an elector whose run has ended may run again.
   */
  run(callbacks: LeaderCallbacks): Promise<LeaderElectionOutcome> {
    if (this.running) throw new Error('leader election: already running');
    this.stopping = false;
    this.lost = false;
    this.releasing = undefined;
    this.running = this.campaign(callbacks).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Graceful step-down: stops campaigning; when leading, aborts the leadership signal, waits for
   * the promise returned by onStartedLeading (renewing meanwhile, since that work may still write),
   * then clears holderIdentity so a standby takes over at once, and calls onStoppedLeading.
   */
  release(): Promise<void> {
    this.releasing ??= (async () => {
      this.stopping = true;
      this.wake();
      await this.running;
    })();
    return this.releasing;
  }

  private async campaign(callbacks: LeaderCallbacks): Promise<LeaderElectionOutcome> {
    this.log.info('campaigning for leadership');
    while (!this.stopping) {
      if (await this.tryAcquireOrRenew(callbacks)) break;
      if (this.stopping) break;
      await this.sleep(this.retryPeriodMs * (1 + ACQUIRE_JITTER * this.random()));
    }
    if (this.stopping) {
      // Stopped while campaigning (onStartedLeading was never called). We may hold the lease on
      // the server (just acquired, or a write that timed out on our side landed): give it back so
      // no standby waits out a lease nobody renews.
      this.lossTimer?.cancel();
      this.setLeading(false);
      await this.giveBack();
      return 'released';
    }
    return this.lead(callbacks);
  }

  private async lead(callbacks: LeaderCallbacks): Promise<LeaderElectionOutcome> {
    this.log.info('became leader');
    const abort = new AbortController();
    const work = Promise.resolve()
      .then(() => callbacks.onStartedLeading(abort.signal))
      .catch((error: unknown) => this.log.error({ err: error }, 'onStartedLeading failed'));
    let workDone = false;
    void work.then(() => (workDone = true));

    // Renew until leadership is lost, or until a release was asked for and the work has drained.
    let draining = false;
    for (;;) {
      if (this.stopping && !draining) {
        draining = true;
        abort.abort(new Error('leadership released'));
        void work.then(() => this.wake());
      }
      if (this.lost || (draining && workDone)) break;
      await this.sleep(this.retryPeriodMs);
      if (this.lost || (this.stopping && !draining) || (draining && workDone)) continue;
      await this.tryAcquireOrRenew(callbacks);
    }

    this.lossTimer?.cancel();
    this.setLeading(false);
    if (this.lost) {
      abort.abort(new Error('leadership lost'));
      this.log.error({ renewDeadlineMs: this.renewDeadlineMs }, 'leadership lost: could not renew the lease in time; stopping all work');
      this.safely(() => callbacks.onStoppedLeading(), 'onStoppedLeading');
      return 'lost';
    }
    await this.giveBack();
    this.log.info('released leadership');
    this.safely(() => callbacks.onStoppedLeading(), 'onStoppedLeading');
    return 'released';
  }

  /** One read-decide-write round (a leader skips the read, see {@link renewOwnLease}); true when we hold the lease afterwards. */
  private async tryAcquireOrRenew(callbacks: LeaderCallbacks): Promise<boolean> {
    return this.serialized(async () => {
      if (this.leading && this.ownLease && !this.lost) {
        const renewed = await this.renewOwnLease(callbacks);
        if (renewed !== undefined) return renewed;
      }
      try {
        const held = await this.readDecideWrite(callbacks);
        this.noteAnswered(undefined);
        return held;
      } catch (error) {
        if (error instanceof LeaseProblemError) {
          this.noteAnswered(error.problem);
        } else if (error instanceof LeaseConflictError) {
          this.noteAnswered(undefined);
          this.log.debug({ err: error }, 'lost a race for the lease');
        } else {
          this.log.warn({ err: error }, 'lease request failed');
        }
        return false;
      }
    });
  }

  /**
   * Records that a round was answered, and whether a {@link LeaseProblem} blocks election. A problem
   * is logged once when it appears (it repeats every retry period until someone acts) and once
   * when it is gone.
   */
  private noteAnswered(problem: LeaseProblem | undefined): void {
    this.checked = true;
    const before = this.problem;
    this.problem = problem;
    if (problem && (before?.reason !== problem.reason || before.message !== problem.message)) {
      this.log.error({ reason: problem.reason }, problem.message);
    } else if (problem) {
      this.log.debug({ reason: problem.reason }, 'leader election still blocked');
    } else if (before) {
      this.log.info({ reason: before.reason }, 'leader election is no longer blocked: campaigning');
    }
  }

  /** Reads the lease, decides, and writes when the decision says so; true when we hold the lease afterwards. */
  private async readDecideWrite(callbacks: LeaderCallbacks): Promise<boolean> {
    const lease = await this.withTimeout(this.leases.get(this.namespace, this.name), 'read lease');
    const readAt = this.clock.now();
    this.observe(lease, readAt, callbacks);
    const decision = decideLeaseAction(lease, this.identity, readAt, this.observation!.observedAt, this.leaseDurationMs);
    if (decision.action === 'wait') {
      if (this.leading) {
        // Someone else holds a valid lease while we think we lead: we lost it, stop now.
        this.log.warn({ holder: decision.holder }, 'lease taken over by another candidate');
        this.loseLeadership();
      } else {
        this.log.debug({ holder: decision.holder, expiresInMs: decision.expiresAt - readAt }, 'lease held by another candidate');
      }
      return false;
    }
    if (this.lost) return false;
    const sentAt = this.clock.now();
    const spec = nextLeaseSpec(decision, lease?.spec, this.identity, sentAt, this.leaseDurationMs);
    const written =
      decision.action === 'create'
        ? await this.withTimeout(this.leases.create(this.namespace, { ...LEASE_TYPE, metadata: { name: this.name, namespace: this.namespace }, spec }), 'create lease')
        : await this.withTimeout(this.leases.replace(this.namespace, { ...lease!, spec }), 'update lease');
    const held = this.accept(written, sentAt, callbacks);
    if (held && decision.action === 'acquire') this.log.info({ reason: decision.reason, previousHolder: decision.previousHolder, transitions: spec.leaseTransitions }, 'acquired lease');
    return held;
  }

  /**
   * A leader's renewal without reading the lease first (client-go's fast path): the lease as our
   * last write returned it, renewed. That write carries its resourceVersion, so if anyone else has
   * written the lease since, it fails with a conflict. Undefined when it did not succeed: the
   * caller then reads the lease and decides as usual. Halves an idle leader's requests.
   */
  private async renewOwnLease(callbacks: LeaderCallbacks): Promise<boolean | undefined> {
    const own = this.ownLease!;
    this.ownLease = undefined;
    const sentAt = this.clock.now();
    try {
      const spec = nextLeaseSpec({ action: 'renew' }, own.spec, this.identity, sentAt, this.leaseDurationMs);
      const written = await this.withTimeout(this.leases.replace(this.namespace, { ...own, spec }), 'update lease');
      return this.accept(written, sentAt, callbacks);
    } catch (error) {
      this.log.debug({ err: error }, 'renewing the lease we last wrote failed; reading it');
      return undefined;
    }
  }

  /** After a successful write of the lease sent at `sentAt`: we hold it, unless the answer came too late to count. */
  private accept(written: Lease, sentAt: number, callbacks: LeaderCallbacks): boolean {
    if (this.lost || (this.stopping && !this.leading)) return false; // told to stop while the write was in flight
    if (sentAt + this.renewDeadlineMs <= this.clock.now()) {
      // The answer came so late that the renewal no longer protects us: a standby may be about to take over.
      this.log.warn({ latencyMs: this.clock.now() - sentAt }, 'lease write answered after the renew deadline');
      this.loseLeadership();
      return false;
    }
    this.observation = { record: leaseRecord(written), observedAt: this.clock.now() };
    this.noticeHolder(this.identity, callbacks);
    this.setLeading(true);
    this.armLossTimer(sentAt);
    this.ownLease = written;
    return true;
  }

  /** Writes the released lease if we still hold it (guarded by resourceVersion: a newer holder is never overwritten). */
  private async giveBack(): Promise<void> {
    await this.serialized(async () => {
      try {
        const lease = await this.withTimeout(this.leases.get(this.namespace, this.name), 'read lease');
        if (!lease || lease.spec?.holderIdentity !== this.identity) return;
        await this.withTimeout(this.leases.replace(this.namespace, { ...lease, spec: releasedLeaseSpec(lease.spec, this.clock.now()) }), 'release lease');
      } catch (error) {
        // Not fatal: the lease then simply expires after leaseDuration.
        this.log.warn({ err: error }, 'could not release the lease');
      }
    });
  }

  private observe(lease: Lease | undefined, now: number, callbacks: LeaderCallbacks): void {
    this.observation = observeLease(this.observation, lease, now);
    this.noticeHolder(lease?.spec?.holderIdentity || undefined, callbacks);
  }

  private noticeHolder(holder: string | undefined, callbacks: LeaderCallbacks): void {
    if (holder === this.lastHolder) return;
    this.lastHolder = holder;
    this.log.debug({ holder }, 'observed lease holder');
    this.safely(() => callbacks.onNewLeader?.(holder), 'onNewLeader');
  }

  /** Leadership ends `renewDeadline` after the last successful renewal was sent, unless renewed again. */
  private armLossTimer(sentAt: number): void {
    this.lossTimer?.cancel();
    this.lossTimer = this.clock.setTimer(sentAt + this.renewDeadlineMs - this.clock.now(), () => this.loseLeadership());
  }

  private loseLeadership(): void {
    if (!this.leading || this.lost) return;
    this.lost = true;
    // isLeader() turns false synchronously, before anything else can run.
    this.setLeading(false);
    this.wake();
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    if (!leading) this.ownLease = undefined;
    this.metrics?.setLeader(this.identity, leading);
  }

  /** Lease requests never overlap, so each write is based on the latest state we know. */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.writes.then(fn);
    this.writes = result.catch(() => undefined);
    return result;
  }

  /** Stops waiting for a hung request after renewDeadline; the request itself is harmless if it lands later (resourceVersion). */
  private withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimer(this.renewDeadlineMs, () => reject(new Error(`${what}: no answer within ${this.renewDeadlineMs} ms`)));
      promise.then(
        (value) => {
          timer.cancel();
          resolve(value);
        },
        (error: unknown) => {
          timer.cancel();
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /** Waits `ms` on the clock, or less when leadership is lost or a release is requested. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        timer.cancel();
        this.wakers.delete(done);
        resolve();
      };
      const timer = this.clock.setTimer(ms, done);
      this.wakers.add(done);
    });
  }

  private wake(): void {
    for (const waker of [...this.wakers]) waker();
  }

  private safely(fn: () => void, what: string): void {
    try {
      fn();
    } catch (error) {
      this.log.error({ err: error }, `${what} failed`);
    }
  }
}
