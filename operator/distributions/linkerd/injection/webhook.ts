/**
 * The MutatingWebhookConfiguration that sends pods to the operator's Linkerd injection webhook, and
 * the label that enrols a namespace.
 *
 * Linkerd's own (`linkerd-proxy-injector-webhook-config`, webhook
 * `linkerd-proxy-injector.linkerd.io`) sends every pod of every namespace not labelled
 * `config.linkerd.io/admission-webhooks=disabled` (nor kube-system, cert-manager) to the injector,
 * which then reads the `linkerd.io/inject` annotation; it fails open (`Ignore`, `Fail` with HA).
 * The issue requires one deliberate difference: namespaces that are not enrolled never reach the
 * webhook, so a stopped operator never blocks them, and enrolled ones fail closed. Linkerd's opt-in
 * is an annotation, which no selector can match, so enrolment is the *label*
 * `linkerd.io/inject=enabled` (the operator sets it; the injector reads it like the annotation):
 * - `linkerd-proxy-injector.linkerd.io` selects enrolled namespaces (`linkerd.io/inject` in
 *   enabled, ingress), `failurePolicy: Fail`;
 * - `pods.linkerd-proxy-injector.linkerd.io` selects, in namespaces that are not enrolled, pods
 *   that opt in with the pod label `linkerd.io/inject=enabled` (or `ingress`); it fails open, as
 *   Linkerd's does, since their namespace is not enrolled and must never be blocked by the operator.
 * Both keep Linkerd's exclusions (the admission-webhooks label, kube-system and cert-manager,
 * control-plane and CNI pods) and leave out the control-plane namespace. Only pods are sent (Linkerd
 * also sends Services, to record default opaque ports on them: not done here), and only
 * `admission.k8s.io/v1` reviews, which the operator serves.
 */
import type { DefaultedMeshInstallation } from '../../../api/meshinstallation.ts';
import type { KubeObject } from '../../../runtime/kube.ts';
import type { ResolvedVersion } from '../../distribution.ts';
import type { WebhookEndpoint } from '../../injection.ts';
import { ADMISSION_WEBHOOKS_LABEL, CONTROL_PLANE_COMPONENT_LABEL, INJECT_ANNOTATION } from './annotations.ts';
import { SYSTEM_NAMESPACES } from './selection.ts';

/** Name of the configuration, as Linkerd names its own. */
export const INJECTOR_WEBHOOK_CONFIGURATION = 'linkerd-proxy-injector-webhook-config';
/** The webhook for enrolled namespaces (Linkerd's name). */
export const NAMESPACE_WEBHOOK = 'linkerd-proxy-injector.linkerd.io';
/** The webhook for pods that opt in where their namespace is not enrolled. */
export const POD_OPT_IN_WEBHOOK = 'pods.linkerd-proxy-injector.linkerd.io';
/** Values of `linkerd.io/inject` that enable injection, as a selector matches them. */
const ENABLING = ['enabled', 'ingress'];

/** The label (and value) that enrols a namespace: Linkerd's opt-in, as a label. */
export function linkerdEnrolmentLabel(_installation: DefaultedMeshInstallation, _resolved: ResolvedVersion): { key: string; value: string } {
  return { key: INJECT_ANNOTATION, value: 'enabled' };
}

/** The webhook path of an installation on the operator's server. */
export function injectionPath(installation: DefaultedMeshInstallation): string {
  return `/inject/${installation.metadata.name ?? ''}`;
}

function clientConfig(endpoint: WebhookEndpoint, path: string): Record<string, unknown> {
  const caBundle = Buffer.from(endpoint.caBundlePem).toString('base64');
  if ('url' in endpoint) return { url: `${endpoint.url.replace(/\/+$/, '')}${path}`, caBundle };
  return { service: { ...endpoint.service, path }, caBundle };
}

/** The MutatingWebhookConfiguration of `installation` (see the module comment). Pure. */
export function linkerdWebhookConfigurations(installation: DefaultedMeshInstallation, _resolved: ResolvedVersion, endpoint: WebhookEndpoint): KubeObject[] {
  const controlPlaneNamespace = installation.spec.namespace;
  // Each webhook gets objects of its own (no shared references a caller could mutate through).
  const excludedNamespaces = () => ({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...SYSTEM_NAMESPACES, controlPlaneNamespace] });
  const notDisabled = () => ({ key: ADMISSION_WEBHOOKS_LABEL, operator: 'NotIn', values: ['disabled'] });
  const notControlPlane = () => [
    { key: CONTROL_PLANE_COMPONENT_LABEL, operator: 'DoesNotExist' },
    { key: 'linkerd.io/cni-resource', operator: 'DoesNotExist' },
  ];
  const common = () => ({
    admissionReviewVersions: ['v1'],
    clientConfig: clientConfig(endpoint, injectionPath(installation)),
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
    sideEffects: 'None',
    timeoutSeconds: 10,
  });
  return [{
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {
      name: INJECTOR_WEBHOOK_CONFIGURATION,
      labels: { [CONTROL_PLANE_COMPONENT_LABEL]: 'proxy-injector', 'linkerd.io/control-plane-ns': controlPlaneNamespace },
    },
    webhooks: [
      {
        name: NAMESPACE_WEBHOOK,
        ...common(),
        failurePolicy: 'Fail',
        namespaceSelector: { matchExpressions: [notDisabled(), excludedNamespaces(), { key: INJECT_ANNOTATION, operator: 'In', values: [...ENABLING] }] },
        objectSelector: { matchExpressions: notControlPlane() },
      },
      {
        name: POD_OPT_IN_WEBHOOK,
        ...common(),
        // Why not Fail: the namespace is not enrolled, and a stopped operator must never block it.
        failurePolicy: 'Ignore',
        namespaceSelector: { matchExpressions: [notDisabled(), excludedNamespaces(), { key: INJECT_ANNOTATION, operator: 'NotIn', values: [...ENABLING] }] },
        objectSelector: { matchExpressions: [...notControlPlane(), { key: INJECT_ANNOTATION, operator: 'In', values: [...ENABLING] }] },
      },
    ],
  } as KubeObject];
}
