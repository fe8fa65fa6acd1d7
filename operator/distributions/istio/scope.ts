/**
 * The render scope: everything the `computeX(scope)` functions need, derived once from the
 * render input (cluster-api style). Holds Istio's naming rules, so that a revisioned control plane
 * (Canary) and the default one (InPlace) differ only here.
 */
import type { DefaultedMeshInstallation } from '../../api/meshinstallation.ts';
import type { CertificateAuthorityMaterial, RenderInput, ResolvedVersion } from '../distribution.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { mergeResourcesWithinLimits, type Resources } from '../resources.ts';
import { minorRelease, type IstioMinorRelease } from './catalog.ts';
import { PROFILE_SETTINGS, type Profile } from './profiles.ts';

/** Annotation asking the operator to leave an object in place when the installation is deleted. */
export const KEEP_ON_DELETE = 'meshwright.dev/keep-on-delete';

/** Istio's label naming the control-plane revision an object belongs to. */
export const REV_LABEL = 'istio.io/rev';

/** The revision value Istio uses for an unrevisioned control plane. */
export const DEFAULT_REVISION = 'default';

/** What one render is about. */
export interface IstioScope {
  installation: DefaultedMeshInstallation;
  spec: DefaultedMeshInstallation['spec'];
  resolved: ResolvedVersion;
  release: IstioMinorRelease;
  profile: Profile;
  /** Control-plane namespace. */
  namespace: string;
  /** The revision name with strategy Canary; undefined with InPlace (Istio's default names). */
  revision: string | undefined;
  /** Value of `istio.io/rev` on revision-owned objects (`default` when unrevisioned). */
  revLabel: string;
  /** Kubernetes cluster DNS domain. */
  clusterDomain: string;
  /**
   * Resources of each injected proxy: `meshConfig.proxy.resources` merged over the profile's
   * quantity by quantity, for the operator's injector. Computing it refuses a merge whose request
   * exceeds its limit (UnsupportedSpecError), so such a spec stalls before anything is applied.
   */
  proxyResources: Resources;
  ca: CertificateAuthorityMaterial | undefined;
}

/** Builds the scope of one render. */
export function computeScope({ installation, resolved, ca }: RenderInput): IstioScope {
  const spec = installation.spec;
  const revision = spec.upgrade.strategy === 'Canary' ? resolved.revision : undefined;
  const profile = PROFILE_SETTINGS[spec.profile];
  return {
    installation,
    spec,
    resolved,
    release: minorRelease(resolved.version),
    profile,
    namespace: spec.namespace,
    revision,
    revLabel: revision ?? DEFAULT_REVISION,
    clusterDomain: 'cluster.local',
    proxyResources: mergeResourcesWithinLimits(profile.proxy, spec.meshConfig.proxy?.resources, { field: 'meshConfig.proxy.resources', profile: spec.profile }) ?? {},
    ca,
  };
}

/** Istio's name of a revision-owned namespaced object: `base` or `base-<rev>`. */
export function revisioned(scope: IstioScope, base: string): string {
  return scope.revision ? `${base}-${scope.revision}` : base;
}

/** Istio's name of a revision-owned cluster-scoped object: `base-<ns>` or `base-<rev>-<ns>`. */
export function clusterRevisioned(scope: IstioScope, base: string): string {
  return `${revisioned(scope, base)}-${scope.namespace}`;
}

/** istiod's Service name (`istiod` or `istiod-<rev>`). */
export function istiodServiceName(scope: IstioScope): string {
  return revisioned(scope, 'istiod');
}

/** Where proxies reach istiod for xDS and certificates. */
export function istiodAddress(scope: IstioScope): string {
  return `${istiodServiceName(scope)}.${scope.namespace}.svc:15012`;
}

/** Name of the mesh-config ConfigMap of this revision (`istio` or `istio-<rev>`). */
export function meshConfigMapName(scope: IstioScope): string {
  return revisioned(scope, 'istio');
}

/** Metadata of a namespaced object; labels and annotations only when there are any. */
export function meta(name: string, namespace: string | undefined, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): KubeObject['metadata'] {
  return {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}

/** Standard Kubernetes labels Istio also sets; the reconciler adds `app.kubernetes.io/managed-by`. */
export function partOfIstio(name?: string): Record<string, string> {
  return { ...(name ? { 'app.kubernetes.io/name': name } : {}), 'app.kubernetes.io/part-of': 'istio' };
}
