/**
 * The four installation profiles as data: how big istiod and the gateways are, whether they
 * autoscale, and what the profile switches on. Values follow Istio's own profiles where Istio has
 * the profile (default, minimal, demo); `ha` is ours (Istio has none): replicated and spread.
 *
 * Profiles never add gateways: `spec.gateways` alone says which gateways exist.
 */
import type { DefaultedMeshInstallationSpec, PROFILES } from '../../api/spec.ts';

/** A profile name. */
export type ProfileName = (typeof PROFILES)[number];

/** CPU and memory of a container, as the spec writes them. */
export type Resources = NonNullable<NonNullable<DefaultedMeshInstallationSpec['controlPlane']>['resources']>;

/** Horizontal autoscaling bounds. */
export interface Autoscale {
  minReplicas: number;
  maxReplicas: number;
  targetCPUUtilizationPercent: number;
}

/** Sizing of one workload (istiod, or a gateway) when the spec leaves it unset. */
export interface WorkloadProfile {
  /** Set: an HPA owns the replica count. Unset: `replicas`. */
  autoscale?: Autoscale;
  replicas: number;
  resources: Resources;
  /** Prefer spreading replicas over nodes (preferred pod anti-affinity). */
  spread: boolean;
}

/** Everything a profile decides. */
export interface Profile {
  istiod: WorkloadProfile;
  gateway: WorkloadProfile;
  /** Gateways get a PodDisruptionBudget even when the spec sets none (if they run more than one pod). */
  gatewayDisruptionBudget: boolean;
  /** Trace sampling percentage when `meshConfig.tracing.samplingPercent` is unset (istiod's PILOT_TRACE_SAMPLING). */
  traceSamplingPercent: number;
  /** Proxies write access logs to stdout whatever `meshConfig.accessLog.enabled` says. */
  accessLogAlwaysOn: boolean;
  /** Resources of each injected proxy (Istio's `global.proxy.resources`), under `meshConfig.proxy.resources`. */
  proxy: Resources;
}

const ISTIOD_AUTOSCALE: Autoscale = { minReplicas: 1, maxReplicas: 5, targetCPUUtilizationPercent: 80 };
const ISTIOD_RESOURCES: Resources = { requests: { cpu: '500m', memory: '2048Mi' } };
const GATEWAY_RESOURCES: Resources = { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2000m', memory: '1024Mi' } };
/** Istio's `global.proxy.resources`. */
const PROXY_RESOURCES: Resources = { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2000m', memory: '1024Mi' } };

const defaultProfile: Profile = {
  istiod: { autoscale: ISTIOD_AUTOSCALE, replicas: 1, resources: ISTIOD_RESOURCES, spread: false },
  gateway: { autoscale: ISTIOD_AUTOSCALE, replicas: 1, resources: GATEWAY_RESOURCES, spread: false },
  gatewayDisruptionBudget: false,
  traceSamplingPercent: 1,
  accessLogAlwaysOn: false,
  proxy: PROXY_RESOURCES,
};

/** The profiles by name. */
export const PROFILE_SETTINGS: Readonly<Record<ProfileName, Profile>> = {
  default: defaultProfile,
  // Istio's minimal profile differs from default only by leaving out the ingress gateway, which
  // for us is spec.gateways' business.
  minimal: defaultProfile,
  demo: {
    istiod: { replicas: 1, resources: { requests: { cpu: '10m', memory: '100Mi' } }, spread: false },
    gateway: { replicas: 1, resources: { ...GATEWAY_RESOURCES, requests: { cpu: '10m', memory: '40Mi' } }, spread: false },
    gatewayDisruptionBudget: false,
    traceSamplingPercent: 100,
    accessLogAlwaysOn: true,
    // Istio's demo profile lowers the proxies' requests and keeps the limits.
    proxy: { ...PROXY_RESOURCES, requests: { cpu: '10m', memory: '40Mi' } },
  },
  ha: {
    istiod: { autoscale: { ...ISTIOD_AUTOSCALE, minReplicas: 2 }, replicas: 2, resources: ISTIOD_RESOURCES, spread: true },
    gateway: { autoscale: { ...ISTIOD_AUTOSCALE, minReplicas: 2 }, replicas: 2, resources: GATEWAY_RESOURCES, spread: true },
    gatewayDisruptionBudget: true,
    traceSamplingPercent: 1,
    accessLogAlwaysOn: false,
    proxy: PROXY_RESOURCES,
  },
};

/** Pod anti-affinity that prefers one replica per node, for workloads whose pods carry `selector`. */
export function spreadAffinity(selector: Record<string, string>): Record<string, unknown> {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: selector }, topologyKey: 'kubernetes.io/hostname' } },
        { weight: 50, podAffinityTerm: { labelSelector: { matchLabels: selector }, topologyKey: 'topology.kubernetes.io/zone' } },
      ],
    },
  };
}
