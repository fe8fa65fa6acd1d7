/**
 * The differential injection test's two sides. The referee: Istio's injector (the harness) with
 * the templates of its module and the settings our rendered installation implies — our `istio`
 * mesh ConfigMap as the mesh config, and the chart's values with the hub, tag and revision of our
 * rendered istiod. Ours: the operator's injector, behind {@link WorkloadInjector} (the
 * sidecar-injection issue plugs it in; until then there is none). And the one table of named,
 * reasoned exceptions a remaining difference may fall under.
 */
import { withSpecDefaults } from '../../operator/api/defaults.ts';
import { API_VERSION, KIND, type DefaultedMeshInstallation } from '../../operator/api/meshinstallation.ts';
import type { MeshInstallationSpec } from '../../operator/api/spec.ts';
import { renderOffline } from '../../operator/cli/render.ts';
import { builtInDistributions } from '../../operator/distributions/built-in.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import type { Exception } from './compare.ts';
import { chartSettings, type InjectorSettings, type IstioReferee } from './istio-referee.ts';

/** What an injector answers for one workload: the injected object, or why it refused. */
export type InjectionOutcome = { output: unknown } | { error: string };

/** An injector under test (the operator's, once it exists). */
export interface WorkloadInjector {
  name: string;
  inject(workloads: readonly unknown[]): Promise<InjectionOutcome[]>;
}

/**
 * The operator's own injector. None exists yet (the sidecar-injection issue adds it and returns it
 * here); the differential test skips its comparison while there is none.
 */
export function operatorInjector(): WorkloadInjector | undefined {
  return undefined;
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
  const sets = [`values.global.hub=${image.hub}`, `values.global.tag=${image.tag}`, ...(revision === 'default' ? [] : [`revision=${revision}`])];
  const chart = await chartSettings(referee, sets);
  return { settings: { ...chart, mesh: meshMap.data.mesh }, sets, revision };
}
