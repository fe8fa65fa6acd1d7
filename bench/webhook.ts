/**
 * Benchmark 5, the injection webhook: bursts of concurrent pod creates in a namespace enrolled in
 * the installation, timed by the API server itself (`apiserver_admission_webhook_admission_duration_seconds`,
 * the time it spent calling each mutating webhook), next to the same bursts in a namespace served
 * only by a no-op webhook in a process of its own (support/noop-webhook.ts), measured in the same
 * run. The API server's buckets are coarse (5 ms, 25 ms, …): quantiles are interpolated within
 * them as Prometheus' `histogram_quantile` does, and the share of calls within 5 ms is reported
 * beside them; the operator's own histogram (finer buckets, its side of the wire) too.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { createWebhookCa } from '../operator/injection/webhook-ca.ts';
import { INJECTED_BY_LABEL } from '../operator/distributions/injection.ts';
import { INSTALLATION_LABEL } from '../operator/controllers/ownership.ts';
import type { KubeObject } from '../operator/runtime/kube.ts';
import { eventually } from '../e2e/support/kube.ts';
import type { BenchCluster } from './support/cluster.ts';
import { miType } from './support/mesh.ts';
import type { BenchOperator } from './support/operator.ts';
import { apiServerMetrics } from './support/requests.ts';
import { round } from './support/stats.ts';

/** Settings of {@link benchWebhook}. */
export interface WebhookOptions {
  id: string;
  operator: BenchOperator;
  /** The MeshInstallation whose webhook is measured (already Ready). */
  installation: string;
  /** Pods created at once in each burst. */
  concurrent: number;
  /** Bursts per webhook, alternating between the operator's and the no-op one. */
  rounds: number;
  /**
   * Labels the installation's namespace selector already enrols by (the scale benchmark's): the
   * measured namespace gets them and the installation's injection settings are left as they are.
   * Unset: the namespace is enrolled by name, and injection is turned off again at the end.
   */
  enrolledLabels?: Record<string, string>;
  log: (line: string) => void;
}

/** Latency of one webhook as the API server saw it. */
export interface WebhookLatency {
  calls: number;
  p50Ms: number;
  p99Ms: number;
  /** Share of calls that took at most 5 ms (the API server's first bucket). */
  within5ms: number;
}

/** What the webhook benchmark measured. */
export interface WebhookResult {
  concurrent: number;
  rounds: number;
  operator: WebhookLatency;
  noop: WebhookLatency;
  /** operator p99 / no-op p99. */
  ratioP99: number;
  /** The operator's own histogram of the same admissions (its side of the wire). */
  operatorOwn: { p50Ms: number; p99Ms: number };
  /** Pods of the measured bursts that came back injected (each must). */
  injected: number;
  created: number;
  source: string;
}

const API_SERVER_METRIC = 'apiserver_admission_webhook_admission_duration_seconds';
const OPERATOR_METRIC = 'meshwright_webhook_admission_duration_seconds';
const NOOP_WEBHOOK = 'noop.bench.meshwright.dev';
const NOOP_LABEL = 'meshwright.dev/bench-noop-webhook';

/** Cumulative bucket counts by upper bound (`+Inf` as Infinity). */
export type Buckets = Map<number, number>;

/** Sums the `_bucket` series of `metric` whose labels satisfy `select`, by `le`. */
export function histogramBuckets(text: string, metric: string, select: (labels: string) => boolean): Buckets {
  const buckets: Buckets = new Map();
  const pattern = new RegExp(`^${metric}_bucket\\{([^}]*)\\} (\\S+)$`);
  for (const line of text.split('\n')) {
    const match = pattern.exec(line);
    if (!match || !select(match[1]!)) continue;
    const le = /(?:^|,)le="([^"]+)"/.exec(match[1]!)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(match[2]));
  }
  return buckets;
}

/** `after - before`, bucket by bucket: the observations made in between. */
export function bucketDelta(after: Buckets, before: Buckets): Buckets {
  return new Map([...after].map(([le, count]) => [le, count - (before.get(le) ?? 0)]));
}

