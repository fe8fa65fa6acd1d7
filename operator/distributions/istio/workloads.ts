/**
 * Building blocks shared by istiod and the gateways: rollout strategy, downward-API environment,
 * the istio-ca token volume, autoscalers and disruption budgets.
 */
import type { KubeObject } from '../../runtime/kube.ts';
import type { Autoscale } from './profiles.ts';
import { meta } from './scope.ts';

/** Istio's rollout: bring up all new pods before taking down old ones (xDS clients reconnect once). */
export const ROLLING_UPDATE = { rollingUpdate: { maxSurge: '100%', maxUnavailable: '25%' } };

/** An environment variable from a pod field (downward API). */
export function fieldEnv(name: string, fieldPath: string, withApiVersion: boolean): Record<string, unknown> {
  return { name, valueFrom: { fieldRef: { ...(withApiVersion ? { apiVersion: 'v1' } : {}), fieldPath } } };
}

/** The projected ServiceAccount token with audience `istio-ca` that authenticates to istiod's CA. */
export function serviceAccountToken(): Record<string, unknown> {
  return {
    name: 'istio-token',
    projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] },
  };
}

/** A CPU-based HorizontalPodAutoscaler for the Deployment of the same name. */
export function horizontalPodAutoscaler(name: string, namespace: string, labels: Record<string, string>, autoscale: Autoscale): KubeObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(name, namespace, labels),
    spec: {
      maxReplicas: autoscale.maxReplicas,
      metrics: [{ resource: { name: 'cpu', target: { averageUtilization: autoscale.targetCPUUtilizationPercent, type: 'Utilization' } }, type: 'Resource' }],
      minReplicas: autoscale.minReplicas,
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
    },
  };
}

/** A PodDisruptionBudget over the pods matching `selector`. */
export function podDisruptionBudget(
  name: string, namespace: string, labels: Record<string, string>, selector: Record<string, string>,
  budget: { minAvailable?: number | string; maxUnavailable?: number | string },
): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(name, namespace, labels),
    spec: { ...budget, selector: { matchLabels: selector } },
  };
}
