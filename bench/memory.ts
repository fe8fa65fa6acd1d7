/**
 * Benchmark 4, memory: the operator's resident set size (VmRSS of its process, `/proc/<pid>/status`)
 * when idle, and again after namespaces full of pods were created and the operator had time to
 * see them. The namespaces are enrolled in the installation, so every pod goes through its
 * injection webhook and lands, injected, in its pod informer's cache (trimmed to the record): the
 * figure is the memory of a real data plane. The V8 heap in use (from the operator's own
 * `/metrics`) is reported beside RSS to tell heap growth from the rest.
 */
import { HttpMethod } from '@kubernetes/client-node';
import { INJECTED_BY_LABEL } from '../operator/distributions/injection.ts';
import { KubeApiError, type KubeClient, type KubeObject } from '../operator/runtime/kube.ts';
import { eventually } from '../e2e/support/kube.ts';
import { miType } from './support/mesh.ts';
import type { BenchCluster } from './support/cluster.ts';
import type { BenchOperator } from './support/operator.ts';
import { median, round } from './support/stats.ts';

/** Settings of {@link benchMemory}. */
export interface MemoryOptions {
  id: string;
  operator: BenchOperator;
  namespaces: number;
  podsPerNamespace: number;
  /** Creations in flight at once. */
  concurrency: number;
  /** Time given to the operator (and GC) before each reading. */
  settleMs: number;
  /**
   * The installation that enrols the load's namespaces (by a namespace selector): their pods are
   * then created through its injection webhook and cached by its pod informer, as in a real mesh.
   */
  installation: string;
  log: (line: string) => void;
}

/** One reading of the operator's memory, in MB (10^6 bytes). */
export interface MemoryReading {
  rssMb: number;
  heapUsedMb: number;
}

/** What the memory benchmark measured. */
export interface MemoryResult {
  idle: MemoryReading;
  loaded: MemoryReading;
  namespaces: number;
  pods: number;
  podsRunning: number;
  createSeconds: number;
  /** Pods that came back injected (all of them, unless the webhook failed). */
  injectedPods: number;
  source: string;
}

