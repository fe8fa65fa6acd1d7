/**
 * Benchmark 2, drift repair: foreign edits, deletions and additions of owned objects of several
 * kinds, one at a time, by another client (its own user agent and so its own field manager); the
 * bench's own watch sees the restored object. An addition is what another writer adds where the
 * object is ours whole (an env var in istiod's container, a ConfigMap or Secret key, a Service
 * port, a webhook, a RoleBinding subject): restored when the watch shows it gone.
 * Latency = delivery of the restoring watch event − return of the foreign write (its response
 * received). Floor, measured once after each repair (interleaved, so both see the same load): the
 * same kind of watch sees a foreign write, the bench writes back at once, and the watch delivers
 * that write — one watch event plus one write round trip, the least any watch-driven repair can
 * take. With the operator's /metrics, where the repairs' time went inside the operator (breakdown).
 */
import { performance } from 'node:perf_hooks';
import { HttpMethod } from '@kubernetes/client-node';
import { INSTALLATION_LABEL } from '../operator/controllers/ownership.ts';
import { KubeClient, type KubeObject, type TypeRef } from '../operator/runtime/kube.ts';
import type { BenchCluster } from './support/cluster.ts';
import type { BenchOperator } from './support/operator.ts';
import { round, summarize, type LatencySummary } from './support/stats.ts';
import { Watches, type ObjectRef } from './support/watch.ts';

/** Settings of {@link benchDrift}. */
export interface DriftOptions {
  id: string;
  /** Name (= control-plane namespace) of an installed, Ready mesh. */
  installation: string;
  edits: number;
  deletions: number;
  additions: number;
  log: (line: string) => void;
  /** The operator that repairs: its /metrics give where the repairs' time went ({@link DriftResult.breakdown}). */
  operator?: Pick<BenchOperator, 'metricsPort'>;
}

/** The phases of one repair, as the operator times them (operator/runtime/metrics.ts DriftRepairTiming). */
export const DRIFT_PHASES = ['queued', 'waited', 'diffed', 'prepared', 'responded', 'cached', 'total'] as const;

/** One phase over the run: how many repairs, their mean, and p50/p99 estimated within the histogram's buckets (ms). */
export interface PhaseSummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Where the repairs' time went inside the operator, from its `meshwright_drift_repair_phase_seconds`
 * histogram (the difference between before and after the run): queued (the drift's watch event →
 * the ready queue: waiting for a pass of the installation still running), waited (→ a worker took
 * it), diffed (→ the object judged: lookups, comparison, ownership; for a repair found by a whole
 * pass, that pass up to the object), prepared (→ request sent), responded (→ response: the API
 * server's time), cached (→ the repairing write's watch event reached the operator), total (the
 * drift's event → the response).
 */
export interface DriftBreakdown {
  /** Repairs timed, by path: targeted (first thing in the pass its event started) or pass (found by a whole pass). */
  repairs: { targeted: number; pass: number };
  phases: Record<(typeof DRIFT_PHASES)[number], PhaseSummary>;
  source: string;
}

/** What the drift benchmark measured (milliseconds). */
export interface DriftResult {
  edits: LatencySummary;
  deletions: LatencySummary;
  additions: LatencySummary;
  all: LatencySummary;
  floor: LatencySummary;
  /** all ÷ floor at p50 and p99 (the targets: ≤ 2 and ≤ 3). */
  ratio: { p50: number; p99: number };
  byKind: Record<string, LatencySummary>;
  measuredFrom: 'the foreign write\'s response';
  /** Where the time went inside the operator (absent when the operator's metrics were not given). */
  breakdown?: DriftBreakdown;
}

/** A foreign edit: JSON pointer of a field the operator declares, and a value it never renders. */
interface EditCase {
  type: TypeRef;
  name: (ns: string) => string;
  namespaced: boolean;
  path: string;
  value: (i: number) => unknown;
}

const v1 = (kind: string): TypeRef => ({ apiVersion: 'v1', kind });
const rbac = (kind: string): TypeRef => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind });

