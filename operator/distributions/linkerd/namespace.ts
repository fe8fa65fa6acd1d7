/**
 * The control-plane namespace, labelled the way Linkerd's tooling finds it: injection and admission
 * webhooks skip it, and it admits privileged pods (proxy-init needs NET_ADMIN and NET_RAW).
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { KEEP_ON_DELETE, type LinkerdScope } from './scope.ts';

/**
 * The Namespace. Kept on delete: users (and Linkerd extensions) put their own objects there, and
 * deleting a namespace deletes all of them.
 */
export function computeNamespace(scope: LinkerdScope): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: scope.namespace,
      annotations: { 'linkerd.io/inject': 'disabled', ...KEEP_ON_DELETE },
      labels: {
        'linkerd.io/is-control-plane': 'true',
        'config.linkerd.io/admission-webhooks': 'disabled',
        'linkerd.io/control-plane-ns': scope.namespace,
        'pod-security.kubernetes.io/enforce': 'privileged',
      },
    },
  };
}
