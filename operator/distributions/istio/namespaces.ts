/**
 * The namespaces the mesh runs in: the control plane's and any gateway's. They are created when
 * missing and never deleted by an uninstall (`keep-on-delete`), since people put their own things
 * in them (Secrets for gateways, Istio config in the root namespace).
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { gatewayNamespaces } from './gateways.ts';
import { KEEP_ON_DELETE, meta, type IstioScope } from './scope.ts';

/** Namespace objects, one per distinct namespace, sorted. */
export function computeNamespaces(scope: IstioScope): KubeObject[] {
  const names = [...new Set([scope.namespace, ...gatewayNamespaces(scope)])].sort();
  return names.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: meta(name, undefined, {}, { [KEEP_ON_DELETE]: 'true' }) }));
}
