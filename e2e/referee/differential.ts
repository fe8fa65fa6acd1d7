/**
 * The differential injection test's two sides. The referee: Istio's injector (the harness) with
 * the templates of its module and the settings our rendered installation implies — our `istio`
 * mesh ConfigMap as the mesh config, and the chart's values with the hub, tag and revision of our
 * rendered istiod, and the proxy values our installation sets (log level, resources). Ours: the
 * operator's Istio injector (`operator/distributions/istio/injection/`) behind
 * {@link WorkloadInjector}, injecting each workload's pod template as `istioctl kube-inject` does.
 * And the one table of named, reasoned exceptions a remaining difference may fall under.
 */
import { withSpecDefaults } from '../../operator/api/defaults.ts';
import { API_VERSION, KIND, type DefaultedMeshInstallation } from '../../operator/api/meshinstallation.ts';
import type { MeshInstallationSpec } from '../../operator/api/spec.ts';
import { renderOffline } from '../../operator/cli/render.ts';
import { ISTIO_ALL_OPTIONS } from '../../operator/distributions/istio/testdata/golden-specs.ts';
import { builtInDistributions } from '../../operator/distributions/built-in.ts';
import { InjectionError, INJECTED_BY_LABEL, RECORD_ANNOTATIONS, type PodObject } from '../../operator/distributions/injection.ts';
import { istioDistribution } from '../../operator/distributions/istio/index.ts';
import { computeScope } from '../../operator/distributions/istio/scope.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import type { Exception } from './compare.ts';
import { chartSettings, type InjectorSettings, type IstioReferee } from './istio-referee.ts';

/** What an injector answers for one workload: the injected object, or why it refused. */
export type InjectionOutcome = { output: unknown } | { error: string };

/** An injector under test (the operator's). */
export interface WorkloadInjector {
  name: string;
  inject(workloads: readonly unknown[]): Promise<InjectionOutcome[]>;
}

