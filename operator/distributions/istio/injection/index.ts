/**
 * Istio's sidecar injection, as the operator's own webhook serves it: a pure {@link SidecarInjector}
 * that gives the output Istio's injector gives for the same pod and settings.
 *
 * | module           | responsibility                                                            |
 * |------------------|---------------------------------------------------------------------------|
 * | settings.ts      | the injector's settings, derived from the MeshInstallation as the render derives the mesh config |
 * | selection.ts     | which admitted pods are injected (host network, system namespaces, opt-out, already injected) |
 * | annotations.ts   | the annotations Istio honours, and their validation                       |
 * | proxy-config.ts  | the mesh's ProxyConfig with `proxy.istio.io/config` merged; `PROXY_CONFIG` |
 * | sidecar.ts       | the sidecar template: labels, annotations, `istio-init`, `istio-proxy`, volumes |
 * | merge.ts         | merging the template into the pod; container order                        |
 * | probes.ts        | probe rewriting to the agent's status port                                |
 * | prometheus.ts    | metrics merging                                                           |
 * | inject.ts        | one injection, in Istio's order, and the pod's record                      |
 * | webhooks.ts      | the MutatingWebhookConfigurations and the enrolment label                  |
 * | quantity.ts      | canonical Kubernetes quantities                                           |
 * | workload.ts      | which workload a pod belongs to                                           |
 */
import type { SidecarInjector } from '../../injection.ts';
import { REV_LABEL } from '../scope.ts';
import { injectIstio } from './inject.ts';
import { INJECTION_LABEL, istioEnrolmentLabel, istioWebhookConfigurations } from './webhooks.ts';

/** Istio's injector (see the module table above). */
export const istioInjector: SidecarInjector = {
  inject: injectIstio,
  webhookConfigurations: istioWebhookConfigurations,
  enrolmentLabel: istioEnrolmentLabel,
  // istio-injection wins over istio.io/rev upstream: enrolling by one must not override a person's other.
  otherSelectionLabels: (installation, resolved) => [INJECTION_LABEL, REV_LABEL].filter((key) => key !== istioEnrolmentLabel(installation, resolved).key),
};