const LOAD_LABEL = 'meshwright.dev/bench-load';
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Median of five readings after `settleMs`, a second apart (less for a short settle); the scale benchmark's too. */
export async function reading(operator: BenchOperator, settleMs: number): Promise<MemoryReading> {
  await pause(settleMs);
  const interval = Math.min(1000, settleMs / 4);
  const rss: number[] = [];
  const heap: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (i > 0) await pause(interval);
    rss.push(operator.rssBytes());
    const metrics = await (await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`)).text();
    heap.push(Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics)?.[1] ?? Number.NaN));
  }
  return { rssMb: round(median(rss) / 1e6), heapUsedMb: round(median(heap) / 1e6) };
}

/** Runs `task` over `items` with at most `concurrency` in flight. */
export async function pool<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

/** Waits (at most `timeoutMs`, 5 minutes unless given) until the installation's status counts at least `count` enrolled namespaces. */
export async function waitEnrolled(admin: KubeClient, installation: string, count: number, timeoutMs = 300_000): Promise<void> {
  await eventually(`${count} namespaces enrolled`, async () => {
    const mi = await admin.get<KubeObject & { status?: { dataPlane?: { enrolledNamespaces?: number | string[] } } }>(miType, installation);
    const enrolled = mi.status?.dataPlane?.enrolledNamespaces;
    return (Array.isArray(enrolled) ? enrolled.length : enrolled ?? 0) >= count;
  }, timeoutMs, 1000);
}

/**
 * Creates `podsPerNamespace` pods labelled `labels` in each of `namespaces` (enrolled in
 * `installation`, so each goes through its injection webhook), `concurrency` at a time; returns
 * how many were created and how many came back injected by `installation`. Pods are named
 * `load-<i>`, so a namespace's pods are created once.
 */
export async function createLoadPods(admin: KubeClient, namespaces: readonly string[], podsPerNamespace: number, labels: Record<string, string>, installation: string, concurrency: number): Promise<{ pods: number; injectedPods: number }> {
  const pods = namespaces.flatMap((namespace) => Array.from({ length: podsPerNamespace }, (_, i): KubeObject => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `load-${i}`, namespace, labels },
    spec: { containers: [{ name: 'app', image: 'registry.example/bench/app:1' }] },
  })));
  let injectedPods = 0;
  await pool(pods, concurrency, async (pod) => {
    const created = await createOnceServiceAccountExists(admin, pod);
    if (created.metadata.labels?.[INJECTED_BY_LABEL] === installation) injectedPods++;
  });
  return { pods: pods.length, injectedPods };
}

/**
 * Creates `pod`, retrying (up to a minute) while its new namespace's `default` ServiceAccount
 * does not exist yet: the API server refuses the pod until the ServiceAccount controller, behind
 * on thousands of new namespaces, created it (403 "error looking up service account").
 */
async function createOnceServiceAccountExists(admin: KubeClient, pod: KubeObject): Promise<KubeObject> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await admin.create(pod);
    } catch (error) {
      const missingAccount = error instanceof KubeApiError && error.status === 403 && /service ?account .* not found/i.test(error.apiMessage);
      if (!missingAccount || Date.now() > deadline) throw error;
      await pause(500);
    }
  }
}

/** Waits (at most `timeoutMs`) until kwok runs every pod `labelSelector` selects; returns how many are still not Running. */
export async function waitUntilRunning(admin: KubeClient, labelSelector: string, timeoutMs: number): Promise<number> {
  let notRunning = Number.NaN;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const list = await admin.request<{ items: unknown[] }>(HttpMethod.GET, `/api/v1/pods?labelSelector=${encodeURIComponent(labelSelector)}&fieldSelector=${encodeURIComponent('status.phase!=Running')}`);
    notRunning = list.items.length;
    if (notRunning === 0) break;
    await pause(2000);
  }
  return notRunning;
}

/** Measures the operator's memory idle and with `namespaces × podsPerNamespace` pods in the cluster. */
export async function benchMemory(cluster: BenchCluster, options: MemoryOptions): Promise<MemoryResult> {
  const { admin } = cluster;
  const idle = await reading(options.operator, options.settleMs);
  options.log(`memory: idle RSS ${idle.rssMb} MB; creating ${options.namespaces} namespaces × ${options.podsPerNamespace} pods`);
  const names = Array.from({ length: options.namespaces }, (_, i) => `${options.id}-load-${i}`);
  const started = Date.now();
  const labels = { [LOAD_LABEL]: options.id };
  await pool(names, options.concurrency, (name) => admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }));
  // Enrolled as a person would ask for it: the operator labels each namespace for its webhook.
  await admin.patch(miType, options.installation, undefined, { spec: { injection: { namespaces: null, namespaceSelector: { matchLabels: labels } } } }, 'merge');
  await waitEnrolled(admin, options.installation, names.length);
  const { pods, injectedPods } = await createLoadPods(admin, names, options.podsPerNamespace, labels, options.installation, options.concurrency);
  const createSeconds = round((Date.now() - started) / 1000);
  const notRunning = await waitUntilRunning(admin, `${LOAD_LABEL}=${options.id}`, 300_000);
  options.log(`memory: ${pods - notRunning}/${pods} pods running after ${round((Date.now() - started) / 1000)} s`);
  const loaded = await reading(options.operator, options.settleMs);
  // A throw-away cluster goes as a whole; an existing one gets its namespaces back.
  await admin.patch(miType, options.installation, undefined, { spec: { injection: null } }, 'merge');
  if (!cluster.owned) await pool(names, options.concurrency, (name) => admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, name));
  return {
    idle, loaded, namespaces: options.namespaces, pods, podsRunning: pods - notRunning, createSeconds, injectedPods,
    source: 'RSS: VmRSS of /proc/<pid>/status; heap: nodejs_heap_size_used_bytes of the operator\'s /metrics; median of 5 readings 1 s apart',
  };
}