/**
 * The `q` quantile (0..1) of cumulative buckets, interpolated linearly within the bucket it falls
 * in (from 0 for the first), as Prometheus' `histogram_quantile`; NaN without observations.
 */
export function histogramQuantile(q: number, buckets: Buckets): number {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const upper of bounds) {
    const count = buckets.get(upper)!;
    if (count >= rank) {
      if (upper === Infinity) return lower;
      return count === below ? upper : lower + (upper - lower) * ((rank - below) / (count - below));
    }
    lower = upper;
    below = count;
  }
  return lower;
}

function latencyOf(buckets: Buckets): WebhookLatency {
  const calls = buckets.get(Infinity) ?? 0;
  return {
    calls,
    p50Ms: round(histogramQuantile(0.5, buckets) * 1000, 2),
    p99Ms: round(histogramQuantile(0.99, buckets) * 1000, 2),
    within5ms: calls === 0 ? 0 : round((buckets.get(0.005) ?? 0) / calls, 3),
  };
}

const labelIs = (labels: string, key: string, values: ReadonlySet<string>) => {
  const value = new RegExp(`(?:^|,)${key}="([^"]*)"`).exec(labels)?.[1];
  return value !== undefined && values.has(value);
};

/** Starts the no-op webhook process on a free port with a certificate for 127.0.0.1; returns its port, CA and a stop function. */
async function startNoopWebhook(): Promise<{ port: number; caBundlePem: string; stop: () => void }> {
  const ca = await createWebhookCa({ validityMs: 24 * 3600_000, renewBeforeMs: 3600_000, settleMs: 0, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, Date.now());
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'support', 'noop-webhook.ts'), '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin!.end(JSON.stringify(ca.serving));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the no-op webhook exited (${code})`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
  return { port, caBundlePem: ca.ca.certificatePem, stop: () => child.kill('SIGTERM') };
}

/** Creates `count` pods in `namespace` at once; returns the created objects. */
async function burst(cluster: BenchCluster, namespace: string, prefix: string, count: number): Promise<KubeObject[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => cluster.admin.create<KubeObject>({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `${prefix}-${i}`, namespace, labels: { app: 'bench-webhook' } },
    spec: { containers: [{ name: 'app', image: 'registry.example/bench/app:1', ports: [{ containerPort: 8080 }] }] },
  } as KubeObject)));
}

