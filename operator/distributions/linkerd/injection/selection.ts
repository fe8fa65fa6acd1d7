/**
 * Which pods Linkerd injects: the pod-level half of the selection (the webhook configurations'
 * selectors are the other half, see webhook.ts). Linkerd's rules (`pkg/inject/report.go`):
 * `linkerd.io/inject` on the namespace enables injection for its pods unless a pod says `disabled`;
 * without it a pod must say `enabled` or `ingress` itself; any other value skips the pod; pods on
 * the host network and pods that already carry a proxy are never injected.
 *
 * meshwright's additions (its enrolment is a namespace label, because Linkerd's opt-in annotation
 * cannot be selected on): the namespace *label* `linkerd.io/inject` counts like the annotation
 * (the annotation wins if both are set), and so does a pod *label* (what the opt-in objectSelector
 * matches in namespaces that are not enrolled; the pod annotation wins). The control-plane
 * namespace, namespaces labelled `config.linkerd.io/admission-webhooks=disabled` and the system
 * namespaces Linkerd's webhook never sees are skipped here too, so `meshwright inject` and the
 * webhook agree.
 */
import type { NamespaceView, PodObject } from '../../injection.ts';
import { ADMISSION_WEBHOOKS_LABEL, INJECT_ANNOTATION, INJECT_VALUES } from './annotations.ts';
import { PROXY_CONTAINER, PROXY_INIT_CONTAINER } from '../proxy.ts';

/** Namespaces Linkerd's proxy-injector webhook excludes by name. */
export const SYSTEM_NAMESPACES: readonly string[] = ['kube-system', 'cert-manager'];

/** Why a pod is left alone (reason codes for the admission log and `meshwright inject`). */
export type SkipReason =
  | 'AlreadyInjected' | 'HostNetwork' | 'ControlPlaneNamespace' | 'SystemNamespace' | 'AdmissionWebhooksDisabled'
  | 'InvalidInjectValue' | 'OptedOut' | 'NotEnabled';

/** The decision for one pod. */
export type Selection =
  | { inject: true; mode: 'enabled' | 'ingress'; at: 'namespace' | 'pod' }
  | { inject: false; reason: SkipReason; message: string };

type Container = { name?: unknown; image?: unknown };

/**
 * Whether the pod already carries a mesh proxy (Linkerd's `HasExistingSidecars`: Linkerd's or
 * Istio's proxy or init container, by name or by image).
 */
export function hasExistingSidecar(spec: PodObject['spec']): boolean {
  const init = (spec.initContainers ?? []) as Container[];
  const all = [...init, ...(spec.containers as Container[])];
  const image = (c: Container) => (typeof c.image === 'string' ? c.image : '');
  if (all.some((c) => image(c).startsWith('cr.l5d.io/linkerd/proxy:') || image(c).startsWith('gcr.io/istio-release/proxyv2:') || c.name === PROXY_CONTAINER || c.name === 'istio-proxy')) return true;
  return init.some((c) => image(c).startsWith('cr.l5d.io/linkerd/proxy-init:') || image(c).startsWith('gcr.io/istio-release/proxy_init:') || c.name === PROXY_INIT_CONTAINER || c.name === 'istio-init');
}

/** The namespace's `linkerd.io/inject` value: the annotation, else the label meshwright enrols with. */
export function namespaceInjectValue(namespace: NamespaceView): string | undefined {
  return namespace.annotations[INJECT_ANNOTATION] ?? namespace.labels[INJECT_ANNOTATION];
}

/** The pod's `linkerd.io/inject` value: the annotation, else the opt-in label. */
export function podInjectValue(pod: PodObject): string | undefined {
  return pod.metadata.annotations?.[INJECT_ANNOTATION] ?? pod.metadata.labels?.[INJECT_ANNOTATION];
}

const valid = (value: string | undefined) => value === undefined || value === '' || (INJECT_VALUES as readonly string[]).includes(value);
const enables = (value: string | undefined): value is 'enabled' | 'ingress' => value === 'enabled' || value === 'ingress';

/** Decides whether `pod` in `namespace` is injected by the installation whose control plane runs in `controlPlaneNamespace`. */
export function selectPod(pod: PodObject, namespace: NamespaceView, controlPlaneNamespace: string): Selection {
  const skip = (reason: SkipReason, message: string): Selection => ({ inject: false, reason, message });
  if (namespace.name === controlPlaneNamespace) return skip('ControlPlaneNamespace', `namespace ${namespace.name} holds the Linkerd control plane, whose pods carry their own proxies`);
  if (SYSTEM_NAMESPACES.includes(namespace.name)) return skip('SystemNamespace', `namespace ${namespace.name} is never injected (Linkerd's webhook excludes it)`);
  if (namespace.labels[ADMISSION_WEBHOOKS_LABEL] === 'disabled') {
    return skip('AdmissionWebhooksDisabled', `namespace ${namespace.name} is labelled ${ADMISSION_WEBHOOKS_LABEL}=disabled`);
  }
  if (pod.spec.hostNetwork === true) return skip('HostNetwork', 'hostNetwork is enabled: the proxy cannot redirect the node\'s traffic');
  if (hasExistingSidecar(pod.spec)) return skip('AlreadyInjected', 'pod has a sidecar injected already');

  const nsValue = namespaceInjectValue(namespace);
  const podValue = podInjectValue(pod);
  const accepted = INJECT_VALUES.join(', ');
  if (!valid(nsValue)) return skip('InvalidInjectValue', `namespace ${namespace.name} has ${INJECT_ANNOTATION}=${JSON.stringify(nsValue)}; accepted values: ${accepted}`);
  if (!valid(podValue)) return skip('InvalidInjectValue', `pod has ${INJECT_ANNOTATION}=${JSON.stringify(podValue)}; accepted values: ${accepted}`);
  if (enables(nsValue)) {
    if (podValue === 'disabled') return skip('OptedOut', `pod has ${INJECT_ANNOTATION}=disabled`);
    // The pod's own value, when it has one, decides the mode; else the namespace's.
    const mode = podValue === 'ingress' || (!podValue && nsValue === 'ingress') ? 'ingress' : 'enabled';
    return { inject: true, mode, at: 'namespace' };
  }
  if (!enables(podValue)) {
    return skip('NotEnabled', `neither the namespace nor the pod has ${INJECT_ANNOTATION}=enabled`);
  }
  return { inject: true, mode: podValue, at: 'pod' };
}
