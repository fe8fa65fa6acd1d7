/**
 * The pod-level half of Istio's injection selection (`injectRequired`), for pods that reached the
 * webhook: host-networked pods and the system namespaces are never injected, and a pod opts out
 * with `sidecar.istio.io/inject: "false"` (the label wins over the annotation; any other value
 * falls back to the default, which is to inject). Pods already injected are left as they are.
 * The namespace-level half is the webhook configurations' selectors (webhooks.ts).
 */
import type { InjectionSkipped, PodObject } from '../../injection.ts';
import { ANNOTATION, LABEL } from './annotations.ts';

/** Namespaces Istio never injects (`inject.IgnoredNamespaces`). */
export const IGNORED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage'];

/** The pod's own injection choice: `true`, `false`, or undefined (not set, or not a boolean: the default applies). */
export function podInjectionChoice(pod: Pick<PodObject, 'metadata'>): boolean | undefined {
  const labels = pod.metadata.labels ?? {};
  const value = Object.hasOwn(labels, LABEL.inject) ? labels[LABEL.inject] : pod.metadata.annotations?.[ANNOTATION.inject];
  return value === 'true' ? true : value === 'false' ? false : undefined;
}

/** Why `pod` in `namespace` is not injected, or undefined when it is. `controlPlaneNamespace` (istiod's) is never injected either. */
export function skipReason(pod: PodObject, namespace: string, controlPlaneNamespace: string): InjectionSkipped | undefined {
  const name = `${namespace}/${pod.metadata.name ?? `${pod.metadata.generateName ?? ''}*`}`;
  const skip = (reason: string, message: string): InjectionSkipped => ({ injected: false, reason, message: `${name}: ${message}` });
  if (pod.metadata.annotations?.[ANNOTATION.status] !== undefined) return skip('AlreadyInjected', `already injected (it has ${ANNOTATION.status})`);
  if (pod.spec.hostNetwork === true) return skip('HostNetwork', 'host networking is enabled: iptables rules would change the node\'s routing, not the pod\'s');
  if (IGNORED_NAMESPACES.includes(namespace)) return skip('SystemNamespace', `${namespace} is a Kubernetes system namespace, which Istio never injects`);
  if (namespace === controlPlaneNamespace) return skip('ControlPlaneNamespace', `${namespace} is the control plane's namespace`);
  if (podInjectionChoice(pod) === false) return skip('OptedOut', `the pod opts out (${LABEL.inject}: "false")`);
  return undefined;
}