/** Fields of several kinds, none of which makes the cluster do work beyond the write (no rollout). */
const editCases: EditCase[] = [
  { type: { apiVersion: 'apps/v1', kind: 'Deployment' }, name: () => 'istiod', namespaced: true, path: '/spec/strategy/rollingUpdate/maxSurge', value: (i) => `${(i % 50) + 1}%` },
  { type: v1('ConfigMap'), name: () => 'istio', namespaced: true, path: '/data/meshNetworks', value: (i) => `networks: {drift${i}: {}}` },
  { type: v1('Service'), name: () => 'istiod', namespaced: true, path: '/spec/ports/0/name', value: (i) => `drift-${i}` },
  { type: rbac('ClusterRole'), name: (ns) => `istio-reader-clusterrole-${ns}`, namespaced: false, path: '/rules/0/verbs', value: (i) => ['get', `drift${i}`] },
  { type: v1('ServiceAccount'), name: () => 'istiod', namespaced: true, path: '/metadata/labels/app', value: (i) => `drift-${i}` },
  { type: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' }, name: (ns) => `istio-validator-${ns}`, namespaced: false, path: '/webhooks/0/failurePolicy', value: () => 'Fail' },
  { type: rbac('RoleBinding'), name: () => 'istiod', namespaced: true, path: '/subjects/0/name', value: (i) => `drift-${i}` },
  { type: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' }, name: () => 'istiod', namespaced: true, path: '/spec/maxReplicas', value: (i) => 10 + (i % 50) },
];

/** Owned objects whose deletion the operator repairs without the cluster doing other work. */
const deletionCases: Array<{ type: TypeRef; name: (ns: string) => string; namespaced: boolean }> = [
  { type: v1('ConfigMap'), name: () => 'istio', namespaced: true },
  { type: v1('Service'), name: () => 'istiod', namespaced: true },
  { type: v1('ServiceAccount'), name: () => 'istio-reader-service-account', namespaced: true },
  { type: rbac('ClusterRole'), name: (ns) => `istiod-gateway-controller-${ns}`, namespaced: false },
  { type: rbac('ClusterRoleBinding'), name: (ns) => `istio-reader-clusterrole-${ns}`, namespaced: false },
  { type: rbac('Role'), name: () => 'istiod', namespaced: true },
  { type: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' }, name: (ns) => `istio-validator-${ns}`, namespaced: false },
  { type: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' }, name: () => 'istiod', namespaced: true },
  { type: { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication' }, name: () => 'default', namespaced: true },
];

/** A foreign addition: a JSON patch adding what the operator never renders, and how the watch tells it is gone. */
interface AdditionCase {
  type: TypeRef;
  name: (ns: string) => string;
  namespaced: boolean;
  patch: (i: number) => unknown[];
  gone: (object: KubeObject, i: number) => boolean;
}

type Loose = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Additions where an object is ours whole (operator/runtime/drift-rule.ts), one per kind. */
const additionCases: AdditionCase[] = [
  {
    type: { apiVersion: 'apps/v1', kind: 'Deployment' }, name: () => 'istiod', namespaced: true,
    patch: (i) => [{ op: 'add', path: '/spec/template/spec/containers/0/env/-', value: { name: `DRIFT_${i}`, value: 'added' } }],
    gone: (o, i) => !((o as Loose).spec.template.spec.containers[0].env as Array<{ name: string }> | undefined)?.some((e) => e.name === `DRIFT_${i}`),
  },
  { type: v1('ConfigMap'), name: () => 'istio', namespaced: true, patch: (i) => [{ op: 'add', path: `/data/drift${i}`, value: 'added' }], gone: (o, i) => (o as Loose).data?.[`drift${i}`] === undefined },
  {
    type: v1('Service'), name: () => 'istiod', namespaced: true,
    patch: (i) => [{ op: 'add', path: '/spec/ports/-', value: { name: `drift-${i}`, port: 30000 + i, protocol: 'TCP' } }],
    gone: (o, i) => !((o as Loose).spec.ports as Array<{ port: number }>).some((p) => p.port === 30000 + i),
  },
  {
    type: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' }, name: (ns) => `istio-validator-${ns}`, namespaced: false,
    patch: (i) => [{ op: 'add', path: '/webhooks/-', value: { name: `drift-${i}.bench.meshwright.dev`, admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Ignore', clientConfig: { url: 'https://127.0.0.1:1/drift' }, objectSelector: { matchLabels: { 'bench.meshwright.dev/never': 'true' } }, rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }] } }],
    gone: (o, i) => !((o as Loose).webhooks as Array<{ name: string }>).some((w) => w.name === `drift-${i}.bench.meshwright.dev`),
  },
  { type: v1('Secret'), name: () => 'cacerts', namespaced: true, patch: (i) => [{ op: 'add', path: `/data/drift${i}`, value: Buffer.from('added').toString('base64') }], gone: (o, i) => (o as Loose).data?.[`drift${i}`] === undefined },
  {
    type: rbac('RoleBinding'), name: () => 'istiod', namespaced: true,
    patch: (i) => [{ op: 'add', path: '/subjects/-', value: { kind: 'ServiceAccount', name: `drift-${i}`, namespace: 'default' } }],
    gone: (o, i) => !((o as Loose).subjects as Array<{ name: string }>).some((s) => s.name === `drift-${i}`),
  },
];

/** Reads the value at a JSON pointer. */
function pointer(object: unknown, path: string): unknown {
  return path.split('/').slice(1).map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~')).reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], object);
}

/**
 * A JSON patch by the foreign client under a field manager of its own for this step. Why not one
 * manager for the whole run: the operator leaves an object alone once the same writer undid its
 * repair of the same field three times within a minute (a fight, reported as DriftContested:
 * operator/runtime/drift-rule.ts), and this benchmark edits each field every few seconds. Its
 * writes stand for independent writers, whose repairs are what is measured here.
 */
async function foreignPatch(foreign: KubeClient, ref: ObjectRef, patch: unknown[], step: number): Promise<void> {
  const path = await foreign.path(ref, ref.namespace, ref.name, { fieldManager: `bench-foreign-writer-${step}` });
  await foreign.request(HttpMethod.PATCH, path, patch, 'application/json-patch+json');
}

/** The three kinds of foreign change the benchmark makes. */
export type DriftKind = 'edit' | 'deletion' | 'addition';

/** The kind whose share of the `total` steps is furthest ahead of what was `done` of it by `step`. */
export function nextKind(quota: Record<DriftKind, number>, done: Record<DriftKind, number>, step: number, total: number): DriftKind {
  const kinds = (['deletion', 'addition', 'edit'] as const).filter((kind) => done[kind] < quota[kind]);
  const lag = (kind: DriftKind) => (quota[kind] * (step + 1)) / total - done[kind];
  return kinds.reduce((best, kind) => (lag(kind) > lag(best) ? kind : best));
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the drift benchmark against the installed mesh `options.installation`. */
export async function benchDrift(cluster: BenchCluster, options: DriftOptions): Promise<DriftResult> {
  const { admin, kc } = cluster;
  const ns = options.installation;
  const foreign = new KubeClient(kc, 'meshwright-bench-foreign-editor/0.1.0');
  const types = [...new Map([...editCases, ...deletionCases, ...additionCases].map((c) => [`${c.type.apiVersion}/${c.type.kind}`, c.type])).values()];
  const watches = new Watches(admin, types, { labelSelector: `${INSTALLATION_LABEL}=${options.installation}` });
  await watches.start();
  const metricsBefore = options.operator ? await operatorMetrics(options.operator.metricsPort) : undefined;
  const refOf = (c: { type: TypeRef; name: (ns: string) => string; namespaced: boolean }): ObjectRef => ({ ...c.type, name: c.name(ns), ...(c.namespaced ? { namespace: ns } : {}) });
  const samples: Array<{ kind: string; drift: DriftKind; ms: number }> = [];
  const floorProbe = new Floor(admin, foreign, options.id);
  const floor: number[] = [];
  await floorProbe.start();

  try {
    // The values the operator renders, as the watch sees them before any edit.
    const originals = editCases.map((c) => {
      const live = watches.get(refOf(c));
      if (!live) throw new Error(`drift: ${c.type.kind} ${c.name(ns)} is not installed`);
      return pointer(live, c.path);
    });
    const quota: Record<DriftKind, number> = { edit: options.edits, deletion: options.deletions, addition: options.additions };
    const done: Record<DriftKind, number> = { edit: 0, deletion: 0, addition: 0 };
    const total = quota.edit + quota.deletion + quota.addition;
    for (let step = 0; step < total; step++) {
      // Each kind spread evenly over the run: the one furthest behind its share goes next.
      const kind = nextKind(quota, done, step, total);
      if (kind === 'deletion') {
        const c = deletionCases[done.deletion % deletionCases.length]!;
        const ref = refOf(c);
        const uid = watches.get(ref)?.metadata.uid;
        const restored = watches.next(ref, (type, object) => type !== 'delete' && object.metadata.uid !== uid);
        await foreign.delete(ref, ref.name, ref.namespace);
        const returned = performance.now();
        samples.push({ kind: ref.kind, drift: kind, ms: (await restored) - returned });
      } else if (kind === 'addition') {
        const i = done.addition;
        const c = additionCases[i % additionCases.length]!;
        const ref = refOf(c);
        const restored = watches.next(ref, (type, object) => type !== 'delete' && c.gone(object, i));
        await foreignPatch(foreign, ref, c.patch(i), step);
        const returned = performance.now();
        samples.push({ kind: ref.kind, drift: kind, ms: (await restored) - returned });
      } else {
        const index = done.edit % editCases.length;
        const c = editCases[index]!;
        const ref = refOf(c);
        const restored = watches.next(ref, (type, object) => type !== 'delete' && same(pointer(object, c.path), originals[index]));
        await foreignPatch(foreign, ref, [{ op: 'replace', path: c.path, value: c.value(done.edit) }], step);
        const returned = performance.now();
        samples.push({ kind: ref.kind, drift: kind, ms: (await restored) - returned });
      }
      done[kind]++;
      // Let the pass that repaired it finish (status, Events) before the next foreign write.
      await pause(50);
      floor.push(await floorProbe.sample());
      await pause(50);
      if ((step + 1) % 50 === 0) options.log(`drift ${step + 1}/${total}`);
    }
  } finally {
    await watches.stop();
    await floorProbe.stop();
  }
  // Let the last repair's own watch event reach the operator (its `cached` phase) before reading.
  await pause(200);
  const breakdown = options.operator && metricsBefore !== undefined ? driftBreakdown(metricsBefore, await operatorMetrics(options.operator.metricsPort)) : undefined;
  await foreign.close();

  const ms = (filter: (s: (typeof samples)[number]) => boolean) => samples.filter(filter).map((s) => s.ms);
  const kinds = [...new Set(samples.map((s) => s.kind))];
  const rounded = (summary: LatencySummary): LatencySummary => ({ count: summary.count, p50: round(summary.p50), p95: round(summary.p95), p99: round(summary.p99), max: round(summary.max) });
  const all = rounded(summarize(ms(() => true)));
  const floorSummary = rounded(summarize(floor));
  return {
    edits: rounded(summarize(ms((s) => s.drift === 'edit'))),
    deletions: rounded(summarize(ms((s) => s.drift === 'deletion'))),
    additions: rounded(summarize(ms((s) => s.drift === 'addition'))),
    all,
    floor: floorSummary,
    ratio: { p50: round(all.p50 / floorSummary.p50, 2), p99: round(all.p99 / floorSummary.p99, 2) },
    byKind: Object.fromEntries(kinds.map((kind) => [kind, rounded(summarize(ms((s) => s.kind === kind)))])),
    measuredFrom: 'the foreign write\'s response',
    ...(breakdown ? { breakdown } : {}),
  };
}

/** The operator's /metrics text. */
async function operatorMetrics(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!response.ok) throw new Error(`the operator's /metrics answered ${response.status}`);
  return response.text();
}

/** A histogram's cumulative bucket counts by upper bound, its count and its sum, per value of one label. */
interface Histogram {
  buckets: Map<number, number>;
  count: number;
  sum: number;
}

/** Every series of histogram `name` in a Prometheus text exposition, by the value of label `by`. */
export function parseHistograms(text: string, name: string, by: string): Map<string, Histogram> {
  const series = new Map<string, Histogram>();
  const of = (key: string) => {
    let histogram = series.get(key);
    if (!histogram) series.set(key, histogram = { buckets: new Map(), count: 0, sum: 0 });
    return histogram;
  };
  for (const line of text.split('\n')) {
    const match = /^(\w+?)(_bucket|_count|_sum)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels = Object.fromEntries([...match[3]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const key = labels[by];
    if (key === undefined) continue;
    const value = Number(match[4]);
    if (match[2] === '_bucket') of(key).buckets.set(labels.le === '+Inf' ? Infinity : Number(labels.le), value);
    else if (match[2] === '_count') of(key).count = value;
    else of(key).sum = value;
  }
  return series;
}

/**
 * The `q`-quantile (0-1) of a histogram, as Prometheus' histogram_quantile estimates it: linear
 * within the bucket it falls in (the highest finite bound when it falls beyond them).
 */
export function histogramQuantile(histogram: Histogram, q: number): number {
  if (histogram.count === 0) return Number.NaN;
  const rank = q * histogram.count;
  let lower = 0;
  let below = 0;
  const bounds = [...histogram.buckets.keys()].sort((a, b) => a - b);
  for (const bound of bounds) {
    const cumulative = histogram.buckets.get(bound)!;
    if (cumulative >= rank) {
      if (bound === Infinity) return lower;
      return lower + ((bound - lower) * (rank - below)) / Math.max(1, cumulative - below);
    }
    lower = bound;
    below = cumulative;
  }
  return lower;
}

/** The difference `after − before` of a histogram (the observations made between two readings). */
function since(before: Histogram | undefined, after: Histogram): Histogram {
  const buckets = new Map([...after.buckets].map(([bound, count]) => [bound, count - (before?.buckets.get(bound) ?? 0)]));
  return { buckets, count: after.count - (before?.count ?? 0), sum: after.sum - (before?.sum ?? 0) };
}

/** Where the repairs between two readings of the operator's /metrics spent their time. */
export function driftBreakdown(before: string, after: string): DriftBreakdown {
  const name = 'meshwright_drift_repair_phase_seconds';
  const [was, now] = [parseHistograms(before, name, 'phase'), parseHistograms(after, name, 'phase')];
  const ms = (seconds: number) => round(seconds * 1000, 2);
  const phases = Object.fromEntries(DRIFT_PHASES.map((phase) => {
    const histogram = since(was.get(phase), now.get(phase) ?? { buckets: new Map(), count: 0, sum: 0 });
    return [phase, { count: histogram.count, meanMs: histogram.count ? ms(histogram.sum / histogram.count) : Number.NaN, p50Ms: ms(histogramQuantile(histogram, 0.5)), p99Ms: ms(histogramQuantile(histogram, 0.99)) }];
  })) as DriftBreakdown['phases'];
  const repairs = (text: string, path: string) => Number(new RegExp(`^meshwright_drift_repairs_timed_total\\{path="${path}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    repairs: { targeted: repairs(after, 'targeted') - repairs(before, 'targeted'), pass: repairs(after, 'pass') - repairs(before, 'pass') },
    phases,
    source: 'the operator\'s /metrics, meshwright_drift_repair_phase_seconds over the run: mean exact, p50/p99 interpolated within buckets',
  };
}

/**
 * The floor: a ConfigMap of the bench's own, watched like the owned objects; the foreign client
 * edits it, and on the watch event of that edit the bench writes the value back by server-side
 * apply (as the operator would). Time from the foreign write's response to the write-back's event.
 * Sampled once after each repair, interleaved with them, so that both see the same API server:
 * on a shared machine its load changes within seconds, and a floor measured after all the repairs
 * compared the repairs' tail with another moment's.
 */
class Floor {
  private readonly namespace: string;
  private readonly ref: ObjectRef;
  private readonly watches: Watches;
  private readonly label = 'meshwright.dev/bench-floor';
  private samples = 0;

  constructor(private readonly admin: KubeClient, private readonly foreign: KubeClient, private readonly id: string) {
    this.namespace = `${id}-floor`;
    this.ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace: this.namespace, name: 'floor' };
    this.watches = new Watches(admin, [{ apiVersion: 'v1', kind: 'ConfigMap' }], { labelSelector: `${this.label}=${id}` });
  }

  private configMap(value: string): KubeObject {
    return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'floor', namespace: this.namespace, labels: { [this.label]: this.id } }, data: { value } };
  }

  async start(): Promise<void> {
    await this.admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: this.namespace } }, { force: true, manager: 'meshwright-bench' });
    await this.admin.apply(this.configMap('original'), { force: true, manager: 'meshwright-bench' });
    await this.watches.start();
  }

  /** One foreign edit written back on its watch event: the time from the edit's response to the write-back's event. */
  async sample(): Promise<number> {
    const i = this.samples++;
    const { ref, watches } = this;
    const edited = watches.next(ref, (_type, object) => (object as { data?: { value?: string } }).data?.value === `edit-${i}`);
    const repaired = watches.next(ref, (_type, object) => (object as { data?: { value?: string } }).data?.value === 'original');
    void edited.then(() => this.admin.apply(this.configMap('original'), { force: true, manager: 'meshwright-bench' })).catch(() => undefined);
    await this.foreign.patch(ref, ref.name, this.namespace, { data: { value: `edit-${i}` } });
    const returned = performance.now();
    return (await repaired) - returned;
  }

  async stop(): Promise<void> {
    await this.watches.stop();
    await this.admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, this.namespace);
  }
}
