/**
 * Benchmark 2, drift repair: foreign edits and deletions of owned objects of several kinds, one at
 * a time, by another client (its own user agent); the bench's own watch sees the restored object.
 * Latency = delivery of the restoring watch event − return of the foreign write (its response
 * received). Floor, measured the same number of times in the same run: the same kind of watch sees
 * a foreign write, the bench writes back at once, and the watch delivers that write — one watch
 * event plus one write round trip, the least any watch-driven repair can take.
 */
import { performance } from 'node:perf_hooks';
import { INSTALLATION_LABEL } from '../operator/controllers/ownership.ts';
import { KubeClient, type KubeObject, type TypeRef } from '../operator/runtime/kube.ts';
import type { BenchCluster } from './support/cluster.ts';
import { round, summarize, type LatencySummary } from './support/stats.ts';
import { Watches, type ObjectRef } from './support/watch.ts';

/** Settings of {@link benchDrift}. */
export interface DriftOptions {
  id: string;
  /** Name (= control-plane namespace) of an installed, Ready mesh. */
  installation: string;
  edits: number;
  deletions: number;
  log: (line: string) => void;
}

/** What the drift benchmark measured (milliseconds). */
export interface DriftResult {
  edits: LatencySummary;
  deletions: LatencySummary;
  all: LatencySummary;
  floor: LatencySummary;
  byKind: Record<string, LatencySummary>;
  measuredFrom: 'the foreign write\'s response';
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

/** Reads the value at a JSON pointer. */
function pointer(object: unknown, path: string): unknown {
  return path.split('/').slice(1).map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~')).reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], object);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the drift benchmark against the installed mesh `options.installation`. */
export async function benchDrift(cluster: BenchCluster, options: DriftOptions): Promise<DriftResult> {
  const { admin, kc } = cluster;
  const ns = options.installation;
  const foreign = new KubeClient(kc, 'meshwright-bench-foreign-editor/0.1.0');
  const types = [...new Map([...editCases, ...deletionCases].map((c) => [`${c.type.apiVersion}/${c.type.kind}`, c.type])).values()];
  const watches = new Watches(admin, types, { labelSelector: `${INSTALLATION_LABEL}=${options.installation}` });
  await watches.start();
  const refOf = (c: { type: TypeRef; name: (ns: string) => string; namespaced: boolean }): ObjectRef => ({ ...c.type, name: c.name(ns), ...(c.namespaced ? { namespace: ns } : {}) });
  const samples: Array<{ kind: string; deletion: boolean; ms: number }> = [];

  try {
    // The values the operator renders, as the watch sees them before any edit.
    const originals = editCases.map((c) => {
      const live = watches.get(refOf(c));
      if (!live) throw new Error(`drift: ${c.type.kind} ${c.name(ns)} is not installed`);
      return pointer(live, c.path);
    });
    const total = options.edits + options.deletions;
    // Deletions spread evenly among the edits.
    const deletionEvery = options.deletions > 0 ? total / options.deletions : Number.POSITIVE_INFINITY;
    let edits = 0;
    let deletions = 0;
    for (let step = 0; step < total; step++) {
      const deletion = deletions < options.deletions && (step + 1) >= (deletions + 1) * deletionEvery - 1e-9;
      if (deletion) {
        const c = deletionCases[deletions % deletionCases.length]!;
        const ref = refOf(c);
        const uid = watches.get(ref)?.metadata.uid;
        const restored = watches.next(ref, (type, object) => type !== 'delete' && object.metadata.uid !== uid);
        await foreign.delete(ref, ref.name, ref.namespace);
        const returned = performance.now();
        samples.push({ kind: ref.kind, deletion: true, ms: (await restored) - returned });
        deletions++;
      } else {
        const index = edits % editCases.length;
        const c = editCases[index]!;
        const ref = refOf(c);
        const restored = watches.next(ref, (type, object) => type !== 'delete' && same(pointer(object, c.path), originals[index]));
        await foreign.patch(ref, ref.name, ref.namespace, [{ op: 'replace', path: c.path, value: c.value(edits) }], 'json');
        const returned = performance.now();
        samples.push({ kind: ref.kind, deletion: false, ms: (await restored) - returned });
        edits++;
      }
      // Let the pass that repaired it finish (status, Events) before the next foreign write.
      await pause(50);
      if ((step + 1) % 50 === 0) options.log(`drift ${step + 1}/${total}`);
    }
  } finally {
    await watches.stop();
  }
  const floor = await measureFloor(cluster, foreign, options.id, samples.length);
  await foreign.close();

  const ms = (filter: (s: (typeof samples)[number]) => boolean) => samples.filter(filter).map((s) => s.ms);
  const kinds = [...new Set(samples.map((s) => s.kind))];
  const rounded = (summary: LatencySummary): LatencySummary => ({ count: summary.count, p50: round(summary.p50), p95: round(summary.p95), p99: round(summary.p99), max: round(summary.max) });
  return {
    edits: rounded(summarize(ms((s) => !s.deletion))),
    deletions: rounded(summarize(ms((s) => s.deletion))),
    all: rounded(summarize(ms(() => true))),
    floor: rounded(summarize(floor)),
    byKind: Object.fromEntries(kinds.map((kind) => [kind, rounded(summarize(ms((s) => s.kind === kind)))])),
    measuredFrom: 'the foreign write\'s response',
  };
}

/**
 * The floor: a ConfigMap of the bench's own, watched like the owned objects; the foreign client
 * edits it, and on the watch event of that edit the bench writes the value back by server-side
 * apply (as the operator would). Time from the foreign write's response to the write-back's event.
 */
async function measureFloor(cluster: BenchCluster, foreign: KubeClient, id: string, count: number): Promise<number[]> {
  const { admin } = cluster;
  const namespace = `${id}-floor`;
  const label = 'meshwright.dev/bench-floor';
  const configMap = (value: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'floor', namespace, labels: { [label]: id } }, data: { value } });
  await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }, { force: true, manager: 'meshwright-bench' });
  await admin.apply(configMap('original'), { force: true, manager: 'meshwright-bench' });
  const watches = new Watches(admin, [{ apiVersion: 'v1', kind: 'ConfigMap' }], { labelSelector: `${label}=${id}` });
  await watches.start();
  const ref: ObjectRef = { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: 'floor' };
  const samples: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const edited = watches.next(ref, (_type, object) => (object as { data?: { value?: string } }).data?.value === `edit-${i}`);
      const repaired = watches.next(ref, (_type, object) => (object as { data?: { value?: string } }).data?.value === 'original');
      void edited.then(() => admin.apply(configMap('original'), { force: true, manager: 'meshwright-bench' })).catch(() => undefined);
      await foreign.patch(ref, ref.name, namespace, { data: { value: `edit-${i}` } });
      const returned = performance.now();
      samples.push((await repaired) - returned);
      await pause(50);
    }
  } finally {
    await watches.stop();
    await admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, namespace);
  }
  return samples;
}
