/**
 * What Linkerd's control-plane workloads share: the Deployment frame (labels, rollout, pod
 * metadata), scheduling from `spec.controlPlane` and the profile, the hardened controller
 * container settings, the API-access volume, and HA disruption budgets.
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { CONTROLLER_UID } from './config.ts';
import { createdBy, objectMeta } from './objects.ts';
import { controlPlaneLabels, type LinkerdScope } from './scope.ts';

/** A container or volume, as plain JSON. */
export type Json = Record<string, unknown>;

/** Security context of Linkerd's controller containers. */
export function controllerSecurityContext(): Json {
  return {
    capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: CONTROLLER_UID,
    allowPrivilegeEscalation: false, seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Mount of {@link kubeApiAccessVolume}: pods set automountServiceAccountToken false and mount it themselves. */
export const KUBE_API_ACCESS_MOUNT: Json = { mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', name: 'kube-api-access', readOnly: true };

/** The service-account token, cluster CA and namespace, projected the way kubelet's automount does. */
export function kubeApiAccessVolume(): Json {
  return {
    name: 'kube-api-access',
    projected: {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { items: [{ key: 'ca.crt', path: 'ca.crt' }], name: 'kube-root-ca.crt' } },
        { downwardAPI: { items: [{ fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' }, path: 'namespace' }] } },
      ],
    },
  };
}

/** An httpGet probe of a controller's admin server. */
export function adminProbe(path: string, port: number | string, extra: Record<string, number> = {}): Json {
  return { httpGet: { path, port }, ...extra };
}

/** Resources of a controller container, when the profile or spec declares any. */
export function resourcesField(scope: LinkerdScope, role: Parameters<LinkerdScope['controlPlane']['resources']>[0]): Json {
  const resources = scope.controlPlane.resources(role);
  return resources ? { resources } : {};
}

/** HA anti-affinity: never two replicas on one node, and spread over zones where possible. */
function haAntiAffinity(component: string): Json {
  const selector = { matchExpressions: [{ key: 'linkerd.io/control-plane-component', operator: 'In', values: [component] }] };
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [{ podAffinityTerm: { labelSelector: selector, topologyKey: 'topology.kubernetes.io/zone' }, weight: 100 }],
      requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: selector, topologyKey: 'kubernetes.io/hostname' }],
    },
  };
}

/** Node selection, tolerations and priority of control-plane pods (heartbeat included). */
export function podPlacement(scope: LinkerdScope): Json {
  const { nodeSelector, tolerations, priorityClassName } = scope.controlPlane;
  return {
    nodeSelector,
    ...(tolerations?.length ? { tolerations } : {}),
    ...(priorityClassName ? { priorityClassName } : {}),
  };
}

/** Affinity of a control-plane Deployment's pods: the user's, else HA anti-affinity, else none. */
function affinityOf(scope: LinkerdScope, component: string): Json {
  if (scope.controlPlane.affinity) return { affinity: scope.controlPlane.affinity };
  return scope.controlPlane.highAvailability ? { affinity: haAntiAffinity(component) } : {};
}

/** What differs between Linkerd's control-plane Deployments. */
export interface ControlPlaneDeployment {
  name: string;
  component: string;
  serviceAccountName: string;
  containers: Json[];
  initContainers: Json[];
  volumes: Json[];
  /** Annotations first in the pod template (e.g. a config checksum that rolls the pods). */
  leadingPodAnnotations?: Record<string, string>;
}

/**
 * A control-plane Deployment. Its pods are meshed: they carry the proxy version and the trust-root
 * hash (a new bundle restarts them) and accept unauthenticated clients (see proxy.ts).
 */
export function controlPlaneDeployment(scope: LinkerdScope, d: ControlPlaneDeployment): KubeObject {
  const componentLabels = controlPlaneLabels(scope, d.component);
  const proxyDeployment = { 'linkerd.io/proxy-deployment': d.name };
  const placement = podPlacement(scope);
  const { priorityClassName, ...rest } = placement;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: d.name,
      namespace: scope.namespace,
      annotations: createdBy(),
      labels: {
        'app.kubernetes.io/name': d.component,
        'app.kubernetes.io/part-of': 'Linkerd',
        'app.kubernetes.io/version': scope.linkerdVersion,
        ...componentLabels,
      },
    },
    spec: {
      replicas: scope.controlPlane.replicas,
      revisionHistoryLimit: 10,
      selector: { matchLabels: { ...componentLabels, ...proxyDeployment } },
      strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: scope.controlPlane.highAvailability ? 1 : '25%' } },
      template: {
        metadata: {
          annotations: {
            ...d.leadingPodAnnotations,
            ...createdBy(),
            'linkerd.io/proxy-version': scope.linkerdVersion,
            'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true',
            'linkerd.io/trust-root-sha256': scope.trustRootSha256,
            'config.linkerd.io/default-inbound-policy': 'all-unauthenticated',
          },
          labels: { ...componentLabels, 'linkerd.io/workload-ns': scope.namespace, ...proxyDeployment },
        },
        spec: {
          ...rest,
          ...affinityOf(scope, d.component),
          automountServiceAccountToken: false,
          containers: d.containers,
          initContainers: d.initContainers,
          ...(priorityClassName ? { priorityClassName } : {}),
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          serviceAccountName: d.serviceAccountName,
          volumes: d.volumes,
        },
      },
    },
  };
}

/** HA only: at most one pod of the component down for voluntary disruptions. */
export function computeDisruptionBudget(scope: LinkerdScope, name: string, component: string): KubeObject[] {
  if (!scope.controlPlane.highAvailability) return [];
  return [{
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: objectMeta(scope, name, component),
    spec: { maxUnavailable: 1, selector: { matchLabels: { 'linkerd.io/control-plane-component': component } } },
  }];
}
