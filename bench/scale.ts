/**
 * Benchmark 7, scale (issue 19 point 4): one installation enrolling N namespaces (by a namespace
 * selector) with 4·N injected pods, at each N of a rising list (full: 1,000 then 5,000; the
 * second step adds namespaces and pods to the first's). At each step, once kwok runs every pod and
 * the operator had time to settle:
 *
 * - memory: the operator's RSS and V8 heap in use (memory.ts's reading);
 * - reconcile of an unrelated change: an annotation on the MeshInstallation changed `changes`
 *   times, one at a time, each waited for by the operator's own pass counter; the pass durations
 *   are the delta of the operator's `meshwright_reconcile_duration_seconds` histogram over the
 *   changes (so every pass in that window counts, whatever caused it), and the wall time from
 *   the patch's response to the counted pass beside it;
 * - the injection webhook under a burst of `webhookBurst` pod creates in a namespace the selector
 *   enrols, against the no-op webhook's burst in the same step (webhook.ts, timed by the API server).
 *
 * Then a growth table from the first N to the last: how each figure grew against N (flat,
 * linear, or worse than linear; see {@link growthOf}).
 *
 * Pods other benchmarks left injected in the cluster would sit in the operator's pod cache too
 * (it caches every injected pod): on a throw-away cluster they are deleted once the first step's
 * pods are created, before anything is measured; on an existing one they are counted
 * (`otherInjectedPods`) and left alone.
 */
import { HttpMethod } from '@kubernetes/client-node';
import { INJECTED_BY_LABEL } from '../operator/distributions/injection.ts';
import type { KubeClient } from '../operator/runtime/kube.ts';
import { eventually } from '../e2e/support/kube.ts';
import { createLoadPods, pool, reading, waitEnrolled, waitUntilRunning, type MemoryReading } from './memory.ts';
import { benchWebhook, bucketDelta, histogramBuckets, histogramQuantile, type Buckets, type WebhookResult } from './webhook.ts';
import type { BenchCluster } from './support/cluster.ts';
import { miType } from './support/mesh.ts';
import type { BenchOperator } from './support/operator.ts';
import { percentile, round } from './support/stats.ts';

/** Settings of {@link benchScale}. */
export interface ScaleOptions {
  id: string;
  operator: BenchOperator;
  /** The installation that enrols the namespaces (Ready; its injection settings are replaced, and turned off at the end). */
  installation: string;
  /** Enrolled namespaces at each step, rising. */
  steps: number[];
  podsPerNamespace: number;
  /** Creations in flight at once. */
  concurrency: number;
  /** Unrelated changes timed at each step. */
  changes: number;
  /** Pods created at once in the webhook burst at each step. */
  webhookBurst: number;
  /** Quiet time before each memory reading and before the changes. */
  settleMs: number;
  log: (line: string) => void;
}

/** The figures at one N. */
export interface ScaleStep {
  namespaces: number;
  /** The load's pods (4·N), how many came back injected and how many kwok ran. */
  pods: number;
  injectedPods: number;
  podsRunning: number;
  /** Seconds to create this step's namespaces and pods (the part added to the previous step's). */
  createSeconds: number;
  memory: MemoryReading;
  reconcile: {
    changes: number;
    /** Passes the operator counted over the changes (one per change when nothing else happened). */
    passes: number;
    /** From the operator's histogram, interpolated within its buckets (5, 10, 25, 50, 100 ms, …). */
    p50Ms: number;
    p99Ms: number;
    /** Patch response → the operator's pass counted (its queue and the pass; polled every 10 ms), nearest rank. */
    wallP50Ms: number;
    wallP99Ms: number;
  };
  webhook: WebhookResult;
}

/** How a figure grew from the first step to the last. */
export interface Growth {
  figure: string;
  from: number;
  to: number;
  /** to / from. */
  ratio: number;
  /** log(ratio) / log(N ratio): 0 flat, 1 linear. */
  exponent: number;
  verdict: 'flat' | 'linear' | 'worse';
}

/** What the scale benchmark measured. */
export interface ScaleResult {
  podsPerNamespace: number;
  steps: ScaleStep[];
  growth: Growth[];
  /** Injected pods of others in the cluster during the run (0 on a throw-away cluster: deleted first). */
  otherInjectedPods: number;
  /** Injected pods earlier benchmarks left on a throw-away cluster, deleted before the first step. */
  clearedInjectedPods: number;
  source: string;
}

const SCALE_LABEL = 'meshwright.dev/bench-scale';
const TOUCH_ANNOTATION = 'meshwright.dev/bench-touch';
const RECONCILE_METRIC = 'meshwright_reconcile_duration_seconds';