/** Measures the injection webhook against a no-op webhook, both timed by the API server. */
export async function benchWebhook(cluster: BenchCluster, options: WebhookOptions): Promise<WebhookResult> {
  const { admin } = cluster;
  const { id, installation, log } = options;
  const enrolled = `${id}-webhook`;
  const plain = `${id}-noop`;
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: enrolled, ...(options.enrolledLabels ? { labels: options.enrolledLabels } : {}) } });
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: plain, labels: { [NOOP_LABEL]: id } } });
  // Enrolled as a person would ask for it; the operator labels the namespace and renders its webhooks.
  if (!options.enrolledLabels) await admin.patch(miType, installation, undefined, { spec: { injection: { namespaces: [enrolled] } } }, 'merge');
  const webhookNames = await eventually('the namespace enrolled and the installation\'s webhooks served', async () => {
    const mi = await admin.get<KubeObject & { status?: { dataPlane?: { enrolledNamespaces?: unknown } } }>(miType, installation);
    const configurations = await admin.list<KubeObject & { webhooks?: Array<{ name: string; clientConfig?: { caBundle?: string } }> }>(
      { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration' }, { labelSelector: `${INSTALLATION_LABEL}=${installation}` });
    const webhooks = configurations.items.flatMap((c) => c.webhooks ?? []);
    const namespace = await admin.get(({ apiVersion: 'v1', kind: 'Namespace' }), enrolled);
    const labelled = Object.keys(namespace.metadata.labels ?? {}).some((key) => key === 'istio-injection' || key === 'istio.io/rev');
    return labelled && mi.status?.dataPlane && webhooks.length > 0 && webhooks.every((w) => w.clientConfig?.caBundle) ? new Set(webhooks.map((w) => w.name)) : undefined;
  }, 60_000, 200);

  const noop = await startNoopWebhook();
  const noopConfiguration = {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: `${id}-noop` },
    webhooks: [{
      name: NOOP_WEBHOOK, admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail',
      clientConfig: { url: `https://127.0.0.1:${noop.port}/noop`, caBundle: Buffer.from(noop.caBundlePem).toString('base64') },
      namespaceSelector: { matchLabels: { [NOOP_LABEL]: id } },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
    }],
  } as unknown as KubeObject;
  await admin.create(noopConfiguration);
  try {
    // Warm both paths (TLS connections, the API server's webhook client caches) before measuring.
    await eventually('both webhooks answering', async () => {
      const [ours] = await burst(cluster, enrolled, `warm-${Date.now()}`, 1);
      const [theirs] = await burst(cluster, plain, `warm-${Date.now()}`, 1);
      return ours?.metadata.labels?.[INJECTED_BY_LABEL] === installation && theirs !== undefined;
    }, 30_000, 200);
    for (let i = 0; i < 3; i++) await Promise.all([burst(cluster, enrolled, `warm${i}`, 10), burst(cluster, plain, `warm${i}`, 10)]);

    const apiServerBuckets = async (names: ReadonlySet<string>) => histogramBuckets(await apiServerMetrics(admin), API_SERVER_METRIC, (labels) => labelIs(labels, 'name', names) && labelIs(labels, 'type', new Set(['admit'])));
    const operatorBuckets = async () => histogramBuckets(await (await fetch(`http://127.0.0.1:${options.operator.metricsPort}/metrics`)).text(), OPERATOR_METRIC, (labels) => labelIs(labels, 'installation', new Set([installation])));
    let ours: Buckets = new Map();
    let theirs: Buckets = new Map();
    const own: Buckets = new Map();
    let created = 0;
    let injected = 0;
    const add = (sum: Buckets, delta: Buckets) => { for (const [le, n] of delta) sum.set(le, (sum.get(le) ?? 0) + n); };
    for (let r = 0; r < options.rounds; r++) {
      const before = await apiServerBuckets(webhookNames);
      const ownBefore = await operatorBuckets();
      const pods = await burst(cluster, enrolled, `r${r}`, options.concurrent);
      add(ours, bucketDelta(await apiServerBuckets(webhookNames), before));
      add(own, bucketDelta(await operatorBuckets(), ownBefore));
      created += pods.length;
      injected += pods.filter((p) => p.metadata.labels?.[INJECTED_BY_LABEL] === installation).length;
      const noopBefore = await apiServerBuckets(new Set([NOOP_WEBHOOK]));
      await burst(cluster, plain, `r${r}`, options.concurrent);
      add(theirs, bucketDelta(await apiServerBuckets(new Set([NOOP_WEBHOOK])), noopBefore));
    }
    ours = new Map([...ours].sort((a, b) => a[0] - b[0]));
    theirs = new Map([...theirs].sort((a, b) => a[0] - b[0]));
    const operator = latencyOf(ours);
    const baseline = latencyOf(theirs);
    log(`webhook: operator p99 ${operator.p99Ms} ms (${operator.calls} calls, ${operator.within5ms} within 5 ms), no-op p99 ${baseline.p99Ms} ms; ${injected}/${created} injected`);
    return {
      concurrent: options.concurrent, rounds: options.rounds, operator, noop: baseline,
      ratioP99: round(operator.p99Ms / baseline.p99Ms, 2),
      operatorOwn: { p50Ms: round(histogramQuantile(0.5, own) * 1000, 2), p99Ms: round(histogramQuantile(0.99, own) * 1000, 2) },
      injected, created,
      source: `${API_SERVER_METRIC} (type admit) of the installation's webhooks and of a no-op webhook in its own process, interpolated within the API server's buckets; ${OPERATOR_METRIC} of the operator`,
    };
  } finally {
    noop.stop();
    await admin.delete(noopConfiguration, noopConfiguration.metadata.name).catch(() => undefined);
    if (!options.enrolledLabels) await admin.patch(miType, installation, undefined, { spec: { injection: null } }, 'merge').catch(() => undefined);
    if (!cluster.owned) {
      for (const name of [enrolled, plain]) await admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, name).catch(() => undefined);
    }
  }
}