/** Where each kind the generator (and kube-inject) handles keeps its pod template. */
const TEMPLATE_PATHS: Record<string, readonly string[]> = {
  Deployment: ['spec', 'template'], StatefulSet: ['spec', 'template'], DaemonSet: ['spec', 'template'], ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'], Job: ['spec', 'template'], CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

type Workload = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<string, unknown>;

/** What only meshwright writes on an injected pod (the injection record): left out of the comparison. */
function withoutRecord(pod: PodObject): PodObject {
  const labels = { ...pod.metadata.labels };
  delete labels[INJECTED_BY_LABEL];
  const annotations = { ...pod.metadata.annotations };
  for (const key of Object.values(RECORD_ANNOTATIONS)) delete annotations[key];
  return { ...pod, metadata: { ...pod.metadata, labels, annotations } };
}

/**
 * The operator's Istio injector for `installation` (by default the one the referee's settings are
 * derived from: the all-options spec), injecting each workload's pod template as kube-inject does:
 * a Pod as itself, a workload's template with the workload named as its owner.
 */
export function operatorInjector(installation: DefaultedMeshInstallation = installationOf(ISTIO_ALL_OPTIONS), nativeSidecars = true): WorkloadInjector {
  const resolved = istioDistribution.resolve(installation);
  const injector = istioDistribution.injector!;
  const injectOne = (workload: Workload): InjectionOutcome => {
    const object = structuredClone(workload);
    const namespace = object.metadata.namespace ?? 'default';
    const path = TEMPLATE_PATHS[object.kind];
    let holder: Record<string, unknown> = object;
    let key = '';
    if (object.kind !== 'Pod') {
      if (!path) return { output: object };
      for (const step of path.slice(0, -1)) holder = holder[step] as Record<string, unknown>;
      key = path.at(-1)!;
    }
    const template = (object.kind === 'Pod' ? object : holder[key]) as { metadata?: PodObject['metadata']; spec: PodObject['spec'] };
    const pod: PodObject = { metadata: { ...template.metadata, ...(object.kind === 'Pod' ? {} : { namespace }) }, spec: template.spec };
    try {
      const outcome = injector.inject({
        pod, installation, resolved, trustAnchorsPem: '', nativeSidecars,
        namespace: { name: namespace, labels: {}, annotations: {} },
        ...(object.kind === 'Pod' ? {} : { workload: { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, namespace } }),
      });
      if (!outcome.injected) return { output: object };
      const injected = withoutRecord(outcome.pod);
      if (object.kind === 'Pod') return { output: { ...object, metadata: injected.metadata, spec: injected.spec } };
      const { namespace: _ns, ...metadata } = injected.metadata;
      holder[key] = { ...template, metadata, spec: injected.spec };
      return { output: object };
    } catch (error) {
      if (error instanceof InjectionError) return { error: error.message };
      throw error;
    }
  };
  return { name: `meshwright's Istio injector (${installation.metadata.name}, Istio ${resolved.version})`, inject: async (workloads) => workloads.map((w) => injectOne(w as Workload)) };
}

/**
 * The pod a controller creates from `workload`'s template, as upstream's webhook test simulates it:
 * the workload (for a Deployment, a ReplicaSet `<name>-fake` with the pod-template-hash label) as
 * controller owner and generated name, in the workload's namespace, so the webhook can name the
 * workload. A Pod is itself.
 */
export function podCreatedFrom(workload: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec: Record<string, unknown> }): PodObject & { apiVersion: string; kind: string } {
  if (workload.kind === 'Pod') return { apiVersion: 'v1', kind: 'Pod', metadata: structuredClone(workload.metadata), spec: structuredClone(workload.spec) as PodObject['spec'] };
  const path = TEMPLATE_PATHS[workload.kind];
  if (!path) throw new Error(`${workload.kind} has no pod template this test knows`);
  let template: unknown = workload;
  for (const step of path) template = (template as Record<string, unknown>)[step];
  const { metadata: templateMetadata, spec } = structuredClone(template) as { metadata?: PodObject['metadata']; spec: PodObject['spec'] };
  const deployment = workload.kind === 'Deployment';
  const owner = deployment ? { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${workload.metadata.name}-fake` } : { apiVersion: workload.apiVersion, kind: workload.kind, name: workload.metadata.name };
  const metadata: PodObject['metadata'] = { ...templateMetadata, generateName: deployment ? `${owner.name}-` : owner.name, ownerReferences: [{ ...owner, controller: true }] };
  if (workload.metadata.namespace) metadata.namespace = workload.metadata.namespace;
  if (deployment) metadata.labels = { ...metadata.labels, 'pod-template-hash': 'fake' };
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

/** Probe fields Go leaves out when zero (int32 with omitempty). */
const PROBE_TIMINGS = ['initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold'];

/**
 * What Go's serialiser writes or drops for fields at their zero value in typed objects (an empty
 * `resources: {}` on every container, `strategy: {}`, `updateStrategy: {}`, a `status` block,
 * `creationTimestamp: null`, a gRPC probe's `service: null`, a probe's timing fields at 0):
 * kube-inject's output carries them or not, the API server treats them alike. Removed from both
 * sides before comparing; nothing else is.
 */
export function withoutSerializerArtefacts(value: unknown, top = true, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => withoutSerializerArtefacts(v, false));
  if (value === null || typeof value !== 'object') return value;
  const probe = /Probe$/.test(key);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (top && k === 'status') continue;
    if (v === null) continue;
    if (probe && PROBE_TIMINGS.includes(k) && v === 0) continue;
    if (['resources', 'strategy', 'updateStrategy'].includes(k) && typeof v === 'object' && Object.keys(v as object).length === 0) continue;
    out[k] = withoutSerializerArtefacts(v, false, k);
  }
  return out;
}

/**
 * Differences between Istio's injector (this referee's version) and ours that are expected, each
 * with its reason. Empty until there is an injector of ours to compare: every entry must name a
 * real, explained difference (for example a field the referee's template version has and our
 * catalog's version does not), never hide a disagreement.
 */
export const INJECTION_EXCEPTIONS: readonly Exception[] = [];

type Container = { name: string; image: string; env?: Array<{ name: string; value?: string }> };
type Deployment = KubeObject & { spec: { template: { spec: { containers: Container[] } } } };

/** The installation a spec describes, defaulted as the operator defaults it. */
export function installationOf(spec: Partial<MeshInstallationSpec>, name = 'referee'): DefaultedMeshInstallation {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: withSpecDefaults({ mesh: 'istio', version: '1.31.1', namespace: 'istio-system', ...spec } as never) } as DefaultedMeshInstallation;
}

/**
 * The chart values for what our installation sets on every injected proxy and the render does not
 * show (it has no injector ConfigMap): the proxy's log level and resources (the profile's merged
 * with `meshConfig.proxy.resources`, as the injector reads them).
 */
export function proxyValueSets(installation: DefaultedMeshInstallation): string[] {
  const scope = computeScope({ installation, resolved: istioDistribution.resolve(installation) });
  const sets: string[] = [];
  const logLevel = installation.spec.meshConfig.proxy?.logLevel;
  if (logLevel) sets.push(`values.global.proxy.logLevel=${logLevel}`);
  for (const [section, quantities] of Object.entries(scope.proxyResources)) {
    for (const [name, quantity] of Object.entries(quantities ?? {})) sets.push(`values.global.proxy.resources.${section}.${name}=${quantity}`);
  }
  return sets;
}

/** What the referee is configured with for an installation: derived from our render of it, nothing else. */
export interface RefereeConfiguration {
  settings: InjectorSettings;
  /** The chart flags our render implies (for the report). */
  sets: string[];
  revision: string;
}

/** The referee's settings for `installation`: our rendered mesh config, the chart's values with our hub, tag and revision. */
export async function refereeConfigurationFor(referee: IstioReferee, installation: DefaultedMeshInstallation): Promise<RefereeConfiguration> {
  const objects = renderOffline(installation, builtInDistributions);
  const istiod = objects.find((o): o is Deployment => o.kind === 'Deployment' && (o as Deployment).spec.template.spec.containers.some((c) => c.name === 'discovery'));
  if (!istiod) throw new Error(`${installation.metadata.name}: the render has no istiod Deployment`);
  const discovery = istiod.spec.template.spec.containers.find((c) => c.name === 'discovery')!;
  const revision = discovery.env?.find((e) => e.name === 'REVISION')?.value ?? 'default';
  const meshMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === (revision === 'default' ? 'istio' : `istio-${revision}`)) as (KubeObject & { data: Record<string, string> }) | undefined;
  if (!meshMap?.data.mesh) throw new Error(`${installation.metadata.name}: the render has no mesh ConfigMap for revision ${revision}`);
  const image = /^(?<hub>.+)\/[^/]+:(?<tag>[^/]+)$/.exec(discovery.image)?.groups;
  if (!image) throw new Error(`istiod image ${discovery.image} is not hub/name:tag`);
  const sets = [`values.global.hub=${image.hub}`, `values.global.tag=${image.tag}`, ...(revision === 'default' ? [] : [`revision=${revision}`]), ...proxyValueSets(installation)];
  const chart = await chartSettings(referee, sets);
  return { settings: { ...chart, mesh: meshMap.data.mesh }, sets, revision };
}