/**
 * How a figure grew while N grew by `nRatio`: the exponent e of `ratio = nRatio^e`. Flat below
 * 0.25 (×1.5 at most for ×5 namespaces), linear up to 1.15 (sub-linear growth counts as linear,
 * at most proportional), worse above (super-linear: a pass or a cache cost per object per object).
 */
export function growthOf(figure: string, from: number, to: number, nRatio: number): Growth {
  const ratio = to / from;
  const exponent = Math.log(Math.max(ratio, Number.MIN_VALUE)) / Math.log(nRatio);
  const verdict = exponent < 0.25 ? 'flat' : exponent <= 1.15 ? 'linear' : 'worse';
  return { figure, from, to, ratio: round(ratio, 2), exponent: round(exponent, 2), verdict };
}

/** The growth table from the first step to the last (empty with fewer than two steps). */
export function growthTable(steps: readonly ScaleStep[]): Growth[] {
  const first = steps[0];
  const last = steps.at(-1);
  if (!first || !last || first === last) return [];
  const n = last.namespaces / first.namespaces;
  return [
    growthOf('reconcile p99 (ms)', first.reconcile.p99Ms, last.reconcile.p99Ms, n),
    growthOf('reconcile wall p99 (ms)', first.reconcile.wallP99Ms, last.reconcile.wallP99Ms, n),
    growthOf('RSS (MB)', first.memory.rssMb, last.memory.rssMb, n),
    growthOf('heap used (MB)', first.memory.heapUsedMb, last.memory.heapUsedMb, n),
    growthOf('webhook p99 (ms)', first.webhook.operator.p99Ms, last.webhook.operator.p99Ms, n),
  ];
}

/** The operator's finished passes of the MeshInstallation controller, summed over results. */
function passCount(metrics: string): number {
  let sum = 0;
  for (const match of metrics.matchAll(/^meshwright_reconcile_total\{([^}]*)\} (\S+)$/gm)) {
    if (match[1]!.includes('controller="meshinstallation"')) sum += Number(match[2]);
  }
  return sum;
}

const scrape = async (operator: BenchOperator) => (await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`)).text();
const reconcileBuckets = (metrics: string): Buckets => histogramBuckets(metrics, RECONCILE_METRIC, (labels) => labels.includes('controller="meshinstallation"'));

/** Times `changes` annotation changes of the installation, one at a time, by the operator's own counters. */
async function timeUnrelatedChanges(admin: KubeClient, operator: BenchOperator, installation: string, changes: number, tag: string): Promise<ScaleStep['reconcile']> {
  const first = await scrape(operator);
  const walls: number[] = [];
  for (let i = 0; i < changes; i++) {
    const before = passCount(await scrape(operator));
    await admin.patch(miType, installation, undefined, { metadata: { annotations: { [TOUCH_ANNOTATION]: `${tag}-${i}` } } }, 'merge');
    const patched = performance.now();
    await eventually(`the operator's pass after change ${i}`, async () => passCount(await scrape(operator)) > before, 30_000, 10);
    walls.push(performance.now() - patched);
  }
  const last = await scrape(operator);
  const delta = new Map([...bucketDelta(reconcileBuckets(last), reconcileBuckets(first))].sort((a, b) => a[0] - b[0]));
  return {
    changes, passes: passCount(last) - passCount(first),
    p50Ms: round(histogramQuantile(0.5, delta) * 1000, 2), p99Ms: round(histogramQuantile(0.99, delta) * 1000, 2),
    wallP50Ms: round(percentile(walls, 50), 1), wallP99Ms: round(percentile(walls, 99), 1),
  };
}

/** Namespaces holding injected pods, from a paged list (pods of 1,000 at a time). */
async function injectedPodNamespaces(admin: KubeClient): Promise<Map<string, number>> {
  const namespaces = new Map<string, number>();
  let next: string | undefined;
  do {
    const page = await admin.request<{ items: Array<{ metadata: { namespace: string } }>; metadata: { continue?: string } }>(HttpMethod.GET,
      `/api/v1/pods?labelSelector=${encodeURIComponent(INJECTED_BY_LABEL)}&limit=1000${next ? `&continue=${encodeURIComponent(next)}` : ''}`);
    for (const pod of page.items) namespaces.set(pod.metadata.namespace, (namespaces.get(pod.metadata.namespace) ?? 0) + 1);
    next = page.metadata.continue || undefined;
  } while (next);
  return namespaces;
}

/**
 * On a throw-away cluster, deletes the injected pods earlier benchmarks left (at once: grace 0)
 * outside the namespaces `ours` accepts, and waits until none is listed; returns how many it
 * deleted and how many remain someone else's.
 */
