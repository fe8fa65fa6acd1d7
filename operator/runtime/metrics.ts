/**
 * The operator's Prometheus metrics. Each {@link OperatorMetrics} owns its own registry rather
 * than prom-client's global one, so two operators (or two tests) in one process never share or
 * collide on series.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** How a reconcile ended, as counted by `meshwright_reconcile_total{result}`. */
export type ReconcileResult = 'success' | 'requeue' | 'transient_error' | 'terminal_error';

/**
 * Where one drift repair's time went, phase by phase, in seconds: from the watch event that
 * showed the drift to the watch event of the repairing write (issue 19; bench/README.md, drift).
 */
export interface DriftRepairTiming {
  /** Kind of the repaired object. */
  kind: string;
  /** `targeted`: repaired first thing in the pass its event started; `pass`: found by a whole pass. */
  path: 'targeted' | 'pass';
  /** The drift's watch event delivered → its key in the ready queue (coalescing, or a pass of the key still running). */
  queued: number;
  /** Ready queue → the pass started (waiting for a worker). */
  waited: number;
  /** Pass start → the object judged to need the write (lookups, comparison, ownership). */
  diffed: number;
  /** Judged → the request sent. */
  prepared: number;
  /** Request sent → response received (the API server's time, and the network's). */
  responded: number;
  /** Response → the write's own watch event delivered to the cache. */
  cached: number;
}

/** The phases of {@link DriftRepairTiming}, in order; `total` is the drift's event → the response. */
export const DRIFT_REPAIR_PHASES = ['queued', 'waited', 'diffed', 'prepared', 'responded', 'cached', 'total'] as const;

/** Drift repair phases range from microseconds (a queue hop) to a request on a loaded API server. */
const DRIFT_REPAIR_BUCKETS = [0.0002, 0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5];

/** Settings of {@link OperatorMetrics}. */
export interface OperatorMetricsOptions {
  /** Also export Node.js process metrics (CPU, memory, event-loop lag, handles). Default true. */
  processMetrics?: boolean;
  /** Buckets of the reconcile duration histogram, in seconds. */
  reconcileBuckets?: number[];
}

/** Reconciles range from a cache hit (milliseconds) to a control-plane rollout step (a minute). */
const DEFAULT_RECONCILE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The operator's metrics, with one typed method per thing worth counting. */
export class OperatorMetrics {
  /** The registry all of this instance's metrics live in. */
  readonly registry: Registry;
  private readonly reconcileTotal: Counter<'controller' | 'result'>;
  private readonly reconcileDuration: Histogram<'controller'>;
  private readonly workqueueDepth: Gauge<'queue'>;
  private readonly driftCorrections: Counter<'kind'>;
  private readonly managedObjects: Gauge<'installation'>;
  private readonly errors: Counter<'controller' | 'kind'>;
  private readonly leader: Gauge<'identity'>;
  private readonly driftRepairPhases: Histogram<'phase'>;
  private readonly driftRepairs: Counter<'path'>;

