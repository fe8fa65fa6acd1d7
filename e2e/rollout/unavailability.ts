/**
 * Pods unavailable during a data-plane rollout, sampled every 100 ms: a pod watch (the operator's
 * own Informer, label-selected) keeps the pods of the workloads under test, and a timer counts, at
 * each tick, how many pods each workload is short of its desired replicas (Ready, not terminating).
 * The sum is what `spec.injection.restartWorkloads.maxUnavailable` bounds. Used by the rollout e2e
 * tests and by the rollout benchmark.
 */
import { performance } from 'node:perf_hooks';
import { Informer, type InformerHandler } from '../../operator/runtime/informer.ts';
import type { KubeClient, KubeObject } from '../../operator/runtime/kube.ts';

/** Pod label naming the workload a test pod belongs to (set in the workloads' pod templates). */
export const WORKLOAD_LABEL = 'rollout.e2e.meshwright.dev/workload';

/** One tick: when (ms since the sampler started), how many pods were unavailable, and whose. */
export interface UnavailabilitySample {
  atMs: number;
  /** Wall-clock time of the tick (epoch ms), to line samples up with the audit log. */
  epochMs: number;
  unavailable: number;
  /** `<namespace>/<workload>` → pods short, only workloads short of any. */
  short: Record<string, number>;
}

/** What a sampling run saw. */
export interface UnavailabilityReport {
  samples: UnavailabilitySample[];
  durationMs: number;
  /** Ticks expected at the interval over the duration (what `samples.length` is judged against). */
  expectedSamples: number;
  maxUnavailable: number;
  /** The longest gap between two consecutive samples. */
  maxGapMs: number;
}

/** Whether a pod counts as available: Ready, and not on its way out. */
export function podAvailable(pod: KubeObject): boolean {
  if (pod.metadata.deletionTimestamp) return false;
  const status = pod.status as { phase?: string; conditions?: Array<{ type: string; status: string }> } | undefined;
  return status?.phase === 'Running' && status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/**
 * The pods `maxUnavailable` allows down at once: a count as is, a percentage of `pods` rounded
 * down (as Kubernetes rounds a Deployment's maxUnavailable), at least 1.
 */
export function unavailabilityBound(maxUnavailable: string | number, pods: number): number {
  if (typeof maxUnavailable === 'number') return maxUnavailable;
  const percent = /^(\d+)%$/.exec(maxUnavailable);
  if (!percent) return Number(maxUnavailable);
  return Math.max(1, Math.floor((Number(percent[1]) * pods) / 100));
}

/** Samples pod unavailability of a fixed set of workloads; see the module comment. */
export class UnavailabilitySampler {
  private readonly informer: Informer;
  private readonly samples: UnavailabilitySample[] = [];
  private timer?: NodeJS.Timeout;
  private startedAt = 0;
  private stoppedAt = 0;
  private readonly listeners: Array<(sample: UnavailabilitySample) => void> = [];

  /**
   * `desired`: `<namespace>/<workload>` → replicas, for every workload counted. Pods are those
   * carrying {@link WORKLOAD_LABEL} (optionally narrowed by `labelSelector`).
   */
  constructor(client: KubeClient, private readonly desired: ReadonlyMap<string, number>, private readonly intervalMs = 100, labelSelector = WORKLOAD_LABEL) {
    this.informer = new Informer({ client, type: { apiVersion: 'v1', kind: 'Pod' }, labelSelector });
  }

  /** Starts the watch (resolves once it has listed) and the ticks. */
  async start(): Promise<void> {
    await this.informer.start();
    this.startedAt = performance.now();
    // Ticks at fixed offsets from the start, not "100 ms after the last one", so slow ticks do not
    // drift; ticks missed while the event loop was busy are skipped, not made up in a burst, so the
    // sample count is what was really sampled.
    let tick = 0;
    const schedule = () => {
      const elapsed = performance.now() - this.startedAt;
      // A timer may fire a hair early: never the same tick twice.
      tick = Math.max(tick + 1, Math.floor(elapsed / this.intervalMs) + 1);
      const delay = Math.max(0, tick * this.intervalMs - elapsed);
      this.timer = setTimeout(() => {
        this.sampleNow();
        schedule();
      }, delay);
    };
    this.sampleNow();
    schedule();
  }

  /** Calls `handler` with every change of the watched pods (register before {@link start} to see the initial list). */
  onPod(handler: InformerHandler): void {
    this.informer.on(handler);
  }

  /** Calls `listener` with every sample from now on. */
  onSample(listener: (sample: UnavailabilitySample) => void): void {
    this.listeners.push(listener);
  }

  /** Pods each workload is short of right now (only those short). */
  shortNow(): Record<string, number> {
    const ready = new Map<string, number>();
    for (const pod of this.informer.list()) {
      const workload = pod.metadata.labels?.[WORKLOAD_LABEL];
      if (!workload || !podAvailable(pod)) continue;
      const key = `${pod.metadata.namespace}/${workload}`;
      ready.set(key, (ready.get(key) ?? 0) + 1);
    }
    const short: Record<string, number> = {};
    for (const [key, replicas] of this.desired) {
      const missing = replicas - Math.min(replicas, ready.get(key) ?? 0);
      if (missing > 0) short[key] = missing;
    }
    return short;
  }

  private sampleNow(): void {
    const short = this.shortNow();
    const sample = { atMs: performance.now() - this.startedAt, epochMs: Date.now(), unavailable: Object.values(short).reduce((a, b) => a + b, 0), short };
    this.samples.push(sample);
    for (const listener of this.listeners) listener(sample);
  }

  /** Stops ticking and watching; returns what was seen. */
  async stop(): Promise<UnavailabilityReport> {
    clearTimeout(this.timer);
    this.stoppedAt = performance.now();
    await this.informer.stop();
    return this.report();
  }

  /** The samples so far. */
  report(): UnavailabilityReport {
    const end = this.stoppedAt || performance.now();
    let maxGapMs = 0;
    for (let i = 1; i < this.samples.length; i++) maxGapMs = Math.max(maxGapMs, this.samples[i]!.atMs - this.samples[i - 1]!.atMs);
    return {
      samples: [...this.samples],
      durationMs: end - this.startedAt,
      expectedSamples: Math.floor((end - this.startedAt) / this.intervalMs) + 1,
      maxUnavailable: Math.max(0, ...this.samples.map((s) => s.unavailable)),
      maxGapMs,
    };
  }
}