async function clearOtherInjectedPods(cluster: BenchCluster, ours: (namespace: string) => boolean, log: (line: string) => void): Promise<{ cleared: number; remaining: number }> {
  const { admin } = cluster;
  const others = async () => new Map([...await injectedPodNamespaces(admin)].filter(([namespace]) => !ours(namespace)));
  const found = await others();
  const count = [...found.values()].reduce((a, b) => a + b, 0);
  if (!cluster.owned || count === 0) return { cleared: 0, remaining: count };
  log(`scale: deleting ${count} injected pods in ${found.size} namespaces that earlier benchmarks left`);
  await pool([...found.keys()], 20, (namespace) => admin.request(HttpMethod.DELETE,
    `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(INJECTED_BY_LABEL)}&gracePeriodSeconds=0`));
  await eventually('earlier benchmarks\' injected pods gone', async () => (await others()).size === 0, 300_000, 2000);
  return { cleared: count, remaining: 0 };
}

/** Runs the scale benchmark on `options.installation`, step by step. */
export async function benchScale(cluster: BenchCluster, options: ScaleOptions): Promise<ScaleResult> {
  const { admin } = cluster;
  const { id, operator, installation, log } = options;
  let others = { cleared: 0, remaining: 0 };
  const labels = { [SCALE_LABEL]: id };
  const steps: ScaleStep[] = [];
  let created = 0;
  try {
    for (const n of options.steps) {
      const started = Date.now();
      const names = Array.from({ length: n - created }, (_, i) => `${id}-scale-${created + i}`);
      log(`scale: N=${n}: creating ${names.length} namespaces × ${options.podsPerNamespace} pods`);
      await pool(names, options.concurrency, (name) => admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }));
      // Enrolled as a person would ask for it (by a selector instead of the example's names); the next steps' namespaces match the same selector.
      if (created === 0) await admin.patch(miType, installation, undefined, { spec: { injection: { namespaces: null, namespaceSelector: { matchLabels: labels } } } }, 'merge');
      // The operator labels new namespaces a few at a time: on a loaded machine 1,000 took over 5 minutes.
      await waitEnrolled(admin, installation, n, Math.max(300_000, 400 * n));
      const load = await createLoadPods(admin, names, options.podsPerNamespace, labels, installation, options.concurrency);
      // Only now, with pods of this installation in place: had the installation's pods all gone at
      // once, its proxyVersions would go from some to none, and the operator's status write of an
      // empty map then failed (the API server's merge gave null; see the report of 2026-11-28).
      if (created === 0) others = await clearOtherInjectedPods(cluster, (namespace) => namespace.startsWith(`${id}-scale-`), log);
      created = n;
      const createSeconds = round((Date.now() - started) / 1000);
      const notRunning = await waitUntilRunning(admin, `${SCALE_LABEL}=${id}`, 600_000);
      const pods = n * options.podsPerNamespace;
      const injectedPods = (steps.at(-1)?.injectedPods ?? 0) + load.injectedPods;
      log(`scale: N=${n}: ${pods - notRunning}/${pods} pods running (${injectedPods} injected) after ${round((Date.now() - started) / 1000)} s`);
      const memory = await reading(operator, options.settleMs);
      const reconcile = await timeUnrelatedChanges(admin, operator, installation, options.changes, `n${n}`);
      log(`scale: N=${n}: RSS ${memory.rssMb} MB, heap ${memory.heapUsedMb} MB; reconcile p99 ${reconcile.p99Ms} ms (wall p99 ${reconcile.wallP99Ms} ms, ${reconcile.passes} passes for ${reconcile.changes} changes)`);
      const webhook = await benchWebhook(cluster, { id: `${id}-s${n}`, operator, installation, concurrent: options.webhookBurst, rounds: 1, enrolledLabels: labels, log });
      steps.push({ namespaces: n, pods, injectedPods, podsRunning: pods - notRunning, createSeconds, memory, reconcile, webhook });
    }
  } finally {
    await admin.patch(miType, installation, undefined, { metadata: { annotations: { [TOUCH_ANNOTATION]: null } }, spec: { injection: null } }, 'merge').catch(() => undefined);
    // A throw-away cluster goes as a whole; an existing one gets its namespaces back.
    if (!cluster.owned) {
      const names = Array.from({ length: created }, (_, i) => `${id}-scale-${i}`);
      await pool(names, options.concurrency, (name) => admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, name).catch(() => undefined));
    }
  }
  return {
    podsPerNamespace: options.podsPerNamespace, steps, growth: growthTable(steps), otherInjectedPods: others.remaining, clearedInjectedPods: others.cleared,
    source: `memory: VmRSS and nodejs_heap_size_used_bytes (memory.ts); reconcile: ${RECONCILE_METRIC}{controller="meshinstallation"} delta over ${options.changes} annotation changes, interpolated within its buckets, and patch → meshwright_reconcile_total increment; webhook: webhook.ts (API server's histogram, no-op webhook in the same step)`,
  };
}