  constructor(options: OperatorMetricsOptions = {}) {
    const registers = [(this.registry = new Registry())];
    this.reconcileTotal = new Counter({
      name: 'meshwright_reconcile_total',
      help: 'Reconciles by controller and result (success, requeue, transient_error, terminal_error).',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'meshwright_reconcile_duration_seconds',
      help: 'Time one reconcile took, by controller.',
      labelNames: ['controller'],
      buckets: options.reconcileBuckets ?? DEFAULT_RECONCILE_BUCKETS,
      registers,
    });
    this.workqueueDepth = new Gauge({ name: 'meshwright_workqueue_depth', help: 'Keys waiting in the work queue.', labelNames: ['queue'], registers });
    this.driftCorrections = new Counter({
      name: 'meshwright_drift_corrections_total',
      help: 'Owned objects put back after another writer changed or deleted them, by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.managedObjects = new Gauge({ name: 'meshwright_managed_objects', help: 'Objects the operator owns, by MeshInstallation.', labelNames: ['installation'], registers });
    this.errors = new Counter({ name: 'meshwright_errors_total', help: 'Errors by controller and kind of error.', labelNames: ['controller', 'kind'], registers });
    this.leader = new Gauge({ name: 'meshwright_leader', help: '1 while this process holds the leader lease, else 0.', labelNames: ['identity'], registers });
    this.driftRepairPhases = new Histogram({
      name: 'meshwright_drift_repair_phase_seconds',
      help: 'One drift repair, phase by phase: queued (event → ready queue), waited (→ pass start), diffed (→ judged), prepared (→ request sent), responded (→ response), cached (→ the write\'s watch event), total (event → response).',
      labelNames: ['phase'],
      buckets: DRIFT_REPAIR_BUCKETS,
      registers,
    });
    this.driftRepairs = new Counter({ name: 'meshwright_drift_repairs_timed_total', help: 'Drift repairs timed, by path: targeted (first thing in the pass its event started) or pass (found by a whole pass).', labelNames: ['path'], registers });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one finished reconcile and records how long it took. */
  observeReconcile(controller: string, result: ReconcileResult, durationSeconds: number): void {
    this.reconcileTotal.inc({ controller, result });
    this.reconcileDuration.observe({ controller }, durationSeconds);
  }

  /** Sets the number of keys waiting in `queue`. */
  setWorkqueueDepth(queue: string, depth: number): void {
    this.workqueueDepth.set({ queue }, depth);
  }

  /** Counts one drift correction of an object of `kind`. */
  incDriftCorrection(kind: string): void {
    this.driftCorrections.inc({ kind });
  }

  /** Records where one drift repair's time went. */
  observeDriftRepair(timing: DriftRepairTiming): void {
    const { queued, waited, diffed, prepared, responded, cached } = timing;
    for (const [phase, seconds] of Object.entries({ queued, waited, diffed, prepared, responded, cached, total: queued + waited + diffed + prepared + responded })) {
      this.driftRepairPhases.observe({ phase }, Math.max(0, seconds));
    }
    this.driftRepairs.inc({ path: timing.path });
  }

  /** Sets how many objects `installation` owns. */
  setManagedObjects(installation: string, count: number): void {
    this.managedObjects.set({ installation }, count);
  }

  /** Drops the managed-objects series of a deleted installation, so it does not linger at its last value. */
  forgetInstallation(installation: string): void {
    this.managedObjects.remove({ installation });
  }

  /** Counts one error of `kind` (e.g. `conflict`, `api`, `render`) in `controller`. */
  incError(controller: string, kind: string): void {
    this.errors.inc({ controller, kind });
  }

  /** Sets `meshwright_leader{identity}` to 1 while leading, else 0. */
  setLeader(identity: string, leading: boolean): void {
    this.leader.set({ identity }, leading ? 1 : 0);
  }

  /**
   * Exposes the spare key pairs `read` describes: `meshwright_spare_key_pairs{algorithm,state}`
   * (state `ready` now, `target` kept) and `meshwright_key_pairs_taken_total{algorithm,source}`,
   * every pair a CA step took by where it came from — `ready` (a spare made before it was asked
   * for), `pending` (a spare still being made: waited for) or `made` (generated on the pass).
   */
  trackSpareKeyPairs(read: () => ReadonlyArray<{ algorithm: string; target: number; ready: number; taken: Record<'ready' | 'pending' | 'made', number> }>): void {
    const registers = [this.registry];
    new Gauge({
      name: 'meshwright_spare_key_pairs', help: 'Spare key pairs by algorithm: ready now, and the target kept.', labelNames: ['algorithm', 'state'], registers,
      collect() {
        for (const { algorithm, target, ready } of read()) {
          this.set({ algorithm, state: 'ready' }, ready);
          this.set({ algorithm, state: 'target' }, target);
        }
      },
    });
    new Counter({
      name: 'meshwright_key_pairs_taken_total', help: 'Key pairs taken for certificates, by algorithm and source (ready: a spare; pending: a spare still being generated, waited for; made: generated on the pass).', labelNames: ['algorithm', 'source'], registers,
      collect() {
        this.reset();
        for (const { algorithm, taken } of read()) for (const [source, count] of Object.entries(taken)) this.inc({ algorithm, source }, count);
      },
    });
  }

  /** Records how long one phase of a pass took (`meshwright_pass_phase_seconds{phase}`: claims, pki, ca, inventory, apply waves, co-own, prune, render, status). */
  observeInstallPhase(phase: string, seconds: number): void {
    this.passPhases ??= new Histogram({
      name: 'meshwright_pass_phase_seconds', help: 'Time the phases of a reconcile pass took, by phase (only phases that did work are observed).', labelNames: ['phase'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
    });
    this.passPhases.observe({ phase }, seconds);
  }

  private passPhases: Histogram<'phase'> | undefined;

  /** The Content-Type of {@link render}'s output. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** All metrics in the Prometheus text exposition format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * The current value of one series, for tests and status summaries: a counter or gauge by its
   * name, a histogram's `_count` or `_sum` by that suffixed name; 0 when no such series exists yet.
   * `labels` must name every label of the series.
   */
  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const base = this.registry.getSingleMetric(name) ? name : name.replace(/_(count|sum)$/, '');
    const metric = this.registry.getSingleMetric(base);
    if (!metric) throw new Error(`no metric named ${name}`);
    const { values } = await metric.get();
    const wanted = Object.entries(labels);
    const match = (values as Array<(typeof values)[number] & { metricName?: string }>).find((v) => (v.metricName ?? base) === name && Object.keys(v.labels).length === wanted.length && wanted.every(([k, l]) => v.labels[k] === l));
    return match?.value ?? 0;
  }
}
