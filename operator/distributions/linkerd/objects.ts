/**
 * Object frames the Linkerd builders share: namespaced metadata with Linkerd's labels and
 * provenance annotation, ConfigMaps, TLS Secrets and control-plane Services.
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { controlPlaneLabels, CREATED_BY, type LinkerdScope } from './scope.ts';

/** Linkerd's provenance annotation on what meshwright renders. */
export function createdBy(): Record<string, string> {
  return { 'linkerd.io/created-by': CREATED_BY };
}

/** Metadata of a namespaced control-plane object. */
export function objectMeta(scope: LinkerdScope, name: string, component?: string): KubeObject['metadata'] {
  return { name, namespace: scope.namespace, labels: controlPlaneLabels(scope, component), annotations: createdBy() };
}

/** A ConfigMap in the control-plane namespace. */
export function configMap(scope: LinkerdScope, name: string, component: string, data: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: objectMeta(scope, name, component), data };
}

/** A `kubernetes.io/tls` Secret holding `entries` (PEM text). */
export function tlsSecret(scope: LinkerdScope, name: string, component: string, entries: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: objectMeta(scope, name, component),
    // data, not stringData: stringData never reads back, so every reconcile would see a difference.
    data: Object.fromEntries(Object.entries(entries).map(([key, pem]) => [key, Buffer.from(pem, 'utf8').toString('base64')])),
  };
}

/** A ClusterIP (or headless) Service selecting a control-plane component. */
export function controlPlaneService(
  scope: LinkerdScope, name: string, component: string,
  port: { name: string; port: number; targetPort: number | string }, headless = false,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(scope, name, component),
    spec: {
      ...(headless ? { clusterIP: 'None' } : { type: 'ClusterIP' }),
      selector: { 'linkerd.io/control-plane-component': component },
      ports: [port],
    },
  };
}
